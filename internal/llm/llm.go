// Package llm holds the hub types every dialect translates to and from: a
// request, a response, the events of a stream, usage, and the error kinds the
// router and the server act on. Nothing here knows about HTTP or any vendor's
// wire format.
package llm

import (
	"encoding/json"
)

// Dialect names a wire format spoken by a client or an upstream.
type Dialect string

// The dialects Switchyard speaks.
const (
	DialectOpenAI    Dialect = "openai"
	DialectAnthropic Dialect = "anthropic"
	DialectOllama    Dialect = "ollama"
)

// Role of a message in the conversation.
type Role string

// Roles. RoleTool carries tool results in dialects that have a tool role
// (OpenAI, Ollama); Anthropic carries them as user content parts.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// PartType says what a Part holds.
type PartType string

// Part types.
const (
	PartText       PartType = "text"
	PartImage      PartType = "image"
	PartDocument   PartType = "document"
	PartToolCall   PartType = "tool_call"
	PartToolResult PartType = "tool_result"
	PartThinking   PartType = "thinking"
)

// Part is one piece of a message's content. Only the fields of its Type are set.
type Part struct {
	Type PartType

	// PartText, PartThinking (the reasoning text).
	Text string
	// PartThinking: the vendor signature; empty when the upstream gave none.
	Signature string
	// PartThinking: redacted thinking data, resent verbatim to Anthropic only.
	Redacted string

	// PartImage, PartDocument: either inline data (base64, with MediaType) or a URL.
	MediaType string
	Data      string
	URL       string

	// PartToolCall: the call's id, tool name and arguments as a JSON text.
	// PartToolResult: ToolCallID names the call answered.
	ToolCallID string
	Name       string
	Arguments  string

	// PartToolResult: the result's content (text and images) and whether it is an error.
	Content []Part
	IsError bool

	// CacheControl marks a prompt-cache breakpoint (Anthropic's cache_control), kept raw.
	CacheControl json.RawMessage
}

// Message is one turn.
type Message struct {
	Role    Role
	Content []Part
	// Name is OpenAI's optional participant name.
	Name string
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments, raw.
	Parameters json.RawMessage
	// Server is set for vendor-side tools (Anthropic web_search_*): Type holds the vendor type.
	Server     bool
	ServerType string
	// Raw is the tool as the client sent it, for same-dialect upstreams.
	Raw json.RawMessage
	// Interned is set on a decoder's cached tool: Raw is the cache's own
	// copy, which nothing writes, so two interned tools whose Raw has the
	// same address and length have the same bytes (an encoder's cache
	// compares addresses instead of ~64 KB of bytes).
	Interned bool
}

// ToolChoiceMode says how the model must use tools.
type ToolChoiceMode string

// Tool choice modes: auto (model decides), any (must call some tool), tool (must call Name), none.
const (
	ToolChoiceAuto ToolChoiceMode = "auto"
	ToolChoiceAny  ToolChoiceMode = "any"
	ToolChoiceTool ToolChoiceMode = "tool"
	ToolChoiceNone ToolChoiceMode = "none"
)

// ToolChoice constrains tool use.
type ToolChoice struct {
	Mode ToolChoiceMode
	Name string
	// DisableParallel is Anthropic's disable_parallel_tool_use / OpenAI's parallel_tool_calls=false.
	DisableParallel bool
}

// Reasoning asks the upstream to think before answering.
type Reasoning struct {
	// Enabled false means thinking was explicitly disabled.
	Enabled bool
	// Effort: "low", "medium", "high" (and "minimal", "max" where a dialect has them); empty if unset.
	Effort string
	// BudgetTokens is Anthropic's budget_tokens; 0 if unset.
	BudgetTokens int
	// Adaptive is Anthropic's {"type":"adaptive"}.
	Adaptive bool
}

// ResponseFormat asks for structured output.
type ResponseFormat struct {
	// Type: "json_schema" or "json_object".
	Type   string
	Name   string
	Schema json.RawMessage
	Strict bool
}

// Request is a chat request in hub form.
type Request struct {
	Model    string
	System   []Part
	Messages []Message
	Tools    []Tool
	// ToolChoice is nil when the client did not say.
	ToolChoice *ToolChoice

	// MaxTokens is 0 when unset.
	MaxTokens   int
	Temperature *float64
	TopP        *float64
	TopK        *int
	Stop        []string
	Seed        *int64

	Stream bool
	// Reasoning is nil when the client did not say.
	Reasoning      *Reasoning
	ResponseFormat *ResponseFormat
	// User identifies the end user (OpenAI user, Anthropic metadata.user_id).
	User string

	// Extra holds the client's top-level fields the hub has no place for, by name, raw.
	Extra map[string]json.RawMessage
}

