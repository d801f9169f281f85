package nats

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/radrelay/radrelay/sinks"
	"github.com/radrelay/radrelay/sinks/sinktest"
)

func TestConfigFromURL(t *testing.T) {
	c, err := ConfigFromURL("nats://n1:4222,n2:4222/radius.acct?stream=RADIUS&create_stream=yes&replicas=3&duplicate_window=10m&key=User-Name")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 2 || c.Servers[1] != "nats://n2:4222" || c.Subject != "radius.acct" || c.Stream != "RADIUS" || !c.CreateStream || c.Replicas != 3 || c.DuplicateWindow.Minutes() != 10 || c.Key != "User-Name" {
		t.Errorf("parsed %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	for _, good := range []string{"nats://n1/a?stream=S", "tls://[::1]:4222/a?stream=S", "NATS://n1:4222,n2:4222/a?stream=S"} {
		if c, err := ConfigFromURL(good); err != nil {
			t.Errorf("%s: %v", good, err)
		} else if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	if !c.batchPublish() || !*c.WithDefaults().BatchPublish {
		t.Error("batch_publish is off by default")
	}
	if c, err := ConfigFromURL("nats://n1:4222/a?stream=S&batch_publish=no"); err != nil || c.batchPublish() {
		t.Errorf("batch_publish=no: %+v, %v", c, err)
	}
	sinktest.RefusesURLs(t, ConfigFromURL,
		"nats://user:secret@n1:4222/a?stream=S", // a secret in the URL
		"nats://n1:4222/a?stream=S&token=secret",
		"nats://n1:4222/a?bogus=1",
		"nats://n1:4222/a?replicas=x",
		"nats://n1:4222/a?stream=S&batch_publish=maybe",
		"nats:n1",
	)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c     Config
		field string
	}{
		{Config{Subject: "a", Stream: "S"}, "servers"},
		{Config{Servers: []string{"http://x:1"}, Subject: "a", Stream: "S"}, "servers"},
		{Config{Servers: []string{"nats://x:abc"}, Subject: "a", Stream: "S"}, "servers"},
		{Config{Servers: []string{"nats://:4222"}, Subject: "a", Stream: "S"}, "servers"},
		{Config{Servers: []string{"nats://"}, Subject: "a", Stream: "S"}, "servers"},
		{Config{Servers: []string{"nats://x:1"}, Stream: "S"}, "subject"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a.*", Stream: "S"}, "subject"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a\r\nPUB b 1", Stream: "S"}, "subject"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a"}, "stream"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a", Stream: "S.x"}, "stream"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a", Stream: "S", Storage: "disk"}, "storage"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a", Stream: "S", Replicas: 7}, "replicas"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a", Stream: "S", CreateStream: true, MaxAge: time.Minute}, "duplicate_window"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a", Stream: "S", CreateStream: true, MaxAge: time.Hour, DuplicateWindow: 2 * time.Hour}, "duplicate_window"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a", Stream: "S", Key: "%{User-Name"}, "key"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a", Stream: "S", TokenEnv: "A", TokenFile: "b"}, "credentials_file"},
		{Config{Servers: []string{"nats://x:1"}, Subject: "a", Stream: "S", TLSCertFile: "c"}, "tls_cert_file"},
	} {
		if err := tc.c.Validate(); !slices.Contains(sinktest.ErrorFields(err), tc.field) {
			t.Errorf("%+v: want an error at %s, got %v", tc.c, tc.field, err)
		}
	}
}

// TestOpenRefusesAProtocolBreakingSubject: the connection does not check
// the subject of each publish (options), so Open does, for a library
// caller that did not validate the configuration.
func TestOpenRefusesAProtocolBreakingSubject(t *testing.T) {
	for _, subject := range []string{"", "a b", "a\r\nPUB b 1", "a.>", ".a"} {
		s, err := Open(context.Background(), Config{Servers: []string{"nats://127.0.0.1:1"}, Subject: subject, Stream: "S"}, sinks.Env{})
		if err == nil {
			s.Close()
			t.Errorf("subject %q: Open succeeded", subject)
		} else if !strings.Contains(err.Error(), "literal subject") {
			t.Errorf("subject %q: %v, want it to say it wants a literal subject", subject, err)
		}
	}
}
