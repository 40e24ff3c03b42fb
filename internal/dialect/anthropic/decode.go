package anthropic

import (
	"bytes"
	"fmt"
	json "github.com/goccy/go-json"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/llm"
)

// Codec is the Anthropic Messages dialect, both client- and upstream-facing.
// It is stateless; per-stream state lives in the writers and readers it makes.
type Codec struct{}

var (
	_ llm.ClientCodec   = Codec{}
	_ llm.UpstreamCodec = Codec{}
)

// BillingHeaderPrefix starts Claude Code's per-conversation attribution block
// in system[]. It is metadata, not prompt, and it changes per conversation,
// so it is dropped: keeping it defeats local prefix caches.
const BillingHeaderPrefix = "x-anthropic-billing-header:"

// NormalizeModel strips Claude Code's "[1m]" context-window suffix (and
// surrounding spaces) from a model name.
func NormalizeModel(name string) string {
	name = strings.TrimSpace(name)
	if s, ok := strings.CutSuffix(name, "[1m]"); ok {
		name = strings.TrimSpace(s)
	}
	return name
}

// consumed are top-level fields that only steer Anthropic's own servers and
// mean nothing to other upstreams: they are accepted and dropped, not put in
// Request.Extra (where a non-Anthropic upstream would reject them without
// drop_params). A same-dialect upstream never sees the hub request: it takes
// the pass-through path with the client's bytes.
var consumed = map[string]bool{
	"context_management": true, // server-side clearing of old thinking/tool results
	"service_tier":       true,
	"inference_geo":      true,
	"anthropic_version":  true, // Bedrock/Vertex body copies of the headers
	"anthropic_beta":     true,
}

// known are the top-level fields DecodeRequest maps to the hub.
var known = map[string]bool{
	"model": true, "messages": true, "system": true, "max_tokens": true, "metadata": true,
	"stop_sequences": true, "stream": true, "temperature": true, "top_p": true, "top_k": true,
	"tools": true, "tool_choice": true, "thinking": true, "output_config": true, "output_format": true,
}

