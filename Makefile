# shardgen developer targets. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all test generate check-generated golden demo bench fmt vet

all: vet test

## test: every test, including the ones against throwaway PostgreSQL servers.
test:
	$(GO) test -count=1 $(PKGS)

## generate: regenerate every committed generated file (go generate).
generate:
	$(GO) generate ./examples/...

## check-generated: fail when committed generated code is stale.
check-generated:
	$(GO) run ./cmd/shardgen -check ./examples/blog

## golden: rewrite testdata/golden from the current generator.
golden:
	$(GO) test ./gen -run Golden -update

## demo: generate the blog example and run it against throwaway PostgreSQL servers.
demo: generate
	$(GO) run ./examples/blog

## bench: run the benchmarks (medians over -count=5).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./runtime/... ./gen/...

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)
