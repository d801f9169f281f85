package radius

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/radsec"
	"github.com/radrelay/radrelay/sinks"
)

// Type is the radius sink as the configuration knows it: [[sink]] type =
// "radius", or a radius:// or radsec:// URL.
var Type = &sinks.Type{
	Name:      "radius",
	Schemes:   []string{"radius", "radsec"},
	NewConfig: func() sinks.Config { return new(Config) },
	FromURL:   sinks.URLParser(ConfigFromURL),
	// Measured against FreeRADIUS (docs/benchmarks.md): the sink takes
	// four batches at once (Sink.ConcurrentSends), so a batch of a quarter
	// of the window keeps requests flowing while a late one is answered;
	// the per-server adaptive window (server_window) protects each server.
	Window: 1024,
	Batch:  256,
}

func init() { sinks.Register(Type) }

// check applies the rules of a configuration that need nothing outside it,
// and returns every problem as a *sinks.FieldError.
func (c Config) check() error {
	var errs []error
	if len(c.Servers) == 0 {
		errs = append(errs, sinks.Errorf("servers", "no server: add a [[sink.servers]] table with address and secret_file"))
	}
	if c.Policy == PolicyBroadcast && len(c.Servers) > 64 {
		errs = append(errs, sinks.Errorf("servers", "broadcast supports at most 64 servers, not %d", len(c.Servers)))
	}
	for i, s := range c.Servers {
		errs = append(errs, sinks.Prefix("servers["+strconv.Itoa(i)+"]", s.check()))
	}
	switch c.Policy {
	case "", PolicyFailover, PolicyLoadBalance, PolicyBroadcast:
	default:
		errs = append(errs, sinks.Errorf("policy", "%q is not failover, load-balance or broadcast", c.Policy))
	}
	switch c.AcctDelayTime {
	case "", DelayUpdate, DelayKeep:
	default:
		errs = append(errs, sinks.Errorf("acct_delay_time", "%q is not update or keep", c.AcctDelayTime))
	}
	for _, d := range []struct {
		key string
		v   int64
	}{{"initial_rtx", int64(c.InitialRTX)}, {"max_rtx", int64(c.MaxRTX)}, {"zombie_period", int64(c.ZombiePeriod)}, {"revive_interval", int64(c.ReviveInterval)}, {"sockets", int64(c.Sockets)}} {
		if d.v < 0 {
			errs = append(errs, sinks.Errorf(d.key, "cannot be negative"))
		}
	}
	if c.MaxRTXCount < 0 && c.MaxRTXDuration < 0 {
		errs = append(errs, sinks.Errorf("max_rtx_count", "max_rtx_count and max_rtx_duration cannot both be unlimited (-1)"))
	}
	if c.ServerWindow < 0 || c.ServerWindow > maxServerWindow {
		errs = append(errs, sinks.Errorf("server_window", "%d: want 1..%d", c.ServerWindow, maxServerWindow))
	}
	irt, mrt := c.InitialRTX, c.MaxRTX
	if irt == 0 {
		irt = DefaultInitialRTX
	}
	if mrt == 0 {
		mrt = DefaultMaxRTX
	}
	if mrt < irt {
		errs = append(errs, sinks.Errorf("max_rtx", "%s is below initial_rtx %s", mrt, irt))
	}
	return errors.Join(errs...)
}

// check checks one server's address and source address; the secret is
// checked by Validate, which may read its file.
func (s ServerConfig) check() error {
	var errs []error
	if s.Address == "" {
		errs = append(errs, sinks.Errorf("address", "no address (host or host:port)"))
	} else if addr, err := withDefaultPort(s.Address); err != nil {
		errs = append(errs, sinks.Errorf("address", "%v", err))
	} else if err := checkHostPort(addr, false); err != nil {
		errs = append(errs, sinks.Errorf("address", "%q: %v", s.Address, err))
	}
	errs = append(errs, s.checkTransport())
	if s.SourceAddress != "" {
		src := s.SourceAddress
		if _, _, err := net.SplitHostPort(src); err != nil {
			src = net.JoinHostPort(src, "0")
		}
		if err := checkHostPort(src, true); err != nil {
			errs = append(errs, sinks.Errorf("source_address", "%q: %v", s.SourceAddress, err))
		} else if host, _, _ := net.SplitHostPort(src); net.ParseIP(host) == nil {
			errs = append(errs, sinks.Errorf("source_address", "%q: want an IP address of this host", s.SourceAddress))
		}
	}
	return errors.Join(errs...)
}

// checkHostPort checks that hostport has a host and a port number in range
// (0 allowed when zeroOK: any source port).
func checkHostPort(hostport string, zeroOK bool) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" {
		return errors.New("no host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n > 65535 || n < 0 || (n == 0 && !zeroOK) {
		return errors.New("the port must be a number from 1 to 65535")
	}
	return nil
}

// Validate implements sinks.Config.
func (c *Config) Validate() error { return c.check() }

// CheckEnvironment implements sinks.EnvironmentChecker: every secret
// resolvable (file readable, variable set) and the dictionary loadable.
func (c *Config) CheckEnvironment() error {
	var errs []error
	for i, s := range c.Servers {
		if _, err := s.secret(); err != nil {
			errs = append(errs, sinks.Errorf("servers["+strconv.Itoa(i)+"]."+s.secretField(), "%v", err))
		}
		errs = append(errs, sinks.Prefix("servers["+strconv.Itoa(i)+"]", s.checkTLSFiles()))
	}
	if c.Dictionary != "" {
		if err := dictionary.Builtin().LoadFile(c.Dictionary); err != nil {
			errs = append(errs, sinks.Errorf("dictionary", "%v", err))
		}
	}
	return errors.Join(errs...)
}

// Effective implements sinks.Config.
func (c *Config) Effective() sinks.Config {
	d := c.WithDefaults()
	return &d
}

// Redacted implements sinks.Config: inline secrets and key passphrases
// become "xxxxx".
func (c *Config) Redacted() sinks.Config {
	r := *c
	r.Servers = append([]ServerConfig(nil), c.Servers...)
	for i := range r.Servers {
		if r.Servers[i].Secret != "" {
			r.Servers[i].Secret = "xxxxx"
		}
		if r.Servers[i].PrivateKeyPassword != "" {
			r.Servers[i].PrivateKeyPassword = "xxxxx"
		}
	}
	return &r
}

// Warnings implements sinks.Warner: a secret written in the file.
func (c *Config) Warnings() []error {
	var ws []error
	for i, s := range c.Servers {
		if s.Secret != "" {
			ws = append(ws, sinks.Errorf("servers["+strconv.Itoa(i)+"].secret",
				"the secret is written in the configuration file; prefer secret_file or secret_env (a file readable only by radrelay, or the environment)"))
		}
		if s.PrivateKeyPassword != "" {
			ws = append(ws, sinks.Errorf("servers["+strconv.Itoa(i)+"]."+radsec.KeyPassword,
				"the key passphrase is written in the configuration file; prefer private_key_password_file or private_key_password_env (a file readable only by radrelay, or the environment)"))
		}
	}
	return ws
}

// Open implements sinks.Config. The configuration's dictionary (env) is the
// default of the sink's own dictionary key.
func (c *Config) Open(ctx context.Context, env sinks.Env) (sinks.Sink, error) {
	cfg := *c
	if cfg.Dictionary == "" {
		cfg.Dictionary = env.Dictionary
	}
	s, err := New(ctx, cfg, env.Logger)
	if err != nil {
		return nil, err // not a nil *Sink in a non-nil interface
	}
	return s, nil
}
