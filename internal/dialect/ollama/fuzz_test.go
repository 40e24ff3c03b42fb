package ollama

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func streamSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "stream", "*.ndjson"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzStreamReader checks the stream contract on any input: Start first,
// Stop last and then io.EOF, tool indexes opened before their arguments,
// arguments valid JSON, every failure an *llm.Error.
func FuzzStreamReader(f *testing.F) {
	streamSeeds(f)
	f.Add([]byte(`{"error":"boom"}`))
	f.Add([]byte("\n\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Codec{}.NewStreamReader(bytes.NewReader(data))
		defer s.Close()
		n := 0
		stopped := false
		open := map[int]bool{}
		for {
			ev, err := s.Next()
			if errors.Is(err, io.EOF) {
				if !stopped {
					t.Fatal("io.EOF without EventStop")
				}
				return
			}
			if err != nil {
				var le *llm.Error
				if !errors.As(err, &le) {
					t.Fatalf("error is not *llm.Error: %v", err)
				}
				if stopped {
					t.Fatal("error after EventStop")
				}
				return
			}
			if stopped {
				t.Fatalf("event %d after EventStop", ev.Type)
			}
			if (n == 0) != (ev.Type == llm.EventStart) {
				t.Fatalf("event %d is type %d", n, ev.Type)
			}
			switch ev.Type {
			case llm.EventToolCallStart:
				if open[ev.Index] {
					t.Fatalf("tool index %d reused", ev.Index)
				}
				open[ev.Index] = true
			case llm.EventToolArgsDelta:
				if !open[ev.Index] || !isObject(ev.Text) {
					t.Fatalf("bad args delta %+v", ev)
				}
			case llm.EventStop:
				stopped = true
				if ev.Usage == nil {
					t.Fatal("stop without usage")
				}
			}
			n++
		}
	})
}

// FuzzDecodeResponse checks DecodeResponse never panics, fails only with an
// *llm.Error, and gives tool calls valid JSON arguments.
func FuzzDecodeResponse(f *testing.F) {
	streamSeeds(f)
	for _, s := range []string{
		`{"model":"m","message":{"role":"assistant","content":"hi","thinking":"t","tool_calls":[{"id":"a","function":{"name":"f","arguments":{"x":[1,{"y":null}]}}}]},"done":true,"done_reason":"stop","prompt_eval_count":1,"eval_count":2}`,
		`{"error":"model \"x\" not found"}`,
		`{"message":{"tool_calls":[{"function":{"arguments":null}}]}}`,
		`{"message":{"tool_calls":[{"function":{"arguments":"{\"a\":1}"}}]}}`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := Codec{}.DecodeResponse(data)
		if err != nil {
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Fatalf("error is not *llm.Error: %v", err)
			}
			return
		}
		for _, p := range resp.Content {
			if p.Type == llm.PartToolCall && !isObject(p.Arguments) {
				t.Fatalf("invalid arguments %q", p.Arguments)
			}
		}
	})
}

func isObject(s string) bool {
	var m map[string]any
	return json.Unmarshal([]byte(s), &m) == nil && m != nil
}
