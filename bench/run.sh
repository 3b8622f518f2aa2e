#!/bin/sh
# Runs the benchmarks of issue 6 and prints the medians and ratios
# (BENCHMARKS.md describes the method). Used by `make bench`.
#
#   BENCH_COUNT  runs of every benchmark (default 5; the tables use medians)
#   BENCH_TIME   -benchtime of each run (default 1s)
#   BENCH_PLACE  where the client and the PostgreSQL servers run:
#                same (default on machines with at least 2 CPUs): all on
#                CPU 0, so an operation's time is the work of the client,
#                the kernel and the server, with no cross-CPU wake-up in it;
#                split: the client on CPU 0, the servers on the other CPUs;
#                free: the scheduler decides (BENCHMARKS.md gives figures
#                for all three and why same is the default)
#   BENCH_TRANSPORT  unix (default) or tcp: how every variant reaches the
#                servers (SHARDGEN_BENCH_TRANSPORT)
#   BENCH_OUT    directory for the raw go test output (default: a new
#                temporary directory, printed at the end)
#   BENCH_SHORT  1: small data set, for checking the script, not for numbers
#   BENCH_WORKLOAD  -test.bench pattern of the workload part (default all of
#                BenchmarkWorkload); set, it also skips the routing, ID and
#                generator parts (bench/placement.sh uses it)
#   GO           the go command (default go)
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
COUNT=${BENCH_COUNT:-5}
TIME=${BENCH_TIME:-1s}
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/shardgen-bench.XXXXXX")}
mkdir -p "$OUT"
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
PLACE=${BENCH_PLACE:-same}
case $PLACE in
same | split | free) ;;
*)
	echo "BENCH_PLACE=$PLACE: want same, split or free" >&2
	exit 2
	;;
esac
if [ "$ncpu" -lt 2 ] || ! command -v taskset >/dev/null 2>&1; then
	PLACE=free
fi
export SHARDGEN_BENCH_TRANSPORT=${BENCH_TRANSPORT:-unix}
short=
if [ "${BENCH_SHORT:-0}" = 1 ]; then
	short=-test.short
fi

{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $ncpu CPUs, $($GO version)"
	echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	echo "# count=$COUNT benchtime=$TIME place=$PLACE transport=$SHARDGEN_BENCH_TRANSPORT"
} >"$OUT/env.txt"
cat "$OUT/env.txt"

echo "== workload: generated vs hand-written pgx vs gorm sharding (bench/peers)" >&2
(cd bench/peers && $GO test -c -o "$OUT/peers.test" .)
case $PLACE in
same)
	export SHARDGEN_BENCH_SERVER_CPUS=0
	run="taskset -c 0"
	;;
split)
	export SHARDGEN_BENCH_SERVER_CPUS="1-$((ncpu - 1))"
	run="taskset -c 0"
	;;
*)
	unset SHARDGEN_BENCH_SERVER_CPUS 2>/dev/null || true
	run=
	;;
esac
(cd bench/peers && $run "$OUT/peers.test" -test.run '^$' -test.bench "${BENCH_WORKLOAD:-^BenchmarkWorkload\$}" -test.benchmem \
	-test.count "$COUNT" -test.benchtime "$TIME" -test.timeout 60m $short) | tee "$OUT/workload.txt" >&2
unset SHARDGEN_BENCH_SERVER_CPUS 2>/dev/null || true
set -- "$OUT/workload.txt"
if [ -z "${BENCH_WORKLOAD:-}" ]; then
	echo "== routing and ID minting (runtime)" >&2
	$GO test -run '^$' -bench '^(BenchmarkRoute|BenchmarkGeneratorNext|BenchmarkGeneratorNextUncapped|BenchmarkIDFunction)$' \
		-benchmem -count "$COUNT" ./runtime | tee "$OUT/runtime.txt" >&2

	echo "== generator on 200 models (gen, gen/emit)" >&2
	$GO test -run '^$' -bench '^(BenchmarkGenerate200|BenchmarkPackage200Models)$' -benchmem -count "$COUNT" \
		./gen ./gen/emit | tee "$OUT/gen.txt" >&2
	set -- "$@" "$OUT/runtime.txt" "$OUT/gen.txt"

	echo "== GetMany of 100 IDs vs 100 Gets vs a hand-written pgx.Batch per server (bench)" >&2
	$GO test -run '^$' -bench '^BenchmarkGetMany$' -benchmem -count "$COUNT" -benchtime "$TIME" $short \
		./bench | tee "$OUT/getmany.txt" >&2

	echo "== InsertMany of 1,000 rows vs 1,000 Inserts vs COPY; UpsertBySlug and versioned Update vs hand-written pgx, paired (bench)" >&2
	$GO test -run '^$' -bench '^(BenchmarkInsertMany|BenchmarkUpsertVersioned)$' -benchmem -count "$COUNT" -benchtime "$TIME" $short \
		./bench | tee "$OUT/batch.txt" >&2
fi

$GO run ./bench/benchtable "$@" | tee "$OUT/table.md"
echo "raw results in $OUT" >&2
