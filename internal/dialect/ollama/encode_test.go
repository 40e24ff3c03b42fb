package ollama

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func ptr[T any](v T) *T { return &v }

func text(s string) llm.Part { return llm.Part{Type: llm.PartText, Text: s} }

func user(parts ...llm.Part) llm.Message { return llm.Message{Role: llm.RoleUser, Content: parts} }

func assistant(parts ...llm.Part) llm.Message {
	return llm.Message{Role: llm.RoleAssistant, Content: parts}
}

const weatherSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
"properties":{"city":{"type":"string","format":"city"},"days":{"type":"integer","exclusiveMinimum":0}},
"required":["city"],"additionalProperties":false,"propertyNames":{"pattern":"^[a-z]+$"}}`

// TestEncodeGolden checks whole /api/chat bodies against testdata/encode/*.json.
func TestEncodeGolden(t *testing.T) {
	tests := []struct {
		name string
		req  *llm.Request
		opts llm.EncodeOptions
	}{
		{"plain_chat", &llm.Request{
			System:      []llm.Part{text("You are terse."), text("Answer in English.")},
			Messages:    []llm.Message{user(text("Why is the sky blue?"))},
			MaxTokens:   512,
			Temperature: ptr(0.2),
			Stream:      true,
		}, llm.EncodeOptions{Model: "qwen2.5:7b"}},
		{"tools_and_results", &llm.Request{
			Messages: []llm.Message{
				user(text("Weather in Paris and Rome?")),
				assistant(
					llm.Part{Type: llm.PartThinking, Text: "two calls", Signature: "sig"},
					text("Checking."),
					llm.Part{Type: llm.PartToolCall, ToolCallID: "toolu_1", Name: "get_weather", Arguments: `{"city": "Paris"}`},
					llm.Part{Type: llm.PartToolCall, ToolCallID: "toolu_2", Name: "get_weather", Arguments: `{"city":"Ro`},
				),
				user(
					llm.Part{Type: llm.PartToolResult, ToolCallID: "toolu_1", Content: []llm.Part{text("18C"), text("sunny")}},
					llm.Part{Type: llm.PartToolResult, ToolCallID: "toolu_2", IsError: true, Content: []llm.Part{text("timeout")}},
					text("Summarise."),
				),
				{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolCallID: "unknown", Name: "lookup", Content: []llm.Part{text("x")}}}},
			},
			Tools: []llm.Tool{
				{Name: "get_weather", Description: "Weather for a city", Parameters: json.RawMessage(weatherSchema)},
				{Name: "no_params"},
				{Name: "web_search", Server: true, ServerType: "web_search_20250305"},
			},
			ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceAny},
			Stream:     true,
		}, llm.EncodeOptions{Model: "qwen2.5:7b"}},
		{"images", &llm.Request{
			Messages: []llm.Message{user(
				text("What is in these?"),
				llm.Part{Type: llm.PartImage, MediaType: "image/png", Data: "iVBORw0KGgo="},
				llm.Part{Type: llm.PartImage, URL: "data:image/jpeg;base64,/9j/4AAQ"},
				llm.Part{Type: llm.PartImage, URL: "https://example.com/cat.png"},
			)},
		}, llm.EncodeOptions{Model: "llava", DropParams: true}},
		{"thinking_dropped", &llm.Request{
			Messages: []llm.Message{
				user(text("2+2?")),
				assistant(llm.Part{Type: llm.PartThinking, Text: "simple"}, llm.Part{Type: llm.PartThinking, Redacted: "xyz"}, text("4")),
				user(text("times 3?")),
			},
			Reasoning: &llm.Reasoning{Enabled: true, Adaptive: true, Effort: "high"},
			Stream:    true,
		}, llm.EncodeOptions{Model: "qwen3:8b"}},
		{"system_mid_conversation", &llm.Request{
			System: []llm.Part{text("x-anthropic-billing-header: cc_version=2.1.197.abc;"), text("You are Claude Code.")},
			Messages: []llm.Message{
				user(text("hi")),
				assistant(text("hello")),
				{Role: llm.RoleSystem, Content: []llm.Part{text("The user switched to plan mode."), text("Do not edit files.")}},
				user(text("plan it")),
			},
			Reasoning: &llm.Reasoning{Enabled: false},
			Stream:    true,
			Extra: map[string]json.RawMessage{
				"context_management": json.RawMessage(`{"edits":[]}`),
				"output_config":      json.RawMessage(`{"effort":"high"}`),
				"metadata":           json.RawMessage(`{"user_id":"u"}`),
			},
		}, llm.EncodeOptions{Model: "qwen2.5:7b"}},
		{"format_schema", &llm.Request{
			Messages: []llm.Message{user(text("Title for this chat?"))},
			ResponseFormat: &llm.ResponseFormat{Type: "json_schema", Name: "title",
				Schema: json.RawMessage(`{"$schema":"x","type":"object","properties":{"title":{"type":"string","format":"text"}},"required":["title"],"additionalProperties":false}`)},
			Stream: false,
		}, llm.EncodeOptions{Model: "llama3.1:8b"}},
		{"num_ctx_option", &llm.Request{
			Messages:  []llm.Message{user(text("long doc"))},
			MaxTokens: 32000,
			TopP:      ptr(0.9),
			TopK:      ptr(40),
			Seed:      ptr(int64(7)),
			Stop:      []string{"</done>"},
			Stream:    true,
			Extra:     map[string]json.RawMessage{"frequency_penalty": json.RawMessage(`0.5`), "n": json.RawMessage(`1`)},
		}, llm.EncodeOptions{Model: "llama3.1:8b", MaxOutputTokens: 8192, Params: map[string]json.RawMessage{
			"num_ctx":     json.RawMessage(`"32768"`),
			"num_gpu":     json.RawMessage(`99`),
			"top_p":       json.RawMessage(`0.5`),
			"keep_alive":  json.RawMessage(`"30m"`),
			"think":       json.RawMessage(`"high"`),
			"api_base":    json.RawMessage(`"http://localhost:11434"`),
			"temperature": json.RawMessage(`0.1`),
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := Codec{}.EncodeRequest(tc.req, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden(t, "encode/"+tc.name+".json", pretty.Bytes())
		})
	}
}

