#!/usr/bin/env bash
# The real Claude Code CLI for the end-to-end tests (internal/e2e/claudecode_test.go),
# installed with npm into a stable cache outside the checkout:
#
#   bash scripts/claude-code.sh          # install if missing; prints the path of the `claude` binary
#   bash scripts/claude-code.sh path     # print the path only (exit 1 when not installed)
#
# The version is pinned; rerunning is a no-op when that version is present.
# Override the cache with SWITCHYARD_CACHE and the version with CLAUDE_CODE_VERSION.
# Only the binary path goes to stdout (for `export SWITCHYARD_CLAUDE=$(bash scripts/claude-code.sh)`);
# progress goes to stderr.
set -euo pipefail

CLAUDE_CODE_VERSION=${CLAUDE_CODE_VERSION:-2.1.332}
PKG=@anthropic-ai/claude-code
CACHE=${SWITCHYARD_CACHE:-${HOME:-/root}/.cache/switchyard}
DIR=$CACHE/claude-code
BIN=$DIR/node_modules/.bin/claude
PKG_JSON=$DIR/node_modules/$PKG/package.json

log() { printf '[claude-code.sh] %s\n' "$*" >&2; }
die() { printf '[claude-code.sh] error: %s\n' "$*" >&2; exit 1; }

# The native binary of the platform package, for when the postinstall step that
# copies it over bin/claude.exe did not run (npm refusing install scripts).
native_bin() {
	local arch
	case $(uname -m) in
	x86_64 | amd64) arch=x64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) return 1 ;;
	esac
	local os=linux suffix=""
	[ "$(uname -s)" = Darwin ] && os=darwin
	if [ "$os" = linux ] && ldd --version 2>&1 | grep -qi musl; then suffix=-musl; fi
	echo "$DIR/node_modules/$PKG-$os-$arch$suffix/claude"
}

installed_version() {
	[ -f "$PKG_JSON" ] || return 1
	sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$PKG_JSON" | head -1
}

# Prints the path of a binary that runs and reports the pinned version.
working_bin() {
	local b v h
	h=$(mktemp -d)
	for b in "$BIN" "$(native_bin || true)"; do
		[ -n "$b" ] && [ -x "$b" ] || continue
		v=$(env -i PATH=/usr/bin:/bin HOME="$h" DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
			timeout 60 "$b" --version 2>/dev/null) || continue
		case $v in "$CLAUDE_CODE_VERSION "*)
			rm -rf "$h"
			echo "$b"
			return 0
			;;
		esac
	done
	rm -rf "$h"
	return 1
}

if [ "${1:-install}" = path ]; then
	working_bin || die "Claude Code $CLAUDE_CODE_VERSION is not installed in $DIR: run 'bash scripts/claude-code.sh'"
	exit 0
fi

mkdir -p "$DIR"
# One install at a time per cache.
exec 9>"$DIR/.lock"
flock 9

if [ "$(installed_version || true)" = "$CLAUDE_CODE_VERSION" ] && b=$(working_bin); then
	log "Claude Code $CLAUDE_CODE_VERSION already installed"
	echo "$b"
	exit 0
fi

command -v npm >/dev/null || die "npm is not on PATH (install Node.js and npm)"
log "npm install $PKG@$CLAUDE_CODE_VERSION into $DIR (~400 MB, ~30 s)"
# A package.json of our own keeps npm from walking up to some other project.
[ -f "$DIR/package.json" ] || echo '{"private":true}' >"$DIR/package.json"
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "$PKG@$CLAUDE_CODE_VERSION" >&2 ||
	die "npm install failed"
if ! b=$(working_bin); then
	# The postinstall step may have been skipped: run it ourselves.
	(cd "$DIR/node_modules/$PKG" && node install.cjs) >&2 || true
	b=$(working_bin) || die "installed, but neither $BIN nor $(native_bin || echo 'the native binary') runs as version $CLAUDE_CODE_VERSION"
fi
log "installed: $("$b" --version 2>/dev/null)"
echo "$b"
