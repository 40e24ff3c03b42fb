#!/usr/bin/env bash
# A real Ollama for the tests and the benchmark, with no model registry:
# Ollama v0.24.0 built from the Go module proxy, serving a tiny random-weight
# model that cmd/tinygguf generates. See docs/ollama.md.
#
#   bash scripts/ollama.sh up       # build + start + model; prints the base URL
#   bash scripts/ollama.sh build    # install missing Debian headers, build/reuse the binary
#   bash scripts/ollama.sh start    # start the server (idempotent), prints the base URL
#   bash scripts/ollama.sh model    # generate + import the tiny models (needs a started server)
#   bash scripts/ollama.sh stop     # stop the server this script started on OLLAMA_PORT
#   bash scripts/ollama.sh status   # running or not (exit 0 / 3)
#   bash scripts/ollama.sh url      # print the base URL only
#   bash scripts/ollama.sh env      # print shell exports (OLLAMA_HOST, SWITCHYARD_OLLAMA_URL, ...)
#
# Only the base URL goes to stdout (for `url=$(bash scripts/ollama.sh up)`);
# progress goes to stderr.
set -euo pipefail

OLLAMA_VERSION=0.24.0
OLLAMA_MODULE=github.com/ollama/ollama

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SWITCHYARD_CACHE:-${HOME:-/root}/.cache/switchyard}
BIN_DIR=$CACHE/bin
OLLAMA_BIN=$BIN_DIR/ollama
INCLUDE_DIR=$CACHE/ollama-include     # stable path: cgo flags are part of Go's build cache key
OLLAMA_HOME_DIR=$CACHE/ollama-home    # HOME and OLLAMA_MODELS of the server
MODEL_DIR=$CACHE/ollama-model         # generated GGUF files + the Modelfiles used
PORT=${OLLAMA_PORT:-11435}
ADDR=127.0.0.1:$PORT
URL=http://$ADDR
RUN_DIR=$CACHE/ollama-run
PID_FILE=$RUN_DIR/ollama-$PORT.pid
LOG_FILE=$RUN_DIR/ollama-$PORT.log
MODEL_NAME=${OLLAMA_TINY_MODEL:-tiny}
START_TIMEOUT=${OLLAMA_START_TIMEOUT:-60}

