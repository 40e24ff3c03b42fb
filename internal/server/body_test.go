package server

import (
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
		if got := info.outText.String(); got != tc.want {
			t.Errorf("%s: kept %q, want %q", tc.client, got, tc.want)
		}
	}
}
