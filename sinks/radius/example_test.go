package radius_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radrelay/radrelay/detail"
	"github.com/radrelay/radrelay/sinks/radius"
)

// A radius sink proxies each record to a RADIUS accounting server as an
// Accounting-Request; a record is delivered when the server answers. Here
// the home server is a small one on the loopback interface.
func Example() {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	got := make(chan string, 1)
	home := &layeh.PacketServer{
		SecretSource: layeh.StaticSecretSource([]byte("testing123")),
		Handler: layeh.HandlerFunc(func(w layeh.ResponseWriter, r *layeh.Request) {
			got <- rfc2865.UserName_GetString(r.Packet)
			w.Write(r.Response(layeh.CodeAccountingResponse))
		}),
	}
	go home.Serve(conn)
	defer home.Shutdown(context.Background())

	s, err := radius.New(context.Background(), radius.Config{
		Servers: []radius.ServerConfig{{Address: conn.LocalAddr().String(), Secret: "testing123"}},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	rec, err := detail.NewReader(strings.NewReader("Mon Nov 23 11:57:39 2026\n"+
		"\tUser-Name = \"alice@example.net\"\n"+
		"\tAcct-Status-Type = Start\n"+
		"\tAcct-Session-Id = \"00000001\"\n"+
		"\tNAS-IP-Address = 192.0.2.1\n"+
		"\tTimestamp = 1795435059\n\n"), "example").Next()
	if err != nil {
		log.Fatal(err)
	}
	results := make([]error, 1)
	s.Send(context.Background(), []*detail.Record{rec}, results)
	fmt.Println("home server got:", <-got)
	fmt.Println("delivered:", results[0] == nil)
	// Output:
	// home server got: alice@example.net
	// delivered: true
}
