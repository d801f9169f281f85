package config

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"

	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/listener"
	"github.com/radrelay/radrelay/radsec"
)

// Listen is one [[listen]] table (or the --listen, --client, --spool
// flags): an accounting server whose spool the tailer relays.
type Listen struct {
	UDP           []string       `toml:"udp"`
	SpoolDir      string         `toml:"spool_dir"`
	FileTemplate  string         `toml:"file_template"`
	ClientsConf   string         `toml:"clients_conf"`
	Attributes    string         `toml:"attributes"`
	MaxSpoolBytes int64          `toml:"max_spool_bytes"`
	Clients       []ListenClient `toml:"client"`
	// RadSec (RFC 6614): TCP addresses, this server's TLS settings under
	// FreeRADIUS's names, the clients known by certificate name.
	RadSec          []string `toml:"radsec"`
	CertificateFile string   `toml:"certificate_file"`
	PrivateKeyFile  string   `toml:"private_key_file"`
	// The passphrase of an encrypted private_key_file, from a file or the
	// environment (as the clients' secrets).
	PrivateKeyPasswordFile string         `toml:"private_key_password_file"`
	PrivateKeyPasswordEnv  string         `toml:"private_key_password_env"`
	CAFile                 string         `toml:"ca_file"`
	TLSMinVersion          string         `toml:"tls_min_version"`
	MaxConnections         int            `toml:"max_connections"`
	IdleTimeout            duration       `toml:"idle_timeout"`
	RadSecClients          []RadSecClient `toml:"radsec_client"`
	Line                   int            `toml:"-"`
}

// RadSecClient is one [[listen.radsec_client]]: a RadSec client known by
// its certificate's CN or DNS name, with its secret ("radsec" when none).
type RadSecClient struct {
	Name       string `toml:"name"`
	SecretFile string `toml:"secret_file"`
	SecretEnv  string `toml:"secret_env"`
}

// ListenClient is one [[listen.client]]: an address or network and where
// its secret is.
type ListenClient struct {
	Address    string `toml:"address"`
	SecretFile string `toml:"secret_file"`
	SecretEnv  string `toml:"secret_env"`
	Name       string `toml:"name"`
}

func (p *parser) parseListen(t map[string]any, i int) (Listen, bool) {
	var l Listen
	l.Line = p.lines.table("listen", i)
	known := knownKeys(reflect.TypeOf(Listen{}))
	ok := true
	for _, k := range sortedKeys(t) {
		if !contains(known, k) {
			p.unknownKey("listen: ", k, p.lines.find("listen."+k, i), known)
			ok = false
			continue
		}
		if err := decodeKey(&l, k, t[k]); err != nil {
			_, msg := decodeMessage(err)
			p.errorf(p.lines.find("listen."+k, i), "listen: %s: %s", k, msg)
			ok = false
		}
	}
	// The keys of [[listen.client]] and [[listen.radsec_client]]: the
	// decoder ignores a key it does not know, and a "secret" (or a typo of
	// secret_file) left unread would leave a client without its secret,
	// or a RadSec client with the default one.
	for key, typ := range map[string]reflect.Type{"client": reflect.TypeOf(ListenClient{}), "radsec_client": reflect.TypeOf(RadSecClient{})} {
		elems, _ := t[key].([]map[string]any)
		known := knownKeys(typ)
		for j, elem := range elems {
			for _, k := range sortedKeys(elem) {
				if contains(known, k) {
					continue
				}
				line := p.lines.field("listen", i, fmt.Sprintf("%s[%d].%s", key, j, k))
				if k == "secret" {
					p.errorf(line, "listen: %s: secret: a secret is never written in the configuration: give secret_file (a file only radrelay may read) or secret_env", key)
				} else {
					p.unknownKey("listen: "+key+": ", k, line, known)
				}
				ok = false
			}
		}
	}
	return l, ok
}

// checkListen adds the problems of the [[listen]] tables to c.
func (cfg *Config) checkListen(c *collector) {
	// The same address twice (in one [[listen]] or two) fails at run with
	// "address already in use", as if another program held the port.
	seen := map[string]bool{}
	for i := range cfg.Listen {
		l := &cfg.Listen[i]
		for _, kind := range []struct {
			key   string
			addrs []string
		}{{"udp", l.UDP}, {"radsec", l.RadSec}} {
			key := kind.key
			for _, a := range kind.addrs {
				if strings.HasSuffix(a, ":0") {
					continue // any free port: two are two sockets
				}
				if seen[key+" "+a] {
					c.errorf(l.Line, "listen: %s %q is given twice", key, a)
				}
				seen[key+" "+a] = true
			}
		}
	}
	for i := range cfg.Listen {
		l := &cfg.Listen[i]
		lc, err := cfg.listenerConfig(l, !cfg.Offline)
		if err != nil {
			c.errorf(l.Line, "listen: %v", err)
			continue
		}
		if err := lc.Validate(); err != nil {
			c.errorf(l.Line, "listen: %v", err)
			continue
		}
		if len(lc.RadSec) > 0 && !cfg.Offline {
			// As the listener will: read the certificate, the CA and the
			// key, decrypting it with its passphrase.
			if _, err := lc.TLS.ServerConfig(); err != nil {
				c.errorf(l.Line, "listen: radsec: %v", err)
			}
		}
	}
}

