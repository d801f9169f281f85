// Package sidebyside holds the side-by-side benchmark of the RADIUS sink
// against FreeRADIUS 3.2's own detail-file relay, on the same
// FreeRADIUS-written file and the same kind of FreeRADIUS home server (see
// docs/benchmarks.md). It is a package of its own so that the sink's tests
// do not depend on the tailer.
//
//	go test -run '^$' -bench SideBySide -benchtime 1x ./sinks/radius/sidebyside/
package sidebyside
