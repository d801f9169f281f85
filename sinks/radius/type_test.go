package radius

import (
	"strings"
	"testing"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

// TestCheckReportsEveryProblem: Validate reports every problem of a
// configuration at once, each at its key.
func TestCheckReportsEveryProblem(t *testing.T) {
	c := &Config{
		Policy: "random", AcctDelayTime: "sometimes", InitialRTX: 5e9, MaxRTX: 1e9, ServerWindow: 5000,
		Servers: []ServerConfig{
			{Address: "10.0.0.1:1813", SecretEnv: "X"},
			{Address: "10.0.0.1:99999", SecretEnv: "X", SourceAddress: "not-an-ip"},
		},
	}
	got := sinktest.ErrorFields(c.Validate())
	want := "servers[1].address,servers[1].source_address,policy,acct_delay_time,server_window,max_rtx"
	if strings.Join(got, ",") != want {
		t.Errorf("fields %v, want %s", got, want)
	}
	none := &Config{Servers: []ServerConfig{{Address: "10.0.0.1"}}}
	err := none.CheckEnvironment()
	fes := sinks.FieldErrors(err)
	if len(fes) != 1 || fes[0].Field != "servers[0].secret" || !strings.Contains(err.Error(), "secret_file") {
		t.Errorf("no secret: %v", err)
	}
}

// TestRedactedAndWarnings: an inline secret is redacted and warned about.
func TestRedactedAndWarnings(t *testing.T) {
	c := &Config{Servers: []ServerConfig{{Address: "h", Secret: "S3cret"}, {Address: "h2", SecretFile: "/f"}}}
	r := c.Redacted().(*Config)
	if r.Servers[0].Secret != "xxxxx" || r.Servers[1].SecretFile != "/f" || c.Servers[0].Secret != "S3cret" {
		t.Errorf("redacted %+v (original %+v)", r.Servers, c.Servers)
	}
	if ws := c.Warnings(); len(ws) != 1 || !strings.Contains(ws[0].Error(), "servers[0].secret") {
		t.Errorf("warnings %v", ws)
	}
}
