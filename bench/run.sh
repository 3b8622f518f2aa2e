#!/bin/sh
# Runs the benchmarks of issue 6 and prints the medians and ratios
# (BENCHMARKS.md describes the method). Used by `make bench`.
#
#   BENCH_COUNT  runs of every benchmark (default 5; the tables use medians)
#   BENCH_TIME   -benchtime of each run (default 1s)
#   BENCH_PIN    1 (default on machines with at least 2 CPUs): the workload's
#                client runs on CPU 0 and the PostgreSQL servers on the
#                other CPUs, never sharing a core; 0 leaves placement to the
#                scheduler
#   BENCH_OUT    directory for the raw go test output (default: a new
#                temporary directory, printed at the end)
#   BENCH_SHORT  1: small data set, for checking the script, not for numbers
#   GO           the go command (default go)
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
COUNT=${BENCH_COUNT:-5}
TIME=${BENCH_TIME:-1s}
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/shardgen-bench.XXXXXX")}
mkdir -p "$OUT"
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
PIN=${BENCH_PIN:-1}
if [ "$ncpu" -lt 2 ] || ! command -v taskset >/dev/null 2>&1; then
	PIN=0
fi
short=
if [ "${BENCH_SHORT:-0}" = 1 ]; then
	short=-test.short
fi

{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $ncpu CPUs, $($GO version)"
	echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	echo "# count=$COUNT benchtime=$TIME pin=$PIN"
} >"$OUT/env.txt"
cat "$OUT/env.txt"

echo "== workload: generated vs hand-written pgx vs gorm sharding (bench/peers)" >&2
(cd bench/peers && $GO test -c -o "$OUT/peers.test" .)
if [ "$PIN" = 1 ]; then
	export SHARDGEN_BENCH_SERVER_CPUS="1-$((ncpu - 1))"
	run="taskset -c 0"
else
	unset SHARDGEN_BENCH_SERVER_CPUS 2>/dev/null || true
	run=
fi
(cd bench/peers && $run "$OUT/peers.test" -test.run '^$' -test.bench '^BenchmarkWorkload$' -test.benchmem \
	-test.count "$COUNT" -test.benchtime "$TIME" -test.timeout 60m $short) | tee "$OUT/workload.txt" >&2
unset SHARDGEN_BENCH_SERVER_CPUS 2>/dev/null || true

echo "== routing and ID minting (runtime)" >&2
$GO test -run '^$' -bench '^(BenchmarkRoute|BenchmarkGeneratorNext|BenchmarkGeneratorNextUncapped|BenchmarkIDFunction)$' \
	-benchmem -count "$COUNT" ./runtime | tee "$OUT/runtime.txt" >&2

echo "== generator on 200 models (gen, gen/emit)" >&2
$GO test -run '^$' -bench '^(BenchmarkGenerate200|BenchmarkPackage200Models)$' -benchmem -count "$COUNT" \
	./gen ./gen/emit | tee "$OUT/gen.txt" >&2

$GO run ./bench/benchtable "$OUT/workload.txt" "$OUT/runtime.txt" "$OUT/gen.txt" | tee "$OUT/table.md"
echo "raw results in $OUT" >&2
