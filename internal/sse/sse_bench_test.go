package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

// benchStream is a 10-event OpenAI stream and [DONE].
func benchStream() []byte {
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

// BenchmarkReader reads a whole 10-event stream with a new Reader, as each
// translated request does.
func BenchmarkReader(b *testing.B) {
	data := benchStream()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := NewReader(bytes.NewReader(data))
		n := 0
		for {
			_, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 11 {
			b.Fatalf("%d events", n)
		}
	}
}

// BenchmarkWriteEvent writes one named event, as the Anthropic writer does.
func BenchmarkWriteEvent(b *testing.B) {
	data := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word1"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteEvent(io.Discard, "content_block_delta", data); err != nil {
			b.Fatal(err)
		}
	}
}
