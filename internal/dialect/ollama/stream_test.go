package ollama

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

// dumpStream renders every event of s, one per line, ending with the final
// error (eof when the stream ended cleanly).
func dumpStream(s llm.Stream) string {
	var b strings.Builder
	for range 10000 {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			b.WriteString("eof\n")
			return b.String()
		}
		if err != nil {
			var le *llm.Error
			if errors.As(err, &le) {
				fmt.Fprintf(&b, "error kind=%s status=%d msg=%q\n", le.Kind, le.Status, le.Message)
			} else {
				fmt.Fprintf(&b, "error %v\n", err)
			}
			return b.String()
		}
		b.WriteString(dumpEvent(ev))
		b.WriteByte('\n')
	}
	return b.String() + "too many events\n"
}

func dumpEvent(ev llm.Event) string {
	usage := func(u *llm.Usage) string {
		if u == nil {
			return ""
		}
		return fmt.Sprintf(" in=%d out=%d", u.InputTokens, u.OutputTokens)
	}
	switch ev.Type {
	case llm.EventStart:
		return fmt.Sprintf("start id=%q model=%q%s", ev.ID, ev.Model, usage(ev.Usage))
	case llm.EventTextDelta:
		return fmt.Sprintf("text %q", ev.Text)
	case llm.EventThinkingDelta:
		return fmt.Sprintf("thinking %q", ev.Text)
	case llm.EventToolCallStart:
		return fmt.Sprintf("tool_start index=%d id=%q name=%q", ev.Index, ev.ID, ev.Name)
	case llm.EventToolArgsDelta:
		return fmt.Sprintf("tool_args index=%d %s", ev.Index, ev.Text)
	case llm.EventUsage:
		return "usage" + usage(ev.Usage)
	case llm.EventStop:
		return fmt.Sprintf("stop reason=%s%s", ev.StopReason, usage(ev.Usage))
	}
	return fmt.Sprintf("event type=%d", ev.Type)
}

// TestStreamGolden replays testdata/stream/*.ndjson into *.events.
func TestStreamGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "stream", "*.ndjson"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stream scripts: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".ndjson")
		t.Run(name, func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			s := Codec{}.NewStreamReader(fh)
			got := dumpStream(s)
			if err := s.Close(); err != nil {
				t.Error(err)
			}
			golden(t, "stream/"+name+".events", []byte(got))
		})
	}
}

func TestStreamLineTooLong(t *testing.T) {
	line := `{"model":"m","message":{"role":"assistant","content":"` + strings.Repeat("a", MaxLine) + `"},"done":false}` + "\n"
	s := Codec{}.NewStreamReader(strings.NewReader(line))
	_, err := s.Next()
	var le *llm.Error
	if !errors.As(err, &le) || le.Kind != llm.KindUpstream || !strings.Contains(le.Message, "8 MiB") {
		t.Fatalf("err = %v", err)
	}
	// The error is sticky.
	if _, err2 := s.Next(); err2 != err {
		t.Errorf("second Next = %v", err2)
	}
}

func TestStreamLongLineWithinLimit(t *testing.T) {
	big := strings.Repeat("b", 1<<20)
	in := `{"model":"m","message":{"role":"assistant","content":"` + big + `"},"done":false}` + "\n" +
		`{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}`
	s := Codec{}.NewStreamReader(strings.NewReader(in))
	var text string
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == llm.EventTextDelta {
			text += ev.Text
		}
	}
	if text != big {
		t.Errorf("text length %d, want %d", len(text), len(big))
	}
}

func TestUsageTracker(t *testing.T) {
	stream, err := os.ReadFile(filepath.Join("testdata", "stream", "tool_call.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		observe func(tr llm.UsageTracker)
		want    llm.Usage
		ok      bool
	}{
		{"lines", func(tr llm.UsageTracker) {
			for _, l := range strings.Split(string(stream), "\n") {
				tr.ObserveEvent([]byte(l))
			}
		}, llm.Usage{InputTokens: 122, OutputTokens: 33}, true},
		{"ndjson body", func(tr llm.UsageTracker) { tr.ObserveBody(stream) }, llm.Usage{InputTokens: 122, OutputTokens: 33}, true},
		{"single body", func(tr llm.UsageTracker) {
			tr.ObserveBody([]byte(`{"model":"m","message":{"role":"assistant","content":"x"},"done":true,"prompt_eval_count":5,"eval_count":1}`))
		}, llm.Usage{InputTokens: 5, OutputTokens: 1}, true},
		{"not done", func(tr llm.UsageTracker) {
			tr.ObserveEvent([]byte(`{"model":"m","message":{"content":"x"},"done":false}`))
			tr.ObserveEvent([]byte(`garbage`))
		}, llm.Usage{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewUsageTracker()
			tc.observe(tr)
			got, ok := tr.Usage()
			if got != tc.want || ok != tc.ok {
				t.Errorf("Usage() = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
