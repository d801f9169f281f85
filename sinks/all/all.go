// Package all links every sink type into a program: importing it for its
// side effects registers each sink package's types with package sinks.
//
// ADDING A SINK: write its package (a Sink, a Config implementing
// sinks.Config, and a type.go that registers its sinks.Type), then add one
// line below.
package all

import (
	_ "github.com/radrelay/radrelay/sinks/file"     // detail, jsonl, csv
	_ "github.com/radrelay/radrelay/sinks/kafka"    // kafka
	_ "github.com/radrelay/radrelay/sinks/nats"     // nats (JetStream)
	_ "github.com/radrelay/radrelay/sinks/postgres" // postgres
	_ "github.com/radrelay/radrelay/sinks/radius"   // radius
)
