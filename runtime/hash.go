package runtime

import "math/bits"

// The key -> logical shard mapping. It is part of the on-disk format: a row
// lives in the schema its key hashes to, so these functions must never
// change. hash_test.go pins golden vectors.
//
// Integer keys (int64, and int32/int16 sign-extended to int64) are mixed
// with the SplitMix64 finalizer (Steele, Lea, Flood 2014; the constants of
// Java's SplittableRandom and of xorshift's reference seeder):
//
//	z := uint64(key) + 0x9e3779b97f4a7c15
//	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
//	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
//	z ^= z >> 31
//
// String keys are hashed with 64-bit FNV-1a over their UTF-8 bytes
// (offset basis 0xcbf29ce484222325, prime 0x100000001b3) and the result is
// passed through the same finalizer, which fixes FNV's weak high bits.
//
// The 64-bit hash h is reduced to a shard in [0, n) with Lemire's
// multiply-shift, shard = (h * n) >> 64, i.e. the top bits of h for a power
// of two n. It is uniform for any n and costs one multiplication.

// mix64 is the SplitMix64 finalizer applied to x + golden gamma.
func mix64(x uint64) uint64 {
	z := x + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// hashInt64 returns the stable 64-bit hash of an integer shard key.
func hashInt64(key int64) uint64 { return mix64(uint64(key)) }

// hashString returns the stable 64-bit hash of a string shard key.
func hashString(key string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 0x100000001b3
	}
	return mix64(h)
}

// reduce maps a 64-bit hash uniformly onto [0, n).
func reduce(h uint64, n int) Shard {
	hi, _ := bits.Mul64(h, uint64(n))
	return Shard(hi)
}

// ShardForInt64 returns the logical shard of an integer key in a group of n
// shards. It is what (*Group).ShardOfInt64 computes; exported for tools that
// work without a Router (e.g. planning a shard move).
func ShardForInt64(key int64, n int) Shard { return reduce(hashInt64(key), n) }

// ShardForString returns the logical shard of a string key in a group of n
// shards.
func ShardForString(key string, n int) Shard { return reduce(hashString(key), n) }
