// Package tailer follows detail files and delivers every record to its sinks at
// least once: it takes files oldest first (renaming them to a work file in
// consume mode, reading them in place in follow mode), keeps up to
// max_outstanding records in flight per sink, and commits a sink's position
// only when that sink has acknowledged every record before it.
package tailer
