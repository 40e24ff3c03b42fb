package anthropic_test

import (
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
	benchdata.TranslateStream(b, []benchdata.StreamCase{
		{Name: "openai-to-anthropic", In: benchdata.OpenAIStream(), Read: openai.Codec{}.NewStreamReader},
		{Name: "ollama-to-anthropic", In: benchdata.OllamaStream(), Read: ollama.Codec{}.NewStreamReader},
		{Name: "anthropic-reader-only", In: benchdata.AnthropicStream(), Read: anthropic.Codec{}.NewStreamReader,
			Writer: func(io.Writer) llm.StreamWriter { return nopWriter{} }},
	}, func(w io.Writer) llm.StreamWriter { return anthropic.Codec{}.NewStreamWriter(w, req) })
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
