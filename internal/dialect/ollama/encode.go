package ollama

import (
	"bytes"
	"encoding/base64"
	json "github.com/goccy/go-json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// Codec is the Ollama native dialect as an upstream.
type Codec struct{}

var _ llm.UpstreamCodec = Codec{}

// optionKeys are Ollama's model options (docs/api.md "Generate request (With
// options)" and the Modelfile parameters). A deployment's litellm_params
// key of this name, or a client's extra field of this name, goes into
// "options".
var optionKeys = map[string]bool{
	"num_keep": true, "seed": true, "num_predict": true, "top_k": true, "top_p": true, "min_p": true,
	"typical_p": true, "repeat_last_n": true, "temperature": true, "repeat_penalty": true,
	"presence_penalty": true, "frequency_penalty": true, "mirostat": true, "mirostat_tau": true,
	"mirostat_eta": true, "penalize_newline": true, "stop": true, "numa": true, "num_ctx": true,
	"num_batch": true, "num_gpu": true, "main_gpu": true, "low_vram": true, "vocab_only": true,
	"use_mmap": true, "use_mlock": true, "num_thread": true, "tfs_z": true,
}

// ignoredExtra are client fields that have no Ollama counterpart but are
// harmless to drop even without drop_params: they change bookkeeping or
// transport, never the answer. Claude Code sends context_management and
// output_config on every request.
var ignoredExtra = map[string]bool{
	"stream_options": true, "user": true, "metadata": true, "store": true, "service_tier": true,
	"parallel_tool_calls": true, "context_management": true, "output_config": true,
	"reasoning_effort": true, "safety_identifier": true, "prompt_cache_key": true,
	"prompt_cache_retention": true, "anthropic_version": true, "anthropic_beta": true, "betas": true,
}

// EncodeRequest builds the /api/chat body.
//
// Choices a reader may not expect:
//   - "stream" is always written (Ollama streams when it is absent).
//   - Thinking parts of earlier assistant turns are never resent.
//   - Tool results become one role "tool" message each, in order, with
//     tool_name looked up from the call they answer.
//   - Tools are always sent, whatever the deployment's prefix (ollama/ or
//     ollama_chat/). tool_choice "none" omits them; Ollama cannot force a
//     tool, so "any" and "tool" are ignored.
//   - Reasoning: disabled sends think:false; enabled or adaptive sends no
//     "think" at all, because Ollama turns thinking on by itself for models
//     that can think and answers 400 to think:true for models that cannot
//     (Claude Code asks for adaptive thinking on every call). Effort levels
//     are not sent either: only gpt-oss style models accept a string. A
//     deployment's litellm_params "think" (true, false, "high", or null for
//     "omit") overrides all of this.
//   - litellm_params that are Ollama options (num_ctx, num_gpu, ...) fill
//     "options"; keep_alive and think go to the top level. They override
//     what a client sent as extra fields (options, num_ctx, keep_alive,
//     think), while the request's own sampling fields (temperature, top_p,
//     top_k, seed, stop, max tokens) override them, as in LiteLLM. Other
//     litellm_params are not Ollama's and are ignored.
//   - Client fields with no Ollama counterpart: harmless ones
//     (stream_options, user, metadata, n=1, context_management, ...) are
//     ignored; the rest are dropped with drop_params, else refused.
func (Codec) EncodeRequest(req *llm.Request, opts llm.EncodeOptions) ([]byte, error) {
	e := encoder{opts: opts, names: map[string]string{}}
	out := ChatRequest{Model: opts.Model, Stream: req.Stream, Messages: []ChatMessage{}}

	if sys := joinText(req.System, "\n\n"); sys != "" {
		out.Messages = append(out.Messages, ChatMessage{Role: "system", Content: sys})
	}
	for i := range req.Messages {
		if err := e.message(&req.Messages[i]); err != nil {
			return nil, err
		}
	}
	out.Messages = append(out.Messages, e.msgs...)

	if req.ToolChoice == nil || req.ToolChoice.Mode != llm.ToolChoiceNone {
		for _, t := range req.Tools {
			if t.Server {
				continue
			}
			params := llm.CleanSchema(t.Parameters, llm.DropForOllama)
			if len(bytes.TrimSpace(params)) == 0 || string(params) == "null" {
				params = json.RawMessage(`{"type":"object","properties":{}}`)
			}
			out.Tools = append(out.Tools, Tool{Type: "function",
				Function: ToolFunction{Name: t.Name, Description: t.Description, Parameters: params}})
		}
	}

	if rf := req.ResponseFormat; rf != nil {
		switch {
		case rf.Type == "json_schema" && len(rf.Schema) > 0:
			out.Format = llm.CleanSchema(rf.Schema, llm.DropForOllama)
		case rf.Type == "json_schema" || rf.Type == "json_object":
			out.Format = json.RawMessage(`"json"`)
		}
	}

	if r := req.Reasoning; r != nil && !r.Enabled {
		out.Think = json.RawMessage(`false`)
	}

	// Precedence: the client's extra fields, then the deployment's
	// litellm_params, then the request's own sampling fields.
	options := map[string]json.RawMessage{}
	if err := e.extra(req.Extra, &out, options); err != nil {
		return nil, err
	}
	for k, v := range opts.Params {
		switch {
		case optionKeys[k]:
			options[k] = numberish(v)
		case k == "keep_alive":
			out.KeepAlive = v
		case k == "think":
			out.Think = nil
			if t := bytes.TrimSpace(v); len(t) > 0 && string(t) != "null" {
				out.Think = v
			}
		}
	}
	if req.Temperature != nil {
		options["temperature"] = mustJSON(*req.Temperature)
	}
	if req.TopP != nil {
		options["top_p"] = mustJSON(*req.TopP)
	}
	if req.TopK != nil {
		options["top_k"] = mustJSON(*req.TopK)
	}
	if req.Seed != nil {
		options["seed"] = mustJSON(*req.Seed)
	}
	if len(req.Stop) > 0 {
		options["stop"] = mustJSON(req.Stop)
	}
	if n := req.MaxTokens; n > 0 {
		if opts.MaxOutputTokens > 0 && n > opts.MaxOutputTokens {
			n = opts.MaxOutputTokens
		}
		options["num_predict"] = mustJSON(n)
	}
	if len(options) > 0 {
		out.Options = options
	}
	body, err := marshal(out)
	if err != nil {
		// Only a raw value that is not JSON (a bad litellm_params entry) gets here.
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "encoding the Ollama request", Err: err}
	}
	return body, nil
}

