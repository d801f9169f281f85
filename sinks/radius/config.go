package radius

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/radrelay/radrelay/radsec"
)

// Policies for several servers.
const (
	// PolicyFailover sends every record to the first live server in the
	// order given and moves on to the next one only when it fails.
	PolicyFailover = "failover"
	// PolicyLoadBalance spreads records over the live servers (the one with
	// the fewest requests outstanding first); a record a server fails goes
	// to another.
	PolicyLoadBalance = "load-balance"
	// PolicyBroadcast sends every record to every server; a record is
	// delivered only when all of them acknowledged it.
	PolicyBroadcast = "broadcast"
)

// Acct-Delay-Time modes.
const (
	// DelayUpdate raises Acct-Delay-Time by the seconds since the record was
	// received (its Timestamp), on the first send and on every resend. A
	// resend whose delay changed is a new request: new Identifier and
	// authenticator (RFC 2866 §5.2).
	DelayUpdate = "update"
	// DelayKeep sends Acct-Delay-Time as recorded; resends are identical
	// copies with the same Identifier (RFC 5080 §2.2.1).
	DelayKeep = "keep"
)

// Defaults.
const (
	DefaultPort           = 1813
	DefaultInitialRTX     = 2 * time.Second
	DefaultMaxRTX         = 16 * time.Second
	DefaultMaxRTXCount    = 5
	DefaultMaxRTXDuration = 30 * time.Second
	// DefaultServerWindow stays below what FreeRADIUS's default socket
	// buffer (208 KiB) holds, about 150–170 requests: beyond it a saturated
	// home server drops requests, and every drop costs a resend and a
	// stall, where 128 in flight already keep it busy (docs/benchmarks.md).
	DefaultServerWindow   = 128
	DefaultZombiePeriod   = 20 * time.Second
	DefaultReviveInterval = 30 * time.Second
	DefaultFastRetransmit = 32
	maxServerWindow       = 4096
)

// Config configures a RADIUS sink: `[[sink]] type = "radius"` in the
// configuration file, or a radius:// URL (ConfigFromURL).
type Config struct {
	// Servers receive the records; order matters for failover.
	Servers []ServerConfig `toml:"servers"`
	// Policy is failover (default), load-balance or broadcast.
	Policy string `toml:"policy"`
	// InitialRTX is the first retransmission timeout (RFC 5080 IRT, 2s).
	InitialRTX time.Duration `toml:"initial_rtx"`
	// MaxRTX caps the retransmission timeout (MRT, 16s).
	MaxRTX time.Duration `toml:"max_rtx"`
	// MaxRTXCount is how many times a request is resent to one server
	// before that server counts as failed for the record (MRC, 5; -1 = no
	// limit).
	MaxRTXCount int `toml:"max_rtx_count"`
	// MaxRTXDuration is how long one server is tried for one record (MRD,
	// 30s; -1 = no limit).
	MaxRTXDuration time.Duration `toml:"max_rtx_duration"`
	// ServerWindow caps the adaptive window of each server: requests in
	// flight to one server (256). It is the sink's own setting, apart from
	// the tailer's max_outstanding (records handed to the sink at once).
	ServerWindow int `toml:"server_window"`
	// Sockets is the number of UDP sockets per server (0: enough for the
	// window; 1 when a source port is fixed).
	Sockets int `toml:"sockets"`
	// ZombiePeriod: a server that is sent requests but answers none for
	// this long is marked dead (20s).
	ZombiePeriod time.Duration `toml:"zombie_period"`
	// ReviveInterval is how long a dead server is left alone before it is
	// probed again (30s): with a Status-Server when StatusServer is set,
	// else with the next real record.
	ReviveInterval time.Duration `toml:"revive_interval"`
	// StatusServer probes dead servers with Status-Server (RFC 5997). The
	// servers must answer it (FreeRADIUS: status_server = yes, the default).
	StatusServer bool `toml:"status_server"`
	// FastRetransmit resends an unanswered request at once, before its
	// timer, when this many requests sent after it to the same server were
	// answered (32; -1 = never): on a server that answers in order such a
	// request or its answer was lost. Without it one lost datagram holds up
	// its batch for initial_rtx.
	FastRetransmit int `toml:"fast_retransmit"`
	// AcctDelayTime is "update" (default) or "keep".
	AcctDelayTime string `toml:"acct_delay_time"`
	// Dictionary is an extra FreeRADIUS-format dictionary file loaded on top
	// of the built-in one (for vendor attributes it lacks).
	Dictionary string `toml:"dictionary"`
}

