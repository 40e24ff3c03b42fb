package ollama

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *llm.Response
	}{
		{"text", `{"model":"llama3.2","created_at":"2023-12-12T14:13:43.416799Z","message":{"role":"assistant","content":"Hello! How are you today?"},"done":true,"done_reason":"stop","total_duration":5191566416,"load_duration":2154458,"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":298,"eval_duration":4799921000}`,
			&llm.Response{Model: "llama3.2", Content: []llm.Part{text("Hello! How are you today?")}, StopReason: llm.StopEnd,
				Usage: llm.Usage{InputTokens: 26, OutputTokens: 298}}},
		{"thinking and tool calls", `{"model":"qwen3","message":{"role":"assistant","content":"","thinking":"need weather",
"tool_calls":[{"function":{"name":"get_current_weather","arguments":{"format":"celsius","location":"Paris, FR"}}},{"id":"call_9","function":{"index":1,"name":"noop","arguments":{}}},
{"function":{"name":"s","arguments":"{\"q\": 1}"}},{"function":{"name":"arr","arguments":[1]}}]},
"done_reason":"stop","done":true,"prompt_eval_count":122,"eval_count":33}`,
			&llm.Response{Model: "qwen3", Content: []llm.Part{
				{Type: llm.PartThinking, Text: "need weather"},
				{Type: llm.PartToolCall, Name: "get_current_weather", Arguments: `{"format":"celsius","location":"Paris, FR"}`},
				{Type: llm.PartToolCall, ToolCallID: "call_9", Name: "noop", Arguments: `{}`},
				{Type: llm.PartToolCall, Name: "s", Arguments: `{"q":1}`},
				{Type: llm.PartToolCall, Name: "arr", Arguments: `{}`},
			}, StopReason: llm.StopToolUse, Usage: llm.Usage{InputTokens: 122, OutputTokens: 33}}},
		{"length", `{"model":"m","message":{"role":"assistant","content":"Once"},"done":true,"done_reason":"length","prompt_eval_count":3,"eval_count":1}`,
			&llm.Response{Model: "m", Content: []llm.Part{text("Once")}, StopReason: llm.StopLength,
				Usage: llm.Usage{InputTokens: 3, OutputTokens: 1}}},
		{"load", `{"model":"llama3.2","created_at":"2024-09-12T21:17:29.110811Z","message":{"role":"assistant","content":""},"done_reason":"load","done":true}`,
			&llm.Response{Model: "llama3.2", StopReason: llm.StopEnd}},
		{"ndjson body folded", `{"model":"m","message":{"role":"assistant","content":"a"},"done":false}
{"model":"m","message":{"role":"assistant","content":"b","tool_calls":[{"function":{"name":"f","arguments":{"x":1}}}]},"done":false}
{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":1,"eval_count":2}`,
			&llm.Response{Model: "m", Content: []llm.Part{text("ab"), {Type: llm.PartToolCall, Name: "f", Arguments: `{"x":1}`}},
				StopReason: llm.StopToolUse, Usage: llm.Usage{InputTokens: 1, OutputTokens: 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Codec{}.DecodeResponse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeResponseErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		kind llm.ErrorKind
	}{
		{"not json", `<html>bad gateway</html>`, llm.KindUpstream},
		{"error body with 200", `{"error":"llama runner process has terminated"}`, llm.KindUpstream},
		{"truncated ndjson", "{\"model\":\"m\",\"message\":{\"content\":\"a\"},\"done\":false}\n{\"model\":\"m\",\"message\":{\"content\":\"b\"},\"done\":false}", llm.KindUpstream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Codec{}.DecodeResponse([]byte(tc.body))
			var le *llm.Error
			if !errors.As(err, &le) || le.Kind != tc.kind {
				t.Fatalf("err = %v, want kind %v", err, tc.kind)
			}
		})
	}
}

func TestDecodeError(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		kind      llm.ErrorKind
		msgHas    string
		param     string
		retryWait time.Duration
	}{
		{"model not found", 404, nil, `{"error":"model \"qwen2.5:7b\" not found, try pulling it first"}`,
			llm.KindInvalidRequest, "Ollama has no model qwen2.5:7b: run `ollama pull qwen2.5:7b` (model \"qwen2.5:7b\" not found, try pulling it first)", "", 0},
		{"model not found single quotes", 404, nil, `{"error":"model 'llama3' not found"}`,
			llm.KindInvalidRequest, "run `ollama pull llama3`", "", 0},
		{"404 page", 404, nil, `404 page not found`, llm.KindInvalidRequest, "check the deployment's api_base", "", 0},
		{"bad request", 400, nil, `{"error":"invalid options"}`, llm.KindInvalidRequest, "Ollama: invalid options", "", 0},
		{"context", 400, nil, `{"error":"the input length exceeds the context length"}`, llm.KindContextWindow, "exceeds the context length", "", 0},
		{"context 500", 500, nil, `{"error":"input exceeds maximum context length"}`, llm.KindContextWindow, "maximum context", "", 0},
		{"no thinking", 400, nil, `{"error":"\"qwen2.5:7b\" does not support thinking"}`, llm.KindInvalidRequest, "think: false", "think", 0},
		{"no tools", 400, nil, `{"error":"registry.ollama.ai/library/deepseek-coder:6.7b does not support tools"}`, llm.KindInvalidRequest, "does not support tools", "tools", 0},
		{"rate limit", 429, http.Header{"Retry-After": {"7"}}, `{"error":"too many requests"}`, llm.KindRateLimit, "too many", "", 7 * time.Second},
		{"busy", 503, nil, `{"error":"server busy, please try again.  maximum pending requests exceeded"}`, llm.KindUnavailable, "server busy", "", 0},
		{"internal", 500, nil, `{"error":"llama runner process has terminated: signal: killed"}`, llm.KindUpstream, "runner process", "", 0},
		{"bad gateway", 502, nil, ``, llm.KindUpstream, "Bad Gateway", "", 0},
		{"auth", 401, nil, `{"error":"unauthorized"}`, llm.KindUpstreamAuth, "unauthorized", "", 0},
		{"timeout", 504, nil, `{"error":"timeout"}`, llm.KindTimeout, "timed out", "", 0},
		{"canceled", 499, nil, `{"error":"request canceled"}`, llm.KindClientGone, "canceled", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Codec{}.DecodeError(tc.status, tc.header, []byte(tc.body))
			if e.Kind != tc.kind || !strings.Contains(e.Message, tc.msgHas) || e.Param != tc.param {
				t.Errorf("got kind=%v param=%q msg=%q", e.Kind, e.Param, e.Message)
			}
			if e.Status != tc.status || e.BodyDialect != llm.DialectOllama {
				t.Errorf("status=%d dialect=%q", e.Status, e.BodyDialect)
			}
			if tc.body != "" && string(e.Body) != tc.body {
				t.Errorf("body = %q", e.Body)
			}
			if e.RetryAfter != tc.retryWait {
				t.Errorf("retry after = %v", e.RetryAfter)
			}
			var ok bool
			if json.Valid(e.Body) {
				ok = true
			}
			if !ok && tc.body == "" {
				t.Errorf("synthesised body is not JSON: %q", e.Body)
			}
		})
	}
}
