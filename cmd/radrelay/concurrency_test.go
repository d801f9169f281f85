package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/radrelay/radrelay/internal/holdingserver"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestReplayFilteredRadiusConcurrentBatches: "radrelay replay" with a
// radius sink behind a filter (and whatever else the command wraps around
// its sinks) hands the sink several batches at once. The home server holds
// its answers until it has more requests unanswered than one batch holds;
// one batch at a time never gets there (the server gives up holding after
// a while, which only ends a failing test).
func TestReplayFilteredRadiusConcurrentBatches(t *testing.T) {
	// One batch at a time never has more than batch requests unanswered.
	// Several at once have at least one request each, and the radius sink
	// takes four: so batch is below four and hold one above batch. (On a
	// loaded machine the tailer hands over batches before they fill, so a
	// bound of whole batches failed: 4, 7 and 11 seen.)
	const batch, records, hold = 2, 64, 2 + 1
	srv := holdingserver.Start(t, "testing123", hold)

	dir := t.TempDir()
	input := writeDetail(t, filepath.Join(dir, "detail-20261123"), sinktest.Records(records))
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("testing123\n"), 0o600)
	cfg := filepath.Join(dir, "r.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[[sink]]
name = "home"
url = "radius://%s?secret_file=%s"
max_outstanding = 64
batch_size = %d
[sink.filter]
drop_attributes = ["Tmp-*"]
`, srv.Addr(), secret, batch)), 0o600)

	code, _, stderr := runCLI(t, "replay", "-c", cfg, "--quarantine", filepath.Join(dir, "q"), input)
	if code != 0 {
		t.Fatalf("replay: status %d:\n%s", code, stderr)
	}
	if most := srv.MostUnanswered(); most < hold {
		t.Errorf("the server saw at most %d requests unanswered at once: batches of %d went one at a time", most, batch)
	}
}
