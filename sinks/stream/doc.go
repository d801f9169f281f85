// Package stream is the stream-record contract shared by the sinks that
// publish to a distributed log (sinks/nats for NATS JetStream, sinks/kafka
// for Kafka): what one accounting record becomes as a message.
//
//   - The value is the JSON document the jsonl sink writes (package
//     sinks/file's Encoder, values typed by the dictionary), without the line
//     end, starting with "schema_version" (SchemaVersion).
//   - The key is Acct-Unique-Session-Id by default, or any attribute or
//     template of attributes, so that a session's records keep their order
//     on one partition.
//   - The headers carry the schema version, the status type, the source
//     (file and offset) and the key.
//   - The identity (ID) is a digest of the record's content, the same
//     whenever the same record is sent again, so an engine that
//     de-duplicates on it (JetStream's Nats-Msg-Id) drops the copies an
//     at-least-once restart resends.
//
// A message over the size limit is a permanent failure (sinks.Permanent):
// the record is quarantined instead of being retried for ever.
//
// docs/streams.md describes the contract for consumers;
// docs/stream-record.schema.json is its JSON Schema.
package stream
