package metrics

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

func benchRecord() *record.Record {
	return &record.Record{
		ID: "req_0123456789abcdef01234567", Route: "chat_completions", ClientDialect: llm.DialectOpenAI,
		ModelRequested: "bench-json", ModelGroup: "bench-json", DeploymentID: "b8d80dbda959",
		Provider: "openai", UpstreamModel: "bench-upstream", APIBase: "http://127.0.0.1:9/v1",
		Usage: llm.Usage{InputTokens: 11, OutputTokens: 7}, Cost: 0.0001,
		Latency: 900 * time.Microsecond, UpstreamLatency: 600 * time.Microsecond, TTFT: 300 * time.Microsecond,
		Stream: true, Status: record.StatusSuccess, HTTPStatus: 200,
	}
}

// BenchmarkRecordOneTuple is one finished call counted, for a label tuple
// already seen (the steady state), alone and from every core at once
// (BenchmarkRecord in metrics_test.go spreads calls over several tuples).
func BenchmarkRecordOneTuple(b *testing.B) {
	m := New(Options{NoRuntimeCollectors: true})
	r := benchRecord()
	m.Record(r)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Record(r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Record(r)
			}
		})
	})
}

// BenchmarkInFlight is the in-flight gauge moved twice per request.
func BenchmarkInFlight(b *testing.B) {
	m := New(Options{NoRuntimeCollectors: true})
	b.ReportAllocs()
	for b.Loop() {
		m.InFlight(1)
		m.InFlight(-1)
	}
}
