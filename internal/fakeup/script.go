package fakeup

import (
	"encoding/json"
	"strings"
)

// ToolResults returns the text of every tool result in the request's
// messages, in order, whatever the dialect: OpenAI and Ollama
// `role:"tool"` messages, and Anthropic `tool_result` blocks in user
// messages. Scripts use it to answer a tool call's follow-up.
func (r Request) ToolResults() []string {
	var body struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(r.Body, &body) != nil {
		return nil
	}
	var out []string
	for _, m := range body.Messages {
		if m.Role == "tool" {
			out = append(out, contentText(m.Content))
			continue
		}
		var blocks []struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(m.Content, &blocks) != nil {
			continue
		}
		for _, b := range blocks {
			if b.Type == "tool_result" {
				out = append(out, contentText(b.Content))
			}
		}
	}
	return out
}

// HasToolResult reports whether some tool result in the request contains s.
func (r Request) HasToolResult(s string) bool {
	for _, t := range r.ToolResults() {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// contentText flattens a content value: a string, or an array of parts or
// blocks whose `text` fields are joined.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return string(raw)
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}
