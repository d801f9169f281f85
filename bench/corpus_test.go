package bench

import (
	"bytes"
	"strings"
	"testing"
)

// TestWriteRadclientInput checks the generator's promises: deterministic,
// every request a block of attribute lines, the counts it reports.
func TestWriteRadclientInput(t *testing.T) {
	var a, b bytes.Buffer
	st, err := WriteRadclientInput(&a, SmokeCorpus)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteRadclientInput(&b, SmokeCorpus); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two runs with one seed differ")
	}
	blocks := strings.Split(strings.TrimSuffix(a.String(), "\n\n"), "\n\n")
	if len(blocks) != st.Records {
		t.Fatalf("%d requests written, stats say %d", len(blocks), st.Records)
	}
	count := map[string]int{}
	for _, bl := range blocks {
		first := strings.SplitN(bl, "\n", 2)[0]
		count[strings.TrimPrefix(first, "Acct-Status-Type = ")]++
	}
	want := map[string]int{"Start": st.Starts, "Interim-Update": st.Interims, "Stop": st.Stops,
		"Accounting-On": st.AccountingOn, "Accounting-Off": st.AccountingOff}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%s: %d written, stats say %d", k, count[k], v)
		}
	}
	if st.Stops >= st.Starts || st.AccountingOn != SmokeCorpus.NASes+SmokeCorpus.Reboots {
		t.Errorf("a rebooting NAS should leave sessions without Stop: %v", st)
	}
}

// TestParseCounters: the harness reads radrelay's counters in both forms
// the metrics endpoint prints (exponent form from a million on).
func TestParseCounters(t *testing.T) {
	page := "# TYPE radrelay_records_read_total counter\nradrelay_records_read_total{sink=\"a\"} 1.43694e+06\n" +
		"radrelay_records_read_total{sink=\"b\"} 12\nradrelay_records_delivered_total{sink=\"a\"} 999\n"
	if r, d := parseCounters([]byte(page)); r != 1436952 || d != 999 {
		t.Errorf("read %d delivered %d, want 1436952 and 999", r, d)
	}
}
