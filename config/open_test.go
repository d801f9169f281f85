package config

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/internal/holdingserver"
	"github.com/radrelay/radrelay/sinks/route"
	"github.com/radrelay/radrelay/sinks/sinktest"
	"github.com/radrelay/radrelay/tailer"
)

// TestFilteredRadiusSinkGetsConcurrentBatches: a radius sink behind a
// filter, opened as "radrelay run" opens it (Sink.Open), declares the radius
// sink's concurrency to the tailer, which then has several batches in
// flight: the server sees more requests unanswered at once than one batch
// holds.
func TestFilteredRadiusSinkGetsConcurrentBatches(t *testing.T) {
	// One batch at a time never has more than batch requests unanswered;
	// several at once have at least one request each and the radius sink
	// takes four, so batch is below four (on a loaded machine the tailer
	// hands over batches before they fill).
	const batch, records = 2, 64
	t.Setenv("RADRELAY_TEST_SECRET", "testing123")
	srv := holdingserver.Start(t, "testing123", batch+1) // more than one batch: a loaded machine may hand over batches not yet full

	cfg, err := Parse("t.toml", `
[[sink]]
name = "backup"
url = "radius://`+srv.Addr()+`?secret_env=RADRELAY_TEST_SECRET"
max_outstanding = 64
batch_size = 2
[sink.filter]
drop_attributes = ["Tmp-*"]
`, Options{Replay: true})
	if err != nil {
		t.Fatal(err)
	}
	opened, err := cfg.OpenSinks(context.Background(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer opened[0].Spec.Sink.Close()
	spec := opened[0].Spec
	if _, filtered := spec.Sink.(*route.Sink); !filtered {
		t.Fatalf("the sink is %T, want it behind its filter", spec.Sink)
	}
	if spec.Concurrency < 2 {
		t.Fatalf("the spec declares concurrency %d: the filter hid the radius sink's", spec.Concurrency)
	}

	dir := t.TempDir()
	var data []byte
	for _, r := range sinktest.Records(records) {
		data = detail.AppendRecord(data, r)
	}
	file := filepath.Join(dir, "detail-20261123")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tc := cfg.TailerConfig()
	tc.Inputs = []tailer.Input{{Files: []string{file}, Mode: tailer.Replay}}
	tc.QuarantineDir = filepath.Join(dir, "q")
	tc.Sinks = []tailer.SinkSpec{spec}
	tc.Logger = slog.New(slog.DiscardHandler)
	tl, err := tailer.New(tc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tl.Stats().Sinks[0]; st.Delivered != records || st.Quarantined != 0 {
		t.Fatalf("delivered %d, quarantined %d of %d", st.Delivered, st.Quarantined, records)
	}
	if most := srv.MostUnanswered(); most <= batch {
		t.Errorf("the server saw at most %d requests unanswered at once: one batch (%d) at a time", most, batch)
	}
}
