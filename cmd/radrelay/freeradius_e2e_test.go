package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radrelay/radrelay/internal/freeradiustest"
)

// TestRunSyncsBackupFreeRADIUS is the "sync a primary and a backup RADIUS
// server" case against real FreeRADIUS 3.2 servers: radclient sends
// accounting to a primary FreeRADIUS, which writes its detail file;
// "radrelay run" consumes that file and proxies every record to a backup
// FreeRADIUS; the backup's own detail file then holds every record. It skips
// when FreeRADIUS is not installed (fails with RADRELAY_REQUIRE_SERVERS=1).
func TestRunSyncsBackupFreeRADIUS(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short")
	}
	primary := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{})
	backup := freeradiustest.StartHomeServer(t, freeradiustest.HomeOptions{Secret: "backup-secret-42"})

	const sessions = 40
	var packets strings.Builder
	var want []string
	for s := 0; s < sessions; s++ {
		for i, status := range []string{"Start", "Interim-Update", "Stop"} {
			fmt.Fprintf(&packets, "User-Name = \"user%d@example.net\"\nAcct-Status-Type = %s\nAcct-Session-Id = \"sync-%04d\"\n"+
				"NAS-IP-Address = 192.0.2.%d\nNAS-Port = %d\nAcct-Session-Time = %d\nAcct-Input-Octets = %d\n"+
				"Event-Timestamp = %d\n\n",
				s, status, s, 1+s%2, 1000+s, i*300, i*1000000, 1795435059+s*10+i)
			want = append(want, fmt.Sprintf("sync-%04d/%s", s, status))
		}
	}
	freeradiustest.SendAccounting(t, primary.Addr, primary.Secret, packets.String(), 20)
	primary.WaitRecords(t, len(want), time.Minute)

	dir := t.TempDir()
	secretFile := filepath.Join(dir, "backup.secret")
	os.WriteFile(secretFile, []byte(backup.Secret+"\n"), 0o600)
	sigs := fakeSignals(t)
	done := make(chan string, 1)
	go func() {
		_, _, stderr := runCLI(t, "run",
			"--input", primary.DetailFile+"*", "--mode", "consume",
			"--to", "backup=radius://"+backup.Addr+"?secret_file="+secretFile,
			"--state", filepath.Join(dir, "state"), "--max-outstanding", "32")
		done <- stderr
	}()
	backup.WaitRecords(t, len(want), time.Minute)
	sigs <- syscall.SIGTERM
	select {
	case stderr := <-done:
		if strings.Contains(stderr, backup.Secret) {
			t.Error("the shared secret appears in radrelay's logs")
		}
	case <-time.After(time.Minute):
		t.Fatal("radrelay did not stop within a minute of SIGTERM")
	}

	var got []string
	for _, r := range backup.Records(t) {
		id, _ := r.Get("Acct-Session-Id")
		st, _ := r.Get("Acct-Status-Type")
		got = append(got, id.Value+"/"+st.Value)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the backup holds %d records, want the %d sent to the primary, each once:\n got %v\nwant %v", len(got), len(want), got, want)
	}
}
