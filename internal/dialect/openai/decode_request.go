package openai

import (
	"bytes"
	"fmt"
	json "github.com/goccy/go-json"
	"math"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// knownRequestFields are the top-level fields DecodeRequest maps to hub
// fields; every other field goes to Request.Extra, raw.
var knownRequestFields = map[string]bool{
	"model": true, "messages": true, "tools": true, "tool_choice": true, "parallel_tool_calls": true,
	"max_tokens": true, "max_completion_tokens": true, "temperature": true, "top_p": true, "top_k": true,
	"stop": true, "seed": true, "user": true, "reasoning_effort": true, "response_format": true, "stream": true,
}

func invalid(param, format string, args ...any) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalidRequest, Param: param, Message: fmt.Sprintf(format, args...)}
}

// typeError explains a JSON type mismatch without echoing the client's value.
func typeError(param, want string, err error) *llm.Error {
	e := invalid(param, "invalid type for '%s': expected %s", param, want)
	e.Err = err
	return e
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// DecodeRequest parses a Chat Completions request body into hub form.
func (Codec) DecodeRequest(body []byte) (*llm.Request, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		e := invalid("", "request body is not a valid JSON object")
		e.Err = err
		return nil, e
	}
	if top == nil {
		return nil, invalid("", "request body is not a valid JSON object")
	}
	req := &llm.Request{}
	for k, v := range top {
		if !knownRequestFields[k] {
			if req.Extra == nil {
				req.Extra = make(map[string]json.RawMessage)
			}
			req.Extra[k] = v
		}
	}

	if err := decodeString(top["model"], "model", &req.Model); err != nil {
		return nil, err
	}
	if req.Model == "" {
		return nil, invalid("model", "you must provide a model parameter")
	}
	if isNull(top["messages"]) {
		return nil, invalid("messages", "missing required parameter: 'messages'")
	}
	if err := decodeMessages(top["messages"], req); err != nil {
		return nil, err
	}
	if err := decodeTools(top["tools"], req); err != nil {
		return nil, err
	}
	if err := decodeToolChoice(top["tool_choice"], top["parallel_tool_calls"], req); err != nil {
		return nil, err
	}

	// max_completion_tokens supersedes the deprecated max_tokens.
	for _, name := range []string{"max_tokens", "max_completion_tokens"} {
		n, ok, err := decodeInt(top[name], name)
		if err != nil {
			return nil, err
		}
		if ok {
			if n < 0 || n > math.MaxInt32 {
				return nil, invalid(name, "'%s' must be a non-negative integer", name)
			}
			req.MaxTokens = int(n)
		}
	}
	var err error
	if req.Temperature, err = decodeFloat(top["temperature"], "temperature"); err != nil {
		return nil, err
	}
	if req.TopP, err = decodeFloat(top["top_p"], "top_p"); err != nil {
		return nil, err
	}
	if n, ok, err := decodeInt(top["top_k"], "top_k"); err != nil {
		return nil, err
	} else if ok {
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, invalid("top_k", "'top_k' is out of range")
		}
		k := int(n)
		req.TopK = &k
	}
	if n, ok, err := decodeInt(top["seed"], "seed"); err != nil {
		return nil, err
	} else if ok {
		req.Seed = &n
	}
	if req.Stop, err = decodeStop(top["stop"]); err != nil {
		return nil, err
	}
	if err := decodeString(top["user"], "user", &req.User); err != nil {
		return nil, err
	}
	var effort string
	if err := decodeString(top["reasoning_effort"], "reasoning_effort", &effort); err != nil {
		return nil, err
	}
	if effort != "" {
		// "none" (GPT-5.1) turns reasoning off; Effort keeps the word so an
		// OpenAI upstream gets it back.
		req.Reasoning = &llm.Reasoning{Enabled: effort != "none", Effort: effort}
	}
	if req.ResponseFormat, err = decodeResponseFormat(top["response_format"]); err != nil {
		return nil, err
	}
	if !isNull(top["stream"]) {
		if err := json.Unmarshal(top["stream"], &req.Stream); err != nil {
			return nil, typeError("stream", "a boolean", err)
		}
	}
	return req, nil
}

func decodeString(raw json.RawMessage, param string, dst *string) error {
	if isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return typeError(param, "a string", err)
	}
	return nil
}

func decodeFloat(raw json.RawMessage, param string) (*float64, error) {
	if isNull(raw) {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, typeError(param, "a number", err)
	}
	return &f, nil
}

// decodeInt accepts integral JSON numbers, including forms like 100.0.
func decodeInt(raw json.RawMessage, param string) (int64, bool, error) {
	if isNull(raw) {
		return 0, false, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false, typeError(param, "an integer", err)
	}
	if i, err := n.Int64(); err == nil {
		return i, true, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, false, typeError(param, "an integer", err)
	}
	return int64(f), true, nil
}

func decodeStop(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, typeError("stop", "a string or an array of strings", err)
		}
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, typeError("stop", "a string or an array of strings", err)
	}
	return list, nil
}

