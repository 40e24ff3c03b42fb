package anthropic

import (
	"bytes"
	"fmt"
	json "github.com/goccy/go-json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// DefaultMaxTokens is max_tokens when neither the request nor the deployment says.
const DefaultMaxTokens = 4096

// minThinkingBudget is Anthropic's smallest budget_tokens.
const minThinkingBudget = 1024

// effortBudget maps a reasoning effort to a thinking budget.
func effortBudget(effort string) int {
	switch effort {
	case "minimal", "low":
		return 1024
	case "high":
		return 16384
	case "xhigh", "max":
		return 32768
	}
	return 4096 // medium, and effort unset
}

// silentExtra are other dialects' top-level fields that mean nothing to
// Anthropic and change nothing about the answer; EncodeRequest drops them
// without drop_params. The func says whether the given value is harmless.
var silentExtra = map[string]func(json.RawMessage) bool{
	"stream_options":        always, // we always stream usage from Anthropic
	"store":                 always, // OpenAI stored completions
	"metadata":              always, // OpenAI stored-completion tags (user_id is mapped from hub User)
	"prompt_cache_key":      always, // OpenAI cache routing hint
	"safety_identifier":     always,
	"service_tier":          always,
	"parallel_tool_calls":   always, // mapped through ToolChoice.DisableParallel when the decoder saw it
	"user":                  always,
	"max_completion_tokens": always,
	"reasoning_effort":      always,
	"n":                     rawEquals("1"),
	"logprobs":              rawEquals("false"),
	"frequency_penalty":     rawEquals("0"),
	"presence_penalty":      rawEquals("0"),
}

// anthropicExtra are Anthropic request fields the hub has no place for; they
// reach an Anthropic upstream unchanged.
var anthropicExtra = map[string]bool{"mcp_servers": true, "container": true}

func always(json.RawMessage) bool { return true }

func rawEquals(want string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		v := strings.TrimSpace(string(raw))
		return v == want || v == "null" || (want == "0" && (v == "0.0"))
	}
}

func unsupported(param string) *llm.Error {
	return invalid(param, "anthropic does not support parameter %s. To drop unsupported parameters set litellm_settings.drop_params: true", param)
}

// outRequest is the body sent to an Anthropic upstream.
type outRequest struct {
	Model         string            `json:"model"`
	MaxTokens     int               `json:"max_tokens"`
	System        []ContentBlock    `json:"system,omitempty"`
	Messages      []outMessage      `json:"messages"`
	Tools         []json.RawMessage `json:"tools,omitempty"`
	ToolChoice    *ToolChoiceParam  `json:"tool_choice,omitempty"`
	Thinking      *ThinkingParam    `json:"thinking,omitempty"`
	OutputConfig  *OutputConfig     `json:"output_config,omitempty"`
	Temperature   *float64          `json:"temperature,omitempty"`
	TopP          *float64          `json:"top_p,omitempty"`
	TopK          *int              `json:"top_k,omitempty"`
	StopSequences []string          `json:"stop_sequences,omitempty"`
	Metadata      *Metadata         `json:"metadata,omitempty"`
	Stream        bool              `json:"stream,omitempty"`
}

