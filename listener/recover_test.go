package listener

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCutFragment(t *testing.T) {
	whole := "Sun Dec  6 01:58:59 2026\n\tUser-Name = \"a\"\n\tTimestamp = 1\n\n"
	big := strings.Repeat(whole, 3000) // past one 64 KiB chunk
	tests := []struct {
		name, content, want string
	}{
		{"empty", "", ""},
		{"whole records", whole + whole, whole + whole},
		{"fragment of a header", whole + "Sun Dec", whole},
		{"fragment ending in a line end", whole + "Sun Dec  6 01:58:59 2026\n\tUser-Name = \"b\"\n", whole},
		{"only a fragment", "Sun Dec  6 01:58:59 2026\n\tUser-", ""},
		{"fragment after many records", big + "Sun Dec  6 01:58:59 2026\n\tUser-Name = \"b\"\n", big},
		{"fragment longer than a chunk", whole + "Sun Dec\n\tReply-Message = \"" + strings.Repeat("x", 70000), whole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "detail-20261206")
			os.WriteFile(p, []byte(tt.content), 0o600)
			n, err := cutFragment(p)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			if string(got) != tt.want || n != int64(len(tt.content)-len(tt.want)) {
				t.Fatalf("left %d bytes (cut %d), want %d", len(got), n, len(tt.want))
			}
		})
	}
}
