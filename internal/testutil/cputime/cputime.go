// Package cputime reports the CPU time a benchmark used per operation
// (cpu-ns/op), beside its wall time: work on the benchmark's other
// goroutines (a background inserter, the garbage collector) counts, time
// spent waiting (an fsync, another process on the core) does not.
package cputime

import (
	"testing"
	"time"
)

// Meter measures the process CPU time from Start on.
type Meter struct {
	b  *testing.B
	t0 time.Duration
	ok bool
}

// Start starts measuring. Where the process CPU time cannot be read the
// Meter reports nothing.
func Start(b *testing.B) *Meter {
	t0, ok := now()
	return &Meter{b: b, t0: t0, ok: ok}
}

// Stop reports cpu-ns/op: the CPU time since Start over b.N.
func (m *Meter) Stop() { m.Report(m.b.N, "cpu-ns/op") }

// Report reports the CPU time since Start over n, as unit.
func (m *Meter) Report(n int, unit string) {
	t1, ok := now()
	if m.ok && ok && n > 0 {
		m.b.ReportMetric(float64(t1-m.t0)/float64(n), unit)
	}
}
