package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func FuzzDecodeRequest(f *testing.F) {
	// Seeds: the fixtures, shrunk (one tool, long texts cut) so that the
	// fuzzer's mutator and minimizer stay fast.
	for _, file := range fixtures(f) {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(shrinkFixture(f, body))
	}
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"x"}]}]}]}`))
	f.Add([]byte(`{"model":"m","messages":[],"max_tokens":1e400}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Codec{}.DecodeRequest(body)
		// The gateway decodes from its scan's members: the same request.
		if ms, ok := scanMembers(body, nil); ok {
			sreq, serr := Codec{}.DecodeScanned(body, ms)
			if (serr == nil) != (err == nil) || err != nil && serr.Error() != err.Error() || !reflect.DeepEqual(sreq, req) {
				t.Fatalf("DecodeScanned: %v %+v\nDecodeRequest: %v %+v", serr, sreq, err, req)
			}
		} else if err == nil {
			t.Fatal("decoded a body the scan finds invalid")
		}
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != llm.KindInvalidRequest {
				t.Fatalf("error is not invalid_request: %v", err)
			}
			return
		}
		// Whatever decodes must encode for an Anthropic upstream.
		if _, err := (Codec{}).EncodeRequest(req, llm.EncodeOptions{Model: "m", DropParams: true}); err != nil {
			t.Fatalf("EncodeRequest: %v", err)
		}
	})
}

var longString = regexp.MustCompile(`"(?:[^"\\]|\\.){200,}"`)

func shrinkFixture(f *testing.F, body []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		f.Fatal(err)
	}
	var tools []json.RawMessage
	if json.Unmarshal(m["tools"], &tools) == nil && len(tools) > 1 {
		m["tools"], _ = json.Marshal(tools[:1])
	}
	out, _ := json.Marshal(m)
	return longString.ReplaceAll(out, []byte(`"long text"`))
}

func FuzzStreamReader(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "upstream", "*.sse"))
	for _, file := range files {
		body, _ := os.ReadFile(file)
		f.Add(body)
	}
	f.Add([]byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := Codec{}.NewStreamReader(bytes.NewReader(body))
		var out bytes.Buffer
		w := Codec{}.NewStreamWriter(&out, &llm.Request{Model: "m"})
		stopped := false
		for i := 0; ; i++ {
			if i > len(body)+10 {
				t.Fatal("reader does not terminate")
			}
			ev, err := s.Next()
			if errors.Is(err, io.EOF) {
				if !stopped {
					t.Fatal("EOF without EventStop")
				}
				break
			}
			if err != nil {
				var e *llm.Error
				if !errors.As(err, &e) {
					t.Fatalf("not an *llm.Error: %v", err)
				}
				_ = w.Fail(e)
				break
			}
			if stopped {
				t.Fatal("event after EventStop")
			}
			stopped = ev.Type == llm.EventStop
			if err := w.Write(ev); err != nil {
				_ = w.Fail(llm.AsError(err))
				break
			}
		}
	})
}
