// Package anthropic translates the Anthropic Messages API (POST /v1/messages,
// its SSE stream and its errors) to and from the hub types of package llm. One
// Codec serves both directions: Claude Code and the Anthropic SDKs as clients,
// and the Anthropic API as an upstream.
package anthropic

import (
	json "github.com/goccy/go-json"
)

// The wire types below keep the vendor's field names. Request-side types hold
// polymorphic fields (content, system, source, tool_choice) as raw JSON and
// are decoded by hand in decode.go.

// MessagesRequest is the body of POST /v1/messages (and count_tokens).
type MessagesRequest struct {
	Model         string            `json:"model"`
	Messages      []MessageParam    `json:"messages"`
	System        json.RawMessage   `json:"system,omitempty"`
	MaxTokens     int               `json:"max_tokens,omitempty"`
	Metadata      *Metadata         `json:"metadata,omitempty"`
	StopSequences []string          `json:"stop_sequences,omitempty"`
	Stream        bool              `json:"stream,omitempty"`
	Temperature   *float64          `json:"temperature,omitempty"`
	TopP          *float64          `json:"top_p,omitempty"`
	TopK          *int              `json:"top_k,omitempty"`
	Tools         []json.RawMessage `json:"tools,omitempty"`
	ToolChoice    *ToolChoiceParam  `json:"tool_choice,omitempty"`
	Thinking      *ThinkingParam    `json:"thinking,omitempty"`
	OutputConfig  *OutputConfig     `json:"output_config,omitempty"`
}

// MessageParam is one entry of messages[]: content is a string or an array of blocks.
type MessageParam struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Metadata is the request's metadata object.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// ToolChoiceParam is tool_choice.
type ToolChoiceParam struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// ThinkingParam is thinking: {type: enabled, budget_tokens} | {type: adaptive} | {type: disabled}.
type ThinkingParam struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

// OutputConfig is output_config: effort and structured-output format.
type OutputConfig struct {
	Effort string        `json:"effort,omitempty"`
	Format *OutputFormat `json:"format,omitempty"`
}

// OutputFormat is output_config.format (and the older top-level output_format).
type OutputFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema,omitempty"`
}

// ToolParam is a custom (client) tool definition.
type ToolParam struct {
	Type        string          `json:"type,omitempty"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
}

// ContentBlock is one content block, request or response side. Only the
// fields of its Type are set.
type ContentBlock struct {
	Type string `json:"type"`

	// text
	Text *string `json:"text,omitempty"`

	// thinking; Signature is always written for thinking blocks (may be "").
	Thinking  *string `json:"thinking,omitempty"`
	Signature *string `json:"signature,omitempty"`
	// redacted_thinking
	Data string `json:"data,omitempty"`

	// image, document
	Source json.RawMessage `json:"source,omitempty"`
	Title  string          `json:"title,omitempty"`

	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`

	// tool_result
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`

	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// Source is an image or document source.
type Source struct {
	Type      string          `json:"type"`
	MediaType string          `json:"media_type,omitempty"`
	Data      string          `json:"data,omitempty"`
	URL       string          `json:"url,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
}

// Message is a complete (non-streamed) reply.
type Message struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// Usage is a Message's usage. In streams, message_start carries the input
// side and message_delta the cumulative output (and, lately, the input side again).
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// ErrorBody is the error JSON: {"type":"error","error":{"type","message"}}.
type ErrorBody struct {
	Type      string      `json:"type"`
	Error     ErrorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

// ErrorDetail is the inner error object.
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// CountTokensResponse is the reply of POST /v1/messages/count_tokens.
type CountTokensResponse struct {
	InputTokens int `json:"input_tokens"`
}

// Stream event payloads, as they appear in the data of each SSE event.

// streamEvent is the union of every stream event's data, for reading.
type streamEvent struct {
	Type         string         `json:"type"`
	Message      *streamMessage `json:"message,omitempty"`
	Index        int            `json:"index"`
	ContentBlock *ContentBlock  `json:"content_block,omitempty"`
	Delta        *streamDelta   `json:"delta,omitempty"`
	Usage        *usageIn       `json:"usage,omitempty"`
	Error        *ErrorDetail   `json:"error,omitempty"`
}

type streamMessage struct {
	ID    string   `json:"id"`
	Model string   `json:"model"`
	Usage *usageIn `json:"usage,omitempty"`
}

// streamDelta is a content_block_delta's delta or a message_delta's delta.
type streamDelta struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	Thinking     string  `json:"thinking"`
	Signature    string  `json:"signature"`
	PartialJSON  string  `json:"partial_json"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// usageIn reads usage where any field may be absent or null.
type usageIn struct {
	InputTokens              *int `json:"input_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
	OutputTokens             *int `json:"output_tokens"`
}
