// Package cputime reports the CPU time a benchmark used per operation
// (cpu-ns/op), beside its wall time: work on the benchmark's other
// goroutines (a background inserter, the garbage collector) counts, time
// spent waiting (an fsync, another process on the core) does not.
package cputime

import "testing"

// Start starts measuring; the function it returns reports cpu-ns/op for
// the b.N operations since. Where the process CPU time cannot be read it
// reports nothing.
func Start(b *testing.B) (stop func()) {
	t0, ok := now()
	return func() {
		t1, ok1 := now()
		if ok && ok1 && b.N > 0 {
			b.ReportMetric(float64(t1-t0)/float64(b.N), "cpu-ns/op")
		}
	}
}
