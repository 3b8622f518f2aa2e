// Package lookupdb holds the models of the global-unique-lookup benchmark
// (BENCHMARKS.md, "Global unique lookups"): one group of 16 logical shards
// and two tables with the same columns, accounts with a unique=global
// email and plain_accounts without, so that one run measures GetByEmail
// against Get by ID and Insert with a global field against Insert without.
// The shardgen_*.go files are generated (go generate ./bench/...).
//
//shardgen:group accounts shards=16
package lookupdb

//go:generate go tool shardgen
