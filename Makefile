# gavel's front door. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

GO        ?= go
BIN       := $(CURDIR)/bin
TOOLS     := -modfile=tools/go.mod
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/gavel/gavel/internal/server.Version=$(VERSION)
DETECTORS := $(notdir $(wildcard plugins/detectors/*))
OPA       := $(BIN)/opa
PG_DIR    := /tmp/gavel-test-pg

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# ---- tools, pinned in tools/go.mod and built once into bin/ ----
$(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-connect-go $(BIN)/protoc-gen-go-grpc $(OPA) $(BIN)/staticcheck: tools/go.mod tools/go.sum
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install $(TOOLS) github.com/bufbuild/buf/cmd/buf google.golang.org/protobuf/cmd/protoc-gen-go \
		connectrpc.com/connect/cmd/protoc-gen-connect-go google.golang.org/grpc/cmd/protoc-gen-go-grpc \
		github.com/open-policy-agent/opa honnef.co/go/tools/cmd/staticcheck
	@touch $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-connect-go $(BIN)/protoc-gen-go-grpc $(OPA) $(BIN)/staticcheck

.PHONY: tools
tools: $(BIN)/buf $(OPA) $(BIN)/staticcheck ## build the pinned developer tools (buf, protoc plugins, opa, staticcheck) into bin/

# ---- code generation ----
.PHONY: generate
generate: tools ## regenerate the Go code for the proto contracts (offline)
	cd proto && PATH=$(BIN):$$PATH buf lint
	cd proto && PATH=$(BIN):$$PATH buf generate --exclude-path gavel/detector
	cd proto && PATH=$(BIN):$$PATH buf generate --template buf.gen.grpc.yaml --path gavel/detector
	cd proto && PATH=$(BIN):$$PATH buf build --path gavel/detector/v1/detector.proto --exclude-imports --exclude-source-info -o gavel/detector/v1/detector.binpb
	cp proto/gavel/detector/v1/detector.binpb plugins/detectors-python/ipreputation/detector.binpb

.PHONY: check-generate
check-generate: generate ## fail if generated code differs from what is committed
	@git diff --exit-code --stat -- proto || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto)" || { git status --porcelain -- proto; echo "generate wrote new files: commit them"; exit 1; }

# ---- build and run ----
.PHONY: build
build: ## build gavel and the built-in detectors into bin/
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/gavel ./cmd/gavel
	$(GO) build -o $(BIN)/ $(addprefix ./plugins/detectors/,$(DETECTORS))
	@for d in $(DETECTORS); do mv -f $(BIN)/$$d $(BIN)/gavel-detector-$$d; done

.PHONY: run
run: build ## run gavel on its embedded defaults (SQLite under ./data, built-in detectors, these policies) on 127.0.0.1:8080
	$(BIN)/gavel serve

# ---- tests ----
.PHONY: test
test: test-policies ## run every test: Rego policies, then Go (unit, SQLite and PostgreSQL ledger, end to end) with -race
	@tests/deps.sh
	@if [ -z "$${GAVEL_TEST_POSTGRES_DSN:-}" ]; then \
		export GAVEL_TEST_POSTGRES_DSN="$$(tests/pg/start.sh $(PG_DIR) 55432)"; \
	fi; \
	echo "PostgreSQL for tests: $$GAVEL_TEST_POSTGRES_DSN"; \
	$(GO) test -race -count=1 -timeout 20m -json ./... | $(GO) run ./tests/testreport
	@$(MAKE) --no-print-directory scenarios
	@echo "The test PostgreSQL at $(PG_DIR) is left running for the next run (shared); make test-pg-stop stops it."

.PHONY: test-pg-stop
test-pg-stop: ## stop the test PostgreSQL that make test started at $(PG_DIR)
	@tests/pg/stop.sh $(PG_DIR)

.PHONY: scenarios
scenarios: ## the seeded scenario suite (honest and fraudulent journeys, real decision path): asserts the targets, prints the per-kind table
	GAVEL_SCENARIO_REPORT=$(CURDIR)/.cache/scenarios.md $(GO) test -count=1 -run '^TestScenarios$$' ./tests/scenarios
	@cat $(CURDIR)/.cache/scenarios.md

.PHONY: test-short
test-short: ## Go unit tests only, without PostgreSQL or end-to-end tests
	$(GO) test -race -short ./...

.PHONY: test-policies
test-policies: $(OPA) ## Rego: opa fmt, strict schema-checked compile, tests with a 90% coverage threshold
	$(OPA) fmt --list --fail policies
	$(OPA) check --bundle --strict --schema policies/input.schema.json policies
	$(OPA) test --bundle --timeout 30s --coverage --threshold 90 policies > $(CURDIR)/.cache/policies-coverage.json
	@$(OPA) test --bundle --timeout 30s policies | tail -n 1

.PHONY: lint
lint: $(OPA) $(BIN)/buf $(BIN)/staticcheck ## go vet, staticcheck, gofmt, opa fmt, buf lint
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt would change the files above"; exit 1; }
	$(OPA) fmt --list --fail policies
	cd proto && PATH=$(BIN):$$PATH buf lint

# ---- fuzzing ----
FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: ## fuzz the trust boundaries for FUZZTIME each: request decoding, detector answers, bundle tarballs
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime $(FUZZTIME) ./internal/server
	$(GO) test -run '^$$' -fuzz '^FuzzSignals$$' -fuzztime $(FUZZTIME) ./plugins/host
	$(GO) test -run '^$$' -fuzz '^FuzzReadBundle$$' -fuzztime $(FUZZTIME) ./bundles

# ---- benchmarks ----
BENCH_FLAGS ?=
.PHONY: bench
bench: build $(OPA) ## gavel side by side with `opa run --server` (same policy, input, load generator): one table of throughput, p50, p99, RSS, detector outcomes, replay rate; BENCH_FLAGS=-h for options
	@if [ -z "$${GAVEL_TEST_POSTGRES_DSN:-}" ]; then \
		export GAVEL_TEST_POSTGRES_DSN="$$(tests/pg/start.sh $(PG_DIR) 55432)"; \
	fi; \
	$(GO) run ./tests/sidebyside -bin $(BIN) -opa $(OPA) -policies policies -out $(CURDIR)/.cache/bench.md $(BENCH_FLAGS)

.PHONY: bench-micro
bench-micro: ## Go benchmarks: Decide in-process (inline signals vs detectors; ledger off vs SQLite vs PostgreSQL), the load harness, policy eval, detector calls, ledger, replay, linkage and velocity stores
	@tests/deps.sh
	@if [ -z "$${GAVEL_TEST_POSTGRES_DSN:-}" ]; then \
		export GAVEL_TEST_POSTGRES_DSN="$$(tests/pg/start.sh $(PG_DIR) 55432)"; \
	fi; \
	echo "PostgreSQL for benchmarks: $$GAVEL_TEST_POSTGRES_DSN"; \
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./tests/... ./bundles/... ./plugins/host/... ./ledger/... ./internal/replay/... ./plugins/detectors/linkage/... ./plugins/detectors/velocity/... | tee $(CURDIR)/.cache/bench-micro.txt
	@$(GO) run ./tests/benchreport < $(CURDIR)/.cache/bench-micro.txt

# ---- data for detectors ----
.PHONY: model
model: ## retrain the fraud model on the synthetic data set (fixed seed), and on OUTCOMES=file (gavel outcomes export) when given: model.json and EVALUATION.md, byte for byte
	$(GO) run ./plugins/detectors/model/train -out plugins/detectors/model $(if $(OUTCOMES),-outcomes $(OUTCOMES))

.PHONY: data
data: ## refresh the detectors' shipped data sets from the npm registry (pinned versions)
	@for s in plugins/detectors/*/data/update.sh; do echo "$$s"; bash "$$s"; done

.PHONY: console-assets
console-assets: ## re-vendor the console's htmx and uPlot, and the browser tests' axe-core, from npm at pinned versions
	console/vendor.sh

.PHONY: clean
clean: ## remove built binaries, caches and local data
	rm -rf $(BIN) .cache data

$(shell mkdir -p .cache)
