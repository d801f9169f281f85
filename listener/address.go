package listener

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// checkHostPort checks a listening address: HOST:PORT with a port number
// (or a service name of /etc/services), as net.Listen would take it.
func checkHostPort(network, a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New("not HOST:PORT")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err == nil {
		return nil
	}
	if _, err := net.LookupPort(network, port); err != nil {
		return fmt.Errorf("port %q is not a port number (0-65535)", port)
	}
	return nil
}
