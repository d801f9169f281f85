// Command kfakeserve runs franz-go's kfake, an in-memory cluster that speaks
// the Kafka protocol, on loopback until interrupted: the stand-in broker of
// the Kafka sink's benchmark (docs/benchmarks.md), since no Apache Kafka
// broker can be installed on the build machines. It is not a broker to
// keep data in: everything lives in memory.
//
//	go run ./internal/kfakeserve -port 9092 -topic radius-accounting -partitions 12
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "port to listen on (127.0.0.1)")
	topic := flag.String("topic", "radius-accounting", "topic to create")
	partitions := flag.Int("partitions", 12, "partitions of the topic")
	flag.Parse()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(*port), kfake.SeedTopics(int32(*partitions), *topic))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakeserve:", err)
		os.Exit(1)
	}
	fmt.Println("kfake listening on", c.ListenAddrs()[0], "topic", *topic)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	c.Close()
}
