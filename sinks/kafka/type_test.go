package kafka

import (
	"slices"
	"testing"
	"time"

	"github.com/radrelay/radrelay/sinks/sinktest"
)

func TestConfigFromURL(t *testing.T) {
	c, err := ConfigFromURL("kafka://k1:9092,k2:9092/radius-acct?compression=lz4&producers=3&linger=5ms&tls=yes&sasl_mechanism=SCRAM-SHA-512&sasl_user=r&sasl_password_env=KAFKA_PW")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Brokers) != 2 || c.Topic != "radius-acct" || c.Compression != "lz4" || c.Producers != 3 || c.Linger != 5*time.Millisecond || !c.TLS || c.SASLMechanism != "SCRAM-SHA-512" || c.SASLPasswordEnv != "KAFKA_PW" {
		t.Errorf("parsed %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	sinktest.RefusesURLs(t, ConfigFromURL,
		"kafka://user:secret@k1:9092/t",
		"kafka://k1:9092/t?sasl_password=secret",
		"kafka://k1:9092/t?bogus=1",
		"kafka:k1",
	)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c     Config
		field string
	}{
		{Config{Topic: "t"}, "brokers"},
		{Config{Brokers: []string{"k1"}, Topic: "t"}, "brokers"},
		{Config{Brokers: []string{"k1:9092"}}, "topic"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "a b"}, "topic"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", Compression: "brotli"}, "compression"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", SASLMechanism: "GSSAPI"}, "sasl_mechanism"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", SASLMechanism: "PLAIN", SASLPasswordEnv: "X"}, "sasl_user"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", SASLMechanism: "PLAIN", SASLUser: "u"}, "sasl_password_file"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", SASLUser: "u"}, "sasl_mechanism"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", Key: "%{}"}, "key"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", Producers: -1}, "producers"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", Linger: time.Hour}, "linger"},
		{Config{Brokers: []string{"k1:9092"}, Topic: "t", Producers: MaxProducers + 1}, "producers"},
	} {
		if err := tc.c.Validate(); !slices.Contains(sinktest.ErrorFields(err), tc.field) {
			t.Errorf("%+v: want an error at %s, got %v", tc.c, tc.field, err)
		}
	}
}
