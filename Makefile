# berth — make help lists the targets.
GO       ?= go
PKGS     ?= ./...
BENCH    ?= .
TESTFLAGS ?= -timeout 30m

.PHONY: help build test check vet staticcheck race bench images fuzz clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the berth binary into ./berth (static: warm containers run it as their shim)
	CGO_ENABLED=0 $(GO) build -o berth ./cmd/berth

test: ## run every test (needs a Docker engine; BERTH_REQUIRE_DOCKER=1 makes its absence fail)
	$(GO) test $(TESTFLAGS) $(PKGS)

check: vet staticcheck race ## vet, staticcheck and the tests under the race detector

vet: ## go vet
	$(GO) vet $(PKGS)

staticcheck: ## staticcheck (installed on demand)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 $(PKGS)

race: ## the tests under the race detector
	$(GO) test -race $(TESTFLAGS) $(PKGS)

bench: ## run the benchmarks (BENCH=regexp to pick)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(PKGS)

images: ## build the local test image berth-test/busybox from Debian's busybox-static
	scripts/test-images.sh

fuzz: ## run each fuzz target for 30s
	$(GO) test -run '^$$' -fuzz FuzzJobSpec -fuzztime 30s ./internal/strict
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./internal/strict
	$(GO) test -run '^$$' -fuzz FuzzShape -fuzztime 30s ./internal/strict
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/cron

clean: ## remove the built binary
	rm -f berth
