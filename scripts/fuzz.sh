#!/usr/bin/env bash
# Runs every Fuzz target in the module for the given time each.
# Minimizing a new input is capped at 2 s: the Claude Code seeds are large, and
# the default (60 s) spends a short run minimizing while the counter reads 0/sec.
set -euo pipefail
t=${1:-20s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== $pkg $f"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" -fuzzminimizetime 2s "$pkg"
  done
done
