package openai

import (
	json "github.com/goccy/go-json"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// finishReason maps a hub stop reason to OpenAI's finish_reason.
func finishReason(r llm.StopReason) string {
	switch r {
	case llm.StopLength:
		return "length"
	case llm.StopToolUse:
		return "tool_calls"
	case llm.StopContentFilter, llm.StopRefusal:
		return "content_filter"
	}
	return "stop"
}

// stopReason maps OpenAI's finish_reason to a hub stop reason. sawTools
// corrects servers that answer "stop" after calling tools.
func stopReason(fr string, sawTools bool) llm.StopReason {
	switch fr {
	case "length":
		return llm.StopLength
	case "tool_calls", "function_call":
		return llm.StopToolUse
	case "content_filter":
		return llm.StopContentFilter
	}
	if sawTools {
		return llm.StopToolUse
	}
	return llm.StopEnd
}

// stopSequence reads vLLM's choices[].stop_reason: the matched stop string
// (an integer when a stop token matched, null at EOS).
func stopSequence(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// EncodeResponse renders a hub response as a chat.completion object.
func (Codec) EncodeResponse(resp *llm.Response, req *llm.Request) ([]byte, error) {
	out := ChatCompletion{
		ID:      resp.ID,
		Object:  "chat.completion",
		Created: nowUnix(),
		Model:   resp.Model,
		Usage:   wireUsage(resp.Usage),
	}
	if out.ID == "" {
		out.ID = newCompletionID()
	}
	if req != nil && req.Model != "" {
		out.Model = req.Model
	}
	msg := ReplyMessage{Role: "assistant"}
	var text, thinking strings.Builder
	var hasText, hasThinking bool
	for _, p := range resp.Content {
		switch p.Type {
		case llm.PartText:
			text.WriteString(p.Text)
			hasText = true
		case llm.PartThinking:
			thinking.WriteString(p.Text)
			hasThinking = hasThinking || p.Text != ""
		case llm.PartToolCall:
			id := p.ToolCallID
			if id == "" {
				id = newCallID()
			}
			args := p.Arguments
			if args == "" {
				args = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: id, Type: "function",
				Function: FunctionCall{Name: p.Name, Arguments: args}})
		}
	}
	if hasText {
		s := text.String()
		msg.Content = &s
	}
	if hasThinking {
		s := thinking.String()
		msg.ReasoningContent = &s
	}
	out.Choices = []Choice{{Index: 0, Message: msg, FinishReason: finishReason(resp.StopReason)}}
	return marshal(out)
}