type outMessage struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// EncodeRequest builds an Anthropic Messages body from a hub request.
//
// Choices: leading system messages and req.System form the top-level system;
// a system message after the first turn becomes user text at its position
// (merged into the adjacent user turn), which keeps its place in the
// conversation without the mid-conversation-system beta. Tool messages become
// user turns of tool_result blocks, consecutive turns of one role are merged
// (Anthropic requires alternation), and thinking is resent only when signed.
func (Codec) EncodeRequest(req *llm.Request, opts llm.EncodeOptions) ([]byte, error) {
	out := outRequest{Model: opts.Model, Stream: req.Stream}
	if out.Model == "" {
		out.Model = req.Model
	}

	// max_tokens
	out.MaxTokens = req.MaxTokens
	if out.MaxTokens <= 0 {
		out.MaxTokens = opts.MaxOutputTokens
	}
	if out.MaxTokens <= 0 {
		out.MaxTokens = DefaultMaxTokens
	}
	if opts.MaxOutputTokens > 0 && out.MaxTokens > opts.MaxOutputTokens {
		out.MaxTokens = opts.MaxOutputTokens
	}

	for _, p := range req.System {
		if p.Type == llm.PartText && p.Text != "" {
			out.System = append(out.System, ContentBlock{Type: "text", Text: strPtr(p.Text), CacheControl: p.CacheControl})
		}
	}
	ids := idMapper{}
	leading := true
	for _, m := range req.Messages {
		role := "user"
		switch m.Role {
		case llm.RoleAssistant:
			role = "assistant"
		case llm.RoleSystem:
			if leading {
				for _, p := range m.Content {
					if p.Type == llm.PartText && p.Text != "" {
						out.System = append(out.System, ContentBlock{Type: "text", Text: strPtr(p.Text), CacheControl: p.CacheControl})
					}
				}
				continue
			}
		}
		leading = false
		blocks := encodeParts(m.Content, ids, m.Role == llm.RoleSystem)
		if len(blocks) == 0 {
			continue
		}
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			continue
		}
		out.Messages = append(out.Messages, outMessage{Role: role, Content: blocks})
	}
	if out.Messages == nil {
		out.Messages = []outMessage{}
	}
	for i := range out.Messages {
		if out.Messages[i].Role == "user" {
			resultsFirst(out.Messages[i].Content)
		}
	}

	for _, t := range req.Tools {
		raw, err := encodeTool(t)
		if err != nil {
			return nil, err
		}
		out.Tools = append(out.Tools, raw)
	}
	if tc := req.ToolChoice; tc != nil {
		c := &ToolChoiceParam{Type: string(tc.Mode), DisableParallelToolUse: tc.DisableParallel}
		switch tc.Mode {
		case llm.ToolChoiceTool:
			c.Name = tc.Name
		case llm.ToolChoiceNone:
			c.DisableParallelToolUse = false
		case llm.ToolChoiceAuto, llm.ToolChoiceAny:
		default:
			c.Type = "auto"
		}
		out.ToolChoice = c
	}

	if r := req.Reasoning; r != nil {
		switch {
		case !r.Enabled:
			out.Thinking = &ThinkingParam{Type: "disabled"}
		case r.Adaptive:
			out.Thinking = &ThinkingParam{Type: "adaptive"}
			if r.Effort != "" {
				out.OutputConfig = &OutputConfig{Effort: r.Effort}
			}
		default:
			budget := r.BudgetTokens
			if budget <= 0 {
				budget = effortBudget(r.Effort)
			}
			budget = max(budget, minThinkingBudget)
			if out.MaxTokens <= budget {
				// max_tokens covers thinking and answer: make room for both.
				want := budget + out.MaxTokens
				if opts.MaxOutputTokens > 0 && want > opts.MaxOutputTokens {
					want = opts.MaxOutputTokens
				}
				out.MaxTokens = want
				if budget >= out.MaxTokens {
					budget = out.MaxTokens - 1
				}
			}
			if budget >= minThinkingBudget {
				out.Thinking = &ThinkingParam{Type: "enabled", BudgetTokens: budget}
			}
			// else: no room to think within the deployment's output limit.
		}
	}
	if rf := req.ResponseFormat; rf != nil {
		switch {
		case rf.Type == "json_schema" && !isNull(rf.Schema):
			if out.OutputConfig == nil {
				out.OutputConfig = &OutputConfig{}
			}
			out.OutputConfig.Format = &OutputFormat{Type: "json_schema", Schema: rf.Schema}
		case opts.DropParams:
		default:
			return nil, unsupported("response_format")
		}
	}

	out.Temperature, out.TopP, out.TopK = req.Temperature, req.TopP, req.TopK
	out.StopSequences = req.Stop
	if req.User != "" {
		out.Metadata = &Metadata{UserID: req.User}
	}
	if req.Seed != nil && !opts.DropParams {
		return nil, unsupported("seed")
	}

	extra := map[string]json.RawMessage{}
	for k, v := range req.Extra {
		if f, ok := silentExtra[k]; ok && f(v) {
			continue
		}
		if anthropicExtra[k] {
			extra[k] = v
			continue
		}
		if !opts.DropParams {
			return nil, unsupported(k)
		}
	}
	for k, v := range opts.Params {
		extra[k] = v
	}

	body, err := json.Marshal(out)
	if err != nil {
		return nil, llm.AsError(fmt.Errorf("encode anthropic request: %w", err))
	}
	if len(extra) == 0 {
		return body, nil
	}
	return mergeTop(body, extra)
}

