# shardgen developer targets. `make test` is what CI runs (.ci/run).
#
# The database tests start throwaway PostgreSQL 15 servers from the local
# binaries (/usr/lib/postgresql/15/bin, or initdb on PATH), or use the
# server named by SHARDGEN_TEST_DATABASE_URL. Without either they skip,
# except under CI=true, where they fail.
GO ?= go
PKGS := ./...

.PHONY: all help test test-short generate check-generated golden demo demo-grow bench fmt fmt-check vet check

all: check test

## help: list the targets.
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## -short means one thing in every package: the small version of each test and benchmark (a small
## data set, the 16-shard case only, fewer fault phases, a 20-model package instead of 200). It never
## skips a test for needing PostgreSQL or the go command; database tests skip only when no PostgreSQL
## binaries exist, and never under CI=true. `make test` runs the tests without -short and the
## benchmarks with it.
##
## test: every test, including the ones against throwaway PostgreSQL servers; then every
##       benchmark once, on its small data set (-short), to keep them working: also those of
##       bench/peers, a module of its own (GORM stays out of shardgen's go.mod).
test:
	$(GO) test -count=1 -timeout 10m $(PKGS)
	$(GO) test -count=1 -timeout 10m -short -run '^$$' -bench . -benchtime 1x $(PKGS)
	cd bench/peers && $(GO) test -count=1 -timeout 10m -short -bench . -benchtime 1x ./...

## test-short: every test in its small version (-short, see above): a quicker check before landing.
test-short:
	$(GO) test -count=1 -timeout 10m -short $(PKGS)

## generate: regenerate the committed generated code (go generate).
generate:
	$(GO) generate ./examples/...

## check-generated: fail, printing a diff, when committed generated code is stale.
check-generated:
	$(GO) tool shardgen -check ./examples/...

## golden: rewrite testdata/golden/*.txtar from the current generator (review the diff!).
golden:
	$(GO) test ./gen -run '^TestGolden$$' -update

## demo: run the blog example against two throwaway PostgreSQL servers, then its Redis part (timeline,
##       counted views, cached posts) on two throwaway redis-servers (skipped, saying so, without redis-server).
demo:
	$(GO) run ./examples/blog

## demo-grow: the demo, then shards 12-15 of the blog moved to a third throwaway server while four
##            writers keep writing (README "Growing onto a new server").
demo-grow:
	$(GO) run ./examples/blog -grow

## bench: the benchmarks of BENCHMARKS.md (generated vs hand-written pgx vs gorm sharding, routing, IDs,
##        generator); prints medians and ratios. BENCH_COUNT=5 runs each, BENCH_TIME=1s; see bench/run.sh.
BENCH_COUNT ?= 5
BENCH_TIME ?= 1s
bench:
	GO=$(GO) BENCH_COUNT=$(BENCH_COUNT) BENCH_TIME=$(BENCH_TIME) ./bench/run.sh

## fmt: gofmt every Go file.
fmt:
	gofmt -w $$(git ls-files '*.go')

## fmt-check: fail when a Go file is not gofmt-clean.
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi

## vet: go vet every package, bench/peers' and bench/redisclient's too.
vet:
	$(GO) vet $(PKGS)
	cd bench/peers && $(GO) vet ./...
	cd bench/redisclient && $(GO) vet ./...

## check: the fast static checks (format, vet, generated code).
check: fmt-check vet check-generated
