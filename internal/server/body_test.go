package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestNoteOutputEventKeepsStreamedText(t *testing.T) {
	for _, tc := range []struct {
		client llm.Dialect
		events []string
		want   string
	}{
		{llm.DialectOpenAI, []string{
			`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
			`{"choices":[{"index":0,"delta":{"content":"Hel"}}]}`,
			`{"choices":[{"index":0,"delta":{"content":"lo \"x\""}}]}`,
			`{"choices":[],"usage":{"prompt_tokens":1}}`,
			`{"choices":[{"index":0,"delta":{"reasoning_content":"hidden","tool_calls":[{"function":{"arguments":"{\"content\":\"no\"}"}}]}}]}`,
			`{"choices":[{"index":0,"delta":{"content":" caf\u00e9\n"}}]}`,
		}, "Hello \"x\" café\n"},
		{llm.DialectAnthropic, []string{
			`{"type":"message_start","message":{"content":[]}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}`,
			`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}`,
		}, "Hi there"},
	} {
		info := &reqInfo{client: tc.client}
		for _, e := range tc.events {
			info.noteOutputEvent([]byte(e))
		}
		if got := string(info.outputText()); got != tc.want {
			t.Errorf("%s: kept %q, want %q", tc.client, got, tc.want)
		}
	}
}

// TestNoteOutputEventLongStream keeps the text of a stream whose events
// pass outRawLimit many times over, with events of every size, in order.
func TestNoteOutputEventLongStream(t *testing.T) {
	info := &reqInfo{client: llm.DialectOpenAI}
	var want strings.Builder
	for i := range 3000 {
		word := strings.Repeat("w", i%97) + strconv.Itoa(i)
		if i%500 == 0 {
			word = strings.Repeat("big", outRawLimit/5) // one event over half the limit
		}
		want.WriteString(word)
		info.noteOutputEvent([]byte(`{"choices":[{"index":0,"delta":{"content":"` + word + `"}}]}`))
		if info.outRaw == nil {
			continue
		}
		if n := len(*info.outRaw); n > outRawLimit {
			t.Fatalf("event %d: %d raw bytes kept, limit %d", i, n, outRawLimit)
		}
	}
	if got := string(info.outputText()); got != want.String() {
		t.Fatalf("kept %d bytes of text, want %d", len(got), want.Len())
	}
	info.resetOutput()
	if len(info.outputText()) != 0 {
		t.Fatal("text kept after resetOutput")
	}
	info.releaseOutput()
}
