package openai

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	json "github.com/goccy/go-json"
	"hash/maphash"
	"slices"
	"strings"
	"unsafe"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// maxUserLen is OpenAI's limit on the user field.
const maxUserLen = 64

// isOpenAIModel guesses whether the upstream is the OpenAI API itself (as
// opposed to vLLM, llama.cpp, LM Studio, SGLang) from the model name. The
// encoder uses it for the two places where they differ: max_completion_tokens
// (required by OpenAI's reasoning models, accepted by all of OpenAI's chat
// models) and top_k (rejected by OpenAI, honoured by the others).
func isOpenAIModel(model string) bool {
	if strings.HasPrefix(model, "gpt-oss") {
		return false // an open-weights model, served by vLLM and friends
	}
	for _, p := range []string{"gpt-", "o1", "o3", "o4", "chatgpt-", "ft:gpt-", "codex-"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

// EncodeRequest builds a Chat Completions body for an OpenAI-compatible upstream.
func (Codec) EncodeRequest(req *llm.Request, opts llm.EncodeOptions) ([]byte, error) {
	model := opts.Model
	if model == "" {
		model = req.Model
	}
	official := isOpenAIModel(model)
	out := ChatRequest{ // the model and messages are written apart (below)
		Temperature: req.Temperature,
		TopP:        req.TopP,
		Seed:        req.Seed,
		Stop:        req.Stop,
		Stream:      req.Stream,
	}
	msgs, err := encodeMessages(req, opts)
	if err != nil {
		return nil, err
	}

	// The tools are encoded apart (cached: clients send the same list on
	// every call) and spliced in after the messages, where the field is.
	toolsJSON, err := encodeToolsJSON(req.Tools)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Message: "request cannot be encoded", Err: err}
	}
	if toolsJSON != nil && req.ToolChoice != nil {
		out.ToolChoice = encodeToolChoice(req.ToolChoice, req.Tools)
		if req.ToolChoice.DisableParallel {
			f := false
			out.ParallelToolCalls = &f
		}
	}

	maxTokens := req.MaxTokens
	if opts.MaxOutputTokens > 0 && maxTokens > opts.MaxOutputTokens {
		maxTokens = opts.MaxOutputTokens
	}
	if official {
		out.MaxCompletionTokens = maxTokens
	} else {
		out.MaxTokens = maxTokens
	}

	if req.TopK != nil {
		switch {
		case !official:
			out.TopK = req.TopK
		case !opts.DropParams:
			return nil, &llm.Error{Kind: llm.KindInvalidRequest, Param: "top_k",
				Message: fmt.Sprintf("model %s does not support parameter top_k; set drop_params: true to drop it", model)}
		}
	}

	out.User = req.User
	if len(out.User) > maxUserLen {
		sum := sha256.Sum256([]byte(out.User))
		out.User = hex.EncodeToString(sum[:])
	}
	out.ReasoningEffort = reasoningEffort(req.Reasoning)
	if rf := req.ResponseFormat; rf != nil {
		out.ResponseFormat = encodeResponseFormat(rf)
	}

	if req.Stream {
		so := []byte(`{}`)
		if raw, ok := req.Extra["stream_options"]; ok && gjson.ValidBytes(raw) && gjson.ParseBytes(raw).IsObject() {
			so = raw
		}
		// Usage is what spend tracking lives on: always ask for it.
		so, err = sjson.SetBytes(bytes.Clone(so), "include_usage", true)
		if err != nil {
			return nil, &llm.Error{Kind: llm.KindInternal, Message: "internal error", Err: err}
		}
		out.StreamOptions = so
	}

	// The body is put together from its parts: the model, the messages,
	// the tools, then the other members (the struct without the first two,
	// then the client's extra fields and the deployment's params), so that
	// no part is scanned to find where the next goes.
	msgsJSON, err := marshal(msgs)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Message: "request cannot be encoded", Err: err}
	}
	rest, err := marshal(&out) // model "" and messages null: the head cut below
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Message: "request cannot be encoded", Err: err}
	}
	if !bytes.HasPrefix(rest, emptyHead) || len(rest) == len(emptyHead) {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "internal error", Err: fmt.Errorf("unexpected request encoding %.40q", rest)}
	}
	if rest = rest[len(emptyHead):]; rest[0] == ',' { // ,"member":...} or }
		rest[0] = '{'
	} else {
		rest = []byte("{}")
	}
	extra := req.Extra
	if !req.Stream && extra["stream_options"] != nil {
		// stream_options is an error on a non-streamed request.
		extra = without(extra, "stream_options")
	}
	if rest, err = splice(rest, toolsJSON != nil, extra, opts.Params); err != nil {
		return nil, err
	}
	modelJSON := jsonString(model)
	const mKey, msgsKey, toolsKey = `{"model":`, `,"messages":`, `,"tools":`
	body := llm.GetBody(len(mKey) + len(modelJSON) + len(msgsKey) + len(msgsJSON) + len(toolsKey) + len(toolsJSON) + len(rest))
	body = append(body, mKey...)
	body = append(body, modelJSON...)
	body = append(body, msgsKey...)
	body = append(body, msgsJSON...)
	if toolsJSON != nil {
		body = append(body, toolsKey...)
		body = append(body, toolsJSON...)
	}
	if len(rest) > 2 {
		body = append(body, ',')
	}
	return append(body, rest[1:]...), nil
}

