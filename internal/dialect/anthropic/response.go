package anthropic

import (
	"crypto/rand"
	json "github.com/goccy/go-json"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomID returns prefix + n random base62 characters from crypto/rand.
func randomID(prefix string, n int) string {
	var raw [48]byte
	buf := raw[:0]
	if n > len(raw) {
		buf = make([]byte, 0, n)
	}
	buf = buf[:n]
	_, _ = rand.Read(buf) // never fails (crypto/rand panics on a broken source)
	var sb strings.Builder
	sb.Grow(len(prefix) + n)
	sb.WriteString(prefix)
	for _, b := range buf {
		// 248 = 4*62: drop the modulo bias by re-rolling the rare high bytes.
		for b >= 248 {
			var one [1]byte
			_, _ = rand.Read(one[:])
			b = one[0]
		}
		sb.WriteByte(base62[int(b)%62])
	}
	return sb.String()
}

// NewToolUseID returns a fresh tool-use id: "toolu_" and 24 random base62
// characters. Claude Code loops forever when a tool-use id repeats within a
// conversation, so upstream ids (call_0, …) are never passed through.
func NewToolUseID() string { return randomID("toolu_", 24) }

// NewMessageID returns a fresh message id: "msg_" and 24 random base62 characters.
func NewMessageID() string { return randomID("msg_", 24) }

// stopReason renders a hub stop reason. hasToolCalls turns "end" into
// tool_use: some upstreams say "stop" after emitting tool calls, and Claude
// Code only runs tools on tool_use.
func stopReason(r llm.StopReason, hasToolCalls bool) string {
	switch r {
	case llm.StopLength:
		return "max_tokens"
	case llm.StopToolUse:
		return "tool_use"
	case llm.StopSequence:
		return "stop_sequence"
	case llm.StopContentFilter, llm.StopRefusal:
		return "refusal"
	}
	if hasToolCalls {
		return "tool_use"
	}
	return "end_turn"
}

func wireUsage(u llm.Usage) Usage {
	return Usage{
		InputTokens:              u.InputTokens,
		CacheCreationInputTokens: u.CacheWriteTokens,
		CacheReadInputTokens:     u.CacheReadTokens,
		OutputTokens:             u.OutputTokens,
	}
}

func strPtr(s string) *string { return &s }

// toolInput parses a tool call's arguments for the input field; invalid or
// empty arguments become {} (the SDKs and Claude Code require an object).
func toolInput(args string) json.RawMessage {
	args = strings.TrimSpace(args)
	if args == "" || args[0] != '{' || !json.Valid([]byte(args)) {
		return json.RawMessage("{}")
	}
	return json.RawMessage(compactJSON(json.RawMessage(args)))
}

// EncodeResponse renders a complete reply as a Message. Thinking blocks come
// first (Anthropic's order); the rest keep the upstream's order.
func (Codec) EncodeResponse(resp *llm.Response, req *llm.Request) ([]byte, error) {
	msg := Message{
		ID:      resp.ID,
		Type:    "message",
		Role:    "assistant",
		Content: make([]ContentBlock, 0, len(resp.Content)),
		Usage:   wireUsage(resp.Usage),
	}
	if !strings.HasPrefix(msg.ID, "msg_") {
		msg.ID = NewMessageID()
	}
	if req != nil && req.Model != "" {
		msg.Model = req.Model
	} else {
		msg.Model = resp.Model
	}
	hasTools := false
	for pass := 0; pass < 2; pass++ {
		for _, p := range resp.Content {
			if (p.Type == llm.PartThinking) != (pass == 0) {
				continue
			}
			switch p.Type {
			case llm.PartThinking:
				if p.Redacted != "" {
					msg.Content = append(msg.Content, ContentBlock{Type: "redacted_thinking", Data: p.Redacted})
					continue
				}
				msg.Content = append(msg.Content, ContentBlock{Type: "thinking", Thinking: strPtr(p.Text), Signature: strPtr(p.Signature)})
			case llm.PartText:
				if p.Text == "" {
					continue
				}
				msg.Content = append(msg.Content, ContentBlock{Type: "text", Text: strPtr(p.Text)})
			case llm.PartToolCall:
				hasTools = true
				msg.Content = append(msg.Content, ContentBlock{Type: "tool_use", ID: NewToolUseID(), Name: p.Name, Input: toolInput(p.Arguments)})
			}
		}
	}
	msg.StopReason = strPtr(stopReason(resp.StopReason, hasTools))
	if resp.StopSequence != "" {
		msg.StopSequence = strPtr(resp.StopSequence)
	}
	return json.Marshal(msg)
}

// errorType is the Anthropic error type for a kind.
func errorType(k llm.ErrorKind) string {
	switch k {
	case llm.KindInvalidRequest, llm.KindContextWindow, llm.KindContentPolicy:
		return "invalid_request_error"
	case llm.KindAuth:
		return "authentication_error"
	case llm.KindPermission:
		return "permission_error"
	case llm.KindNotFound:
		return "not_found_error"
	case llm.KindRateLimit:
		return "rate_limit_error"
	case llm.KindOverloaded:
		return "overloaded_error"
	}
	// Timeouts, unreachable or broken upstreams, our own faults. Anthropic has
	// no documented timeout type; api_error is what Claude Code treats as a
	// retryable server-side fault.
	return "api_error"
}

// EncodeError renders err as Anthropic error JSON. An upstream Anthropic
// error body is returned unchanged: Claude Code pattern-matches its wording.
func (c Codec) EncodeError(err *llm.Error) []byte {
	return c.EncodeErrorWithID(err, "")
}

// EncodeErrorWithID is EncodeError with a top-level request_id (omitted when
// id is empty or the upstream body is passed through).
func (Codec) EncodeErrorWithID(err *llm.Error, id string) []byte {
	if err == nil {
		err = llm.Errorf(llm.KindInternal, "internal error")
	}
	if err.BodyDialect == llm.DialectAnthropic && isAnthropicError(err.Body) {
		return err.Body
	}
	msg := err.Message
	if msg == "" {
		msg = err.Kind.String()
	}
	out, _ := json.Marshal(ErrorBody{Type: "error", Error: ErrorDetail{Type: errorType(err.Kind), Message: msg}, RequestID: id})
	return out
}

// isAnthropicError reports whether body is an Anthropic error JSON object.
func isAnthropicError(body []byte) bool {
	if len(body) == 0 || !json.Valid(body) {
		return false
	}
	var e ErrorBody
	return json.Unmarshal(body, &e) == nil && e.Error.Type != ""
}
