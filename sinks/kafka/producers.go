package kafka

// Records are shared among the sink's producers by key, so that a session's
// records all go through one producer (which keeps their order: franz-go
// produces a partition's records in the order Produce was called) and, when
// the producers divide the topic's partitions, each partition is written by
// one producer only, in batches as large as with one.

// producerOf returns which of n producers produces a record with key: the
// key's murmur2 hash, as the default partitioner (and the Java client)
// computes it, modulo n. The partition is the same hash modulo the number of
// partitions, so when n divides it, producerOf(key) is the partition modulo
// n: every partition has one producer.
func producerOf(key []byte, n int) int {
	if n <= 1 {
		return 0
	}
	return int(murmur2(key)&0x7fffffff) % n
}

// murmur2 is Kafka's key hash: franz-go's (unexported) copy of the Java
// client's Utils.murmur2; TestProducerOfFollowsPartition holds the two
// together.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[3])<<24 + uint32(b[2])<<16 + uint32(b[1])<<8 + uint32(b[0])
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