// marshal is json.Marshal without HTML escaping (llm.Marshal): prompts
// are full of '<' and '>' (Claude Code's <system-reminder>).
func marshal(v any) ([]byte, error) { return llm.Marshal(v) }

// encoder carries the state of one EncodeRequest: the messages built so far
// and the tool name of every call seen, by id.
type encoder struct {
	opts  llm.EncodeOptions
	msgs  []ChatMessage
	names map[string]string
}

func (e *encoder) message(m *llm.Message) error {
	switch m.Role {
	case llm.RoleSystem:
		if s := joinText(m.Content, "\n\n"); s != "" {
			e.msgs = append(e.msgs, ChatMessage{Role: "system", Content: s})
		}
		return nil
	case llm.RoleAssistant:
		return e.assistant(m)
	}
	// User and tool messages: text and images accumulate into one message of
	// the message's role; each tool result is flushed as its own role "tool"
	// message where it stands, so order is kept.
	role := "user"
	if m.Role == llm.RoleTool {
		role = "tool"
	}
	var cur ChatMessage
	var texts []string
	flush := func() {
		cur.Role = role
		cur.Content = strings.Join(texts, "\n")
		if cur.Content != "" || len(cur.Images) > 0 {
			e.msgs = append(e.msgs, cur)
		}
		cur, texts = ChatMessage{}, nil
	}
	for i := range m.Content {
		p := &m.Content[i]
		switch p.Type {
		case llm.PartText:
			texts = append(texts, p.Text)
		case llm.PartImage:
			img, err := e.image(p, "messages.content")
			if err != nil {
				return err
			}
			if img != "" {
				cur.Images = append(cur.Images, img)
			}
		case llm.PartDocument:
			t, err := e.document(p)
			if err != nil {
				return err
			}
			if t != "" {
				texts = append(texts, t)
			}
		case llm.PartToolResult:
			flush()
			tm, err := e.toolResult(p)
			if err != nil {
				return err
			}
			e.msgs = append(e.msgs, tm)
		}
	}
	flush()
	return nil
}

func (e *encoder) assistant(m *llm.Message) error {
	out := ChatMessage{Role: "assistant"}
	var texts []string
	for i := range m.Content {
		p := &m.Content[i]
		switch p.Type {
		case llm.PartText:
			texts = append(texts, p.Text)
		case llm.PartToolCall:
			if p.ToolCallID != "" {
				e.names[p.ToolCallID] = p.Name
			}
			out.ToolCalls = append(out.ToolCalls, ToolCall{ID: p.ToolCallID,
				Function: ToolCallFunction{Name: p.Name, Arguments: argsObject(p.Arguments)}})
		}
		// Thinking is never resent: Ollama's templates do not expect it back
		// and it costs context.
	}
	out.Content = strings.Join(texts, "\n")
	if out.Content == "" && len(out.ToolCalls) == 0 {
		return nil
	}
	e.msgs = append(e.msgs, out)
	return nil
}

