package openai

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

var decodeRequestErrors = []struct {
	name  string
	body  string
	param string
}{
	{"not json", `{`, ""},
	{"not object", `[1]`, ""},
	{"null", `null`, ""},
	{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, "model"},
	{"model not string", `{"model":1,"messages":[{"role":"user","content":"hi"}]}`, "model"},
	{"missing messages", `{"model":"m"}`, "messages"},
	{"messages not array", `{"model":"m","messages":{}}`, "messages"},
	{"empty messages", `{"model":"m","messages":[]}`, "messages"},
	{"message not object", `{"model":"m","messages":["hi"]}`, "messages[0]"},
	{"bad role", `{"model":"m","messages":[{"role":"robot","content":"hi"}]}`, "messages[0].role"},
	{"no role", `{"model":"m","messages":[{"content":"hi"}]}`, "messages[0].role"},
	{"user content null", `{"model":"m","messages":[{"role":"user","content":null}]}`, "messages[0].content"},
	{"user content number", `{"model":"m","messages":[{"role":"user","content":5}]}`, "messages[0].content"},
	{"bad part type", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "messages[0].content[0].type"},
	{"image without url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, "messages[0].content[0].image_url.url"},
	{"data url not base64", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "messages[0].content[0].image_url.url"},
	{"tool without id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id"},
	{"tool call without name", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]}`, "messages[0].tool_calls[0].function.name"},
	{"image in system", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, "messages[0].content[0].type"},
	{"temperature string", `{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}`, "temperature"},
	{"max_tokens fraction", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}`, "max_tokens"},
	{"max_tokens negative", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":-1}`, "max_completion_tokens"},
	{"stop number", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":3}`, "stop"},
	{"stream string", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, "stream"},
	{"tools not array", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":{}}`, "tools"},
	{"tool bad type", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"custom","custom":{}}]}`, "tools[0].type"},
	{"tool no name", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{}}]}`, "tools[0].function.name"},
	{"tool_choice bad", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"always"}`, "tool_choice"},
	{"tool_choice obj bad", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"function"}}`, "tool_choice"},
	{"parallel string", `{"model":"m","messages":[{"role":"user","content":"hi"}],"parallel_tool_calls":"no"}`, "parallel_tool_calls"},
	{"response_format bad", `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"yaml"}}`, "response_format.type"},
	{"json_schema missing", `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
	{"effort number", `{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":1}`, "reasoning_effort"},
}

func TestDecodeRequestErrors(t *testing.T) {
	for _, tc := range decodeRequestErrors {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Codec{}.DecodeRequest([]byte(tc.body))
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *llm.Error", err)
			}
			if e.Kind != llm.KindInvalidRequest || e.Param != tc.param {
				t.Errorf("got kind=%v param=%q (%s), want invalid_request param=%q", e.Kind, e.Param, e.Message, tc.param)
			}
		})
	}
}