log() { printf '[ollama.sh] %s\n' "$*" >&2; }
die() { printf '[ollama.sh] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$CACHE" "$RUN_DIR"

# One script at a time per cache (parallel test packages may all call `up`).
lock() {
	exec 9>"$CACHE/ollama.lock"
	flock 9
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root (or sudo) to run: $*"
	fi
}

# ---------------------------------------------------------------- build

# Debian packages providing headers that the module zip lacks (its vendor/ folders
# are not in the zip): nlohmann/json.hpp and stb/stb_image.h. curl is used below.
ensure_packages() {
	local missing=()
	[ -f /usr/include/nlohmann/json.hpp ] || missing+=(nlohmann-json3-dev)
	[ -f /usr/include/stb/stb_image.h ] || missing+=(libstb-dev)
	command -v curl >/dev/null || missing+=(curl)
	command -v flock >/dev/null || missing+=(util-linux)
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# apt-get update only when needed: no package lists yet, or the install fails.
	if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
		as_root apt-get update -qq >&2
	fi
	if ! as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
		as_root apt-get update -qq >&2
		as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	fi
}

# Our own minimal miniaudio.h (no Debian package exists), copied to the stable
# include dir only when its content changed.
ensure_include() {
	mkdir -p "$INCLUDE_DIR/miniaudio"
	if ! cmp -s "$ROOT/scripts/ollama/miniaudio.h" "$INCLUDE_DIR/miniaudio/miniaudio.h"; then
		cp "$ROOT/scripts/ollama/miniaudio.h" "$INCLUDE_DIR/miniaudio/miniaudio.h"
	fi
}

# True when $OLLAMA_BIN was built from the pinned module version with the version ldflag.
binary_ok() {
	[ -x "$OLLAMA_BIN" ] || return 1
	local info
	info=$(go version -m "$OLLAMA_BIN" 2>/dev/null) || return 1
	grep -Eq "^[[:space:]]+mod[[:space:]]+${OLLAMA_MODULE}[[:space:]]+v${OLLAMA_VERSION}([[:space:]]|$)" <<<"$info" &&
		grep -q "version.Version=$OLLAMA_VERSION" <<<"$info"
}

cmd_build() {
	command -v go >/dev/null || die "go is not on PATH"
	if binary_ok; then
		log "ollama $OLLAMA_VERSION already built: $OLLAMA_BIN"
		return 0
	fi
	ensure_packages
	ensure_include
	mkdir -p "$BIN_DIR"
	log "building $OLLAMA_MODULE@v$OLLAMA_VERSION (cgo; cold: ~8-15 min on 2 cores, warm: seconds)"
	local t0=$SECONDS tmp
	tmp=$(mktemp -d)
	# Module mode, outside our module: the Ollama build never touches our go.mod.
	(
		cd "$tmp"
		export GOFLAGS=-mod=mod GOWORK=off GOBIN="$BIN_DIR" CGO_ENABLED=1
		export CGO_CPPFLAGS="-I$INCLUDE_DIR${CGO_CPPFLAGS:+ $CGO_CPPFLAGS}"
		go install -ldflags "-X $OLLAMA_MODULE/version.Version=$OLLAMA_VERSION" "$OLLAMA_MODULE@v$OLLAMA_VERSION"
	) >&2
	rm -rf "$tmp"
	binary_ok || die "build finished but $OLLAMA_BIN does not report v$OLLAMA_VERSION"
	log "built $OLLAMA_BIN in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- server

answers() { curl -fsS -m 2 "$URL/api/tags" >/dev/null 2>&1; }

running_pid() {
	local pid
	[ -f "$PID_FILE" ] || return 1
	pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	# A recycled pid must not be taken for our server (stop kills its process group).
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$OLLAMA_BIN serve" || return 1
	echo "$pid"
}

cmd_start() {
	if running_pid >/dev/null && answers; then
		log "already running (pid $(cat "$PID_FILE")) at $URL"
		return 0
	fi
	if answers; then
		log "something already answers at $URL (not started by this script); using it"
		return 0
	fi
	if pid=$(running_pid); then
		log "pid $pid from $PID_FILE is alive but not answering; stopping it first"
		cmd_stop
	fi
	binary_ok || die "ollama is not built: run 'bash scripts/ollama.sh build' (or 'up')"
	mkdir -p "$OLLAMA_HOME_DIR/models"
	log "starting ollama serve at $URL (log: $LOG_FILE)"
	# setsid: own process group, detached from the caller's terminal and pipes;
	# 9>&-: the server must not inherit (and hold) our lock.
	OLLAMA_HOST=$ADDR \
		OLLAMA_MODELS=$OLLAMA_HOME_DIR/models \
		HOME=$OLLAMA_HOME_DIR \
		OLLAMA_NO_CLOUD=1 \
		setsid "$OLLAMA_BIN" serve </dev/null >>"$LOG_FILE" 2>&1 9>&- &
	echo $! >"$PID_FILE"
	local pid=$! i
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if answers; then
			log "up after $((i / 10)).$((i % 10))s (pid $pid)"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { tail -20 "$LOG_FILE" >&2; rm -f "$PID_FILE"; die "ollama serve exited"; }
		sleep 0.1
	done
	tail -20 "$LOG_FILE" >&2
	die "ollama did not answer $URL/api/tags within ${START_TIMEOUT}s"
}

cmd_stop() {
	local pid i
	if ! pid=$(running_pid); then
		rm -f "$PID_FILE"
		if answers; then
			log "$URL answers but was not started by this script (no live pid file); leaving it"
		else
			log "not running"
		fi
		return 0
	fi
	log "stopping pid $pid"
	# The server and its runner subprocesses share the process group made by setsid.
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "still alive after 10s; SIGKILL"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PID_FILE"
	log "stopped"
}

cmd_status() {
	local pid
	if pid=$(running_pid) && answers; then
		echo "running pid=$pid url=$URL version=$(curl -fsS -m 2 "$URL/api/version" 2>/dev/null || echo '?')"
		curl -fsS -m 2 "$URL/api/tags" 2>/dev/null | grep -o '"name":"[^"]*"' | sed 's/"name":/  model /' || true
		return 0
	elif answers; then
		echo "answering (not started by this script) url=$URL"
		return 0
	fi
	echo "stopped url=$URL binary=$([ -x "$OLLAMA_BIN" ] && echo "$OLLAMA_BIN" || echo 'not built')"
	return 3
}

# ---------------------------------------------------------------- model

# tiny:         stops by itself after a few tokens (EOS-biased)   -> done_reason "stop"
# tiny-endless: never emits EOS (benchmarks; bound it with num_predict) -> "length"
create_model() { # name, tinygguf flags...
	local name=$1
	shift
	local dir=$MODEL_DIR/$name stamp want
	mkdir -p "$dir"
	"$BIN_DIR/tinygguf" -o "$dir/model.gguf.tmp" "$@"
	if cmp -s "$dir/model.gguf.tmp" "$dir/model.gguf"; then rm "$dir/model.gguf.tmp"; else mv "$dir/model.gguf.tmp" "$dir/model.gguf"; fi
	sed 's#^FROM .*#FROM ./model.gguf#' "$ROOT/testdata/ollama/Modelfile" >"$dir/Modelfile"
	want=$(cat "$dir/model.gguf" "$dir/Modelfile" | sha256sum | cut -c1-64)
	stamp=$OLLAMA_HOME_DIR/models/.switchyard-$name.sha256
	if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
		curl -fsS -m 5 "$URL/api/show" -d "{\"model\":\"$name\"}" >/dev/null 2>&1; then
		log "model $name up to date"
		return 0
	fi
	log "ollama create $name"
	# (its progress display is stripped of terminal escapes, for CI logs)
	(cd "$dir" && OLLAMA_HOST=$ADDR HOME=$OLLAMA_HOME_DIR OLLAMA_NO_CLOUD=1 "$OLLAMA_BIN" create "$name" -f Modelfile 2>&1) |
		sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r/\n/g' | grep -v '^[[:space:]]*$' >&2 ||
		die "ollama create $name failed"
	echo "$want" >"$stamp"
}

cmd_model() {
	answers || die "no server at $URL: run 'bash scripts/ollama.sh start' first (or 'up')"
	mkdir -p "$BIN_DIR"
	# Stdlib-only generator from this repo; go build is a no-op when nothing changed.
	(cd "$ROOT" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -o "$BIN_DIR/tinygguf" ./cmd/tinygguf) >&2 ||
		die "building cmd/tinygguf failed"
	create_model "$MODEL_NAME"
	create_model "$MODEL_NAME-endless" -no-stop
}

# ---------------------------------------------------------------- main

cmd=${1:-up}
case $cmd in
build) lock; cmd_build ;;
start) lock; cmd_start; echo "$URL" ;;
model) lock; cmd_model ;;
up)
	lock
	t0=$SECONDS
	cmd_build
	cmd_start
	cmd_model
	log "ready in $((SECONDS - t0))s: $URL (models $MODEL_NAME, $MODEL_NAME-endless)"
	echo "$URL"
	;;
stop) lock; cmd_stop ;;
restart) lock; cmd_stop; cmd_start; echo "$URL" ;;
status) cmd_status ;;
url) echo "$URL" ;;
env)
	echo "export OLLAMA_HOST=$ADDR"
	echo "export SWITCHYARD_OLLAMA_URL=$URL"
	echo "export SWITCHYARD_OLLAMA_MODEL=$MODEL_NAME"
	echo "export SWITCHYARD_OLLAMA_BIN=$OLLAMA_BIN"
	;;
-h | --help | help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
*) die "unknown command '$cmd' (build|start|model|up|stop|restart|status|url|env)" ;;
esac
