package openai

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/llm"

	goldenfile "github.com/switchyard/switchyard/internal/testutil/golden"
)

func ptr[T any](v T) *T { return &v }

// anthropicStyle is a hub request as the Anthropic decoder would build it
// from a Claude Code turn: thinking with a signature, parallel tool use,
// results (one an error, one with a screenshot) in the next user turn
// followed by user text, a server tool, and a budgeted thinking request.
func anthropicStyle() *llm.Request {
	return &llm.Request{
		Model:  "claude-sonnet-4-5",
		System: []llm.Part{{Type: llm.PartText, Text: "You are Claude Code."}, {Type: llm.PartText, Text: "Be careful.", CacheControl: json.RawMessage(`{"type":"ephemeral"}`)}},
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Part{
				{Type: llm.PartText, Text: "<system-reminder>ctx</system-reminder>"},
				{Type: llm.PartText, Text: "Fix the bug."},
			}},
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Type: llm.PartThinking, Text: "Let me look.", Signature: "sig=="},
				{Type: llm.PartText, Text: "Reading files."},
				{Type: llm.PartToolCall, ToolCallID: "toolu_01", Name: "Read", Arguments: `{"file_path":"/a.go"}`},
				{Type: llm.PartToolCall, ToolCallID: "toolu_02", Name: "Screenshot", Arguments: ``},
			}},
			{Role: llm.RoleUser, Content: []llm.Part{
				{Type: llm.PartToolResult, ToolCallID: "toolu_01", IsError: true, Content: []llm.Part{{Type: llm.PartText, Text: "file not found"}}},
				{Type: llm.PartToolResult, ToolCallID: "toolu_02", Content: []llm.Part{
					{Type: llm.PartText, Text: "screenshot taken"},
					{Type: llm.PartImage, MediaType: "image/png", Data: "iVBORw0KGgo="},
				}},
				{Type: llm.PartText, Text: "Also check b.go."},
			}},
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Type: llm.PartThinking, Redacted: "xyz"},
				{Type: llm.PartToolCall, ToolCallID: "toolu_03", Name: "Read", Arguments: `{"file_path":"/b.go"}`},
			}},
			{Role: llm.RoleUser, Content: []llm.Part{
				{Type: llm.PartToolResult, ToolCallID: "toolu_03", IsError: true, Content: []llm.Part{{Type: llm.PartText, Text: "<tool_use_error>denied</tool_use_error>"}}},
			}},
		},
		Tools: []llm.Tool{
			{Name: "Read", Description: "Read a file", Parameters: json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"file_path":{"type":"string"}},"required":["file_path"],"additionalProperties":false}`)},
			{Name: "Screenshot"},
			{Name: "web_search", Server: true, ServerType: "web_search_20250305"},
		},
		ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceAuto, DisableParallel: true},
		MaxTokens:  32000,
		Reasoning:  &llm.Reasoning{Enabled: true, BudgetTokens: 31999},
		Stream:     true,
		TopK:       ptr(40),
		User:       `{"device_id":"0123456789abcdef0123456789abcdef0123456789abcdef","session_id":"s"}`,
	}
}

func TestEncodeRequestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *llm.Request
		opts llm.EncodeOptions
	}{
		{"anthropic_style_vllm", anthropicStyle(), llm.EncodeOptions{Model: "Qwen/Qwen3-Coder-30B", MaxOutputTokens: 8192}},
		{"anthropic_style_openai", anthropicStyle(), llm.EncodeOptions{Model: "gpt-5", DropParams: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Codec{}.EncodeRequest(tc.req, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			goldenfile.Check(t, "testdata/encode/"+tc.name+".golden", indentJSON(t, got))
		})
	}
}

func TestEncodeRequestFields(t *testing.T) {
	base := func() *llm.Request {
		return &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "hi"}}}}}
	}
	tests := []struct {
		name  string
		edit  func(r *llm.Request)
		opts  llm.EncodeOptions
		check map[string]string // gjson path → raw JSON want ("" = absent)
		err   llm.ErrorKind
	}{
		{"model from opts", nil, llm.EncodeOptions{Model: "up"}, map[string]string{"model": `"up"`, "stream": "", "stream_options": ""}, 0},
		{"effort wins", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Enabled: true, Effort: "low", BudgetTokens: 50000} }, llm.EncodeOptions{}, map[string]string{"reasoning_effort": `"low"`}, 0},
		{"max effort", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Enabled: true, Effort: "max"} }, llm.EncodeOptions{}, map[string]string{"reasoning_effort": `"high"`}, 0},
		{"budget low", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Enabled: true, BudgetTokens: 1024} }, llm.EncodeOptions{}, map[string]string{"reasoning_effort": `"low"`}, 0},
		{"budget medium", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Enabled: true, BudgetTokens: 2048} }, llm.EncodeOptions{}, map[string]string{"reasoning_effort": `"medium"`}, 0},
		{"budget high", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Enabled: true, BudgetTokens: 16384} }, llm.EncodeOptions{}, map[string]string{"reasoning_effort": `"high"`}, 0},
		{"adaptive", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Enabled: true, Adaptive: true} }, llm.EncodeOptions{}, map[string]string{"reasoning_effort": `"medium"`}, 0},
		{"disabled", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Enabled: false, BudgetTokens: 5000} }, llm.EncodeOptions{}, map[string]string{"reasoning_effort": ""}, 0},
		{"none kept", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "none"} }, llm.EncodeOptions{}, map[string]string{"reasoning_effort": `"none"`}, 0},
		{"clamp", func(r *llm.Request) { r.MaxTokens = 64000 }, llm.EncodeOptions{MaxOutputTokens: 4096}, map[string]string{"max_tokens": "4096"}, 0},
		{"no clamp below", func(r *llm.Request) { r.MaxTokens = 100 }, llm.EncodeOptions{MaxOutputTokens: 4096}, map[string]string{"max_tokens": "100"}, 0},
		{"top_k to openai errors", func(r *llm.Request) { r.TopK = ptr(5) }, llm.EncodeOptions{Model: "gpt-4o"}, nil, llm.KindInvalidRequest},
		{"top_k to openai dropped", func(r *llm.Request) { r.TopK = ptr(5) }, llm.EncodeOptions{Model: "gpt-4o", DropParams: true}, map[string]string{"top_k": ""}, 0},
		{"top_k to gpt-oss kept", func(r *llm.Request) { r.TopK = ptr(5) }, llm.EncodeOptions{Model: "gpt-oss-120b"}, map[string]string{"top_k": "5", "max_completion_tokens": ""}, 0},
		{"short user kept", func(r *llm.Request) { r.User = "u1" }, llm.EncodeOptions{}, map[string]string{"user": `"u1"`}, 0},
		{"tool_choice without tools omitted", func(r *llm.Request) { r.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceAny, DisableParallel: true} }, llm.EncodeOptions{}, map[string]string{"tool_choice": "", "parallel_tool_calls": ""}, 0},
		{"only server tools", func(r *llm.Request) {
			r.Tools = []llm.Tool{{Name: "web_search", Server: true}}
			r.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "web_search"}
		}, llm.EncodeOptions{}, map[string]string{"tools": "", "tool_choice": ""}, 0},
		{"named tool missing", func(r *llm.Request) {
			r.Tools = []llm.Tool{{Name: "a"}, {Name: "web_search", Server: true}}
			r.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "web_search"}
		}, llm.EncodeOptions{}, map[string]string{"tool_choice": `"auto"`, "tools.#": "1"}, 0},
		{"none choice", func(r *llm.Request) {
			r.Tools = []llm.Tool{{Name: "a"}}
			r.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceNone}
		}, llm.EncodeOptions{}, map[string]string{"tool_choice": `"none"`}, 0},
		{"json_object", func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: "json_object"} }, llm.EncodeOptions{}, map[string]string{"response_format": `{"type":"json_object"}`}, 0},
		{"schema without name", func(r *llm.Request) {
			r.ResponseFormat = &llm.ResponseFormat{Type: "json_schema", Schema: json.RawMessage(`{"type":"object"}`)}
		}, llm.EncodeOptions{}, map[string]string{"response_format.json_schema.name": `"response"`}, 0},
		{"params do not override client", func(r *llm.Request) { r.Temperature = ptr(0.1) }, llm.EncodeOptions{Params: map[string]json.RawMessage{"temperature": json.RawMessage(`1`), "top_k": json.RawMessage(`3`)}}, map[string]string{"temperature": "0.1", "top_k": "3"}, 0},
		{"extra passes, non-stream drops stream_options", func(r *llm.Request) {
			r.Extra = map[string]json.RawMessage{"stream_options": json.RawMessage(`{"include_usage":true}`), "logprobs": json.RawMessage(`true`)}
		}, llm.EncodeOptions{}, map[string]string{"stream_options": "", "logprobs": "true"}, 0},
		{"params cannot force streaming", nil, llm.EncodeOptions{Params: map[string]json.RawMessage{"stream": json.RawMessage(`true`), "model": json.RawMessage(`"x"`)}}, map[string]string{"stream": "", "model": `"m"`}, 0},
		{"bad param JSON", nil, llm.EncodeOptions{Params: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}, nil, llm.KindInternal},
		{"document url rejected", func(r *llm.Request) {
			r.Messages[0].Content = append(r.Messages[0].Content, llm.Part{Type: llm.PartDocument, URL: "https://x/y.pdf"})
		}, llm.EncodeOptions{}, nil, llm.KindInvalidRequest},
		{"document url dropped", func(r *llm.Request) {
			r.Messages[0].Content = append(r.Messages[0].Content, llm.Part{Type: llm.PartDocument, URL: "https://x/y.pdf"})
		}, llm.EncodeOptions{DropParams: true}, map[string]string{"messages.0.content": `"hi"`}, 0},
		{"text document inlined", func(r *llm.Request) {
			r.Messages[0].Content = []llm.Part{{Type: llm.PartDocument, MediaType: "text/plain", Data: "aGVsbG8="}}
		}, llm.EncodeOptions{}, map[string]string{"messages.0.content": `"hello"`}, 0},
		{"tool role message", func(r *llm.Request) {
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolCallID: "c1", Content: []llm.Part{{Type: llm.PartText, Text: "ok"}}}}})
		}, llm.EncodeOptions{}, map[string]string{"messages.#": "2", "messages.1.role": `"tool"`, "messages.1.tool_call_id": `"c1"`, "messages.1.content": `"ok"`}, 0},
		{"empty error result", func(r *llm.Request) {
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartToolResult, ToolCallID: "c1", IsError: true}}})
		}, llm.EncodeOptions{}, map[string]string{"messages.1.content": `"Error: "`, "messages.#": "2"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			if tc.edit != nil {
				tc.edit(r)
			}
			got, err := Codec{}.EncodeRequest(r, tc.opts)
			if tc.err != 0 || err != nil {
				var e *llm.Error
				if !errors.As(err, &e) || e.Kind != tc.err {
					t.Fatalf("err = %v, want kind %v", err, tc.err)
				}
				return
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			for path, want := range tc.check {
				v := gjson.GetBytes(got, path)
				if want == "" {
					if v.Exists() {
						t.Errorf("%s = %s, want absent", path, v.Raw)
					}
					continue
				}
				if v.Raw != want {
					t.Errorf("%s = %s, want %s\nbody: %s", path, v.Raw, want, got)
				}
			}
		})
	}
}

func TestEncodeRequestDoesNotMutate(t *testing.T) {
	r := anthropicStyle()
	before := string(pretty(t, r))
	if _, err := (Codec{}).EncodeRequest(r, llm.EncodeOptions{Model: "x", MaxOutputTokens: 10}); err != nil {
		t.Fatal(err)
	}
	if after := string(pretty(t, r)); after != before {
		t.Errorf("EncodeRequest mutated the request:\n%s", after)
	}
	if !strings.Contains(before, "$schema") {
		t.Error("schema cleaning leaked into the hub request")
	}
}
