// Package benchdata holds the fixed inputs the micro-benchmarks share: a
// 10-event stream in each upstream dialect, the Claude Code request body,
// and the loop that moves a stream into a writer.
package benchdata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

// OpenAIStream is a 10-event OpenAI stream (7 content deltas, a finish
// chunk, a usage-only chunk) and [DONE].
func OpenAIStream() []byte {
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

// OllamaStream is a 10-line Ollama /api/chat NDJSON stream.
func OllamaStream() []byte {
	var b bytes.Buffer
	for i := 0; i < 9; i++ {
		fmt.Fprintf(&b, `{"model":"qwen2.5:7b","created_at":"2026-01-02T03:04:05.%dZ","message":{"role":"assistant","content":" word%d"},"done":false}`+"\n", i, i)
	}
	b.WriteString(`{"model":"qwen2.5:7b","created_at":"2026-01-02T03:04:06Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",` +
		`"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":11,"prompt_eval_duration":342546000,"eval_count":7,"eval_duration":4535599000}` + "\n")
	return b.Bytes()
}

// AnthropicStream is a 10-event Anthropic Messages stream.
func AnthropicStream() []byte {
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

// Pump moves every event of st into sw, as the server's pump does (without
// its goroutine and timer), and returns how many there were.
func Pump(tb testing.TB, st llm.Stream, sw llm.StreamWriter) int {
	n := 0
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			tb.Fatal(err)
		}
		if err := sw.Write(ev); err != nil {
			tb.Fatal(err)
		}
		n++
	}
}

// StreamCase is one upstream stream for TranslateStream: its bytes and the
// reader of its dialect. Writer, when set, replaces TranslateStream's
// client writer for this case.
type StreamCase struct {
	Name   string
	In     []byte
	Read   func(io.Reader) llm.Stream
	Writer func(io.Writer) llm.StreamWriter
}

// TranslateStream benchmarks each case translated whole: the upstream
// reader's hub events written by newWriter (the client dialect's writer).
// A case must first yield at least 5 events.
func TranslateStream(b *testing.B, cases []StreamCase, newWriter func(io.Writer) llm.StreamWriter) {
	for _, tc := range cases {
		mk := newWriter
		if tc.Writer != nil {
			mk = tc.Writer
		}
		b.Run(tc.Name, func(b *testing.B) {
			w := &CountWriter{}
			if n := Pump(b, tc.Read(bytes.NewReader(tc.In)), mk(w)); n < 5 {
				b.Fatalf("only %d events", n)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.In)))
			for b.Loop() {
				Pump(b, tc.Read(bytes.NewReader(tc.In)), mk(w))
			}
		})
	}
}

// CountWriter counts the bytes written to it.
type CountWriter struct{ N int }

func (w *CountWriter) Write(p []byte) (int, error) { w.N += len(p); return len(p), nil }

// ClaudeCodeBody is the ~76 KB Claude Code request of the fixtures,
// compacted as Claude Code sends it.
func ClaudeCodeBody(tb testing.TB) []byte {
	tb.Helper()
	return ClaudeCodeFixture(tb, "01_plain_prompt_default_model.request.json")
}

// ClaudeCodeFixture is the Claude Code fixture name (a file of
// testdata/claude-code), compacted as Claude Code sends it. The repository
// root is found from the working directory up to go.mod.
func ClaudeCodeFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
	raw, err := os.ReadFile(filepath.Join(dir, "testdata", "claude-code", name))
	if err != nil {
		tb.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil {
		tb.Fatal(err)
	}
	return c.Bytes()
}