func invalid(param, format string, args ...any) *llm.Error {
	e := llm.Errorf(llm.KindInvalidRequest, format, args...)
	e.Param = param
	return e
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// jsonKind is the first byte of a JSON value, for type checks.
func jsonKind(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func typeName(raw json.RawMessage) string {
	switch jsonKind(raw) {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "missing"
	}
	return "a number"
}

// field unmarshals raw into v, naming param on failure.
func field(raw json.RawMessage, param, want string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return invalid(param, "%s: expected %s, got %s", param, want, typeName(raw))
	}
	return nil
}

// splitObject validates body once and returns its top-level fields as slices
// of body (no copies, no reflection): Claude Code bodies are ~80 KB, and
// encoding/json would validate and scan them again for every level. A tools
// list or system prompt seen before is compared, not validated again.
func splitObject(body []byte) (map[string]json.RawMessage, error) {
	top := make(map[string]json.RawMessage, 16)
	if !llm.ScanObject(body, &knownValues, func(key string, val []byte, _ int) {
		top[key] = json.RawMessage(val[:len(val):len(val)])
	}) {
		var v any
		err := json.Unmarshal(body, &v) // for the position of the fault
		return nil, invalid("", "request body is not a JSON object: %v", err)
	}
	if !isObject(body) {
		return nil, invalid("", "request body is not a JSON object")
	}
	return top, nil
}

// isObject reports whether valid JSON body is an object.
func isObject(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// knownValues are the tools lists and system prompts splitObject saw.
var knownValues llm.KnownValues

// splitArray returns the elements of a validated JSON array as slices of raw.
func splitArray(raw json.RawMessage) []json.RawMessage {
	arr := gjson.Parse(unsafe.String(unsafe.SliceData(raw), len(raw)))
	var out []json.RawMessage
	arr.ForEach(func(_, v gjson.Result) bool {
		out = append(out, slice(raw, v))
		return true
	})
	return out
}

// slice is the bytes of v inside b, which v was parsed from.
func slice(b []byte, v gjson.Result) json.RawMessage {
	if v.Index > 0 && v.Index+len(v.Raw) <= len(b) {
		return json.RawMessage(b[v.Index : v.Index+len(v.Raw) : v.Index+len(v.Raw)])
	}
	return json.RawMessage(v.Raw)
}

// DecodeRequest parses a Messages (or count_tokens) body into a hub request.
func (Codec) DecodeRequest(body []byte) (*llm.Request, error) {
	top, err := splitObject(body)
	if err != nil {
		return nil, err
	}
	return decodeTop(top, keptMembers{tools: knownValues.Holds(top["tools"]), system: knownValues.Holds(top["system"])})
}

// DecodeScanned implements llm.ScannedDecoder: the members are those of a
// body ScanObject found valid, so they are not scanned again.
func (Codec) DecodeScanned(body []byte, members []llm.Member) (*llm.Request, error) {
	if !isObject(body) {
		return nil, invalid("", "request body is not a JSON object")
	}
	top := make(map[string]json.RawMessage, 16)
	var kept keptMembers
	for _, m := range members {
		top[m.Key] = json.RawMessage(m.Val[:len(m.Val):len(m.Val)])
		switch m.Key { // the last one counts, as in the map
		case "tools":
			kept.tools = m.Kept
		case "system":
			kept.system = m.Kept
		}
	}
	return decodeTop(top, kept)
}

// keptMembers says which of the members a cache keys by address are a
// known value's kept copy (llm.KnownValues): memory nothing writes.
type keptMembers struct{ tools, system bool }

// decodeTop decodes a request from its top-level members.
func decodeTop(top map[string]json.RawMessage, kept keptMembers) (*llm.Request, error) {
	req := &llm.Request{}

	// model
	if raw, ok := top["model"]; !ok || isNull(raw) {
		return nil, invalid("model", "model: field required")
	} else if err := field(raw, "model", "a string", &req.Model); err != nil {
		return nil, err
	}
	req.Model = NormalizeModel(req.Model)
	if req.Model == "" {
		return nil, invalid("model", "model: must not be empty")
	}

	// messages
	raw, ok := top["messages"]
	if !ok || isNull(raw) {
		return nil, invalid("messages", "messages: field required")
	}
	if jsonKind(raw) != '[' {
		return nil, invalid("messages", "messages: expected an array, got %s", typeName(raw))
	}
	msgs := splitArray(raw) // slices of the body, validated by splitObject
	req.Messages = make([]llm.Message, 0, len(msgs))
	for i, m := range msgs {
		msg, err := decodeMessage(m, i)
		if err != nil {
			return nil, err
		}
		req.Messages = append(req.Messages, msg)
	}

	// system
	if raw, ok := top["system"]; ok && !isNull(raw) {
		sys, err := decodeSystemKept(raw, kept.system)
		if err != nil {
			return nil, err
		}
		req.System = sys
	}

	if raw, ok := top["max_tokens"]; ok && !isNull(raw) {
		var f float64
		if jsonKind(raw) == '"' || json.Unmarshal(raw, &f) != nil || f != float64(int(f)) || f < 0 {
			return nil, invalid("max_tokens", "max_tokens: expected a non-negative integer, got %s", typeName(raw))
		}
		req.MaxTokens = int(f)
	}
	if raw, ok := top["stream"]; ok && !isNull(raw) {
		if err := field(raw, "stream", "a boolean", &req.Stream); err != nil {
			return nil, err
		}
	}
	if raw, ok := top["temperature"]; ok && !isNull(raw) {
		var f float64
		if err := field(raw, "temperature", "a number", &f); err != nil {
			return nil, err
		}
		req.Temperature = &f
	}
	if raw, ok := top["top_p"]; ok && !isNull(raw) {
		var f float64
		if err := field(raw, "top_p", "a number", &f); err != nil {
			return nil, err
		}
		req.TopP = &f
	}
	if raw, ok := top["top_k"]; ok && !isNull(raw) {
		var k int
		if err := field(raw, "top_k", "an integer", &k); err != nil {
			return nil, err
		}
		req.TopK = &k
	}
	if raw, ok := top["stop_sequences"]; ok && !isNull(raw) {
		if err := field(raw, "stop_sequences", "an array of strings", &req.Stop); err != nil {
			return nil, err
		}
	}
	if raw, ok := top["metadata"]; ok && !isNull(raw) {
		var md struct {
			UserID *string `json:"user_id"`
		}
		if err := field(raw, "metadata", "an object", &md); err != nil {
			return nil, err
		}
		if md.UserID != nil {
			req.User = *md.UserID
		}
	}

	// tools
	if raw, ok := top["tools"]; ok && !isNull(raw) {
		if jsonKind(raw) != '[' {
			return nil, invalid("tools", "tools: expected an array, got %s", typeName(raw))
		}
		tools, err := decodeTools(raw, kept.tools)
		if err != nil {
			return nil, err
		}
		req.Tools = tools
	}
	if raw, ok := top["tool_choice"]; ok && !isNull(raw) {
		var tc ToolChoiceParam
		if err := field(raw, "tool_choice", "an object", &tc); err != nil {
			return nil, err
		}
		choice := &llm.ToolChoice{Name: tc.Name, DisableParallel: tc.DisableParallelToolUse}
		switch tc.Type {
		case "auto":
			choice.Mode = llm.ToolChoiceAuto
		case "any":
			choice.Mode = llm.ToolChoiceAny
		case "none":
			choice.Mode = llm.ToolChoiceNone
		case "tool":
			choice.Mode = llm.ToolChoiceTool
			if tc.Name == "" {
				return nil, invalid("tool_choice.name", "tool_choice.name: required when tool_choice.type is \"tool\"")
			}
		default:
			return nil, invalid("tool_choice.type", "tool_choice.type: unknown value %q (want auto, any, tool or none)", tc.Type)
		}
		req.ToolChoice = choice
	}

	// thinking and effort
	if raw, ok := top["thinking"]; ok && !isNull(raw) {
		var th ThinkingParam
		if err := field(raw, "thinking", "an object", &th); err != nil {
			return nil, err
		}
		switch th.Type {
		case "enabled":
			req.Reasoning = &llm.Reasoning{Enabled: true, BudgetTokens: th.BudgetTokens}
		case "adaptive":
			req.Reasoning = &llm.Reasoning{Enabled: true, Adaptive: true}
		case "disabled":
			req.Reasoning = &llm.Reasoning{Enabled: false}
		default:
			return nil, invalid("thinking.type", "thinking.type: unknown value %q (want enabled, adaptive or disabled)", th.Type)
		}
	}
	if raw, ok := top["output_config"]; ok && !isNull(raw) {
		var oc OutputConfig
		if err := field(raw, "output_config", "an object", &oc); err != nil {
			return nil, err
		}
		if oc.Effort != "" {
			if req.Reasoning == nil {
				// Effort alone asks for thinking at that effort.
				req.Reasoning = &llm.Reasoning{Enabled: true}
			}
			req.Reasoning.Effort = oc.Effort
		}
		if oc.Format != nil {
			rf, err := decodeFormat(oc.Format, "output_config.format")
			if err != nil {
				return nil, err
			}
			req.ResponseFormat = rf
		}
	}
	if raw, ok := top["output_format"]; ok && !isNull(raw) && req.ResponseFormat == nil {
		var of OutputFormat
		if err := field(raw, "output_format", "an object", &of); err != nil {
			return nil, err
		}
		rf, err := decodeFormat(&of, "output_format")
		if err != nil {
			return nil, err
		}
		req.ResponseFormat = rf
	}

	for k, v := range top {
		if known[k] || consumed[k] {
			continue
		}
		if req.Extra == nil {
			req.Extra = make(map[string]json.RawMessage)
		}
		req.Extra[k] = v
	}
	return req, nil
}

func decodeFormat(of *OutputFormat, param string) (*llm.ResponseFormat, error) {
	switch of.Type {
	case "json_schema":
		if isNull(of.Schema) {
			return nil, invalid(param+".schema", "%s.schema: field required", param)
		}
		return &llm.ResponseFormat{Type: "json_schema", Schema: of.Schema}, nil
	}
	return nil, invalid(param+".type", "%s.type: unknown value %q (want json_schema)", param, of.Type)
}

// decodeSystem reads system: a string or an array of text blocks.
// decodeSystemKept is decodeSystem, with a kept copy's parts cached by
// its address: Claude Code sends the same system prompt on every call.
// The parts returned may be shared: they are not to be changed (their
// capacity is their length, so an append copies them).
func decodeSystemKept(raw json.RawMessage, kept bool) ([]llm.Part, error) {
	if !kept {
		return decodeSystem(raw)
	}
	if parts, ok := systemByCopy.load(raw); ok {
		return parts, nil
	}
	parts, err := decodeSystem(raw)
	if err != nil {
		return nil, err
	}
	parts = parts[:len(parts):len(parts)]
	systemByCopy.store(raw, parts)
	return parts, nil
}

// systemByCopy holds decoded system prompts by their kept copy, as
// toolListByCopy holds tools.
var systemByCopy = byCopy[[]llm.Part]{llm.Cache[*byte, keptValue[[]llm.Part]]{Max: 64}}

func decodeSystem(raw json.RawMessage) ([]llm.Part, error) {
	switch jsonKind(raw) {
	case '"':
		var s string
		if err := field(raw, "system", "a string", &s); err != nil {
			return nil, err
		}
		if s == "" {
			return nil, nil
		}
		return []llm.Part{{Type: llm.PartText, Text: s}}, nil
	case '[':
		var blocks []ContentBlock
		if err := field(raw, "system", "an array of text blocks", &blocks); err != nil {
			return nil, err
		}
		parts := make([]llm.Part, 0, len(blocks))
		for i, b := range blocks {
			if b.Type != "text" || b.Text == nil {
				return nil, invalid(fmt.Sprintf("system[%d].type", i), "system[%d]: expected a text block, got type %q", i, b.Type)
			}
			if strings.HasPrefix(*b.Text, BillingHeaderPrefix) {
				continue
			}
			parts = append(parts, llm.Part{Type: llm.PartText, Text: *b.Text, CacheControl: b.CacheControl})
		}
		return parts, nil
	}
	return nil, invalid("system", "system: expected a string or an array of text blocks, got %s", typeName(raw))
}

func decodeMessage(raw json.RawMessage, i int) (llm.Message, error) {
	param := fmt.Sprintf("messages[%d]", i)
	var m MessageParam
	if err := field(raw, param, "an object", &m); err != nil {
		return llm.Message{}, err
	}
	var msg llm.Message
	switch m.Role {
	case "user":
		msg.Role = llm.RoleUser
	case "assistant":
		msg.Role = llm.RoleAssistant
	case "system":
		msg.Role = llm.RoleSystem
	default:
		return msg, invalid(param+".role", "%s.role: unknown value %q (want user, assistant or system)", param, m.Role)
	}
	parts, err := decodeContent(m.Content, param+".content", true)
	if err != nil {
		return msg, err
	}
	msg.Content = parts
	return msg, nil
}

// decodeContent reads a content field: a string or an array of blocks. top
// says whether tool_use/tool_result/thinking blocks are allowed (not inside
// a tool_result).
func decodeContent(raw json.RawMessage, param string, top bool) ([]llm.Part, error) {
	switch jsonKind(raw) {
	case '"':
		var s string
		if err := field(raw, param, "a string", &s); err != nil {
			return nil, err
		}
		return []llm.Part{{Type: llm.PartText, Text: s}}, nil
	case '[':
		blocks := splitArray(raw) // slices of the body, validated by splitObject
		parts := make([]llm.Part, 0, len(blocks))
		for j, b := range blocks {
			p, err := decodeBlock(b, fmt.Sprintf("%s[%d]", param, j), top)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
		return parts, nil
	case 0, 'n':
		if top {
			return nil, invalid(param, "%s: field required", param)
		}
		return nil, nil
	}
	return nil, invalid(param, "%s: expected a string or an array of content blocks, got %s", param, typeName(raw))
}

func decodeBlock(raw json.RawMessage, param string, top bool) (llm.Part, error) {
	var b ContentBlock
	if err := field(raw, param, "a content block object", &b); err != nil {
		return llm.Part{}, err
	}
	p := llm.Part{CacheControl: b.CacheControl}
	switch b.Type {
	case "text":
		if b.Text == nil {
			return p, invalid(param+".text", "%s.text: field required", param)
		}
		p.Type, p.Text = llm.PartText, *b.Text
	case "image":
		src, err := decodeSource(b.Source, param+".source")
		if err != nil {
			return p, err
		}
		switch src.Type {
		case "base64":
			p.Type, p.MediaType, p.Data = llm.PartImage, src.MediaType, src.Data
		case "url":
			p.Type, p.URL = llm.PartImage, src.URL
		default:
			return p, invalid(param+".source.type", "%s.source.type: unsupported image source %q (want base64 or url)", param, src.Type)
		}
	case "document":
		src, err := decodeSource(b.Source, param+".source")
		if err != nil {
			return p, err
		}
		switch src.Type {
		case "base64":
			p.Type, p.MediaType, p.Data = llm.PartDocument, src.MediaType, src.Data
		case "url":
			p.Type, p.URL = llm.PartDocument, src.URL
		case "text":
			p.Type, p.Text = llm.PartText, documentText(b.Title, src.Data)
		case "content":
			inner, err := decodeContent(src.Content, param+".source.content", false)
			if err != nil {
				return p, err
			}
			var sb strings.Builder
			for _, ip := range inner {
				if ip.Type == llm.PartText {
					if sb.Len() > 0 {
						sb.WriteString("\n")
					}
					sb.WriteString(ip.Text)
				}
			}
			p.Type, p.Text = llm.PartText, documentText(b.Title, sb.String())
		default:
			return p, invalid(param+".source.type", "%s.source.type: unsupported document source %q", param, src.Type)
		}
	case "tool_use":
		if !top {
			return p, invalid(param+".type", "%s: tool_use is not allowed here", param)
		}
		p.Type, p.ToolCallID, p.Name = llm.PartToolCall, b.ID, b.Name
		p.Arguments = compactJSON(b.Input)
	case "tool_result":
		if !top {
			return p, invalid(param+".type", "%s: tool_result is not allowed here", param)
		}
		p.Type, p.ToolCallID, p.IsError = llm.PartToolResult, b.ToolUseID, b.IsError
		content, err := decodeContent(b.Content, param+".content", false)
		if err != nil {
			return p, err
		}
		p.Content = content
	case "thinking":
		p.Type = llm.PartThinking
		if b.Thinking != nil {
			p.Text = *b.Thinking
		}
		if b.Signature != nil {
			p.Signature = *b.Signature
		}
	case "redacted_thinking":
		p.Type, p.Redacted = llm.PartThinking, b.Data
	default:
		return p, invalid(param+".type", "%s.type: unsupported content block type %q", param, b.Type)
	}
	return p, nil
}

func documentText(title, text string) string {
	if title == "" {
		return text
	}
	return title + "\n\n" + text
}

func decodeSource(raw json.RawMessage, param string) (Source, error) {
	var s Source
	if isNull(raw) {
		return s, invalid(param, "%s: field required", param)
	}
	if err := field(raw, param, "an object", &s); err != nil {
		return s, err
	}
	return s, nil
}

// compactJSON returns raw without insignificant space; an absent input is "{}".
func compactJSON(raw json.RawMessage) string {
	if isNull(raw) {
		return "{}"
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}

// decodeTools decodes a tools array. Whole lists are cached by their bytes
// as well as each tool: Claude Code sends the same ~64 KB of tool
// definitions on every call. The list returned may be shared: it is not
// to be changed (its capacity is its length, so an append copies it).
func decodeTools(raw json.RawMessage, kept bool) ([]llm.Tool, error) {
	// A list the scan knew is its kept copy: looked up by address, not by
	// hashing its ~64 KB.
	if kept {
		if tools, ok := toolListByCopy.load(raw); ok {
			return tools, nil
		}
	}
	if v, ok := toolListCache.Load(unsafe.String(unsafe.SliceData(raw), len(raw))); ok {
		if kept {
			toolListByCopy.store(raw, v)
		}
		return v, nil
	}
	elems := splitArray(raw)
	tools := make([]llm.Tool, 0, len(elems))
	for i, t := range elems {
		tool, err := decodeTool(t, i)
		if err != nil {
			return nil, err
		}
		tools = append(tools, tool)
	}
	tools = tools[:len(tools):len(tools)]
	toolListCache.Store(string(raw), tools)
	if kept {
		toolListByCopy.store(raw, tools)
	}
	return tools, nil
}

// toolListByCopy holds decoded tools lists by their kept copy.
var toolListByCopy = byCopy[[]llm.Tool]{llm.Cache[*byte, keptValue[[]llm.Tool]]{Max: 64}}

// byCopy holds decoded values by the address of their bytes' kept copy
// (a KnownValues', this package's or the server's): each entry references
// the copy, so no other value's bytes can have that address while it is
// here.
type byCopy[T any] struct {
	llm.Cache[*byte, keptValue[T]]
}

type keptValue[T any] struct {
	raw json.RawMessage
	v   T
}

func (c *byCopy[T]) load(raw json.RawMessage) (T, bool) {
	if e, ok := c.Load(unsafe.SliceData(raw)); ok && len(e.raw) == len(raw) {
		return e.v, true
	}
	var zero T
	return zero, false
}

func (c *byCopy[T]) store(raw json.RawMessage, v T) {
	c.Store(unsafe.SliceData(raw), keptValue[T]{raw, v})
}

// toolListCache holds decoded tool lists by their bytes.
var toolListCache = llm.Cache[string, []llm.Tool]{Max: 256}

// Decoded tools are cached by their bytes: Claude Code sends the same ~64 KB
// of tool definitions on every call.
func decodeTool(raw json.RawMessage, i int) (llm.Tool, error) {
	// The key is looked up without a copy (Load keeps nothing).
	if v, ok := toolCache.Load(unsafe.String(unsafe.SliceData(raw), len(raw))); ok {
		return v, nil
	}
	tool, err := decodeToolUncached(raw, i)
	if err != nil {
		return tool, err
	}
	// The cached tool must not point into the request body.
	own := bytes.Clone(raw)
	tool.Raw, tool.Interned = own, true
	if len(tool.Parameters) > 0 {
		tool.Parameters = bytes.Clone(tool.Parameters)
	}
	toolCache.Store(string(own), tool)
	return tool, nil
}

// toolCache holds decoded tools by their bytes.
var toolCache = llm.Cache[string, llm.Tool]{Max: 2048}

func decodeToolUncached(raw json.RawMessage, i int) (llm.Tool, error) {
	param := fmt.Sprintf("tools[%d]", i)
	var t ToolParam
	if err := field(raw, param, "an object", &t); err != nil {
		return llm.Tool{}, err
	}
	tool := llm.Tool{Name: t.Name, Description: t.Description, Raw: raw}
	if t.Type != "" && t.Type != "custom" {
		tool.Server, tool.ServerType = true, t.Type
		return tool, nil
	}
	if t.Name == "" {
		return tool, invalid(param+".name", "%s.name: field required", param)
	}
	if !isNull(t.InputSchema) && jsonKind(t.InputSchema) != '{' {
		return tool, invalid(param+".input_schema", "%s.input_schema: expected an object, got %s", param, typeName(t.InputSchema))
	}
	tool.Parameters = t.InputSchema
	return tool, nil
}
