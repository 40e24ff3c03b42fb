// Package ollama is the Ollama native dialect (POST /api/chat, /api/embed,
// GET /api/tags, POST /api/show) translated to and from the hub types.
// Ollama is only ever an upstream: clients do not speak it to Switchyard, so
// the package implements llm.UpstreamCodec and a usage tracker, not a client
// codec.
//
// Wire facts the code relies on (Ollama's docs/api.md and api/types.go):
//   - /api/chat streams by default; "stream" is therefore always sent.
//   - A reply, streamed or not, is NDJSON: one JSON object per line; the last
//     has "done": true, a "done_reason" and the token counts
//     (prompt_eval_count, eval_count). A failure after the headers is a line
//     {"error": "..."}.
//   - Tool call arguments are a JSON object, not a string, and a streamed
//     tool call arrives whole in one chunk.
//   - Images are bare base64 strings on the message; there is no image URL.
//   - A truthy "think" sent to a model without the thinking capability is a
//     400 ("... does not support thinking"), a string "think" ("low",
//     "medium", "high") is accepted only by gpt-oss style models, and a model
//     with the thinking capability thinks when "think" is omitted.
package ollama

import "encoding/json"

// ChatRequest is the body of POST /api/chat.
type ChatRequest struct {
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	Tools    []Tool        `json:"tools,omitempty"`
	// Format is "json" or a JSON schema.
	Format json.RawMessage `json:"format,omitempty"`
	// Options are model parameters (temperature, num_ctx, num_predict, ...).
	Options map[string]json.RawMessage `json:"options,omitempty"`
	// Stream is always sent: Ollama streams when it is absent.
	Stream bool `json:"stream"`
	// Think is a bool or "low"/"medium"/"high"; omitted when unset.
	Think json.RawMessage `json:"think,omitempty"`
	// KeepAlive is a duration string ("5m") or a number of seconds.
	KeepAlive json.RawMessage `json:"keep_alive,omitempty"`
}

// ChatMessage is one message of a chat request or reply.
type ChatMessage struct {
	Role     string `json:"role"`
	Content  string `json:"content"`
	Thinking string `json:"thinking,omitempty"`
	// Images are base64-encoded, without a data: prefix.
	Images    []string   `json:"images,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolName names the tool whose result a role "tool" message carries.
	ToolName string `json:"tool_name,omitempty"`
	// ToolCallID is the id of the call answered (newer Ollama releases; older
	// ones ignore it).
	ToolCallID string `json:"tool_call_id,omitempty"`
}

// ToolCall is a call the model made. Newer Ollama releases give it an id.
type ToolCall struct {
	ID       string           `json:"id,omitempty"`
	Function ToolCallFunction `json:"function"`
}

// ToolCallFunction is the function part of a tool call. Arguments is a JSON
// object.
type ToolCallFunction struct {
	Index     *int            `json:"index,omitempty"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string       `json:"type"`
	Function ToolFunction `json:"function"`
}

// ToolFunction describes a tool's function.
type ToolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// ChatResponse is a non-streamed /api/chat reply and also one line of a
// streamed one.
type ChatResponse struct {
	Model      string      `json:"model"`
	CreatedAt  string      `json:"created_at,omitempty"`
	Message    ChatMessage `json:"message"`
	Done       bool        `json:"done"`
	DoneReason string      `json:"done_reason,omitempty"`

	TotalDuration      int64 `json:"total_duration,omitempty"`
	LoadDuration       int64 `json:"load_duration,omitempty"`
	PromptEvalCount    int   `json:"prompt_eval_count,omitempty"`
	PromptEvalDuration int64 `json:"prompt_eval_duration,omitempty"`
	EvalCount          int   `json:"eval_count,omitempty"`
	EvalDuration       int64 `json:"eval_duration,omitempty"`

	// Error is set on an error line ({"error": "..."}).
	Error string `json:"error,omitempty"`
}

// ErrorBody is Ollama's error reply.
type ErrorBody struct {
	Error string `json:"error"`
}

// TagsResponse is the reply of GET /api/tags.
type TagsResponse struct {
	Models []TagsModel `json:"models"`
}

// TagsModel is one installed model.
type TagsModel struct {
	Name       string `json:"name"`
	Model      string `json:"model"`
	ModifiedAt string `json:"modified_at,omitempty"`
	Size       int64  `json:"size,omitempty"`
	Digest     string `json:"digest,omitempty"`
}

// ShowRequest is the body of POST /api/show.
type ShowRequest struct {
	Model string `json:"model"`
}

// ShowResponse is the part of the /api/show reply Switchyard reads.
type ShowResponse struct {
	// Parameters is the Modelfile's PARAMETER lines, "name value" per line.
	Parameters string `json:"parameters,omitempty"`
	// ModelInfo holds GGUF metadata such as "llama.context_length".
	ModelInfo map[string]json.RawMessage `json:"model_info,omitempty"`
	// Capabilities: "completion", "tools", "thinking", "vision", "embedding", ...
	Capabilities []string `json:"capabilities,omitempty"`
}

// EmbedRequest is the body of POST /api/embed. Input is a string or a list
// of strings.
type EmbedRequest struct {
	Model      string                     `json:"model"`
	Input      json.RawMessage            `json:"input"`
	Truncate   *bool                      `json:"truncate,omitempty"`
	Dimensions int                        `json:"dimensions,omitempty"`
	Options    map[string]json.RawMessage `json:"options,omitempty"`
	KeepAlive  json.RawMessage            `json:"keep_alive,omitempty"`
}

// EmbedResponse is the reply of POST /api/embed.
type EmbedResponse struct {
	Model           string      `json:"model"`
	Embeddings      [][]float64 `json:"embeddings"`
	TotalDuration   int64       `json:"total_duration,omitempty"`
	LoadDuration    int64       `json:"load_duration,omitempty"`
	PromptEvalCount int         `json:"prompt_eval_count,omitempty"`
}