func TestEncodeFields(t *testing.T) {
	base := func() *llm.Request {
		return &llm.Request{Messages: []llm.Message{user(text("hi"))}}
	}
	tests := []struct {
		name  string
		req   func(r *llm.Request)
		opts  llm.EncodeOptions
		check func(t *testing.T, got map[string]json.RawMessage)
	}{
		{"stream false is explicit", nil, llm.EncodeOptions{}, func(t *testing.T, got map[string]json.RawMessage) {
			if string(got["stream"]) != "false" {
				t.Errorf("stream = %s", got["stream"])
			}
		}},
		{"tool_choice none omits tools", func(r *llm.Request) {
			r.Tools = []llm.Tool{{Name: "a"}}
			r.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceNone}
		}, llm.EncodeOptions{}, func(t *testing.T, got map[string]json.RawMessage) {
			if _, ok := got["tools"]; ok {
				t.Errorf("tools sent: %s", got["tools"])
			}
		}},
		{"tool_choice tool keeps tools", func(r *llm.Request) {
			r.Tools = []llm.Tool{{Name: "a"}}
			r.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "a"}
		}, llm.EncodeOptions{}, func(t *testing.T, got map[string]json.RawMessage) {
			if !strings.Contains(string(got["tools"]), `"name":"a"`) {
				t.Errorf("tools = %s", got["tools"])
			}
		}},
		{"reasoning enabled omits think", func(r *llm.Request) {
			r.Reasoning = &llm.Reasoning{Enabled: true, BudgetTokens: 31999}
		}, llm.EncodeOptions{}, func(t *testing.T, got map[string]json.RawMessage) {
			if _, ok := got["think"]; ok {
				t.Errorf("think = %s", got["think"])
			}
		}},
		{"reasoning disabled sends false", func(r *llm.Request) {
			r.Reasoning = &llm.Reasoning{Enabled: false}
		}, llm.EncodeOptions{}, func(t *testing.T, got map[string]json.RawMessage) {
			if string(got["think"]) != "false" {
				t.Errorf("think = %s", got["think"])
			}
		}},
		{"params think true overrides", func(r *llm.Request) {
			r.Reasoning = &llm.Reasoning{Enabled: false}
		}, llm.EncodeOptions{Params: map[string]json.RawMessage{"think": json.RawMessage(`true`)}},
			func(t *testing.T, got map[string]json.RawMessage) {
				if string(got["think"]) != "true" {
					t.Errorf("think = %s", got["think"])
				}
			}},
		{"params think null omits", func(r *llm.Request) {
			r.Reasoning = &llm.Reasoning{Enabled: false}
		}, llm.EncodeOptions{Params: map[string]json.RawMessage{"think": json.RawMessage(`null`)}},
			func(t *testing.T, got map[string]json.RawMessage) {
				if _, ok := got["think"]; ok {
					t.Errorf("think = %s", got["think"])
				}
			}},
		{"deployment params beat client extra", func(r *llm.Request) {
			r.Extra = map[string]json.RawMessage{"think": json.RawMessage(`true`), "num_ctx": json.RawMessage(`100000`), "temperature": json.RawMessage(`1`)}
			r.Temperature = ptr(0.3)
		}, llm.EncodeOptions{Params: map[string]json.RawMessage{"think": json.RawMessage(`false`), "num_ctx": json.RawMessage(`4096`), "temperature": json.RawMessage(`0.9`)}},
			func(t *testing.T, got map[string]json.RawMessage) {
				if string(got["think"]) != "false" || string(got["options"]) != `{"num_ctx":4096,"temperature":0.3}` {
					t.Errorf("think = %s options = %s", got["think"], got["options"])
				}
			}},
		{"json_object is json", func(r *llm.Request) {
			r.ResponseFormat = &llm.ResponseFormat{Type: "json_object"}
		}, llm.EncodeOptions{}, func(t *testing.T, got map[string]json.RawMessage) {
			if string(got["format"]) != `"json"` {
				t.Errorf("format = %s", got["format"])
			}
		}},
		{"max tokens clamped", func(r *llm.Request) { r.MaxTokens = 100000 },
			llm.EncodeOptions{MaxOutputTokens: 4096}, func(t *testing.T, got map[string]json.RawMessage) {
				if string(got["options"]) != `{"num_predict":4096}` {
					t.Errorf("options = %s", got["options"])
				}
			}},
		{"no options when none set", nil, llm.EncodeOptions{Model: "m"}, func(t *testing.T, got map[string]json.RawMessage) {
			if _, ok := got["options"]; ok {
				t.Errorf("options = %s", got["options"])
			}
			if string(got["model"]) != `"m"` {
				t.Errorf("model = %s", got["model"])
			}
		}},
		{"unsupported extra dropped with drop_params", func(r *llm.Request) {
			r.Extra = map[string]json.RawMessage{"logit_bias": json.RawMessage(`{"1":2}`)}
		}, llm.EncodeOptions{DropParams: true}, func(t *testing.T, got map[string]json.RawMessage) {
			if _, ok := got["logit_bias"]; ok {
				t.Error("logit_bias sent")
			}
		}},
		{"extra options object merged", func(r *llm.Request) {
			r.Extra = map[string]json.RawMessage{"options": json.RawMessage(`{"num_ctx":4096}`), "keep_alive": json.RawMessage(`-1`)}
		}, llm.EncodeOptions{}, func(t *testing.T, got map[string]json.RawMessage) {
			if string(got["options"]) != `{"num_ctx":4096}` || string(got["keep_alive"]) != `-1` {
				t.Errorf("options = %s keep_alive = %s", got["options"], got["keep_alive"])
			}
		}},
		{"text document inlined", func(r *llm.Request) {
			r.Messages[0].Content = append(r.Messages[0].Content, llm.Part{Type: llm.PartDocument, MediaType: "text/plain", Data: "aGVsbG8gZG9j"})
		}, llm.EncodeOptions{}, func(t *testing.T, got map[string]json.RawMessage) {
			if !strings.Contains(string(got["messages"]), `"content":"hi\nhello doc"`) {
				t.Errorf("messages = %s", got["messages"])
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			if tc.req != nil {
				tc.req(r)
			}
			body, err := Codec{}.EncodeRequest(r, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name      string
		req       *llm.Request
		wantParam string
		wantIn    string
	}{
		{"url image", &llm.Request{Messages: []llm.Message{user(llm.Part{Type: llm.PartImage, URL: "https://x/y.png"})}},
			"messages.content", "Ollama takes only base64 images"},
		{"url image in tool result", &llm.Request{Messages: []llm.Message{user(llm.Part{Type: llm.PartToolResult, ToolCallID: "a",
			Content: []llm.Part{{Type: llm.PartImage, URL: "http://x"}}})}}, "messages.content.tool_result", "base64"},
		{"pdf document", &llm.Request{Messages: []llm.Message{user(llm.Part{Type: llm.PartDocument, MediaType: "application/pdf", Data: "JVBERi0="})}},
			"messages.content", "application/pdf"},
		{"unsupported extra", &llm.Request{Extra: map[string]json.RawMessage{"logit_bias": json.RawMessage(`{}`)}},
			"logit_bias", "litellm_settings.drop_params: true"},
		{"n greater than one", &llm.Request{Extra: map[string]json.RawMessage{"n": json.RawMessage(`2`)}},
			"n", "drop_params"},
		{"logprobs true", &llm.Request{Extra: map[string]json.RawMessage{"logprobs": json.RawMessage(`true`)}},
			"logprobs", "drop_params"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Codec{}.EncodeRequest(tc.req, llm.EncodeOptions{Model: "m"})
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want *llm.Error", err)
			}
			if le.Kind != llm.KindInvalidRequest || le.Param != tc.wantParam || !strings.Contains(le.Message, tc.wantIn) {
				t.Errorf("got kind=%v param=%q msg=%q", le.Kind, le.Param, le.Message)
			}
			// The same request encodes once drop_params is on.
			if _, err := (Codec{}).EncodeRequest(tc.req, llm.EncodeOptions{Model: "m", DropParams: true}); err != nil {
				t.Errorf("with drop_params: %v", err)
			}
		})
	}
}

func TestArgsObject(t *testing.T) {
	for in, want := range map[string]string{
		``:             `{}`,
		`{"a":1}`:      `{"a":1}`,
		` {"a":1} `:    `{"a":1}`,
		`{"a":`:        `{}`,
		`[1,2]`:        `{}`,
		`"str"`:        `{}`,
		`{"a":1} junk`: `{}`,
	} {
		if got := string(argsObject(in)); got != want {
			t.Errorf("argsObject(%q) = %s, want %s", in, got, want)
		}
	}
}
