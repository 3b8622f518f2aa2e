// Package peers runs the benchmark workload of issue 6 (BENCHMARKS.md) with
// GORM and gorm.io/sharding next to shardgen's generated repositories and
// the hand-written pgx floor, in one go test -bench run. It is a module of
// its own so that GORM never becomes a dependency of shardgen: make bench
// runs it; go test ./... at the repository root does not enter it.
package peers
