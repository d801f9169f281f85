package config

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"

	"github.com/radrelay/radrelay/dictionary"
	"github.com/radrelay/radrelay/listener"
)

// Listen is one [[listen]] table (or the --listen, --client, --spool
// flags): an accounting server whose spool the tailer relays.
type Listen struct {
	UDP           []string       `toml:"udp"`
	SpoolDir      string         `toml:"spool_dir"`
	ClientsConf   string         `toml:"clients_conf"`
	Attributes    string         `toml:"attributes"`
	MaxSpoolBytes int64          `toml:"max_spool_bytes"`
	Clients       []ListenClient `toml:"client"`
	Line          int            `toml:"-"`
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
	return l, ok
}

// checkListen adds the problems of the [[listen]] tables to c.
func (cfg *Config) checkListen(c *collector) {
	for i := range cfg.Listen {
		l := &cfg.Listen[i]
		lc, err := cfg.listenerConfig(l, !cfg.Offline)
		if err != nil {
			c.errorf(l.Line, "listen: %v", err)
			continue
		}
		if err := lc.Validate(); err != nil {
			c.errorf(l.Line, "listen: %v", err)
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
	lc := listener.Config{UDP: l.UDP, SpoolDir: l.SpoolDir, Attributes: l.Attributes, MaxSpoolBytes: l.MaxSpoolBytes}
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
