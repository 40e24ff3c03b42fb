package llm

import (
	"encoding/json"
	"io"
	"net/http"
)

// Stream yields the events of one streamed answer in hub form. Next returns
// io.EOF after the last event (which is always EventStop on a complete
// stream). An upstream that ends without a proper end yields an *Error of
// KindUpstream, never a silent EOF.
type Stream interface {
	Next() (Event, error)
	Close() error
}

// StreamWriter renders hub events in a client's dialect. Write may buffer; the
// caller flushes the transport after each call. Ping writes a keep-alive.
// Fail writes an in-band error after the first byte, then the stream ends.
type StreamWriter interface {
	Write(ev Event) error
	Ping() error
	Fail(err *Error) error
}

// EncodeOptions carry what a deployment adds to an outbound request.
type EncodeOptions struct {
	// Model is the upstream's model name (without the provider prefix).
	Model string
	// DropParams drops parameters the upstream cannot take instead of failing.
	DropParams bool
	// Params are extra provider parameters from the deployment's litellm_params
	// (e.g. num_ctx for Ollama), raw JSON values by name.
	Params map[string]json.RawMessage
	// MaxOutputTokens clamps max_tokens when > 0.
	MaxOutputTokens int
}

// ClientCodec is the client-facing half of a dialect.
type ClientCodec interface {
	DecodeRequest(body []byte) (*Request, error)
	EncodeResponse(resp *Response, model string) ([]byte, error)
	NewStreamWriter(w io.Writer, model string) StreamWriter
	// EncodeError renders err as this dialect's error JSON.
	EncodeError(err *Error) []byte
}

// UpstreamCodec is the upstream-facing half of a dialect.
type UpstreamCodec interface {
	EncodeRequest(req *Request, opts EncodeOptions) ([]byte, error)
	DecodeResponse(body []byte) (*Response, error)
	NewStreamReader(body io.Reader) Stream
	// DecodeError classifies a non-2xx upstream reply.
	DecodeError(status int, header http.Header, body []byte) *Error
}
