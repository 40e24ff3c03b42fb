package spend

import "testing"

func BenchmarkDbgLine(b *testing.B) {
	r := benchSpendRecord()
	b.ReportAllocs()
	for b.Loop() {
		lb := getLineBuf()
		lb.b, _ = appendLine(lb.b[:0], r)
		putLineBuf(lb)
	}
}
func BenchmarkDbgLineParallel(b *testing.B) {
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		r := benchSpendRecord()
		for pb.Next() {
			lb := getLineBuf()
			lb.b, _ = appendLine(lb.b[:0], r)
			putLineBuf(lb)
		}
	})
}
