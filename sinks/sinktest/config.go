package sinktest

import (
	"strings"
	"testing"

	"github.com/radrelay/radrelay/sinks"
)

// RefusesURLs checks that parse (a sink package's ConfigFromURL) refuses
// every URL of bad, and that none of its errors quotes "secret": a URL of
// bad that carries a password or token spells it so.
func RefusesURLs[C any](t *testing.T, parse func(raw string) (C, error), bad ...string) {
	t.Helper()
	for _, raw := range bad {
		_, err := parse(raw)
		if err == nil {
			t.Errorf("%s: accepted", raw)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error quotes the secret: %v", raw, err)
		}
	}
}

// ErrorFields returns the keys that the *sinks.FieldErrors err holds name,
// in order (a Config's Validate reports every problem at its key).
func ErrorFields(err error) []string {
	var fields []string
	for _, fe := range sinks.FieldErrors(err) {
		fields = append(fields, fe.Field)
	}
	return fields
}
