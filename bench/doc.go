// Package bench holds the benchmarks of issue 6, published with their
// method and results in BENCHMARKS.md at the repository root: shardgen's
// generated repositories against hand-written pgx/v5 (and, in the separate
// module bench/peers, against GORM with gorm.io/sharding), on one table
// sharded by user_id at 16 and 4,096 logical shards over two throwaway
// PostgreSQL servers.
//
//	bench/benchdb    the annotated models and their generated code
//	bench/handpgx    the hand-written pgx floor
//	bench/workload   data set, setup, operations and the benchmark driver
//	bench/peers      separate module: the same run plus GORM sharding
//	bench/benchtable medians and ratios of a run, checked against the bars
//	bench/run.sh     what make bench runs
//
// The tests of this package check, on a small data set, that every variant
// does the same work and agrees with the others; the benchmarks run only
// with -bench.
package bench