// StopReason is why the model stopped, in hub terms.
type StopReason string

// Stop reasons.
const (
	StopEnd           StopReason = "end"
	StopLength        StopReason = "length"
	StopToolUse       StopReason = "tool_use"
	StopSequence      StopReason = "stop_sequence"
	StopContentFilter StopReason = "content_filter"
	StopRefusal       StopReason = "refusal"
)

// Usage counts tokens. Input excludes cache reads and writes (Anthropic's
// convention); OpenAI's prompt_tokens is Input+CacheRead+CacheWrite.
type Usage struct {
	InputTokens      int
	OutputTokens     int
	CacheReadTokens  int
	CacheWriteTokens int
	ReasoningTokens  int
	// Estimated is set when the counts come from our tokenizer, not the upstream.
	Estimated bool
}

// Total is all tokens in and out.
func (u Usage) Total() int {
	return u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens + u.OutputTokens
}

// PromptTokens is the OpenAI-style prompt count (input including cache).
func (u Usage) PromptTokens() int {
	return u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
}

// Response is a complete, non-streamed answer.
type Response struct {
	ID           string
	Model        string
	Content      []Part
	StopReason   StopReason
	StopSequence string
	Usage        Usage
}

// EventType says what an Event carries.
type EventType int

// Stream events. The contract every Stream reader keeps and every
// StreamWriter relies on:
//   - EventStart comes first (ID and Model of the upstream message; Usage if the
//     upstream reports input tokens up front).
//   - Then deltas in upstream order. EventTextDelta and EventThinkingDelta carry
//     text; EventSignatureDelta a thinking signature fragment. A writer opens a
//     new content block when the kind of delta changes. EventToolCallStart opens
//     tool call number Index (ID is the upstream's id, possibly empty or reused:
//     writers for Anthropic clients mint fresh toolu_ ids), EventToolArgsDelta
//     appends an arguments fragment to tool call Index. Index is a tool call's
//     ordinal in the tool-call index space of the upstream (OpenAI's
//     tool_calls[].index; for Anthropic its content block index); it is unique
//     per call within a stream.
//   - EventUsage whenever the upstream reports usage; non-zero fields override
//     earlier ones.
//   - EventStop is the very last event, sent only when the upstream's stream
//     really ended (OpenAI: after the usage chunk, at [DONE]); it carries
//     StopReason, StopSequence and the final merged Usage.
//   - A stream that ends without its proper end is an *Error of KindUpstream
//     from Next, never a silent io.EOF; an error the upstream reports in-band
//     is an *Error of the matching kind.
const (
	EventStart EventType = iota + 1
	EventTextDelta
	EventThinkingDelta
	EventSignatureDelta
	EventToolCallStart
	EventToolArgsDelta
	EventUsage
	EventStop
	EventError
)

// Event is one step of a stream.
type Event struct {
	Type EventType
	// Index is the upstream's content or tool-call index, stable within a stream;
	// for tool calls the upstream's tool call index.
	Index int

	// Start: ID and Model of the message.
	// ToolCallStart: ID (upstream's, may be empty or reused) and Name of the tool.
	ID    string
	Model string
	Name  string

	// TextDelta, ThinkingDelta, SignatureDelta, ToolArgsDelta: the fragment.
	Text string

	// Usage (also allowed on Start and Stop).
	Usage *Usage

	// Stop.
	StopReason   StopReason
	StopSequence string

	// Error.
	Err error
}

// Merge lays the non-zero fields of next over u (the stream contract: later
// usage reports override earlier ones field by field).
func (u *Usage) Merge(next Usage) {
	if next.InputTokens != 0 {
		u.InputTokens = next.InputTokens
	}
	if next.OutputTokens != 0 {
		u.OutputTokens = next.OutputTokens
	}
	if next.CacheReadTokens != 0 {
		u.CacheReadTokens = next.CacheReadTokens
	}
	if next.CacheWriteTokens != 0 {
		u.CacheWriteTokens = next.CacheWriteTokens
	}
	if next.ReasoningTokens != 0 {
		u.ReasoningTokens = next.ReasoningTokens
	}
	u.Estimated = u.Estimated || next.Estimated
}
