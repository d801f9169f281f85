package radius

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWindowGrowsAndShrinks(t *testing.T) {
	w := newWindow(100, time.Second)
	if size, _ := w.current(); size != startWindow {
		t.Fatalf("starts at %d, want %d", size, startWindow)
	}
	now := time.Unix(1000, 0)
	for i := 0; i < 5000; i++ {
		w.acked(now)
	}
	if size, _ := w.current(); size != 100 {
		t.Fatalf("after many acks: %d, want max_outstanding 100", size)
	}
	// A loss at size 100: three quarters, and never above 99 again until
	// the cap is probed upwards.
	w.inflight = 80
	if !w.lost(now) {
		t.Fatal("first loss did not cut")
	}
	if w.lost(now.Add(time.Millisecond)) {
		t.Fatal("a second loss of the same burst cut again")
	}
	w.inflight = 0
	if size, _ := w.current(); size != 75 {
		t.Fatalf("after a loss: %d, want 75", size)
	}
	for i := 0; i < 5000; i++ {
		w.acked(now.Add(time.Second))
	}
	if size, _ := w.current(); size != 99 {
		t.Fatalf("regrown to %d, want the cap 99", size)
	}
	w.acked(now.Add(2 * capProbe))
	if w.cap != 100 {
		t.Fatalf("cap not probed upwards: %d", w.cap)
	}
	// Repeated losses never pin the cap below the size.
	for i := 0; i < 20; i++ {
		w.lost(now.Add(time.Duration(10+i) * capProbe))
	}
	if size, _ := w.current(); size != minWindow || w.cap < size {
		t.Fatalf("after many losses: size %d cap %d", size, w.cap)
	}
}

func TestWindowAcquireCancel(t *testing.T) {
	w := newWindow(1, time.Second)
	closed := make(chan struct{})
	if err := w.acquire(context.Background(), closed); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.acquire(ctx, closed) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled acquire: %v", err)
	}
	w.release()
	if _, inflight := w.current(); inflight != 0 {
		t.Fatalf("in flight after release: %d", inflight)
	}
	// A waiter is granted the released place.
	if err := w.acquire(context.Background(), closed); err != nil {
		t.Fatal(err)
	}
	go func() { done <- w.acquire(context.Background(), closed) }()
	w.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
