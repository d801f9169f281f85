package stream

import (
	"errors"
	"os"

	"github.com/radrelay/radrelay/sinks"
)

// CheckEnvironment is the CheckEnvironment of a stream sink: every file
// named in files (pairs of configuration key and path; an empty path is
// unset) must open, and the variable named by envKey (when envName is set)
// must be set. Each problem is a *sinks.FieldError; nothing read is shown.
func CheckEnvironment(files [][2]string, envKey, envName string) error {
	var errs []error
	for _, f := range files {
		key, path := f[0], f[1]
		if path == "" {
			continue
		}
		if fh, err := os.Open(path); err != nil {
			errs = append(errs, sinks.Errorf(key, "%v", err))
		} else {
			fh.Close()
		}
	}
	if envName != "" && os.Getenv(envName) == "" {
		errs = append(errs, sinks.Errorf(envKey, "the environment variable %s is not set", envName))
	}
	return errors.Join(errs...)
}
