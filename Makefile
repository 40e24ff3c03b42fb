# Switchyard — `make help` lists the targets.
GO        ?= go
BIN       ?= bin/switchyard
STATICCHECK_VERSION ?= v0.8.2
GOBIN     ?= $(shell $(GO) env GOPATH)/bin

.PHONY: help build run test tools ollama ollama-stop lint vet fmt-check unit services fuzz clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the static binary into bin/switchyard
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN) ./cmd/switchyard

run: build ## run the gateway (CONFIG=file to pick a config; default: ./switchyard.yaml, ./litellm_config.yaml or a local Ollama)
	./$(BIN) $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

test: services tools ollama lint unit ## the one command that passes the tests: services, test tools, a real Ollama, lint, then every test with -race

tools: ## install the real clients the tests drive (Claude Code from npm, into ~/.cache/switchyard)
	@bash scripts/claude-code.sh >/dev/null

ollama: ## build (cached; 10-20 min the first time) and start a real Ollama with a generated tiny model on 127.0.0.1:11435
	@bash scripts/ollama.sh up >/dev/null

ollama-stop: ## stop the Ollama that `make ollama` started
	@bash scripts/ollama.sh stop

unit: ## go test -race over every package
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./...

lint: fmt-check vet ## gofmt, go vet and staticcheck
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

vet: ## go vet
	$(GO) vet ./...

fmt-check: ## fail when a file is not gofmt-formatted
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

services: ## start PostgreSQL and Redis when they are down (for the integration tests)
	@bash scripts/services.sh

fuzz: ## run every fuzz target for FUZZTIME (default 20s) each
	@bash scripts/fuzz.sh $(or $(FUZZTIME),20s)

clean: ## remove build output
	rm -rf bin