func (e *encoder) toolResult(p *llm.Part) (ChatMessage, error) {
	out := ChatMessage{Role: "tool", ToolCallID: p.ToolCallID, ToolName: e.names[p.ToolCallID]}
	if out.ToolName == "" {
		out.ToolName = p.Name
	}
	var texts []string
	for i := range p.Content {
		c := &p.Content[i]
		switch c.Type {
		case llm.PartText:
			texts = append(texts, c.Text)
		case llm.PartImage:
			img, err := e.image(c, "messages.content.tool_result")
			if err != nil {
				return out, err
			}
			if img != "" {
				out.Images = append(out.Images, img)
			}
		case llm.PartDocument:
			t, err := e.document(c)
			if err != nil {
				return out, err
			}
			if t != "" {
				texts = append(texts, t)
			}
		}
	}
	out.Content = strings.Join(texts, "\n")
	return out, nil
}

// image returns the base64 data of an image part, "" when it is dropped.
func (e *encoder) image(p *llm.Part, param string) (string, error) {
	if p.Data != "" {
		return p.Data, nil
	}
	if data, ok := dataURL(p.URL); ok {
		return data, nil
	}
	if e.opts.DropParams {
		return "", nil
	}
	return "", &llm.Error{Kind: llm.KindInvalidRequest, Param: param,
		Message: "Ollama takes only base64 images, not image URLs; send the image inline, or set `litellm_settings.drop_params: true` to drop it"}
}

// document inlines a plain-text document and refuses (or drops) the rest:
// Ollama reads no PDFs.
func (e *encoder) document(p *llm.Part) (string, error) {
	if strings.HasPrefix(p.MediaType, "text/") && p.Data != "" {
		if b, err := base64.StdEncoding.DecodeString(p.Data); err == nil {
			return string(b), nil
		}
		return p.Data, nil
	}
	if e.opts.DropParams {
		return "", nil
	}
	return "", &llm.Error{Kind: llm.KindInvalidRequest, Param: "messages.content",
		Message: "Ollama takes no " + orDefault(p.MediaType, "document") + " documents; set `litellm_settings.drop_params: true` to drop them"}
}

// extra maps the client's fields the hub has no place for. Ollama options and
// top-level fields pass; harmless ones are ignored; the rest are dropped
// with drop_params, else refused.
func (e *encoder) extra(extra map[string]json.RawMessage, out *ChatRequest, options map[string]json.RawMessage) error {
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v := extra[k]
		t := string(bytes.TrimSpace(v))
		switch {
		case optionKeys[k]:
			options[k] = numberish(v)
		case k == "options":
			var m map[string]json.RawMessage
			if json.Unmarshal(v, &m) == nil {
				for ok, ov := range m {
					options[ok] = ov
				}
				continue
			}
			if err := e.unsupported(k); err != nil {
				return err
			}
		case k == "keep_alive":
			out.KeepAlive = v
		case k == "think":
			out.Think = v
		case ignoredExtra[k]:
		case k == "n" && (t == "1" || t == "null"):
		case (k == "logprobs" || k == "echo") && (t == "false" || t == "null"):
		case k == "modalities" && t == `["text"]`:
		default:
			if err := e.unsupported(k); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *encoder) unsupported(param string) error {
	if e.opts.DropParams {
		return nil
	}
	return &llm.Error{Kind: llm.KindInvalidRequest, Param: param,
		Message: "ollama does not support parameter " + strconv.Quote(param) +
			"; to drop unsupported parameters set `litellm_settings.drop_params: true`"}
}

// argsObject returns a tool call's arguments as a JSON object: Ollama takes
// an object, never a string. Anything that is not an object becomes {}.
func argsObject(args string) json.RawMessage {
	b := bytes.TrimSpace([]byte(args))
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(b)
}

// dataURL extracts the base64 payload of a data: URL.
func dataURL(u string) (string, bool) {
	if !strings.HasPrefix(u, "data:") {
		return "", false
	}
	_, data, ok := strings.Cut(u, ";base64,")
	if !ok || data == "" {
		return "", false
	}
	return data, true
}

// numberish turns a JSON string holding a number ("8192", from an
// environment reference in the YAML) into the number; other values pass.
func numberish(v json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(v, &s) != nil {
		return v
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return v
}

func joinText(parts []llm.Part, sep string) string {
	var texts []string
	for _, p := range parts {
		if p.Type == llm.PartText && p.Text != "" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, sep)
}

func mustJSON(v any) json.RawMessage {
	b, err := marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