// ServerConfig is one RADIUS server.
type ServerConfig struct {
	// Address is host:port (port 1813 when omitted).
	Address string `toml:"address"`
	// The shared secret: exactly one of Secret, SecretFile (first line of
	// the file) and SecretEnv (name of an environment variable).
	Secret     string `toml:"secret"`
	SecretFile string `toml:"secret_file"`
	SecretEnv  string `toml:"secret_env"`
	// SourceAddress is the local address (and port, when not 0) requests
	// are sent from, e.g. "192.0.2.10" or "192.0.2.10:41813", so that the
	// server can list radrelay as a client.
	SourceAddress string `toml:"source_address"`

	// Transport is "udp" (the default) or "radsec": RADIUS over TLS (RFC
	// 6614) to port 2083 unless the address says otherwise, with the
	// secret "radsec" unless one is set, and the TLS settings below.
	Transport string `toml:"transport"`
	// TLS settings of a radsec server, under FreeRADIUS's names:
	// certificate_file, private_key_file (with, when it is encrypted, at
	// most one of private_key_password, private_key_password_file and
	// private_key_password_env), ca_file, server_name, tls_min_version
	// (see radsec.TLS).
	CertificateFile        string `toml:"certificate_file"`
	PrivateKeyFile         string `toml:"private_key_file"`
	PrivateKeyPassword     string `toml:"private_key_password"`
	PrivateKeyPasswordFile string `toml:"private_key_password_file"`
	PrivateKeyPasswordEnv  string `toml:"private_key_password_env"`
	CAFile                 string `toml:"ca_file"`
	ServerName             string `toml:"server_name"`
	TLSMinVersion          string `toml:"tls_min_version"`
}

// String describes the server without its secret.
func (s ServerConfig) String() string {
	src := ""
	if s.SourceAddress != "" {
		src = " from " + s.SourceAddress
	}
	return s.Address + src + " secret=" + s.secretSource()
}

func (s ServerConfig) secretSource() string {
	switch {
	case s.SecretFile != "":
		return "file:" + s.SecretFile
	case s.SecretEnv != "":
		return "env:" + s.SecretEnv
	case s.Secret != "":
		return "<inline, redacted>"
	case s.radsec():
		return "radsec (RFC 6614 default)"
	}
	return "<none>"
}

// GoString keeps %#v from printing the secret.
func (s ServerConfig) GoString() string { return "radius.ServerConfig{" + s.String() + "}" }

// secret resolves the shared secret. Errors never contain it; they name
// the key to fix (secretField).
func (s ServerConfig) secret() ([]byte, error) {
	n := 0
	for _, v := range []string{s.Secret, s.SecretFile, s.SecretEnv} {
		if v != "" {
			n++
		}
	}
	switch {
	case n == 0 && s.radsec():
		return []byte(radsec.DefaultSecret), nil
	case n == 0:
		return nil, errors.New("no secret: set secret_file (a file only radrelay may read) or secret_env")
	case n > 1:
		return nil, errors.New("set only one of secret, secret_file and secret_env")
	case s.SecretFile != "":
		b, err := os.ReadFile(s.SecretFile)
		if err != nil {
			return nil, err
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return nil, fmt.Errorf("%s: the first line is empty", s.SecretFile)
		}
		return []byte(line), nil
	case s.SecretEnv != "":
		v, ok := os.LookupEnv(s.SecretEnv)
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s is not set or empty", s.SecretEnv)
		}
		return []byte(v), nil
	}
	return []byte(s.Secret), nil
}

// secretField is the key a problem with the secret is reported at.
func (s ServerConfig) secretField() string {
	switch {
	case s.SecretFile != "" && s.Secret == "" && s.SecretEnv == "":
		return "secret_file"
	case s.SecretEnv != "" && s.Secret == "" && s.SecretFile == "":
		return "secret_env"
	case s.Secret != "" || s.SecretFile == "" && s.SecretEnv == "":
		return "secret"
	}
	return "secret_file"
}

// WithDefaults returns c with every unset key at the value the sink uses,
// for showing an effective configuration ("radrelay validate --print"); an
// invalid configuration is returned as it is.
func (c Config) WithDefaults() Config {
	c.Servers = append([]ServerConfig(nil), c.Servers...)
	if d, err := c.withDefaults(); err == nil {
		return d
	}
	return c
}

// withDefaults checks the configuration (check: the rules Validate applies
// too) and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if err := c.check(); err != nil {
		return c, err
	}
	for i := range c.Servers {
		c.Servers[i].transportDefaults()
		c.Servers[i].Address, _ = withDefaultPort(c.Servers[i].Address)
	}
	if c.Policy == "" {
		c.Policy = PolicyFailover
	}
	if c.AcctDelayTime == "" {
		c.AcctDelayTime = DelayUpdate
	}
	setDuration(&c.InitialRTX, DefaultInitialRTX)
	setDuration(&c.MaxRTX, DefaultMaxRTX)
	setDuration(&c.MaxRTXDuration, DefaultMaxRTXDuration)
	setDuration(&c.ZombiePeriod, DefaultZombiePeriod)
	setDuration(&c.ReviveInterval, DefaultReviveInterval)
	if c.MaxRTXCount == 0 {
		c.MaxRTXCount = DefaultMaxRTXCount
	}
	if c.FastRetransmit == 0 {
		c.FastRetransmit = DefaultFastRetransmit
	}
	if c.ServerWindow == 0 {
		c.ServerWindow = DefaultServerWindow
	}
	return c, nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func withDefaultPort(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("empty address")
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr, nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if strings.ContainsAny(host, "[]") {
		return "", fmt.Errorf("address %q: want host:port", addr)
	}
	return net.JoinHostPort(host, strconv.Itoa(DefaultPort)), nil
}

