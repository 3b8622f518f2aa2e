// Package benchdb holds the models of the benchmark workload of issue 6
// (BENCHMARKS.md): one table, items, sharded by user_id, declared twice so
// that one run measures the same workload at 16 and at 4,096 logical
// shards. Group "small" has 16 logical shards, group "large" 4,096; SmallItem
// and LargeItem are the same row in either group. The shardgen_*.go files
// are generated from these declarations (go generate ./bench/...) and are
// what an application would get: the benchmark calls them unchanged.
//
//shardgen:group small shards=16
//shardgen:group large shards=4096
package benchdb

//go:generate go tool shardgen
