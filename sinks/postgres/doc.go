// Package postgres is radrelay's PostgreSQL sink. It keeps two stores, each
// optional:
//
//   - live sessions: a radacct table with FreeRADIUS 3.2's columns, types,
//     indexes and nasreload, filled with the same semantics as FreeRADIUS
//     3.2's stock PostgreSQL accounting queries (Start, Interim-Update, Stop,
//     Accounting-On/Off, out-of-order records included), so daloRADIUS,
//     simultaneous-use and sqlcounter queries work on it unchanged;
//   - history: every record, append-only, with its type, event time, NAS,
//     unique session id, counters and all attributes as JSON (json, or
//     jsonb by history_attributes_type), in monthly range partitions that
//     are created ahead on demand and expired by dropping them.
//
// Records are written in batches: one transaction per batch, COPY into
// per-connection staging tables and set-based statements. FreeRADIUS's
// query chains are replayed in memory on the locked rows of the batch's
// sessions, in record order, so several records of one session collapse
// into one final row and no statement touches a row twice. A record already
// in the history is not applied again, which makes replays and several
// radrelay instances feeding one database idempotent.
//
// See docs/postgres.md for the schema, the semantics and the deliberate
// differences from FreeRADIUS.
package postgres