// emptyHead is how a ChatRequest with no model and no messages begins: the
// two members EncodeRequest writes itself.
var emptyHead = []byte(`{"model":"","messages":null`)

// without copies m without key.
func without(m map[string]json.RawMessage, key string) map[string]json.RawMessage {
	c := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		if k != key {
			c[k] = v
		}
	}
	return c
}

// splice appends the client's extra fields, then the deployment's params, to
// the object body; a field already present wins (the client over the
// deployment's defaults).
func splice(body []byte, hasTools bool, layers ...map[string]json.RawMessage) ([]byte, error) {
	n := 0
	for _, l := range layers {
		n += len(l)
	}
	if n == 0 {
		return body, nil
	}
	// The reply's shape is ours to decide: a deployment param or a stray extra
	// field must not turn streaming on or replace the conversation.
	present := map[string]bool{"model": true, "messages": true, "stream": true, "stream_options": true, "tools": hasTools}
	gjson.ParseBytes(body).ForEach(func(k, _ gjson.Result) bool {
		present[k.Str] = true
		return true
	})
	var buf bytes.Buffer
	buf.Grow(len(body) + 256)
	buf.Write(body[:len(body)-1])
	for li, l := range layers {
		keys := make([]string, 0, len(l))
		for k := range l {
			if !present[k] {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := bytes.TrimSpace(l[k])
			if !json.Valid(v) {
				if li == len(layers)-1 {
					return nil, &llm.Error{Kind: llm.KindInternal, Message: "internal error",
						Err: fmt.Errorf("deployment parameter %q is not valid JSON", k)}
				}
				return nil, &llm.Error{Kind: llm.KindInvalidRequest, Param: k, Message: fmt.Sprintf("invalid value for '%s'", k)}
			}
			present[k] = true
			kq, _ := json.Marshal(k)
			if buf.Len() > 1 { // not right after the opening brace of {}
				buf.WriteByte(',')
			}
			buf.Write(kq)
			buf.WriteByte(':')
			buf.Write(v)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// reasoningEffort maps the hub's reasoning request to reasoning_effort.
func reasoningEffort(r *llm.Reasoning) string {
	if r == nil {
		return ""
	}
	if !r.Enabled {
		if r.Effort == "none" {
			return "none" // an OpenAI client's own word, given back
		}
		return ""
	}
	switch r.Effort {
	case "":
	case "max":
		return "high"
	default:
		return r.Effort
	}
	switch {
	case r.BudgetTokens <= 0:
		return "medium"
	case r.BudgetTokens < 2048:
		return "low"
	case r.BudgetTokens < 16384:
		return "medium"
	}
	return "high"
}

func encodeResponseFormat(rf *llm.ResponseFormat) *ResponseFormat {
	switch rf.Type {
	case "json_object":
		return &ResponseFormat{Type: "json_object"}
	case "json_schema":
		name := rf.Name
		if name == "" {
			name = "response"
		}
		js := &JSONSchema{Name: name, Schema: llm.CleanSchema(rf.Schema, llm.DropForOpenAI)}
		if rf.Strict {
			t := true
			js.Strict = &t
		}
		return &ResponseFormat{Type: "json_schema", JSONSchema: js}
	}
	return nil
}

var emptyObjectSchema = json.RawMessage(`{"type":"object","properties":{}}`)

func encodeTools(tools []llm.Tool) []ChatTool {
	var out []ChatTool
	for _, t := range tools {
		if t.Server {
			continue // vendor-side tools are Anthropic's; they never reach this upstream
		}
		params := llm.CleanSchema(t.Parameters, llm.DropForOpenAI)
		if len(params) == 0 {
			params = emptyObjectSchema
		}
		fd := FunctionDef{Name: t.Name, Description: t.Description, Parameters: params}
		if len(t.Raw) > 0 && gjson.GetBytes(t.Raw, "type").Str == "function" {
			if s := gjson.GetBytes(t.Raw, "function.strict"); s.IsBool() {
				b := s.Bool()
				fd.Strict = &b
			}
		}
		out = append(out, ChatTool{Type: "function", Function: fd})
	}
	return out
}

// encodeToolsJSON is the tools field's value, nil when no tool reaches the
// upstream. Lists whose tools all have their client's raw bytes are cached
// by those bytes (the encoding follows from them): Claude Code sends the
// same ~64 KB of tools on every call. A list of interned tools (a
// decoder's cached copies, which nothing writes) is found by the addresses
// of its tools' bytes, without reading them.
func encodeToolsJSON(tools []llm.Tool) ([]byte, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	interned := true
	for _, t := range tools {
		interned = interned && t.Interned
	}
	var ak toolsAddr
	if interned {
		ak = toolsAddr{unsafe.SliceData(tools[0].Raw), unsafe.SliceData(tools[len(tools)-1].Raw), len(tools)}
		if e, ok := toolsByAddr.Load(ak); ok && e.sameAddrs(tools) {
			return e.json, nil
		}
	}
	var h maphash.Hash
	h.SetSeed(toolsSeed)
	for _, t := range tools {
		if len(t.Raw) == 0 {
			return marshalTools(tools)
		}
		h.Write(t.Raw)
		h.WriteByte(0)
		h.WriteString(t.Name)
		h.WriteByte(0)
	}
	key := h.Sum64()
	e, ok := toolsCache.Load(key)
	if !ok || !e.matches(tools) {
		b, err := marshalTools(tools)
		if err != nil {
			return nil, err
		}
		e = &toolsEntry{json: b}
		for _, t := range tools {
			e.raws = append(e.raws, bytes.Clone(t.Raw))
			e.names = append(e.names, t.Name)
		}
		toolsCache.Store(key, e)
	}
	if interned {
		// The interned bytes are kept as they are: nothing writes them.
		a := &toolsEntry{json: e.json, names: e.names}
		for _, t := range tools {
			a.raws = append(a.raws, t.Raw)
		}
		toolsByAddr.Store(ak, a)
	}
	return e.json, nil
}

// marshalTools encodes the tools that reach the upstream; nil when none.
func marshalTools(tools []llm.Tool) ([]byte, error) {
	chat := encodeTools(tools)
	if len(chat) == 0 {
		return nil, nil
	}
	return marshal(chat)
}

// toolsEntry is one cached tool list: its tools' raw bytes and names (a
// hit is checked against them) and its JSON.
type toolsEntry struct {
	raws  [][]byte
	names []string
	json  []byte
}

func (e *toolsEntry) matches(tools []llm.Tool) bool {
	if len(e.raws) != len(tools) {
		return false
	}
	for i, t := range tools {
		if t.Name != e.names[i] || !bytes.Equal(t.Raw, e.raws[i]) {
			return false
		}
	}
	return true
}

// sameAddrs reports whether tools are e's interned tools: the same names,
// and raw bytes at the same addresses with the same lengths.
func (e *toolsEntry) sameAddrs(tools []llm.Tool) bool {
	if len(e.raws) != len(tools) {
		return false
	}
	for i, t := range tools {
		if !t.Interned || t.Name != e.names[i] || len(t.Raw) != len(e.raws[i]) || unsafe.SliceData(t.Raw) != unsafe.SliceData(e.raws[i]) {
			return false
		}
	}
	return true
}

// toolsAddr keys a list of interned tools by where its first and last
// tools' bytes are, and its length.
type toolsAddr struct {
	first, last *byte
	n           int
}

var (
	// toolsCache holds encoded tool lists by the hash of their raw bytes.
	toolsCache = llm.Cache[uint64, *toolsEntry]{Max: 256}
	toolsSeed  = maphash.MakeSeed()
	// toolsByAddr holds encoded lists of interned tools by address: its
	// entries keep the tools' bytes, so no other bytes can be at them.
	toolsByAddr = llm.Cache[toolsAddr, *toolsEntry]{Max: 256}
)

func encodeToolChoice(tc *llm.ToolChoice, tools []llm.Tool) any {
	switch tc.Mode {
	case llm.ToolChoiceNone:
		return "none"
	case llm.ToolChoiceAny:
		return "required"
	case llm.ToolChoiceTool:
		for _, t := range tools {
			if !t.Server && t.Name == tc.Name {
				var c ToolChoiceFunction
				c.Type = "function"
				c.Function.Name = tc.Name
				return c
			}
		}
		return "auto" // the named tool was not sent (a dropped server tool)
	}
	return "auto"
}

// textOf joins the text parts of parts with sep.
func textOf(parts []llm.Part, sep string) string {
	var b strings.Builder
	first := true
	for _, p := range parts {
		if p.Type != llm.PartText {
			continue
		}
		if !first {
			b.WriteString(sep)
		}
		b.WriteString(p.Text)
		first = false
	}
	return b.String()
}

func jsonString(s string) json.RawMessage {
	b, _ := marshal(s)
	return b
}

var jsonNull = json.RawMessage("null")

func encodeMessages(req *llm.Request, opts llm.EncodeOptions) ([]ChatMessage, error) {
	out := make([]ChatMessage, 0, len(req.Messages)+1)
	if len(req.System) > 0 {
		out = append(out, ChatMessage{Role: "system", Content: jsonString(textOf(req.System, "\n\n"))})
	}
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleSystem:
			out = append(out, ChatMessage{Role: "system", Content: jsonString(textOf(m.Content, "\n\n")), Name: m.Name})
		case llm.RoleAssistant:
			out = append(out, encodeAssistant(m))
		case llm.RoleUser, llm.RoleTool:
			var err error
			if out, err = appendUserTurn(out, m, i, opts); err != nil {
				return nil, err
			}
		default:
			return nil, &llm.Error{Kind: llm.KindInvalidRequest, Param: fmt.Sprintf("messages[%d].role", i),
				Message: fmt.Sprintf("unsupported role %q", m.Role)}
		}
	}
	return out, nil
}

func encodeAssistant(m llm.Message) ChatMessage {
	cm := ChatMessage{Role: "assistant", Name: m.Name}
	hasText := false
	for _, p := range m.Content {
		switch p.Type {
		case llm.PartText:
			hasText = true
		case llm.PartToolCall:
			args := p.Arguments
			if args == "" {
				args = "{}"
			}
			cm.ToolCalls = append(cm.ToolCalls, ToolCall{ID: p.ToolCallID, Type: "function",
				Function: FunctionCall{Name: p.Name, Arguments: args}})
		}
		// Thinking is never resent to an OpenAI-compatible upstream.
	}
	switch {
	case hasText:
		cm.Content = jsonString(textOf(m.Content, "\n\n"))
	case len(cm.ToolCalls) > 0:
		cm.Content = jsonNull
	default:
		cm.Content = jsonString("")
	}
	return cm
}

// appendUserTurn writes a user (or tool) turn: one tool message per tool
// result, in order, then the rest of the turn as a user message. Images in
// tool results (tool messages take only text) lead that user message.
func appendUserTurn(out []ChatMessage, m llm.Message, i int, opts llm.EncodeOptions) ([]ChatMessage, error) {
	var own, resultImages []llm.Part
	hadResults := false
	for _, p := range m.Content {
		if p.Type != llm.PartToolResult {
			own = append(own, p)
			continue
		}
		hadResults = true
		text := textOf(p.Content, "\n")
		if p.IsError && !looksLikeError(text) {
			text = "Error: " + text
		}
		out = append(out, ChatMessage{Role: "tool", ToolCallID: p.ToolCallID, Content: jsonString(text)})
		for _, c := range p.Content {
			if c.Type == llm.PartImage {
				resultImages = append(resultImages, c)
			}
		}
	}
	if m.Role == llm.RoleTool && !hadResults && len(own) > 0 {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Param: fmt.Sprintf("messages[%d]", i),
			Message: "tool message without a tool result"}
	}
	content, err := userContent(append(resultImages, own...), i, opts)
	if err != nil {
		return nil, err
	}
	if content == nil {
		if hadResults {
			return out, nil
		}
		content = jsonString("")
	}
	return append(out, ChatMessage{Role: "user", Content: content, Name: m.Name}), nil
}

func looksLikeError(s string) bool {
	t := strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(t, "error") || strings.HasPrefix(t, "<tool_use_error>") || strings.HasPrefix(t, "exception")
}

// userContent renders a user turn's parts: a string for a single text, an
// array of parts otherwise, nil when there is nothing to send.
func userContent(parts []llm.Part, i int, opts llm.EncodeOptions) (json.RawMessage, error) {
	var wire []ContentPart
	onlyText := true
	for _, p := range parts {
		switch p.Type {
		case llm.PartText:
			wire = append(wire, ContentPart{Type: "text", Text: p.Text})
		case llm.PartImage:
			u := p.URL
			if p.Data != "" {
				u = "data:" + p.MediaType + ";base64," + p.Data
			}
			wire = append(wire, ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: u}})
			onlyText = false
		case llm.PartDocument:
			cp, ok := documentPart(p)
			if !ok {
				if opts.DropParams {
					continue
				}
				return nil, &llm.Error{Kind: llm.KindInvalidRequest, Param: fmt.Sprintf("messages[%d].content", i),
					Message: "document URLs are not supported by OpenAI-compatible upstreams; set drop_params: true to drop them"}
			}
			wire = append(wire, cp)
			onlyText = onlyText && cp.Type == "text"
		}
		// Thinking and tool calls have no place in a user turn; dropped.
	}
	if len(wire) == 0 {
		return nil, nil
	}
	if onlyText && len(wire) == 1 {
		return jsonString(wire[0].Text), nil
	}
	b, err := marshal(wire)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Message: "request cannot be encoded", Err: err}
	}
	return b, nil
}

// documentPart renders a document: plain text inline, other inline data as
// an OpenAI file part (PDF). A URL document has no OpenAI form.
func documentPart(p llm.Part) (ContentPart, bool) {
	if p.Data == "" {
		return ContentPart{}, false
	}
	if strings.HasPrefix(p.MediaType, "text/") {
		if dec, err := base64.StdEncoding.DecodeString(p.Data); err == nil {
			return ContentPart{Type: "text", Text: string(dec)}, true
		}
		return ContentPart{Type: "text", Text: p.Data}, true
	}
	media := p.MediaType
	if media == "" {
		media = "application/pdf"
	}
	return ContentPart{Type: "file", File: &File{FileData: "data:" + media + ";base64," + p.Data, Filename: "document.pdf"}}, true
}
