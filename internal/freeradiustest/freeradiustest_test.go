package freeradiustest

import (
	"testing"
	"time"
)

func TestHomeServerWritesDetail(t *testing.T) {
	h := StartHomeServer(t, HomeOptions{})
	SendAccounting(t, h.Addr, h.Secret, "User-Name = \"a\"\nAcct-Session-Id = \"s1\"\nAcct-Status-Type = Start\n\nUser-Name = \"b\"\nAcct-Session-Id = \"s2\"\nAcct-Status-Type = Stop\n", 2)
	h.WaitRecords(t, 2, time.Minute)
	recs := h.Records(t)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	a, _ := recs[0].Get("Acct-Session-Id")
	b, _ := recs[1].Get("Acct-Session-Id")
	if a.Value+b.Value != "s1s2" && a.Value+b.Value != "s2s1" {
		t.Fatalf("records: %+v", recs)
	}

	// Killed and started again on the same address, it keeps its file.
	h.Kill()
	h.Start(t)
	SendAccounting(t, h.Addr, h.Secret, "User-Name = \"c\"\nAcct-Session-Id = \"s3\"\n", 1)
	h.WaitRecords(t, 3, time.Minute)
}

func TestRelayProxiesSpool(t *testing.T) {
	src := StartHomeServer(t, HomeOptions{})
	SendAccounting(t, src.Addr, src.Secret, "User-Name = \"a\"\nAcct-Session-Id = \"r1\"\n\nUser-Name = \"b\"\nAcct-Session-Id = \"r2\"\n", 2)
	src.WaitRecords(t, 2, time.Minute)
	src.Stop()

	home := StartHomeServer(t, HomeOptions{})
	relay := StartRelay(t, RelayOptions{Home: home.Addr, Secret: home.Secret})
	if err := copyFile(src.DetailFile, relay.SpoolDir+"/detail-1"); err != nil {
		t.Fatal(err)
	}
	home.WaitRecords(t, 2, 2*time.Minute)
}
