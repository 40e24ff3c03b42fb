package openai_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/switchyard/switchyard/internal/dialect/anthropic"
	"github.com/switchyard/switchyard/internal/dialect/ollama"
	"github.com/switchyard/switchyard/internal/dialect/openai"
	"github.com/switchyard/switchyard/internal/llm"

	"github.com/switchyard/switchyard/internal/testutil/benchdata"
)

// Benchmarks of the OpenAI side of translation, run with
// `go test -run '^$' -bench . -benchmem ./internal/dialect/openai`.

// BenchmarkTranslateStream is one whole upstream stream translated to an
// OpenAI client stream: upstream reader → hub events → OpenAI writer.
func BenchmarkTranslateStream(b *testing.B) {
	req := &llm.Request{Model: "bench-model"}
	benchdata.TranslateStream(b, []benchdata.StreamCase{
		{Name: "anthropic-to-openai", In: benchdata.AnthropicStream(), Read: anthropic.Codec{}.NewStreamReader},
		{Name: "ollama-to-openai", In: benchdata.OllamaStream(), Read: ollama.Codec{}.NewStreamReader},
	}, func(w io.Writer) llm.StreamWriter { return openai.Codec{}.NewStreamWriter(w, req) })
}

// BenchmarkEncodeRequest is the OpenAI upstream codec's encode of the
// decoded Claude Code request; decode+encode is the whole request side of
// the translated path.
func BenchmarkEncodeRequest(b *testing.B) {
	body := benchdata.ClaudeCodeBody(b)
	opts := llm.EncodeOptions{Model: "bench-upstream"}
	hub, err := anthropic.Codec{}.DecodeRequest(body)
	if err != nil {
		b.Fatal(err)
	}
	out, err := openai.Codec{}.EncodeRequest(hub, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("claude-code", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(out)))
		for b.Loop() {
			out, err := (openai.Codec{}).EncodeRequest(hub, opts)
			if err != nil {
				b.Fatal(err)
			}
			llm.PutBody(out) // as the server does once the body is sent
		}
	})
	b.Run("claude-code-decode+encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			h, err := anthropic.Codec{}.DecodeRequest(body)
			if err != nil {
				b.Fatal(err)
			}
			out, err := (openai.Codec{}).EncodeRequest(h, opts)
			if err != nil {
				b.Fatal(err)
			}
			llm.PutBody(out)
		}
	})
}

// BenchmarkUsageTracker is the pass-through's usage read: of each relayed
// event of a 10-event stream, and of a whole reply.
func BenchmarkUsageTracker(b *testing.B) {
	var events [][]byte
	for _, l := range bytes.Split(openAIStreamForUsage(), []byte("\n\n")) {
		if d, ok := bytes.CutPrefix(l, []byte("data: ")); ok {
			events = append(events, d)
		}
	}
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t := openai.Codec{}.NewUsageTracker()
			for _, e := range events {
				t.ObserveEvent(e)
			}
			if _, ok := t.Usage(); !ok {
				b.Fatal("no usage")
			}
		}
	})
	b.Run("body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t := openai.Codec{}.NewUsageTracker()
			t.ObserveBody(benchdata.JSONReply)
			if _, ok := t.Usage(); !ok {
				b.Fatal("no usage")
			}
		}
	})
}

func openAIStreamForUsage() []byte {
	const head = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-upstream","choices":[`
	var b bytes.Buffer
	b.WriteString(head + `{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}` + "\n\n")
	for i := 1; i < 8; i++ {
		fmt.Fprintf(&b, head+`{"index":0,"delta":{"content":" word%d"},"finish_reason":null}]}`+"\n\n", i)
	}
	b.WriteString(head + `{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString(head + `],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}