// ListenerConfig is the listener configuration of the i-th [[listen]],
// with its clients' secrets read.
func (cfg *Config) ListenerConfig(i int, logger *slog.Logger) (listener.Config, error) {
	lc, err := cfg.listenerConfig(&cfg.Listen[i], true)
	if err != nil {
		return lc, err
	}
	d := dictionary.Builtin()
	if cfg.Dictionary != "" {
		if err := d.LoadFile(cfg.Dictionary); err != nil {
			return lc, fmt.Errorf("dictionary: %w", err)
		}
	}
	lc.Dictionary, lc.Logger = d, logger
	return lc, nil
}

func (cfg *Config) listenerConfig(l *Listen, readSecrets bool) (listener.Config, error) {
	lc := listener.Config{UDP: l.UDP, SpoolDir: l.SpoolDir, FileTemplate: l.FileTemplate, Attributes: l.Attributes, MaxSpoolBytes: l.MaxSpoolBytes, RadSec: l.RadSec}
	lc.TLS = radsec.TLS{CertificateFile: l.CertificateFile, PrivateKeyFile: l.PrivateKeyFile, CAFile: l.CAFile, MinVersion: l.TLSMinVersion,
		PrivateKeyPasswordFile: l.PrivateKeyPasswordFile, PrivateKeyPasswordEnv: l.PrivateKeyPasswordEnv}
	lc.MaxConnections, lc.IdleTimeout = l.MaxConnections, l.IdleTimeout.Duration
	for _, rc := range l.RadSecClients {
		secret := ""
		switch {
		case rc.SecretFile != "" && rc.SecretEnv != "":
			return lc, fmt.Errorf("radsec_client %s: secret_file and secret_env both set: give one", rc.Name)
		case rc.SecretFile != "" && readSecrets:
			var err error
			if secret, err = listener.ReadSecretFile(rc.SecretFile); err != nil {
				return lc, fmt.Errorf("radsec_client %s: %w", rc.Name, err)
			}
		case rc.SecretEnv != "" && readSecrets:
			if secret = os.Getenv(rc.SecretEnv); secret == "" {
				return lc, fmt.Errorf("radsec_client %s: secret_env: $%s is empty or not set", rc.Name, rc.SecretEnv)
			}
		}
		lc.RadSecClients = append(lc.RadSecClients, listener.RadSecClient{Name: rc.Name, Secret: secret})
	}
	for _, cl := range l.Clients {
		pfx, err := listener.ParsePrefix(cl.Address)
		if err != nil {
			return lc, err
		}
		secret := "unread"
		switch {
		case cl.SecretFile != "" && cl.SecretEnv != "":
			return lc, fmt.Errorf("client %s: secret_file and secret_env both set: give one", cl.Address)
		case cl.SecretFile != "":
			if readSecrets {
				if secret, err = listener.ReadSecretFile(cl.SecretFile); err != nil {
					return lc, fmt.Errorf("client %s: %w", cl.Address, err)
				}
			}
		case cl.SecretEnv != "":
			if readSecrets {
				if secret = os.Getenv(cl.SecretEnv); secret == "" {
					return lc, fmt.Errorf("client %s: secret_env: $%s is empty or not set", cl.Address, cl.SecretEnv)
				}
			}
		default:
			return lc, fmt.Errorf("client %s: no secret_file or secret_env (secrets are never written in the configuration)", cl.Address)
		}
		lc.Clients = append(lc.Clients, listener.Client{Prefix: pfx, Secret: secret, Name: cl.Name})
	}
	if l.ClientsConf != "" && readSecrets {
		cs, err := listener.ReadClientsConf(l.ClientsConf)
		if err != nil {
			return lc, err
		}
		lc.Clients = append(lc.Clients, cs...)
	} else if l.ClientsConf != "" {
		lc.Clients = append(lc.Clients, listener.Client{Secret: "unread"})
	}
	return lc, nil
}
