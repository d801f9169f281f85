package radius

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestConfigFromURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		check   func(c Config) bool
		wantErr string
	}{
		{url: "radius://10.0.0.2:1813?secret_file=/etc/radrelay/secret", check: func(c Config) bool {
			return len(c.Servers) == 1 && c.Servers[0].Address == "10.0.0.2:1813" && c.Servers[0].SecretFile == "/etc/radrelay/secret" &&
				c.Policy == PolicyFailover && c.InitialRTX == 2*time.Second && c.MaxRTX == 16*time.Second && c.ServerWindow == 128
		}},
		{url: "radius://10.0.0.2?secret_env=RADIUS_SECRET", check: func(c Config) bool {
			return c.Servers[0].Address == "10.0.0.2:1813" && c.Servers[0].SecretEnv == "RADIUS_SECRET"
		}},
		{url: "radius://[2001:db8::1]:1913,backup.example.net?secret_file=s&policy=broadcast&server_window=64&initial_rtx=500ms&status_server=true&source_address=192.0.2.10:41813&acct_delay_time=keep", check: func(c Config) bool {
			return len(c.Servers) == 2 && c.Servers[0].Address == "[2001:db8::1]:1913" && c.Servers[1].Address == "backup.example.net:1813" &&
				c.Servers[1].SourceAddress == "192.0.2.10:41813" && c.Policy == PolicyBroadcast && c.ServerWindow == 64 &&
				c.InitialRTX == 500*time.Millisecond && c.StatusServer && c.AcctDelayTime == DelayKeep
		}},
		{url: "radius://[::1]?secret_file=s", check: func(c Config) bool { return c.Servers[0].Address == "[::1]:1813" }},
		{url: "radius://h:1813?secret=plain", wantErr: "secret= is not accepted"},
		{url: "radius://user:pw@h:1813?secret_file=s", wantErr: "secret in the URL"},
		{url: "radius://h?secret_file=s&policy=random", wantErr: `policy: "random"`},
		{url: "radius://h?secret_file=s&bogus=1", wantErr: `unknown parameter "bogus"`},
		{url: "radius://h?secret_file=s&max_rtx=1s&initial_rtx=2s", wantErr: "max_rtx: 1s is below initial_rtx"},
		{url: "radius://h?secret_file=s&server_window=100000", wantErr: "server_window"},
		{url: "radius://h?secret_file=s&max_rtx_count=-1&max_rtx_duration=-1s", wantErr: "cannot both be unlimited"},
		{url: "radius://?secret_file=s", wantErr: "no server"},
		{url: "postgres://h", wantErr: "want radius://"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, err := ConfigFromURL(tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

func TestConfigTOML(t *testing.T) {
	const text = `
policy = "failover"
initial_rtx = "1s"
max_rtx = "8s"
max_rtx_count = 3
max_rtx_duration = "20s"
server_window = 128
status_server = true
[[servers]]
address = "10.0.0.2:1813"
secret_file = "/etc/radrelay/primary.secret"
source_address = "192.0.2.10"
[[servers]]
address = "10.0.0.3"
secret_env = "BACKUP_SECRET"
`
	var c Config
	md, err := toml.Decode(text, &c)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Fatalf("undecoded keys %v", u)
	}
	c, err = c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 2 || c.Servers[1].Address != "10.0.0.3:1813" || c.InitialRTX != time.Second || c.MaxRTXCount != 3 || c.ServerWindow != 128 || !c.StatusServer {
		t.Fatalf("%+v", c)
	}
}

func TestSecretSourcesAndRedaction(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-file\r\nsecond line ignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("H4_TEST_SECRET", "from-env")
	for _, tc := range []struct {
		s       ServerConfig
		want    string
		wantErr string
	}{
		{s: ServerConfig{Address: "h:1", SecretFile: file}, want: "from-file"},
		{s: ServerConfig{Address: "h:1", SecretEnv: "H4_TEST_SECRET"}, want: "from-env"},
		{s: ServerConfig{Address: "h:1", Secret: "inline"}, want: "inline"},
		{s: ServerConfig{Address: "h:1"}, wantErr: "no secret"},
		{s: ServerConfig{Address: "h:1", Secret: "inline", SecretEnv: "X"}, wantErr: "only one of"},
		{s: ServerConfig{Address: "h:1", SecretEnv: "H4_TEST_UNSET"}, wantErr: "not set"},
		{s: ServerConfig{Address: "h:1", SecretFile: filepath.Join(dir, "missing")}, wantErr: "no such file"},
	} {
		got, err := tc.s.secret()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.s, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%v: %q, %v", tc.s, got, err)
		}
	}
	s := ServerConfig{Address: "h:1", Secret: "hunter2"}
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), fmt.Sprintf("%v", Config{Servers: []ServerConfig{s}})} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
}