// mergeTop sets extra's keys at the top level of the JSON object body.
func mergeTop(body []byte, extra map[string]json.RawMessage) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, llm.AsError(fmt.Errorf("merge params: %w", err))
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !json.Valid(extra[k]) {
			return nil, invalid(k, "parameter %s is not valid JSON", k)
		}
		m[k] = extra[k]
	}
	return json.Marshal(m)
}

// idMapper makes tool ids acceptable to Anthropic (^[a-zA-Z0-9_-]+$),
// consistently for a call and its result.
type idMapper map[string]string

func (ids idMapper) get(id string) string {
	if v, ok := ids[id]; ok {
		return v
	}
	v := sanitizeID(id)
	if v == "" {
		v = NewToolUseID()
	}
	ids[id] = v
	return v
}

func sanitizeID(id string) string {
	ok := true
	for i := 0; i < len(id); i++ {
		if !isIDByte(id[i]) {
			ok = false
			break
		}
	}
	if ok {
		return id
	}
	b := []byte(id)
	for i := range b {
		if !isIDByte(b[i]) {
			b[i] = '_'
		}
	}
	return string(b)
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func encodeParts(parts []llm.Part, ids idMapper, fromSystem bool) []ContentBlock {
	blocks := make([]ContentBlock, 0, len(parts))
	for _, p := range parts {
		var b ContentBlock
		switch p.Type {
		case llm.PartText:
			if p.Text == "" {
				continue // Anthropic rejects empty text blocks
			}
			b = ContentBlock{Type: "text", Text: strPtr(p.Text)}
		case llm.PartImage, llm.PartDocument:
			b = ContentBlock{Type: "image", Source: encodeSource(p)}
			if p.Type == llm.PartDocument {
				b.Type = "document"
			}
		case llm.PartToolCall:
			if fromSystem {
				continue
			}
			b = ContentBlock{Type: "tool_use", ID: ids.get(p.ToolCallID), Name: p.Name, Input: toolInput(p.Arguments)}
		case llm.PartToolResult:
			b = ContentBlock{Type: "tool_result", ToolUseID: ids.get(p.ToolCallID), IsError: p.IsError, Content: encodeResultContent(p.Content)}
		case llm.PartThinking:
			switch {
			case p.Redacted != "":
				b = ContentBlock{Type: "redacted_thinking", Data: p.Redacted}
			case p.Signature != "":
				b = ContentBlock{Type: "thinking", Thinking: strPtr(p.Text), Signature: strPtr(p.Signature)}
			default:
				continue // unsigned thinking is not ours to resend
			}
		default:
			continue
		}
		b.CacheControl = p.CacheControl
		blocks = append(blocks, b)
	}
	return blocks
}

// resultsFirst moves tool_result blocks to the front of a user turn, keeping
// their order: Anthropic requires them before any other content.
func resultsFirst(blocks []ContentBlock) {
	sort.SliceStable(blocks, func(i, j int) bool {
		return blocks[i].Type == "tool_result" && blocks[j].Type != "tool_result"
	})
}

func encodeSource(p llm.Part) json.RawMessage {
	var s Source
	switch {
	case p.Data != "":
		s = Source{Type: "base64", MediaType: p.MediaType, Data: p.Data}
	case strings.HasPrefix(p.URL, "data:"):
		// data:<media type>;base64,<data>
		meta, data, _ := strings.Cut(strings.TrimPrefix(p.URL, "data:"), ",")
		mt, _, _ := strings.Cut(meta, ";")
		s = Source{Type: "base64", MediaType: mt, Data: data}
	default:
		s = Source{Type: "url", URL: p.URL}
	}
	if s.Type == "base64" && s.MediaType == "" {
		if p.Type == llm.PartDocument {
			s.MediaType = "application/pdf"
		} else {
			s.MediaType = "image/png"
		}
	}
	raw, _ := json.Marshal(s)
	return raw
}

// encodeResultContent renders a tool result's content: a plain string for a
// single uncached text, else an array of text and image blocks.
func encodeResultContent(parts []llm.Part) json.RawMessage {
	if len(parts) == 0 {
		return nil
	}
	if len(parts) == 1 && parts[0].Type == llm.PartText && len(parts[0].CacheControl) == 0 {
		raw, _ := json.Marshal(parts[0].Text)
		return raw
	}
	blocks := make([]ContentBlock, 0, len(parts))
	for _, p := range parts {
		switch p.Type {
		case llm.PartText:
			if p.Text == "" {
				continue
			}
			blocks = append(blocks, ContentBlock{Type: "text", Text: strPtr(p.Text), CacheControl: p.CacheControl})
		case llm.PartImage:
			blocks = append(blocks, ContentBlock{Type: "image", Source: encodeSource(p), CacheControl: p.CacheControl})
		case llm.PartDocument:
			blocks = append(blocks, ContentBlock{Type: "document", Source: encodeSource(p), CacheControl: p.CacheControl})
		}
	}
	if len(blocks) == 0 {
		return nil
	}
	raw, _ := json.Marshal(blocks)
	return raw
}

func encodeTool(t llm.Tool) (json.RawMessage, error) {
	if t.Server {
		// A vendor tool: resend what the client sent when it is in Anthropic form.
		if len(t.Raw) > 0 {
			var probe struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(t.Raw, &probe) == nil && probe.Type == t.ServerType {
				return t.Raw, nil
			}
		}
		return json.Marshal(struct {
			Type string `json:"type"`
			Name string `json:"name"`
		}{t.ServerType, t.Name})
	}
	schema := t.Parameters
	if isNull(schema) {
		schema = json.RawMessage(`{"type":"object"}`)
	}
	return json.Marshal(ToolParam{Name: t.Name, Description: t.Description, InputSchema: schema})
}

// hubStop maps an Anthropic stop_reason to the hub.
func hubStop(s string) llm.StopReason {
	switch s {
	case "max_tokens", "model_context_window_exceeded":
		return llm.StopLength
	case "tool_use":
		return llm.StopToolUse
	case "stop_sequence":
		return llm.StopSequence
	case "refusal":
		return llm.StopRefusal
	}
	return llm.StopEnd // end_turn, pause_turn, and anything new
}

// DecodeResponse reads a complete Anthropic Message. Server-tool blocks
// (server_tool_use, web_search_tool_result, …) have no hub form and are
// skipped; the text that cites them is kept.
func (Codec) DecodeResponse(body []byte) (*llm.Response, error) {
	var msg Message
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "upstream returned an invalid message", Err: err,
			Body: body, BodyDialect: llm.DialectAnthropic}
	}
	if msg.Type == "error" {
		return nil, Codec{}.DecodeError(http.StatusOK, nil, body)
	}
	resp := &llm.Response{ID: msg.ID, Model: msg.Model, Usage: llm.Usage{
		InputTokens:      msg.Usage.InputTokens,
		OutputTokens:     msg.Usage.OutputTokens,
		CacheReadTokens:  msg.Usage.CacheReadInputTokens,
		CacheWriteTokens: msg.Usage.CacheCreationInputTokens,
	}}
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			if b.Text != nil {
				resp.Content = append(resp.Content, llm.Part{Type: llm.PartText, Text: *b.Text})
			}
		case "thinking":
			p := llm.Part{Type: llm.PartThinking}
			if b.Thinking != nil {
				p.Text = *b.Thinking
			}
			if b.Signature != nil {
				p.Signature = *b.Signature
			}
			resp.Content = append(resp.Content, p)
		case "redacted_thinking":
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartThinking, Redacted: b.Data})
		case "tool_use":
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartToolCall, ToolCallID: b.ID, Name: b.Name, Arguments: compactJSON(b.Input)})
		}
	}
	if msg.StopReason != nil {
		resp.StopReason = hubStop(*msg.StopReason)
	} else {
		resp.StopReason = llm.StopEnd
	}
	if msg.StopSequence != nil {
		resp.StopSequence = *msg.StopSequence
	}
	return resp, nil
}

