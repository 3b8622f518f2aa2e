#!/bin/sh
# Runs GetByID, ListByKey and UpdateByID at 16 shards, every variant, in
# each placement (BENCH_PLACE same, split, free) and transport
# (BENCH_TRANSPORT unix, tcp) of bench/run.sh, and prints each one's table:
# the figures behind run.sh's defaults (BENCHMARKS.md, "Placement and
# transport").
#
#   BENCH_COUNT  runs of every benchmark (default 3)
#   BENCH_TIME   -benchtime of each run (default 1s)
#   BENCH_OUT    directory for the raw output, one subdirectory per
#                placement and transport (default: a new temporary one)
set -eu

cd "$(dirname "$0")/.."
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/shardgen-placement.XXXXXX")}
export BENCH_COUNT=${BENCH_COUNT:-3}
export BENCH_WORKLOAD='^BenchmarkWorkload$/^shards=16$/^(GetByID|ListByKey|UpdateByID)$/'
transports="unix tcp"
places="same free split"
for transport in $transports; do
	for place in $places; do
		echo "== place=$place transport=$transport" >&2
		BENCH_PLACE=$place BENCH_TRANSPORT=$transport BENCH_OUT="$OUT/$place-$transport" \
			sh bench/run.sh >/dev/null
	done
done
for transport in $transports; do
	for place in $places; do
		echo "### place=$place transport=$transport"
		echo
		sed -n '/^| operation | generated |/,/^$/p' "$OUT/$place-$transport/table.md"
	done
done
echo "raw results in $OUT" >&2