// sockets returns how many sockets a server gets: a request holds up to two
// Identifiers (the current and the previous send), so the window needs
// 2*window+1 (one for a Status-Server) Identifiers.
func (c Config) sockets(s ServerConfig) int {
	if fixedSourcePort(s.SourceAddress) {
		return 1
	}
	need := (2*c.ServerWindow + 1 + 255) / 256
	if c.Sockets > need {
		return c.Sockets
	}
	return need
}

func fixedSourcePort(source string) bool {
	if source == "" {
		return false
	}
	_, port, err := net.SplitHostPort(source)
	return err == nil && port != "" && port != "0"
}

// ConfigFromURL parses the URL form used by `radrelay replay`:
//
//	radius://HOST[:PORT][,HOST[:PORT]...]?secret_file=PATH
//
// Several servers are separated by commas and share the secret and options.
// The secret comes from secret_file or secret_env; it is not accepted in the
// URL itself (command lines end up in ps and shell history). Query keys are
// the Config keys: policy, initial_rtx, max_rtx, max_rtx_count,
// max_rtx_duration, server_window, sockets, fast_retransmit, zombie_period,
// revive_interval, status_server, acct_delay_time, dictionary,
// source_address.
func ConfigFromURL(raw string) (Config, error) {
	var c Config
	rest, ok := strings.CutPrefix(raw, "radius://")
	var srv ServerConfig
	if !ok {
		if rest, ok = strings.CutPrefix(raw, "radsec://"); !ok {
			return c, fmt.Errorf("radius URL: want radius://HOST:PORT?secret_file=... or radsec://HOST?certificate_file=..., got scheme %q", schemeOf(raw))
		}
		srv.Transport = TransportRadSec
	}
	hosts, query, _ := strings.Cut(rest, "?")
	hosts = strings.TrimSuffix(hosts, "/")
	if strings.Contains(hosts, "@") {
		return c, errors.New("radius URL: a secret in the URL is not accepted; use secret_file= or secret_env=")
	}
	if hosts == "" {
		return c, errors.New("radius URL: no server")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return c, fmt.Errorf("radius URL: query: %w", err)
	}
	for _, key := range slices.Sorted(maps.Keys(q)) {
		vals := q[key]
		v := vals[len(vals)-1]
		var err error
		switch key {
		case "secret_file":
			srv.SecretFile = v
		case "secret_env":
			srv.SecretEnv = v
		case "secret":
			return c, errors.New("radius URL: secret= is not accepted (a command line is visible in ps); use secret_file= or secret_env=")
		case radsec.KeyPassword:
			return c, errors.New("radius URL: private_key_password= is not accepted (a command line is visible in ps); use private_key_password_file= or private_key_password_env=")
		case "source_address":
			srv.SourceAddress = v
		case "policy":
			c.Policy = v
		case "acct_delay_time":
			c.AcctDelayTime = v
		case "dictionary":
			c.Dictionary = v
		case "status_server":
			c.StatusServer, err = strconv.ParseBool(v)
		case "initial_rtx":
			c.InitialRTX, err = time.ParseDuration(v)
		case "max_rtx":
			c.MaxRTX, err = time.ParseDuration(v)
		case "max_rtx_duration":
			c.MaxRTXDuration, err = time.ParseDuration(v)
		case "zombie_period":
			c.ZombiePeriod, err = time.ParseDuration(v)
		case "revive_interval":
			c.ReviveInterval, err = time.ParseDuration(v)
		case "max_rtx_count":
			c.MaxRTXCount, err = strconv.Atoi(v)
		case "server_window":
			c.ServerWindow, err = strconv.Atoi(v)
		case "sockets":
			c.Sockets, err = strconv.Atoi(v)
		case "fast_retransmit":
			c.FastRetransmit, err = strconv.Atoi(v)
		default:
			if !srv.setTLSKey(key, v) {
				return c, fmt.Errorf("radius URL: unknown parameter %q", key)
			}
		}
		if err != nil {
			return c, fmt.Errorf("radius URL: %s: %w", key, err)
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		s := srv
		s.Address = h
		c.Servers = append(c.Servers, s)
	}
	return c.withDefaults()
}

func schemeOf(raw string) string {
	s, _, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	return s
}
