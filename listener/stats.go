package listener

import (
	"sync/atomic"
	"time"
)

// Stats are the listener's counters since it started.
type Stats struct {
	Received     int64 `json:"received"`      // datagrams and RadSec packets read
	Accepted     int64 `json:"accepted"`      // requests written, fsynced and acknowledged
	Duplicates   int64 `json:"duplicates"`    // retransmissions answered from the cache (or dropped while being written)
	StatusServer int64 `json:"status_server"` // Status-Server probes answered
	// Dropped counts requests neither written nor answered, by reason:
	// unknown_client, malformed, bad_authenticator,
	// bad_message_authenticator, unsupported_code, spool_full, write_error.
	Dropped map[string]int64 `json:"dropped"`
	// SpoolBytes is the size of the spool directory at the last look.
	SpoolBytes int64 `json:"spool_bytes"`
	// Paused reports that requests are not acknowledged now (disk full or
	// spool limit reached); PauseReason says why.
	Paused      bool   `json:"paused"`
	PauseReason string `json:"pause_reason,omitempty"`
	// Fsyncs is the number of group commits, FsyncSeconds their total time,
	// FsyncRecords the records they made durable.
	Fsyncs       int64   `json:"fsyncs"`
	FsyncSeconds float64 `json:"fsync_seconds"`
	FsyncRecords int64   `json:"fsync_records"`
	// FsyncLatency is the distribution of the group commits' times (write
	// and fsync); AckLatency that of the requests' times from receipt to
	// the Accounting-Response (what the NAS waits, but the network).
	FsyncLatency Histogram `json:"fsync_latency"`
	AckLatency   Histogram `json:"ack_latency"`
	// RadSec counts the RadSec connections (nil without RadSec addresses).
	RadSec *RadSecStats `json:"radsec,omitempty"`
}

// RadSecStats count a listener's RadSec connections by what became of them.
type RadSecStats struct {
	// Opened: the handshake succeeded and the certificate is a client's.
	// (One whose certificate names no client is dropped unknown_client.)
	Opened int64 `json:"opened"`
	// HandshakeFailed: the TLS handshake failed or timed out (no or a
	// wrong client certificate, not TLS at all, a client gone silent).
	HandshakeFailed int64 `json:"handshake_failed"`
	// Refused: closed at once, max_connections being reached.
	Refused int64 `json:"refused"`
}

// Drop reasons.
const (
	DropUnknownClient = "unknown_client"
	DropMalformed     = "malformed"
	DropBadAuth       = "bad_authenticator"
	DropBadMsgAuth    = "bad_message_authenticator"
	DropUnsupported   = "unsupported_code"
	DropSpoolFull     = "spool_full"
	DropWriteError    = "write_error"
)

var dropReasons = []string{DropUnknownClient, DropMalformed, DropBadAuth, DropBadMsgAuth, DropUnsupported, DropSpoolFull, DropWriteError}

type counters struct {
	received, accepted, duplicates, status atomic.Int64
	dropped                                [7]atomic.Int64
	spoolBytes                             atomic.Int64
	fsyncs, fsyncNanos, fsyncRecords       atomic.Int64
	fsyncLatency, ackLatency               histogram
	radsecOpened, radsecHandshakeFailed    atomic.Int64
	radsecRefused                          atomic.Int64
}

func (c *counters) drop(reason string) {
	for i, r := range dropReasons {
		if r == reason {
			c.dropped[i].Add(1)
		}
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Received: c.received.Load(), Accepted: c.accepted.Load(), Duplicates: c.duplicates.Load(),
		StatusServer: c.status.Load(), SpoolBytes: c.spoolBytes.Load(), Dropped: map[string]int64{},
		Fsyncs: c.fsyncs.Load(), FsyncSeconds: time.Duration(c.fsyncNanos.Load()).Seconds(), FsyncRecords: c.fsyncRecords.Load(),
		FsyncLatency: c.fsyncLatency.snapshot(), AckLatency: c.ackLatency.snapshot(),
	}
	for i, r := range dropReasons {
		s.Dropped[r] = c.dropped[i].Load()
	}
	return s
}
