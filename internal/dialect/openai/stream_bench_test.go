package openai_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/internal/dialect/anthropic"
	"github.com/switchyard/switchyard/internal/dialect/ollama"
	"github.com/switchyard/switchyard/internal/dialect/openai"
	"github.com/switchyard/switchyard/internal/llm"
)

// Benchmarks of the OpenAI side of translation, run with
// `go test -run '^$' -bench . -benchmem ./internal/dialect/openai`.

// anthropicStream is a 10-event Anthropic Messages stream.
func anthropicStream() []byte {
	var b bytes.Buffer
	ev := func(name, data string) { b.WriteString("event: " + name + "\ndata: " + data + "\n\n") }
	ev("message_start", `{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench-upstream","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":1}}}`)
	ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	for i := 0; i < 6; i++ {
		ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word%d"}}`, i))
	}
	ev("content_block_stop", `{"type":"content_block_stop","index":0}`)
	ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}`)
	ev("message_stop", `{"type":"message_stop"}`)
	return b.Bytes()
}

// ollamaStream is a 10-line Ollama /api/chat NDJSON stream.
func ollamaStream() []byte {
	var b bytes.Buffer
	for i := 0; i < 9; i++ {
		fmt.Fprintf(&b, `{"model":"qwen2.5:7b","created_at":"2026-01-02T03:04:05.%dZ","message":{"role":"assistant","content":" word%d"},"done":false}`+"\n", i, i)
	}
	b.WriteString(`{"model":"qwen2.5:7b","created_at":"2026-01-02T03:04:06Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",` +
		`"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":11,"prompt_eval_duration":342546000,"eval_count":7,"eval_duration":4535599000}` + "\n")
	return b.Bytes()
}

func pump(b *testing.B, st llm.Stream, sw llm.StreamWriter) int {
	n := 0
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := sw.Write(ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkTranslateStream is one whole upstream stream translated to an
// OpenAI client stream: upstream reader → hub events → OpenAI writer.
func BenchmarkTranslateStream(b *testing.B) {
	req := &llm.Request{Model: "bench-model"}
	for _, tc := range []struct {
		name string
		in   []byte
		read func(io.Reader) llm.Stream
	}{
		{"anthropic-to-openai", anthropicStream(), anthropic.Codec{}.NewStreamReader},
		{"ollama-to-openai", ollamaStream(), ollama.Codec{}.NewStreamReader},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := &countWriter{}
			if n := pump(b, tc.read(bytes.NewReader(tc.in)), openai.Codec{}.NewStreamWriter(w, req)); n < 5 {
				b.Fatalf("only %d events", n)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.in)))
			for b.Loop() {
				pump(b, tc.read(bytes.NewReader(tc.in)), openai.Codec{}.NewStreamWriter(w, req))
			}
		})
	}
}

// claudeBody is the ~76 KB Claude Code request, compacted as sent.
func claudeBody(b *testing.B) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "claude-code", "01_plain_prompt_default_model.request.json"))
	if err != nil {
		b.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil {
		b.Fatal(err)
	}
	return c.Bytes()
}

// BenchmarkEncodeRequest is the OpenAI upstream codec's encode of the
// decoded Claude Code request; decode+encode is the whole request side of
// the translated path.
func BenchmarkEncodeRequest(b *testing.B) {
	body := claudeBody(b)
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
			if _, err := (openai.Codec{}).EncodeRequest(hub, opts); err != nil {
				b.Fatal(err)
			}
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
			if _, err := (openai.Codec{}).EncodeRequest(h, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUsageTracker is the pass-through's usage read of each relayed
// event of a 10-event stream.
func BenchmarkUsageTracker(b *testing.B) {
	var events [][]byte
	for _, l := range bytes.Split(openAIStreamForUsage(), []byte("\n\n")) {
		if d, ok := bytes.CutPrefix(l, []byte("data: ")); ok {
			events = append(events, d)
		}
	}
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
