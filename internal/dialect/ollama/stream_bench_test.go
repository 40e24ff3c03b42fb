package ollama_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/switchyard/switchyard/internal/dialect/ollama"
)

// BenchmarkStreamReader is the Ollama NDJSON reader alone over a 10-line
// /api/chat stream (the translators to each client dialect are measured in
// the anthropic and openai packages).
func BenchmarkStreamReader(b *testing.B) {
	var in bytes.Buffer
	for i := 0; i < 9; i++ {
		fmt.Fprintf(&in, `{"model":"qwen2.5:7b","created_at":"2026-01-02T03:04:05.%dZ","message":{"role":"assistant","content":" word%d"},"done":false}`+"\n", i, i)
	}
	in.WriteString(`{"model":"qwen2.5:7b","created_at":"2026-01-02T03:04:06Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",` +
		`"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":11,"prompt_eval_duration":342546000,"eval_count":7,"eval_duration":4535599000}` + "\n")
	data := in.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		st := ollama.Codec{}.NewStreamReader(bytes.NewReader(data))
		n := 0
		for {
			_, err := st.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n < 5 {
			b.Fatalf("only %d events", n)
		}
	}
}