func decodeResponseFormat(raw json.RawMessage) (*llm.ResponseFormat, error) {
	if isNull(raw) {
		return nil, nil
	}
	var rf ResponseFormat
	if err := json.Unmarshal(raw, &rf); err != nil {
		return nil, typeError("response_format", "an object", err)
	}
	switch rf.Type {
	case "text":
		return nil, nil
	case "json_object":
		return &llm.ResponseFormat{Type: "json_object"}, nil
	case "json_schema":
		if rf.JSONSchema == nil {
			return nil, invalid("response_format.json_schema", "missing required parameter: 'response_format.json_schema'")
		}
		out := &llm.ResponseFormat{Type: "json_schema", Name: rf.JSONSchema.Name, Schema: rf.JSONSchema.Schema}
		if rf.JSONSchema.Strict != nil {
			out.Strict = *rf.JSONSchema.Strict
		}
		return out, nil
	}
	return nil, invalid("response_format.type", "invalid value for 'response_format.type': %q", rf.Type)
}

// wireInMessage is a message as a client sends it; content stays raw.
type wireInMessage struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	Name             string          `json:"name"`
	ToolCalls        []ToolCall      `json:"tool_calls"`
	ToolCallID       string          `json:"tool_call_id"`
	ReasoningContent *string         `json:"reasoning_content"`
	Reasoning        *string         `json:"reasoning"`
}

func decodeMessages(raw json.RawMessage, req *llm.Request) error {
	var msgs []json.RawMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return typeError("messages", "an array", err)
	}
	if len(msgs) == 0 {
		return invalid("messages", "'messages' must contain at least one message")
	}
	leading := true
	req.Messages = make([]llm.Message, 0, len(msgs))
	for i, mraw := range msgs {
		param := fmt.Sprintf("messages[%d]", i)
		var m wireInMessage
		if err := json.Unmarshal(mraw, &m); err != nil {
			return typeError(param, "a message object", err)
		}
		switch m.Role {
		case "system", "developer":
			parts, err := decodeTextContent(m.Content, param+".content")
			if err != nil {
				return err
			}
			if leading {
				req.System = append(req.System, parts...)
				continue
			}
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: parts, Name: m.Name})
			continue
		case "user":
			parts, err := decodeUserContent(m.Content, param+".content")
			if err != nil {
				return err
			}
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: parts, Name: m.Name})
		case "assistant":
			msg, err := decodeAssistant(&m, param)
			if err != nil {
				return err
			}
			req.Messages = append(req.Messages, msg)
		case "tool":
			if m.ToolCallID == "" {
				return invalid(param+".tool_call_id", "missing required parameter: '%s.tool_call_id'", param)
			}
			parts, err := decodeTextContent(m.Content, param+".content")
			if err != nil {
				return err
			}
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleTool, Content: []llm.Part{{
				Type: llm.PartToolResult, ToolCallID: m.ToolCallID, Content: parts,
			}}})
		case "":
			return invalid(param+".role", "missing required parameter: '%s.role'", param)
		default:
			return invalid(param+".role", "invalid value for '%s.role': %q", param, m.Role)
		}
		leading = false
	}
	return nil
}

// decodeTextContent reads a content that may only hold text: a string or an
// array of text parts.
func decodeTextContent(raw json.RawMessage, param string) ([]llm.Part, error) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, typeError(param, "a string or an array of content parts", err)
		}
		if s == "" {
			return nil, nil
		}
		return []llm.Part{{Type: llm.PartText, Text: s}}, nil
	}
	var parts []ContentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, typeError(param, "a string or an array of content parts", err)
	}
	out := make([]llm.Part, 0, len(parts))
	for j, p := range parts {
		switch p.Type {
		case "text":
			out = append(out, llm.Part{Type: llm.PartText, Text: p.Text})
		case "refusal":
			out = append(out, llm.Part{Type: llm.PartText, Text: p.Refusal})
		default:
			return nil, invalid(fmt.Sprintf("%s[%d].type", param, j), "content part type %q is not supported here", p.Type)
		}
	}
	return out, nil
}

func decodeUserContent(raw json.RawMessage, param string) ([]llm.Part, error) {
	if isNull(raw) {
		return nil, invalid(param, "missing required parameter: '%s'", param)
	}
	if raw[0] == '"' {
		return decodeTextContent(raw, param)
	}
	var parts []ContentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, typeError(param, "a string or an array of content parts", err)
	}
	out := make([]llm.Part, 0, len(parts))
	for j, p := range parts {
		pp := fmt.Sprintf("%s[%d]", param, j)
		switch p.Type {
		case "text":
			out = append(out, llm.Part{Type: llm.PartText, Text: p.Text})
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, invalid(pp+".image_url.url", "missing required parameter: '%s.image_url.url'", pp)
			}
			part, err := urlPart(llm.PartImage, p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		case "file":
			if p.File == nil || p.File.FileData == "" {
				return nil, invalid(pp+".file.file_data", "only inline file_data is supported for file parts")
			}
			part, err := urlPart(llm.PartDocument, p.File.FileData, pp+".file.file_data")
			if err != nil {
				return nil, err
			}
			if part.Data == "" {
				// file_data is a bare base64 text (the SDKs send a data URL, some callers do not).
				part = llm.Part{Type: llm.PartDocument, MediaType: "application/pdf", Data: p.File.FileData}
			}
			out = append(out, part)
		default:
			return nil, invalid(pp+".type", "content part type %q is not supported", p.Type)
		}
	}
	return out, nil
}

