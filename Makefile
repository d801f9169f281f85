# radrelay — build, test, benchmark.
#
#   make build   builds bin/radrelay
#   make test    runs every test with the race detector (integration tests
#                start their own FreeRADIUS and PostgreSQL when installed)
#   make bench   runs the benchmarks recorded in docs/benchmarks.md
#   make lint    gofmt and go vet
#   make fuzz    runs every fuzz target briefly (FUZZTIME each)

GO       ?= go
FUZZTIME ?= 10s
BENCHTIME ?= 1s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: build test bench lint fuzz clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/radrelay ./cmd/radrelay

test:
	$(GO) test -race -count=1 -timeout 12m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin
