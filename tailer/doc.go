// Package tailer follows detail files and delivers every record to its sinks at
// least once: it takes files oldest first (renaming them to a work file in
// consume mode, reading them in place in follow mode), keeps up to
// max_outstanding records in flight per sink, and commits a sink's position
// only when that sink has acknowledged every record before it.
//
// Each sink has its own pipeline over the same files (reader → window →
// sender → ordered commit → checkpoint), so a sink that is down holds up no
// other within a file (in consume mode the next file is claimed once the
// slowest sink has finished the work file; with Input.ReadAhead, the
// listener's spool, a faster sink reads the files waiting to be claimed in
// place meanwhile, so a dead sink holds up no other at all). Damaged records, records a sink rejects permanently and records whose
// retries are exhausted go to a quarantine file that is itself a valid detail
// file. docs/tailer.md explains the behaviour and the guarantees for operators.
package tailer
