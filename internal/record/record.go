// Package record defines the one finished-call record that spend logs,
// metrics and callbacks consume. The server fills it in once per request,
// after the reply is complete; consumers never re-parse bodies.
package record

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// Status of a finished call.
type Status string

// Statuses.
const (
	StatusSuccess Status = "success"
	StatusFailure Status = "failure"
)

// Record is one call through the gateway.
type Record struct {
	// ID is the request id sent to the client (request-id header).
	ID        string
	StartTime time.Time
	EndTime   time.Time

	// Who: KeyHash is the SHA-256 hex of the API key used (never the key).
	KeyHash  string
	KeyAlias string
	User     string
	Team     string
	EndUser  string

	// Route is the API the client called: "chat_completions", "messages", "embeddings", ...
	Route string
	// ClientDialect: openai or anthropic.
	ClientDialect llm.Dialect
	// ModelRequested is what the client asked for; ModelGroup what it resolved to.
	ModelRequested string
	ModelGroup     string
	DeploymentID   string
	// Provider is the deployment's provider prefix; UpstreamModel the name sent upstream.
	Provider      string
	UpstreamModel string
	APIBase       string
	Stream        bool

	Usage llm.Usage
	// UsageEstimated is set when tokens were counted by our tokenizer.
	UsageEstimated bool
	// Cost in USD.
	Cost float64

	// Latency is the whole call; TTFT the time to the first byte/token of a
	// stream; UpstreamLatency the part spent waiting on the upstream.
	Latency         time.Duration
	TTFT            time.Duration
	UpstreamLatency time.Duration

	Status Status
	// HTTPStatus sent to the client; ErrorKind and ErrorMessage for failures.
	HTTPStatus   int
	ErrorKind    string
	ErrorMessage string

	CacheHit  bool
	Retries   int
	Fallbacks int
	Tags      []string

	// Prompt and Response are set only with store_prompts_in_spend_logs.
	Prompt   string
	Response string
}

// NewID returns prefix and 32 hex digits: the Unix time in milliseconds
// (12 digits) and 80 random bits. Later ids sort after earlier ones, so
// the spend log's unique index on the id grows at its end: with random ids
// nearly every inserted row dirties (and a large table first reads) a
// different index page. The random bits come from the runtime's
// per-thread ChaCha8 generator, seeded from the operating system: ids are
// names, not secrets, and this costs a tenth of crypto/rand.
func NewID(prefix string) string { return NewIDAt(prefix, time.Now()) }

// NewIDAt is NewID for a call that began at t.
func NewIDAt(prefix string, t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	binary.LittleEndian.PutUint64(b[6:14], rand.Uint64())
	binary.LittleEndian.PutUint16(b[14:], uint16(rand.Uint32()))
	var buf [64]byte
	out := append(buf[:0], prefix...)
	return string(hex.AppendEncode(out, b[:]))
}

// Sink consumes finished records. Record must not block: implementations
// queue and drop (counting the drop) when full.
type Sink interface {
	Record(r *Record)
}

// Sinks fans a record out to several sinks.
type Sinks []Sink

// Record implements Sink.
func (s Sinks) Record(r *Record) {
	for _, k := range s {
		k.Record(r)
	}
}
