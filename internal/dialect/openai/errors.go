package openai

import (
	"bytes"
	"fmt"
	json "github.com/goccy/go-json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/tidwall/gjson"
)

// contextWords are phrases OpenAI-compatible servers use when the prompt does
// not fit the model (OpenAI, vLLM, llama.cpp, SGLang, LM Studio).
var contextWords = []string{
	"context_length_exceeded", "maximum context length", "too many tokens", "prompt is too long",
	"context length", "context window", "exceed_context_size", "exceeds the available context size",
	"maximum model length", "input is too long", "reduce the length of the messages",
}

var policyWords = []string{"content_filter", "content_policy", "content management policy", "responsibleaipolicyviolation"}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// errorMessage digs the human message out of the shapes OpenAI-compatible
// servers use: {"error":{"message"}}, {"error":"…"}, {"message":"…"} (vLLM's
// {"object":"error",…}), {"detail":"…"} (FastAPI).
func errorMessage(body []byte) string {
	if !gjson.ValidBytes(body) {
		return ""
	}
	for _, path := range []string{"error.message", "error", "message", "detail"} {
		if v := gjson.GetBytes(body, path); v.Type == gjson.String && v.Str != "" {
			return v.Str
		}
	}
	return ""
}

// DecodeError classifies a non-2xx upstream reply.
func (Codec) DecodeError(status int, header http.Header, body []byte) *llm.Error {
	e := &llm.Error{Status: status, Body: body, BodyDialect: llm.DialectOpenAI}
	e.Message = errorMessage(body)
	if e.Message == "" {
		if t := http.StatusText(status); t != "" {
			e.Message = fmt.Sprintf("upstream returned %d %s", status, t)
		} else {
			e.Message = fmt.Sprintf("upstream returned status %d", status)
		}
	}
	e.Kind = classify(status, body)
	if e.Kind == llm.KindUpstreamAuth {
		// The deployment's key was refused: the client must not read the
		// upstream's message (it may quote part of the key) as being about theirs.
		e.Err = fmt.Errorf("upstream status %d: %s", status, e.Message)
		e.Message = "the upstream refused the deployment's credentials"
	}
	if e.Kind == llm.KindRateLimit || e.Kind == llm.KindOverloaded || status == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(header, time.Now())
	}
	return e
}

// maxClassifyBytes bounds how much of an error body is searched for wording.
const maxClassifyBytes = 16 << 10

func classify(status int, body []byte) llm.ErrorKind {
	switch {
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge ||
		status == http.StatusUnprocessableEntity:
		if len(body) > maxClassifyBytes {
			body = body[:maxClassifyBytes]
		}
		lower := strings.ToLower(string(body))
		switch {
		case containsAny(lower, contextWords):
			return llm.KindContextWindow
		case containsAny(lower, policyWords):
			return llm.KindContentPolicy
		}
		return llm.KindInvalidRequest
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return llm.KindUpstreamAuth
	case status == http.StatusNotFound:
		return llm.KindNotFound
	case status == http.StatusRequestTimeout:
		return llm.KindTimeout
	case status == http.StatusTooManyRequests:
		return llm.KindRateLimit
	case status == 529:
		return llm.KindOverloaded
	case status >= 500:
		return llm.KindUpstream
	case status >= 400:
		return llm.KindInvalidRequest
	}
	// A 1xx/2xx/3xx handed to DecodeError is still a broken reply.
	return llm.KindUpstream
}

// retryAfter reads retry-after-ms (OpenAI, Azure), then retry-after in
// seconds or as an HTTP date. Zero when absent or unparseable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("retry-after"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && s < 1e9 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// errorType and errorCode give an error kind's OpenAI type and code.
func errorType(k llm.ErrorKind) (typ, code string) {
	switch k {
	case llm.KindInvalidRequest:
		return "invalid_request_error", ""
	case llm.KindAuth:
		return "authentication_error", "invalid_api_key"
	case llm.KindPermission:
		return "permission_error", ""
	case llm.KindNotFound:
		return "not_found_error", "model_not_found"
	case llm.KindRateLimit:
		return "rate_limit_error", "rate_limit_exceeded"
	case llm.KindContextWindow:
		return "invalid_request_error", "context_length_exceeded"
	case llm.KindContentPolicy:
		return "invalid_request_error", "content_policy_violation"
	case llm.KindTimeout:
		return "timeout", "timeout"
	case llm.KindUnavailable, llm.KindOverloaded:
		return "service_unavailable", ""
	}
	return "api_error", ""
}

// EncodeError renders err as {"error":{"message","type","param","code"}}. An
// OpenAI upstream's own error body is returned unchanged, except for a refused
// deployment key, which is not the client's business.
func (Codec) EncodeError(err *llm.Error) []byte {
	if err == nil {
		err = &llm.Error{Kind: llm.KindInternal, Message: "internal error"}
	}
	if err.BodyDialect == llm.DialectOpenAI && err.Kind != llm.KindUpstreamAuth && len(err.Body) > 0 && json.Valid(err.Body) &&
		gjson.GetBytes(err.Body, "error").IsObject() {
		return bytes.Clone(err.Body)
	}
	typ, code := errorType(err.Kind)
	d := ErrorDetail{Message: err.Message, Type: typ}
	if d.Message == "" {
		d.Message = err.Kind.String()
	}
	if err.Param != "" {
		d.Param = &err.Param
	}
	if code != "" {
		d.Code = &code
	}
	out, _ := marshal(ErrorBody{Error: d})
	return out
}