func TestDecodeRequestFields(t *testing.T) {
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, r *llm.Request)
	}{
		{"max_completion_tokens wins", `{"model":"m",` + msgs + `,"max_completion_tokens":20,"max_tokens":10}`, func(t *testing.T, r *llm.Request) {
			if r.MaxTokens != 20 {
				t.Errorf("MaxTokens = %d", r.MaxTokens)
			}
		}},
		{"integral float", `{"model":"m",` + msgs + `,"max_tokens":100.0,"seed":-3}`, func(t *testing.T, r *llm.Request) {
			if r.MaxTokens != 100 || r.Seed == nil || *r.Seed != -3 {
				t.Errorf("MaxTokens=%d Seed=%v", r.MaxTokens, r.Seed)
			}
		}},
		{"nulls are unset", `{"model":"m",` + msgs + `,"temperature":null,"stop":null,"tools":null,"tool_choice":null,"user":null}`, func(t *testing.T, r *llm.Request) {
			if r.Temperature != nil || r.Stop != nil || r.Tools != nil || r.ToolChoice != nil || len(r.Extra) != 0 {
				t.Errorf("got %+v", r)
			}
		}},
		{"parallel false alone", `{"model":"m",` + msgs + `,"parallel_tool_calls":false}`, func(t *testing.T, r *llm.Request) {
			if r.ToolChoice == nil || r.ToolChoice.Mode != llm.ToolChoiceAuto || !r.ToolChoice.DisableParallel {
				t.Errorf("ToolChoice = %+v", r.ToolChoice)
			}
		}},
		{"parallel true", `{"model":"m",` + msgs + `,"parallel_tool_calls":true}`, func(t *testing.T, r *llm.Request) {
			if r.ToolChoice != nil {
				t.Errorf("ToolChoice = %+v", r.ToolChoice)
			}
		}},
		{"effort none", `{"model":"m",` + msgs + `,"reasoning_effort":"none"}`, func(t *testing.T, r *llm.Request) {
			if r.Reasoning == nil || r.Reasoning.Enabled || r.Reasoning.Effort != "none" {
				t.Errorf("Reasoning = %+v", r.Reasoning)
			}
		}},
		{"json_object", `{"model":"m",` + msgs + `,"response_format":{"type":"json_object"}}`, func(t *testing.T, r *llm.Request) {
			if r.ResponseFormat == nil || r.ResponseFormat.Type != "json_object" {
				t.Errorf("ResponseFormat = %+v", r.ResponseFormat)
			}
		}},
		{"text format is default", `{"model":"m",` + msgs + `,"response_format":{"type":"text"}}`, func(t *testing.T, r *llm.Request) {
			if r.ResponseFormat != nil {
				t.Errorf("ResponseFormat = %+v", r.ResponseFormat)
			}
		}},
		{"system after user stays in place", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"developer","content":"b"}]}`, func(t *testing.T, r *llm.Request) {
			if len(r.System) != 0 || len(r.Messages) != 2 || r.Messages[1].Role != llm.RoleSystem {
				t.Errorf("System=%v Messages=%v", r.System, r.Messages)
			}
		}},
		{"assistant reasoning field and refusal part", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","reasoning":"hmm","content":[{"type":"refusal","refusal":"no"}]}]}`, func(t *testing.T, r *llm.Request) {
			c := r.Messages[1].Content
			if len(c) != 2 || c[0].Type != llm.PartThinking || c[0].Text != "hmm" || c[1].Text != "no" {
				t.Errorf("Content = %+v", c)
			}
		}},
		{"extra kept raw", `{"model":"m",` + msgs + `,"stream_options":{"include_usage":true},"n":2,"functions":[]}`, func(t *testing.T, r *llm.Request) {
			if len(r.Extra) != 3 || string(r.Extra["stream_options"]) != `{"include_usage":true}` || string(r.Extra["n"]) != "2" {
				t.Errorf("Extra = %s", r.Extra)
			}
		}},
		{"bare base64 file", `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"JVBERi0="}}]}]}`, func(t *testing.T, r *llm.Request) {
			p := r.Messages[0].Content[0]
			if p.Type != llm.PartDocument || p.MediaType != "application/pdf" || p.Data != "JVBERi0=" {
				t.Errorf("part = %+v", p)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Codec{}.DecodeRequest([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want llm.Response
		kind llm.ErrorKind // non-zero: an error of this kind
	}{
		{"text", `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":2}}}`,
			llm.Response{ID: "chatcmpl-1", Model: "gpt-4o", Content: []llm.Part{{Type: llm.PartText, Text: "Hi"}}, StopReason: llm.StopEnd,
				Usage: llm.Usage{InputTokens: 36, CacheReadTokens: 64, OutputTokens: 5, ReasoningTokens: 2}}, 0},
		{"tools and reasoning", `{"id":"x","model":"qwen","choices":[{"index":0,"message":{"role":"assistant","content":null,"reasoning_content":"think","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"call_2","type":"function","function":{"name":"g","arguments":{"b":2}}},{"id":"call_3","type":"function","function":{"name":"h","arguments":""}}]},"finish_reason":"tool_calls"}]}`,
			llm.Response{ID: "x", Model: "qwen", Content: []llm.Part{{Type: llm.PartThinking, Text: "think"},
				{Type: llm.PartToolCall, ToolCallID: "call_1", Name: "f", Arguments: `{"a":1}`},
				{Type: llm.PartToolCall, ToolCallID: "call_2", Name: "g", Arguments: `{"b":2}`},
				{Type: llm.PartToolCall, ToolCallID: "call_3", Name: "h", Arguments: `{}`}}, StopReason: llm.StopToolUse}, 0},
		{"reasoning field, length", `{"id":"x","model":"m","choices":[{"index":0,"message":{"content":"ab","reasoning":"r"},"finish_reason":"length"}]}`,
			llm.Response{ID: "x", Model: "m", Content: []llm.Part{{Type: llm.PartThinking, Text: "r"}, {Type: llm.PartText, Text: "ab"}}, StopReason: llm.StopLength}, 0},
		{"vllm stop string", `{"id":"x","model":"m","choices":[{"index":0,"message":{"content":"ab"},"finish_reason":"stop","stop_reason":"END"}]}`,
			llm.Response{ID: "x", Model: "m", Content: []llm.Part{{Type: llm.PartText, Text: "ab"}}, StopReason: llm.StopSequence, StopSequence: "END"}, 0},
		{"stop with tools", `{"id":"x","model":"m","choices":[{"index":0,"message":{"tool_calls":[{"id":"c","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"stop"}]}`,
			llm.Response{ID: "x", Model: "m", Content: []llm.Part{{Type: llm.PartToolCall, ToolCallID: "c", Name: "f", Arguments: "{}"}}, StopReason: llm.StopToolUse}, 0},
		{"refusal", `{"id":"x","model":"m","choices":[{"index":0,"message":{"content":null,"refusal":"I can't"},"finish_reason":"stop"}]}`,
			llm.Response{ID: "x", Model: "m", Content: []llm.Part{{Type: llm.PartText, Text: "I can't"}}, StopReason: llm.StopRefusal}, 0},
		{"content filter", `{"id":"x","model":"m","choices":[{"index":0,"message":{"content":""},"finish_reason":"content_filter"}]}`,
			llm.Response{ID: "x", Model: "m", StopReason: llm.StopContentFilter}, 0},
		{"deepseek cache", `{"id":"x","model":"m","choices":[{"index":0,"message":{"content":"a"},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":1,"prompt_cache_hit_tokens":40}}`,
			llm.Response{ID: "x", Model: "m", Content: []llm.Part{{Type: llm.PartText, Text: "a"}}, StopReason: llm.StopEnd, Usage: llm.Usage{InputTokens: 10, CacheReadTokens: 40, OutputTokens: 1}}, 0},
		{"no choices", `{"id":"x","choices":[]}`, llm.Response{}, llm.KindUpstream},
		{"malformed", `{"id":`, llm.Response{}, llm.KindUpstream},
		{"error in 200", `{"error":{"message":"Rate limit","type":"rate_limit_error","code":"rate_limit_exceeded"}}`, llm.Response{}, llm.KindRateLimit},
		{"vllm error in 200", `{"object":"error","message":"maximum context length is 10","type":"BadRequestError","code":400}`, llm.Response{}, llm.KindContextWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Codec{}.DecodeResponse([]byte(tc.body))
			if tc.kind != 0 {
				var e *llm.Error
				if !errors.As(err, &e) || e.Kind != tc.kind {
					t.Fatalf("err = %v, want kind %v", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			if string(g) != string(w) {
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

func TestUsageTracker(t *testing.T) {
	tr := Codec{}.NewUsageTracker()
	if _, ok := tr.Usage(); ok {
		t.Fatal("usage before any event")
	}
	tr.ObserveEvent([]byte(`{"id":"x","choices":[{"delta":{"content":"the \"usage\" of words"}}],"usage":null}`))
	if _, ok := tr.Usage(); ok {
		t.Fatal("usage:null or a quoted word counted as usage")
	}
	tr.ObserveEvent([]byte(`[DONE]`))
	tr.ObserveEvent([]byte(`{"id":"x","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":30,"total_tokens":1230,"prompt_tokens_details":{"cached_tokens":1000},"completion_tokens_details":{"reasoning_tokens":10}}}`))
	u, ok := tr.Usage()
	want := llm.Usage{InputTokens: 200, CacheReadTokens: 1000, OutputTokens: 30, ReasoningTokens: 10}
	if !ok || u != want {
		t.Errorf("Usage = %+v %v, want %+v", u, ok, want)
	}
	for _, tc := range []struct {
		name, body string
		want       llm.Usage
	}{
		{"body", `{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":3}}`,
			llm.Usage{InputTokens: 7, OutputTokens: 3}},
		{"spaced key", `{"id":"x","usage" : {"prompt_tokens":5,"completion_tokens":1}}`, llm.Usage{InputTokens: 5, OutputTokens: 1}},
		{"the last one counts", `{"x":{"usage":{"prompt_tokens":1}},"usage":{"prompt_tokens":9,"completion_tokens":2}}`,
			llm.Usage{InputTokens: 9, OutputTokens: 2}},
		{"spaces after the colon", `{"usage": {"prompt_tokens": 4, "prompt_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 1}}}`,
			llm.Usage{InputTokens: 0, CacheReadTokens: 3, CacheWriteTokens: 1}},
		{"pretty-printed", "{\n  \"usage\" :\n  {\n    \"prompt_tokens\" : 12,\n    \"completion_tokens\" : 5,\n" +
			"    \"completion_tokens_details\" : { \"reasoning_tokens\" : 2 }\n  }\n}\n",
			llm.Usage{InputTokens: 12, OutputTokens: 5, ReasoningTokens: 2}},
		{"cache hits as DeepSeek counts them, numbers as floats", `{"usage":{"prompt_tokens":10.0,"completion_tokens":"4","prompt_cache_hit_tokens":6}}`,
			llm.Usage{InputTokens: 4, CacheReadTokens: 6, OutputTokens: 4}},
	} {
		tb := Codec{}.NewUsageTracker()
		tb.ObserveBody([]byte(tc.body))
		if u, ok := tb.Usage(); !ok || u != tc.want {
			t.Errorf("%s: Usage = %+v %v, want %+v", tc.name, u, ok, tc.want)
		}
	}
}
