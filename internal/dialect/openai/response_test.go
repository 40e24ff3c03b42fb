package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/tidwall/gjson"
)

func TestEncodeResponse(t *testing.T) {
	resetIDs()
	req := &llm.Request{Model: "my-alias"}
	tests := []struct {
		name  string
		resp  llm.Response
		check map[string]string
	}{
		{"text", llm.Response{ID: "msg_1", Model: "claude", Content: []llm.Part{{Type: llm.PartText, Text: "a"}, {Type: llm.PartText, Text: "b"}}, StopReason: llm.StopEnd,
			Usage: llm.Usage{InputTokens: 10, CacheReadTokens: 90, CacheWriteTokens: 5, OutputTokens: 7, ReasoningTokens: 3}},
			map[string]string{"id": `"msg_1"`, "object": `"chat.completion"`, "model": `"my-alias"`, "created": "1700000000",
				"choices.0.message.content": `"ab"`, "choices.0.message.role": `"assistant"`, "choices.0.finish_reason": `"stop"`,
				"choices.0.message.tool_calls": "", "choices.0.message.reasoning_content": "",
				"usage": `{"prompt_tokens":105,"completion_tokens":7,"total_tokens":112,"prompt_tokens_details":{"cached_tokens":90},"completion_tokens_details":{"reasoning_tokens":3}}`}},
		{"tools", llm.Response{Content: []llm.Part{{Type: llm.PartThinking, Text: "hm", Signature: "s"},
			{Type: llm.PartToolCall, ToolCallID: "toolu_1", Name: "f", Arguments: `{"a":1}`},
			{Type: llm.PartToolCall, Name: "g"}}, StopReason: llm.StopToolUse},
			map[string]string{"id": `"chatcmpl-test0001"`, "choices.0.message.content": "null", "choices.0.message.reasoning_content": `"hm"`,
				"choices.0.message.tool_calls": `[{"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"call_test0002","type":"function","function":{"name":"g","arguments":"{}"}}]`,
				"choices.0.finish_reason":      `"tool_calls"`}},
		{"length", llm.Response{ID: "x", StopReason: llm.StopLength}, map[string]string{"choices.0.finish_reason": `"length"`}},
		{"stop sequence", llm.Response{ID: "x", StopReason: llm.StopSequence}, map[string]string{"choices.0.finish_reason": `"stop"`}},
		{"filter", llm.Response{ID: "x", StopReason: llm.StopContentFilter}, map[string]string{"choices.0.finish_reason": `"content_filter"`}},
		{"refusal", llm.Response{ID: "x", StopReason: llm.StopRefusal}, map[string]string{"choices.0.finish_reason": `"content_filter"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Codec{}.EncodeResponse(&tc.resp, req)
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.check {
				v := gjson.GetBytes(got, path)
				if want == "" {
					if v.Exists() {
						t.Errorf("%s = %s, want absent", path, v.Raw)
					}
				} else if v.Raw != want {
					t.Errorf("%s = %s, want %s", path, v.Raw, want)
				}
			}
		})
	}
}

// TestStreamWriterEvents checks that each Write is whole SSE events, that
// tool calls are renumbered, and the usage chunk only when asked for.
func TestStreamWriterEvents(t *testing.T) {
	resetIDs()
	var out bytes.Buffer
	w := Codec{}.NewStreamWriter(&out, &llm.Request{Model: "alias"})
	evs := []llm.Event{
		{Type: llm.EventStart, ID: "msg_1", Model: "claude", Usage: &llm.Usage{InputTokens: 10}},
		{Type: llm.EventThinkingDelta, Text: "think"},
		{Type: llm.EventSignatureDelta, Text: "sig"},
		{Type: llm.EventTextDelta, Text: "<b>"},
		{Type: llm.EventToolCallStart, Index: 5, ID: "", Name: "f"},
		{Type: llm.EventToolArgsDelta, Index: 5, Text: `{"a"`},
		{Type: llm.EventToolCallStart, Index: 7, ID: "toolu_x", Name: "g"},
		{Type: llm.EventToolArgsDelta, Index: 5, Text: `:1}`},
		{Type: llm.EventUsage, Usage: &llm.Usage{OutputTokens: 4}},
		{Type: llm.EventStop, StopReason: llm.StopToolUse},
	}
	var lines []string
	for _, ev := range evs {
		before := out.Len()
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
		chunk := out.String()[before:]
		if chunk != "" && !strings.HasSuffix(chunk, "\n\n") {
			t.Errorf("Write(%v) left a partial event: %q", ev.Type, chunk)
		}
	}
	if err := w.Ping(); err != nil {
		t.Fatal(err)
	}
	r := sse.NewReader(&out)
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		lines = append(lines, string(ev.Data))
	}
	if n := len(lines); n != 9 || lines[n-1] != "[DONE]" {
		t.Fatalf("got %d events:\n%s", n, strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[2], `"content":"<b>"`) {
		t.Errorf("text chunk escaped or missing: %s", lines[2])
	}
	if gjson.Get(lines[1], "choices.0.delta.reasoning_content").Str != "think" {
		t.Errorf("thinking chunk: %s", lines[1])
	}
	if gjson.Get(lines[3], "choices.0.delta.tool_calls.0.index").Int() != 0 || gjson.Get(lines[3], "choices.0.delta.tool_calls.0.id").Str != "call_test0001" ||
		gjson.Get(lines[5], "choices.0.delta.tool_calls.0.index").Int() != 1 || gjson.Get(lines[6], "choices.0.delta.tool_calls.0.index").Int() != 0 {
		t.Errorf("tool calls not renumbered:\n%s", strings.Join(lines[3:7], "\n"))
	}
	if gjson.Get(lines[7], "choices.0.finish_reason").Str != "tool_calls" || strings.Contains(strings.Join(lines, ""), `"usage"`) {
		t.Errorf("finish chunk or unrequested usage: %s", lines[7])
	}
	for _, l := range lines[:8] {
		if gjson.Get(l, "model").Str != "alias" || gjson.Get(l, "id").Str != "msg_1" {
			t.Errorf("chunk id/model: %s", l)
		}
	}
	// Writes after the end are ignored.
	n := out.Len()
	_ = w.Write(llm.Event{Type: llm.EventTextDelta, Text: "late"})
	_ = w.Fail(&llm.Error{Kind: llm.KindUpstream})
	if out.Len() != n {
		t.Error("wrote after [DONE]")
	}
}

func TestStreamWriterFail(t *testing.T) {
	var out bytes.Buffer
	w := Codec{}.NewStreamWriter(&out, &llm.Request{Model: "m"})
	_ = w.Write(llm.Event{Type: llm.EventStart, ID: "a"})
	_ = w.Write(llm.Event{Type: llm.EventToolArgsDelta, Index: 3, Text: "x"})
	s := out.String()
	if !strings.Contains(s, `data: {"error":{"message":"upstream sent arguments for an unknown tool call","type":"api_error"`) || strings.Contains(s, "[DONE]") {
		t.Errorf("got %q", s)
	}

	out.Reset()
	w = Codec{}.NewStreamWriter(&out, &llm.Request{Model: "m", Extra: map[string]json.RawMessage{"stream_options": json.RawMessage(`{"include_usage":false}`)}})
	_ = w.Write(llm.Event{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindRateLimit, Message: "slow"}})
	if got := out.String(); !strings.HasPrefix(got, `data: {"error":`) || strings.Count(got, "data:") != 1 {
		t.Errorf("an error before any output should be the only event, got %q", got)
	}
	if !strings.Contains(out.String(), `"type":"rate_limit_error"`) {
		t.Errorf("got %q", out.String())
	}
}
