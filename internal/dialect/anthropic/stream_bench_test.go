package anthropic_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/switchyard/switchyard/internal/dialect/anthropic"
	"github.com/switchyard/switchyard/internal/dialect/ollama"
	"github.com/switchyard/switchyard/internal/dialect/openai"
	"github.com/switchyard/switchyard/internal/llm"

	"github.com/switchyard/switchyard/internal/testutil/benchdata"
)

// Benchmarks of the Anthropic side of translation, run with
// `go test -run '^$' -bench . -benchmem ./internal/dialect/anthropic`.

// BenchmarkTranslateStream is one whole upstream stream translated to an
// Anthropic client stream: upstream reader → hub events → Anthropic writer.
func BenchmarkTranslateStream(b *testing.B) {
	req := &llm.Request{Model: "claude-xlate"}
	for _, tc := range []struct {
		name string
		in   []byte
		read func(io.Reader) llm.Stream
	}{
		{"openai-to-anthropic", benchdata.OpenAIStream(), openai.Codec{}.NewStreamReader},
		{"ollama-to-anthropic", benchdata.OllamaStream(), ollama.Codec{}.NewStreamReader},
		{"anthropic-reader-only", benchdata.AnthropicStream(), anthropic.Codec{}.NewStreamReader},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := &benchdata.CountWriter{}
			if n := benchdata.Pump(b, tc.read(bytes.NewReader(tc.in)), anthropic.Codec{}.NewStreamWriter(w, req)); n < 5 {
				b.Fatalf("only %d events", n)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.in)))
			for b.Loop() {
				var sw llm.StreamWriter = anthropic.Codec{}.NewStreamWriter(w, req)
				if tc.name == "anthropic-reader-only" {
					sw = nopWriter{}
				}
				benchdata.Pump(b, tc.read(bytes.NewReader(tc.in)), sw)
			}
		})
	}
}

type nopWriter struct{}

func (nopWriter) Write(llm.Event) error     { return nil }
func (nopWriter) Ping() error               { return nil }
func (nopWriter) Fail(err *llm.Error) error { return nil }

// BenchmarkDecodeRequest is the Anthropic client codec's decode of the
// Claude Code request into the hub request (translated path only).
func BenchmarkDecodeRequest(b *testing.B) {
	body := benchdata.ClaudeCodeBody(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := (anthropic.Codec{}).DecodeRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}
