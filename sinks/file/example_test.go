package file_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/file"
)

// A file sink appends each record it is handed to its file, here as one
// JSON object per line; the outcome of each record is in results.
func Example() {
	dir, err := os.MkdirTemp("", "radrelay-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "acct.jsonl")

	s, err := file.New(file.Config{Format: file.FormatJSONL, Path: path})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := detail.NewReader(strings.NewReader("Mon Nov 23 11:57:39 2026\n"+
		"\tAcct-Status-Type = Start\n"+
		"\tAcct-Session-Id = \"00000001\"\n"+
		"\tTimestamp = 1795435059\n\n"), "example").Next()
	if err != nil {
		log.Fatal(err)
	}
	results := make([]error, 1)
	s.Send(context.Background(), []*detail.Record{rec}, results)
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered:", results[0] == nil)
	out, _ := os.ReadFile(path)
	fmt.Println(strings.Contains(string(out), `"Acct-Session-Id":"00000001"`))
	// Output:
	// delivered: true
	// true
}
