# radrelay — build, test, benchmark.
#
#   make build   builds bin/radrelay
#   make test    runs every test with the race detector (integration tests
#                start their own FreeRADIUS and PostgreSQL when installed)
#   make bench   runs the micro-benchmarks (internal APIs) of docs/benchmarks.md
#   make bench-e2e runs the end-to-end harness (bench/): the built binary
#                side by side with FreeRADIUS on a FreeRADIUS-written corpus;
#                4-7 minutes; BENCH_E2E_DOCS=1 also rewrites its section
#                of docs/benchmarks.md
#   make lint    gofmt and go vet
#   make fuzz    runs every fuzz target briefly (FUZZTIME each)
#   make man     writes the man pages, made from the help texts, to build/man
#   make deb     builds build/radrelay_VERSION_ARCH.deb (static binary, unit,
#                sysusers/tmpfiles, config, man pages, completions)
#
# VERSION comes from the release tags (vMAJOR.MINOR.PATCH; see
# packaging/version.sh) and is what "radrelay version" prints.

GO       ?= go
FUZZTIME ?= 10s
BENCHTIME ?= 1s
VERSION  ?= $(shell packaging/version.sh)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: build test bench bench-e2e lint fuzz man deb clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/radrelay ./cmd/radrelay

test:
	$(GO) test -race -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

bench-e2e:
	RADRELAY_BENCH_E2E=1 RADRELAY_BENCH_UPDATE_DOCS=$(BENCH_E2E_DOCS) $(GO) test -count=1 -run '^TestE2E$$' -v -timeout 60m ./bench

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

man: build
	bin/radrelay man --dir build/man

# A static binary (no cgo) runs on any Linux of its architecture.
deb:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o build/radrelay ./cmd/radrelay
	packaging/build-deb.sh build/radrelay build

clean:
	rm -rf bin build
