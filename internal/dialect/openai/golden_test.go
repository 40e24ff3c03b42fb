package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"

	goldenfile "github.com/switchyard/switchyard/internal/testutil/golden"
)

func TestMain(m *testing.M) {
	// Deterministic clock and ids for golden output.
	n := 0
	nowUnix = func() int64 { return 1700000000 }
	randomID = func() string { n++; return fmt.Sprintf("test%04d", n) }
	os.Exit(m.Run())
}

func resetIDs() {
	n := 0
	randomID = func() string { n++; return fmt.Sprintf("test%04d", n) }
}

// pretty indents JSON and drops zero values, so hub dumps stay readable.
func pretty(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(prune(x), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			val = prune(val)
			if isZero(val) {
				delete(t, k)
			} else {
				t[k] = val
			}
		}
		return t
	case []any:
		for i := range t {
			t[i] = prune(t[i])
		}
		return t
	}
	return v
}

func isZero(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case bool:
		return !t
	case float64:
		return t == 0
	}
	return false
}

func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// TestRequestRoundTrip: client request → hub → upstream request, for an
// OpenAI-compatible server and for the OpenAI API itself.
func TestRequestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/requests/*.json")
	if len(files) == 0 {
		t.Fatal("no request fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			req, err := Codec{}.DecodeRequest(body)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			out.WriteString("# hub\n")
			out.Write(pretty(t, req))
			for _, opts := range []llm.EncodeOptions{
				{Model: "served-model", Params: map[string]json.RawMessage{"temperature": json.RawMessage(`0.7`), "repetition_penalty": json.RawMessage(`1.05`)}},
				{Model: "gpt-4.1", DropParams: true, MaxOutputTokens: 300},
			} {
				enc, err := Codec{}.EncodeRequest(req, opts)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&out, "# upstream model=%s drop_params=%v max_output=%d params=%d\n", opts.Model, opts.DropParams, opts.MaxOutputTokens, len(opts.Params))
				out.Write(indentJSON(t, enc))
			}
			goldenfile.Check(t, strings.TrimSuffix(f, ".json")+".golden", out.Bytes())
		})
	}
}

// dumpEvents renders hub events one per line.
func dumpEvents(evs []llm.Event, final error) []byte {
	var b bytes.Buffer
	for _, ev := range evs {
		b.WriteString(dumpEvent(ev))
		b.WriteByte('\n')
	}
	switch {
	case final == nil || errors.Is(final, io.EOF):
		b.WriteString("EOF\n")
	default:
		e := llm.AsError(final)
		fmt.Fprintf(&b, "error kind=%s status=%d message=%q\n", e.Kind, e.Status, e.Message)
	}
	return b.Bytes()
}

func dumpUsage(u *llm.Usage) string {
	if u == nil {
		return ""
	}
	return fmt.Sprintf(" usage{in=%d out=%d cache_read=%d cache_write=%d reasoning=%d}",
		u.InputTokens, u.OutputTokens, u.CacheReadTokens, u.CacheWriteTokens, u.ReasoningTokens)
}

func dumpEvent(ev llm.Event) string {
	switch ev.Type {
	case llm.EventStart:
		return fmt.Sprintf("start id=%q model=%q%s", ev.ID, ev.Model, dumpUsage(ev.Usage))
	case llm.EventTextDelta:
		return fmt.Sprintf("text %q", ev.Text)
	case llm.EventThinkingDelta:
		return fmt.Sprintf("thinking %q", ev.Text)
	case llm.EventSignatureDelta:
		return fmt.Sprintf("signature %q", ev.Text)
	case llm.EventToolCallStart:
		return fmt.Sprintf("tool_start index=%d id=%q name=%q", ev.Index, ev.ID, ev.Name)
	case llm.EventToolArgsDelta:
		return fmt.Sprintf("tool_args index=%d %q", ev.Index, ev.Text)
	case llm.EventUsage:
		return "usage" + dumpUsage(ev.Usage)
	case llm.EventStop:
		return fmt.Sprintf("stop reason=%s seq=%q%s", ev.StopReason, ev.StopSequence, dumpUsage(ev.Usage))
	case llm.EventError:
		return fmt.Sprintf("error %v", ev.Err)
	}
	return fmt.Sprintf("event(%d)", ev.Type)
}

// readAll drains a stream, bounded so a looping reader fails the test.
func readAll(s llm.Stream) ([]llm.Event, error) {
	var evs []llm.Event
	for i := 0; i < 100000; i++ {
		ev, err := s.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	return evs, errors.New("stream did not end")
}

// TestStreamGolden: upstream SSE → hub events (.events) → client SSE (.client.sse).
func TestStreamGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	if len(files) == 0 {
		t.Fatal("no stream fixtures")
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".client.sse") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			resetIDs()
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s := Codec{}.NewStreamReader(bytes.NewReader(body))
			evs, final := readAll(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(f, ".sse")
			goldenfile.Check(t, base+".events", dumpEvents(evs, final))

			// Again: if Next is called after the end, it keeps reporting the end.
			if _, err := s.Next(); !errors.Is(err, final) && err != final {
				t.Errorf("Next after end = %v, want %v", err, final)
			}

			var out bytes.Buffer
			req := &llm.Request{Model: "client-model", Extra: map[string]json.RawMessage{"stream_options": json.RawMessage(`{"include_usage":true}`)}}
			w := Codec{}.NewStreamWriter(&out, req)
			for _, ev := range evs {
				if err := w.Write(ev); err != nil {
					t.Fatal(err)
				}
			}
			if !errors.Is(final, io.EOF) {
				if err := w.Fail(llm.AsError(final)); err != nil {
					t.Fatal(err)
				}
			}
			goldenfile.Check(t, base+".client.sse", out.Bytes())
		})
	}
}