// urlPart turns an image or file URL into a part: a base64 data: URL becomes
// inline data, anything else stays a URL.
func urlPart(typ llm.PartType, u, param string) (llm.Part, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		if typ == llm.PartDocument {
			return llm.Part{Type: typ}, nil
		}
		return llm.Part{Type: typ, URL: u}, nil
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return llm.Part{}, invalid(param, "malformed data URL")
	}
	media, isB64 := strings.CutSuffix(meta, ";base64")
	if !isB64 {
		return llm.Part{}, invalid(param, "data URLs must be base64-encoded")
	}
	if data == "" {
		return llm.Part{}, invalid(param, "the data URL holds no data")
	}
	return llm.Part{Type: typ, MediaType: media, Data: data}, nil
}

func decodeAssistant(m *wireInMessage, param string) (llm.Message, error) {
	msg := llm.Message{Role: llm.RoleAssistant, Name: m.Name}
	reasoning := m.ReasoningContent
	if reasoning == nil {
		reasoning = m.Reasoning
	}
	if reasoning != nil && *reasoning != "" {
		msg.Content = append(msg.Content, llm.Part{Type: llm.PartThinking, Text: *reasoning})
	}
	text, err := decodeTextContent(m.Content, param+".content")
	if err != nil {
		return msg, err
	}
	msg.Content = append(msg.Content, text...)
	for j, tc := range m.ToolCalls {
		tp := fmt.Sprintf("%s.tool_calls[%d]", param, j)
		if tc.Type != "" && tc.Type != "function" {
			return msg, invalid(tp+".type", "tool call type %q is not supported", tc.Type)
		}
		if tc.Function.Name == "" {
			return msg, invalid(tp+".function.name", "missing required parameter: '%s.function.name'", tp)
		}
		msg.Content = append(msg.Content, llm.Part{
			Type: llm.PartToolCall, ToolCallID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments,
		})
	}
	return msg, nil
}

func decodeTools(raw json.RawMessage, req *llm.Request) error {
	if isNull(raw) {
		return nil
	}
	var tools []json.RawMessage
	if err := json.Unmarshal(raw, &tools); err != nil {
		return typeError("tools", "an array", err)
	}
	for i, traw := range tools {
		param := fmt.Sprintf("tools[%d]", i)
		var t ChatTool
		if err := json.Unmarshal(traw, &t); err != nil {
			return typeError(param, "a tool object", err)
		}
		if t.Type != "function" {
			return invalid(param+".type", "tool type %q is not supported", t.Type)
		}
		if t.Function.Name == "" {
			return invalid(param+".function.name", "missing required parameter: '%s.function.name'", param)
		}
		params := t.Function.Parameters
		if isNull(params) {
			params = nil
		}
		req.Tools = append(req.Tools, llm.Tool{
			Name: t.Function.Name, Description: t.Function.Description, Parameters: params,
			Raw: bytes.Clone(traw),
		})
	}
	return nil
}

func decodeToolChoice(raw, parallel json.RawMessage, req *llm.Request) error {
	if !isNull(raw) {
		tc := &llm.ToolChoice{}
		if raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return typeError("tool_choice", "a string or an object", err)
			}
			switch s {
			case "auto":
				tc.Mode = llm.ToolChoiceAuto
			case "none":
				tc.Mode = llm.ToolChoiceNone
			case "required":
				tc.Mode = llm.ToolChoiceAny
			default:
				return invalid("tool_choice", "invalid value for 'tool_choice': %q", s)
			}
		} else {
			var obj ToolChoiceFunction
			if err := json.Unmarshal(raw, &obj); err != nil {
				return typeError("tool_choice", "a string or an object", err)
			}
			if obj.Type != "function" || obj.Function.Name == "" {
				return invalid("tool_choice", "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":...}}")
			}
			tc.Mode, tc.Name = llm.ToolChoiceTool, obj.Function.Name
		}
		req.ToolChoice = tc
	}
	if !isNull(parallel) {
		var p bool
		if err := json.Unmarshal(parallel, &p); err != nil {
			return typeError("parallel_tool_calls", "a boolean", err)
		}
		if !p {
			if req.ToolChoice == nil {
				req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceAuto}
			}
			req.ToolChoice.DisableParallel = true
		}
	}
	return nil
}
