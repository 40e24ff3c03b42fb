// Package openai is the OpenAI Chat Completions dialect: it decodes client
// requests into hub form and renders hub responses, stream events and errors
// for OpenAI clients (ClientCodec), and it builds requests for, and reads
// replies from, OpenAI-compatible upstreams — the OpenAI API, vLLM,
// llama.cpp, LM Studio, SGLang (UpstreamCodec).
package openai

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// Codec is the OpenAI Chat Completions dialect. The zero value is ready to use.
type Codec struct{}

var (
	_ llm.ClientCodec   = Codec{}
	_ llm.UpstreamCodec = Codec{}
	_ llm.UsageTracker  = (*usageTracker)(nil)
	_ llm.Stream        = (*streamReader)(nil)
	_ llm.StreamWriter  = (*streamWriter)(nil)
)

// maxToolCalls bounds the tool-call index space of one reply: an upstream
// that names a larger index is broken or hostile.
const maxToolCalls = 128

// Test hooks: the clock and the id source. Tests replace them for golden output.
var (
	nowUnix  = func() int64 { return time.Now().Unix() }
	randomID = func() string {
		var b [12]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
)

func newCompletionID() string { return "chatcmpl-" + randomID() }
func newCallID() string       { return "call_" + randomID() }

// marshal is json.Marshal without HTML escaping (llm.Marshal).
func marshal(v any) ([]byte, error) { return llm.Marshal(v) }
