package openai

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/tidwall/gjson"
)

func TestDecodeError(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		kind    llm.ErrorKind
		message string
		retry   time.Duration
	}{
		{"context openai", 400, nil, `{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`, llm.KindContextWindow, "This model's maximum context length is 128000 tokens.", 0},
		{"context vllm", 400, nil, `{"object":"error","message":"The decoder prompt (length 40000) is longer than the maximum model length of 32768.","type":"BadRequestError","param":null,"code":400}`, llm.KindContextWindow, "The decoder prompt (length 40000) is longer than the maximum model length of 32768.", 0},
		{"context llama.cpp", 400, nil, `{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}`, llm.KindContextWindow, "the request exceeds the available context size, try increasing it", 0},
		{"prompt too long", 400, nil, `{"error":{"message":"prompt is too long"}}`, llm.KindContextWindow, "prompt is too long", 0},
		{"content filter", 400, nil, `{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter"}}`, llm.KindContentPolicy, "The response was filtered", 0},
		{"plain 400", 400, nil, `{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error"}}`, llm.KindInvalidRequest, "Invalid value for 'temperature'", 0},
		{"422 fastapi", 422, nil, `{"detail":"field required"}`, llm.KindInvalidRequest, "field required", 0},
		{"401 key", 401, nil, `{"error":{"message":"Incorrect API key provided: sk-abc***xyz","type":"invalid_request_error","code":"invalid_api_key"}}`, llm.KindUpstreamAuth, "the upstream refused the deployment's credentials", 0},
		{"403", 403, nil, `forbidden`, llm.KindUpstreamAuth, "the upstream refused the deployment's credentials", 0},
		{"404", 404, nil, `{"error":{"message":"The model 'x' does not exist","code":"model_not_found"}}`, llm.KindNotFound, "The model 'x' does not exist", 0},
		{"408", 408, nil, ``, llm.KindTimeout, "upstream returned 408 Request Timeout", 0},
		{"429 seconds", 429, http.Header{"Retry-After": {"7"}}, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, llm.KindRateLimit, "Rate limit reached", 7 * time.Second},
		{"429 ms", 429, http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"2"}}, `{}`, llm.KindRateLimit, "upstream returned 429 Too Many Requests", 1500 * time.Millisecond},
		{"429 garbage", 429, http.Header{"Retry-After": {"soon"}}, `{}`, llm.KindRateLimit, "upstream returned 429 Too Many Requests", 0},
		{"500", 500, nil, `{"error":"boom"}`, llm.KindUpstream, "boom", 0},
		{"502 html", 502, nil, `<html>bad gateway</html>`, llm.KindUpstream, "upstream returned 502 Bad Gateway", 0},
		{"503", 503, http.Header{"Retry-After": {"1"}}, ``, llm.KindUpstream, "upstream returned 503 Service Unavailable", time.Second},
		{"504", 504, nil, ``, llm.KindUpstream, "upstream returned 504 Gateway Timeout", 0},
		{"529", 529, nil, `{"error":{"message":"Overloaded"}}`, llm.KindOverloaded, "Overloaded", 0},
		{"418", 418, nil, ``, llm.KindInvalidRequest, "upstream returned 418 I'm a teapot", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Codec{}.DecodeError(tc.status, tc.header, []byte(tc.body))
			if e.Kind != tc.kind || e.Message != tc.message || e.RetryAfter != tc.retry {
				t.Errorf("got kind=%v message=%q retry=%v, want %v %q %v", e.Kind, e.Message, e.RetryAfter, tc.kind, tc.message, tc.retry)
			}
			if e.Status != tc.status || e.BodyDialect != llm.DialectOpenAI || string(e.Body) != tc.body {
				t.Errorf("status/body not kept: %+v", e)
			}
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}
	if got := retryAfter(h, now); got != 30*time.Second {
		t.Errorf("retryAfter = %v", got)
	}
	h = http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}
	if got := retryAfter(h, now); got != 0 {
		t.Errorf("past date: retryAfter = %v", got)
	}
}

func TestEncodeError(t *testing.T) {
	tests := []struct {
		err              *llm.Error
		typ, code, param string
	}{
		{&llm.Error{Kind: llm.KindInvalidRequest, Message: "bad", Param: "messages[0].role"}, "invalid_request_error", "", "messages[0].role"},
		{&llm.Error{Kind: llm.KindAuth, Message: "no key"}, "authentication_error", "invalid_api_key", ""},
		{&llm.Error{Kind: llm.KindPermission, Message: "no"}, "permission_error", "", ""},
		{&llm.Error{Kind: llm.KindNotFound, Message: "no model"}, "not_found_error", "model_not_found", ""},
		{&llm.Error{Kind: llm.KindRateLimit, Message: "slow down"}, "rate_limit_error", "rate_limit_exceeded", ""},
		{&llm.Error{Kind: llm.KindContextWindow, Message: "too long"}, "invalid_request_error", "context_length_exceeded", ""},
		{&llm.Error{Kind: llm.KindContentPolicy, Message: "filtered"}, "invalid_request_error", "content_policy_violation", ""},
		{&llm.Error{Kind: llm.KindTimeout, Message: "slow"}, "timeout", "timeout", ""},
		{&llm.Error{Kind: llm.KindUnavailable, Message: "down"}, "service_unavailable", "", ""},
		{&llm.Error{Kind: llm.KindOverloaded, Message: "busy"}, "service_unavailable", "", ""},
		{&llm.Error{Kind: llm.KindUpstream, Message: "broken"}, "api_error", "", ""},
		{&llm.Error{Kind: llm.KindInternal}, "api_error", "", ""},
		// An Anthropic body is not passed to an OpenAI client.
		{&llm.Error{Kind: llm.KindOverloaded, Message: "Overloaded", BodyDialect: llm.DialectAnthropic, Body: []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)}, "service_unavailable", "", ""},
		// Nor is a refused deployment key.
		{&llm.Error{Kind: llm.KindUpstreamAuth, Message: "refused", BodyDialect: llm.DialectOpenAI, Body: []byte(`{"error":{"message":"Incorrect API key sk-1","type":"invalid_request_error"}}`)}, "api_error", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.err.Kind.String(), func(t *testing.T) {
			got := Codec{}.EncodeError(tc.err)
			e := gjson.GetBytes(got, "error")
			if e.Get("type").Str != tc.typ || e.Get("code").Str != tc.code || e.Get("param").Str != tc.param || e.Get("message").Str == "" {
				t.Errorf("EncodeError = %s", got)
			}
			if strings.Contains(string(got), "sk-1") {
				t.Errorf("deployment key leaked: %s", got)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if !e.Get(k).Exists() {
					t.Errorf("missing %s in %s", k, got)
				}
			}
		})
	}
	body := []byte(`{"error":{"message":"Rate limit","type":"requests","param":null,"code":"rate_limit_exceeded","extra":1}}`)
	got := Codec{}.EncodeError(&llm.Error{Kind: llm.KindRateLimit, Body: body, BodyDialect: llm.DialectOpenAI})
	if !bytes.Equal(got, body) {
		t.Errorf("pass-through: got %s", got)
	}
}
