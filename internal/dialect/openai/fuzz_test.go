package openai

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func FuzzDecodeRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/requests/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tc := range decodeRequestErrors {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Codec{}.DecodeRequest(body)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != llm.KindInvalidRequest {
				t.Fatalf("error is not an invalid_request *llm.Error: %v", err)
			}
			return
		}
		if req.Model == "" {
			t.Fatal("decoded a request without a model")
		}
		for _, opts := range []llm.EncodeOptions{{Model: "x"}, {Model: "gpt-4o", DropParams: true, MaxOutputTokens: 10}} {
			out, err := Codec{}.EncodeRequest(req, opts)
			if err != nil {
				var e *llm.Error
				if !errors.As(err, &e) {
					t.Fatalf("EncodeRequest error is not *llm.Error: %v", err)
				}
				continue
			}
			if _, err := (Codec{}).DecodeRequest(out); err != nil {
				// Our own output must be a valid request again (messages may
				// legitimately be empty only if the input had none).
				var e *llm.Error
				if errors.As(err, &e) && e.Param == "messages" {
					continue
				}
				t.Fatalf("re-decoding our own request: %v\n%s", err, out)
			}
		}
	})
}

func FuzzStreamReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":-1,\"function\":{\"arguments\":\"x\"}}]}}]}\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":127,\"function\":{\"arguments\":\"x\"}}]},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := Codec{}.NewStreamReader(bytes.NewReader(body))
		var out bytes.Buffer
		w := Codec{}.NewStreamWriter(&out, &llm.Request{Model: "m"})
		first := true
		for i := 0; ; i++ {
			if i > 4*len(body)+16 {
				t.Fatal("stream reader does not terminate")
			}
			ev, err := s.Next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				var e *llm.Error
				if !errors.As(err, &e) {
					t.Fatalf("error is not *llm.Error: %v", err)
				}
				_ = w.Fail(e)
				break
			}
			if first && ev.Type != llm.EventStart {
				t.Fatalf("first event is %v, not Start", ev.Type)
			}
			first = false
			if ev.Type == llm.EventToolCallStart || ev.Type == llm.EventToolArgsDelta {
				if ev.Index < 0 || ev.Index >= maxToolCalls {
					t.Fatalf("tool index %d out of bounds", ev.Index)
				}
			}
			if err := w.Write(ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type == llm.EventStop {
				if _, err := s.Next(); !errors.Is(err, io.EOF) {
					t.Fatalf("Next after Stop = %v, want EOF", err)
				}
				break
			}
		}
	})
}
