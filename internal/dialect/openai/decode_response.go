package openai

import (
	"bytes"
	json "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/internal/llm"
)

// wireReply is a non-streamed reply as upstreams send it: tool call
// arguments may be a JSON string (the spec) or an object (some servers), and
// a 200 may carry an error.
type wireReply struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Object  string `json:"object"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Content          json.RawMessage `json:"content"`
			Refusal          *string         `json:"refusal"`
			ReasoningContent *string         `json:"reasoning_content"`
			Reasoning        *string         `json:"reasoning"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason *string         `json:"finish_reason"`
		StopReason   json.RawMessage `json:"stop_reason"`
	} `json:"choices"`
	Usage *CompletionUsage `json:"usage"`
	Error json.RawMessage  `json:"error"`
}

// DecodeResponse reads a chat.completion reply into hub form.
func (Codec) DecodeResponse(body []byte) (*llm.Response, error) {
	var w wireReply
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, upstreamErr("upstream sent a malformed reply", err)
	}
	if !isNull(w.Error) || w.Object == "error" {
		return nil, inBandError(body)
	}
	resp := &llm.Response{ID: w.ID, Model: w.Model}
	if w.Usage != nil {
		resp.Usage = hubUsage(w.Usage)
	}
	found := false
	for i := range w.Choices {
		ch := &w.Choices[i]
		if ch.Index != 0 {
			continue
		}
		found = true
		m := &ch.Message
		reasoning := m.ReasoningContent
		if reasoning == nil {
			reasoning = m.Reasoning
		}
		if reasoning != nil && *reasoning != "" {
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartThinking, Text: *reasoning})
		}
		text, err := replyText(m.Content)
		if err != nil {
			return nil, err
		}
		if text != "" {
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartText, Text: text})
		}
		if m.Refusal != nil && *m.Refusal != "" {
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartText, Text: *m.Refusal})
		}
		for _, tc := range m.ToolCalls {
			args := toolArgs(tc.Function.Arguments)
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartToolCall, ToolCallID: tc.ID,
				Name: tc.Function.Name, Arguments: args})
		}
		fr := ""
		if ch.FinishReason != nil {
			fr = *ch.FinishReason
		}
		resp.StopReason = stopReason(fr, len(m.ToolCalls) > 0)
		if m.Refusal != nil && *m.Refusal != "" && fr == "stop" {
			resp.StopReason = llm.StopRefusal
		}
		resp.StopSequence = stopSequence(ch.StopReason)
		if resp.StopSequence != "" && resp.StopReason == llm.StopEnd {
			resp.StopReason = llm.StopSequence
		}
		break
	}
	if !found {
		return nil, upstreamErr("upstream reply has no choices", nil)
	}
	return resp, nil
}

// replyText reads message.content: a string, null, or (some servers) an
// array of text parts.
func replyText(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", upstreamErr("upstream sent a malformed reply", err)
		}
		return s, nil
	}
	var parts []ContentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", upstreamErr("upstream sent a malformed reply content", err)
	}
	var b bytes.Buffer
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// toolArgs returns a call's arguments as a JSON text: the spec's JSON string
// unquoted, an object as it came, "{}" when empty.
func toolArgs(raw json.RawMessage) string {
	if isNull(raw) {
		return "{}"
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if s == "" {
				return "{}"
			}
			return s
		}
	}
	return string(raw)
}