// kindOfType maps an Anthropic error type to a kind, for in-band errors and
// unusual statuses.
func kindOfType(t string) (llm.ErrorKind, bool) {
	switch t {
	case "invalid_request_error", "request_too_large":
		return llm.KindInvalidRequest, true
	case "authentication_error", "permission_error", "billing_error":
		return llm.KindUpstreamAuth, true
	case "not_found_error":
		return llm.KindNotFound, true
	case "rate_limit_error":
		return llm.KindRateLimit, true
	case "overloaded_error":
		return llm.KindOverloaded, true
	case "timeout_error":
		return llm.KindTimeout, true
	case "api_error":
		return llm.KindUpstream, true
	}
	return llm.KindUpstream, false
}

// isContextWindow reports whether an invalid-request message is about the prompt's length.
func isContextWindow(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "prompt is too long") || strings.Contains(m, "exceed context limit") ||
		strings.Contains(m, "context window")
}

// DecodeError classifies a non-2xx reply from an Anthropic upstream. The body
// is kept so an Anthropic client gets it unchanged.
func (Codec) DecodeError(status int, header http.Header, body []byte) *llm.Error {
	var eb ErrorBody
	_ = json.Unmarshal(body, &eb)
	msg := eb.Error.Message
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 512 || !isPrintable(msg) {
			msg = ""
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("upstream returned %d %s", status, http.StatusText(status))
	}
	e := &llm.Error{Message: msg, Status: status, Body: body, BodyDialect: llm.DialectAnthropic}
	switch {
	case status == http.StatusBadRequest:
		e.Kind = llm.KindInvalidRequest
		if isContextWindow(msg) {
			e.Kind = llm.KindContextWindow
		}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = llm.KindUpstreamAuth
	case status == http.StatusNotFound:
		e.Kind = llm.KindNotFound
	case status == http.StatusRequestTimeout:
		e.Kind = llm.KindTimeout
	case status == http.StatusRequestEntityTooLarge:
		e.Kind = llm.KindContextWindow
	case status == http.StatusTooManyRequests:
		e.Kind = llm.KindRateLimit
	case status == 529:
		e.Kind = llm.KindOverloaded
	case status >= 500:
		e.Kind = llm.KindUpstream
	default:
		k, _ := kindOfType(eb.Error.Type)
		if k == llm.KindInvalidRequest && isContextWindow(msg) {
			k = llm.KindContextWindow
		}
		e.Kind = k
	}
	e.RetryAfter = retryAfter(header)
	return e
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// retryAfter reads retry-after-ms, then retry-after (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// trimBody is a compact copy of an upstream body for an error, at most n bytes.
func trimBody(b []byte, n int) []byte {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[:n]
	}
	return append([]byte(nil), b...)
}
