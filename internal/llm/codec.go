package llm

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
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

// ClientCodec is the client-facing half of a dialect. req is the client's
// decoded request: writers echo req.Model (the name the client asked for) and
// honour what the client asked of the reply (e.g. OpenAI stream_options).
type ClientCodec interface {
	// DecodeRequest parses a client body. A malformed body or a bad field is
	// an *Error of KindInvalidRequest with Param set.
	DecodeRequest(body []byte) (*Request, error)
	EncodeResponse(resp *Response, req *Request) ([]byte, error)
	NewStreamWriter(w io.Writer, req *Request) StreamWriter
	// EncodeError renders err as this dialect's error JSON.
	EncodeError(err *Error) []byte
}

// Member is one top-level member of a request body, as ScanObject gave it.
type Member struct {
	Key string
	Val []byte
	// Kept is set when Val is a known value's kept copy (see
	// KnownValues.Holds): memory nothing writes.
	Kept bool
}

// ScannedDecoder is a ClientCodec that also decodes a body the gateway has
// already validated with ScanObject, from the top-level members the scan
// gave (in order), without scanning the body again.
type ScannedDecoder interface {
	DecodeScanned(body []byte, members []Member) (*Request, error)
}

// UpstreamCodec is the upstream-facing half of a dialect.
type UpstreamCodec interface {
	// EncodeRequest builds the upstream body. A field the upstream cannot take
	// is dropped when opts.DropParams, else an *Error of KindInvalidRequest
	// naming it and the drop_params fix.
	EncodeRequest(req *Request, opts EncodeOptions) ([]byte, error)
	DecodeResponse(body []byte) (*Response, error)
	NewStreamReader(body io.Reader) Stream
	// DecodeError classifies a non-2xx upstream reply.
	DecodeError(status int, header http.Header, body []byte) *Error
}

// UsageTracker reads usage out of a same-dialect reply that is relayed as
// bytes (the pass-through path) without decoding the rest of it.
type UsageTracker interface {
	// ObserveEvent looks at one SSE event's data (or one NDJSON line).
	ObserveEvent(data []byte)
	// ObserveBody looks at a whole non-streamed reply body.
	ObserveBody(body []byte)
	// Usage is what was seen; ok is false when the upstream reported none.
	Usage() (u Usage, ok bool)
}

// Outbound bodies are large (a Claude Code request is ~76 KB) and live only
// until they are sent: an encoder may build one in a buffer from GetBody,
// and whoever sends it returns it with PutBody once the upstream has it.
// A fresh buffer per request costs more than its copy: its pages are new to
// the process after every collection.

var bodyBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody bounds the buffers kept for reuse.
const maxPooledBody = 1 << 20

// GetBody returns an empty buffer of at least n bytes' capacity.
func GetBody(n int) []byte {
	b := *bodyBufs.Get().(*[]byte)
	if cap(b) < n {
		return make([]byte, 0, n)
	}
	return b[:0]
}

// PutBody takes back a buffer no one uses any more (it may come from
// GetBody or not).
func PutBody(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBody {
		return
	}
	b = b[:0]
	bodyBufs.Put(&b)
}
