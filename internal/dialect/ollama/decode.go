package ollama

import (
	"bytes"
	"errors"
	json "github.com/goccy/go-json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// DecodeResponse turns a non-streamed /api/chat reply into a hub response.
// Ollama has no message id, so ID is empty (writers mint one), and a tool
// call's ID is the upstream's "id" when the release sends one, else empty.
// A body that is NDJSON after all (stream left on) is folded.
func (c Codec) DecodeResponse(body []byte) (*llm.Response, error) {
	var r ChatResponse
	if err := json.Unmarshal(body, &r); err != nil {
		if bytes.Count(bytes.TrimSpace(body), []byte{'\n'}) > 0 {
			return fold(c.NewStreamReader(bytes.NewReader(body)))
		}
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "malformed Ollama reply", Err: err,
			Body: body, BodyDialect: llm.DialectOllama}
	}
	if r.Error != "" {
		return nil, classify(0, r.Error, body)
	}
	resp := &llm.Response{Model: r.Model, Usage: usageOf(&r)}
	if r.Message.Thinking != "" {
		resp.Content = append(resp.Content, llm.Part{Type: llm.PartThinking, Text: r.Message.Thinking})
	}
	if r.Message.Content != "" {
		resp.Content = append(resp.Content, llm.Part{Type: llm.PartText, Text: r.Message.Content})
	}
	for _, tc := range r.Message.ToolCalls {
		resp.Content = append(resp.Content, llm.Part{Type: llm.PartToolCall, ToolCallID: tc.ID,
			Name: tc.Function.Name, Arguments: compactArgs(tc.Function.Arguments)})
	}
	resp.StopReason = stopReason(r.DoneReason, len(r.Message.ToolCalls) > 0)
	return resp, nil
}

// fold collects a stream into a response.
func fold(s llm.Stream) (*llm.Response, error) {
	defer s.Close()
	resp := &llm.Response{}
	calls := map[int]int{}
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return resp, nil
		}
		if err != nil {
			return nil, err
		}
		switch ev.Type {
		case llm.EventStart:
			resp.ID, resp.Model = ev.ID, ev.Model
		case llm.EventTextDelta, llm.EventThinkingDelta:
			typ := llm.PartText
			if ev.Type == llm.EventThinkingDelta {
				typ = llm.PartThinking
			}
			if n := len(resp.Content); n > 0 && resp.Content[n-1].Type == typ {
				resp.Content[n-1].Text += ev.Text
			} else {
				resp.Content = append(resp.Content, llm.Part{Type: typ, Text: ev.Text})
			}
		case llm.EventToolCallStart:
			calls[ev.Index] = len(resp.Content)
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartToolCall, ToolCallID: ev.ID, Name: ev.Name})
		case llm.EventToolArgsDelta:
			if i, ok := calls[ev.Index]; ok {
				resp.Content[i].Arguments += ev.Text
			}
		case llm.EventStop:
			resp.StopReason = ev.StopReason
			if ev.Usage != nil {
				resp.Usage = *ev.Usage
			}
		}
	}
}

func usageOf(r *ChatResponse) llm.Usage {
	return llm.Usage{InputTokens: r.PromptEvalCount, OutputTokens: r.EvalCount}
}

// stopReason maps done_reason. Tool calls win: Ollama says "stop" after them.
func stopReason(doneReason string, toolCalls bool) llm.StopReason {
	switch {
	case toolCalls:
		return llm.StopToolUse
	case doneReason == "length":
		return llm.StopLength
	}
	return llm.StopEnd
}

// compactArgs renders a call's arguments object as compact JSON. Arguments
// sent as a JSON string holding an object (some Ollama-compatible servers)
// are unwrapped; anything else that is not an object becomes {}.
func compactArgs(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) != nil {
			return "{}"
		}
		t = bytes.TrimSpace([]byte(s))
	}
	if len(t) == 0 || t[0] != '{' {
		return "{}"
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, t); err != nil {
		return "{}"
	}
	return buf.String()
}

// DecodeError classifies a non-2xx Ollama reply ({"error": "..."}).
func (Codec) DecodeError(status int, header http.Header, body []byte) *llm.Error {
	var eb ErrorBody
	msg := ""
	if json.Unmarshal(body, &eb) == nil {
		msg = eb.Error
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 512 {
			msg = msg[:512]
		}
		if msg == "" {
			msg = http.StatusText(status)
		}
	}
	e := classify(status, msg, body)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(header)
	}
	return e
}

var modelNotFound = regexp.MustCompile(`model ['"]?([^'"]+?)['"]? not found`)

// classify maps an Ollama error message and status to a hub error. status is
// 0 for an error line inside a 200 stream.
func classify(status int, msg string, body []byte) *llm.Error {
	e := &llm.Error{Status: status, Body: body, BodyDialect: llm.DialectOllama}
	if len(body) == 0 {
		e.Body = mustJSON(ErrorBody{Error: msg})
	}
	lower := strings.ToLower(msg)
	switch {
	case status == http.StatusNotFound || (status == 0 && modelNotFound.MatchString(msg)):
		// A missing model is the deployment's misconfiguration, not an
		// unknown route: tell the operator what to run.
		e.Kind = llm.KindInvalidRequest
		if m := modelNotFound.FindStringSubmatch(msg); m != nil {
			e.Message = "Ollama has no model " + m[1] + ": run `ollama pull " + m[1] + "` (" + msg + ")"
		} else {
			e.Message = "Ollama answered 404 (check the deployment's api_base): " + msg
		}
	case isContextError(lower):
		e.Kind = llm.KindContextWindow
		e.Message = "Ollama: " + msg
	case strings.Contains(lower, "does not support thinking") || strings.Contains(lower, "think value"):
		e.Kind = llm.KindInvalidRequest
		e.Param = "think"
		e.Message = "Ollama: " + msg + "; set `think: false` in the deployment's litellm_params"
	case strings.Contains(lower, "does not support tools"):
		e.Kind = llm.KindInvalidRequest
		e.Param = "tools"
		e.Message = "Ollama: " + msg + "; route tool-using clients to a model with tool support"
	case status == http.StatusTooManyRequests:
		e.Kind, e.Message = llm.KindRateLimit, "Ollama: "+msg
	case status == http.StatusServiceUnavailable:
		e.Kind, e.Message = llm.KindUnavailable, "Ollama is busy: "+msg
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind, e.Message = llm.KindUpstreamAuth, "Ollama refused the deployment's credentials: "+msg
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind, e.Message = llm.KindTimeout, "Ollama timed out: "+msg
	case status == 499:
		e.Kind, e.Message = llm.KindClientGone, "request canceled"
	case status >= 400 && status < 500:
		e.Kind, e.Message = llm.KindInvalidRequest, "Ollama: "+msg
	default:
		e.Kind, e.Message = llm.KindUpstream, "Ollama error: "+msg
	}
	return e
}

func isContextError(lower string) bool {
	if !strings.Contains(lower, "context") && !strings.Contains(lower, "exceeds") {
		return false
	}
	for _, s := range []string{"context length", "context window", "context size", "exceeds the", "exceeds maximum", "maximum context"} {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 && n < 86400 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
