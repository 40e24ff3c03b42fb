// Package upstream is the benchmark's fake LLM upstream: a lean fixed-response
// server on fasthttp, so that as little of the machine as possible goes to
// the upstream while a gateway is measured. Each listener has one mode and
// answers every POST with that mode's canned reply, whatever the path and
// body (the body is read, never parsed):
//
//	json       an OpenAI chat.completion with usage
//	sse        an OpenAI chat.completion.chunk stream of Events data events
//	           (content deltas, a finish chunk, a usage-only chunk) and [DONE]
//	anthropic  an Anthropic Messages stream of Events events
//	slow       like sse, with EventDelay between events (long-lived streams)
//
// A GET answers 200 with an empty model list (health probes).
package upstream

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Modes a listener can serve.
const (
	ModeJSON      = "json"
	ModeSSE       = "sse"
	ModeAnthropic = "anthropic"
	ModeSlow      = "slow"
)

// Options shape the canned replies.
type Options struct {
	// Events is the number of data events in a stream (at least 3 for sse,
	// 5 for anthropic).
	Events int
	// Latency is slept before the reply headers, in every mode.
	Latency time.Duration
	// EventDelay is slept between events in ModeSlow.
	EventDelay time.Duration
}

// Usage the upstream reports, in every mode.
const (
	InputTokens  = 11
	OutputTokens = 7
)

// JSONBody is the non-streamed reply.
const JSONBody = `{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-upstream",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench upstream."},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}`

// OpenAIEvents builds an OpenAI stream of n data events and the [DONE] line.
func OpenAIEvents(n int) []string {
	n = max(n, 3)
	const head = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-upstream","choices":[`
	out := make([]string, 0, n+1)
	out = append(out, head+`{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}`+"\n\n")
	for i := 1; i < n-2; i++ {
		out = append(out, head+fmt.Sprintf(`{"index":0,"delta":{"content":" word%d"},"finish_reason":null}]}`, i)+"\n\n")
	}
	out = append(out, head+`{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n")
	out = append(out, head+`],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}`+"\n\n")
	out = append(out, "data: [DONE]\n\n")
	return out
}

// AnthropicEvents builds an Anthropic Messages stream of n events.
func AnthropicEvents(n int) []string {
	n = max(n, 5)
	ev := func(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }
	out := make([]string, 0, n)
	out = append(out, ev("message_start", `{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench-upstream","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":1}}}`))
	out = append(out, ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`))
	for i := 0; i < n-4; i++ {
		out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word%d"}}`, i)))
	}
	out = append(out, ev("content_block_stop", `{"type":"content_block_stop","index":0}`))
	out = append(out, ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}`))
	out = append(out, ev("message_stop", `{"type":"message_stop"}`))
	return out
}

// Handler serves one mode.
func Handler(mode string, o Options) fasthttp.RequestHandler {
	var events [][]byte
	switch mode {
	case ModeSSE, ModeSlow:
		for _, e := range OpenAIEvents(o.Events) {
			events = append(events, []byte(e))
		}
	case ModeAnthropic:
		for _, e := range AnthropicEvents(o.Events) {
			events = append(events, []byte(e))
		}
	}
	jsonBody := []byte(JSONBody)
	delay := time.Duration(0)
	if mode == ModeSlow {
		delay = o.EventDelay
	}
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() {
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"object":"list","data":[]}`)
			return
		}
		if o.Latency > 0 {
			time.Sleep(o.Latency)
		}
		if mode == ModeJSON {
			ctx.SetContentType("application/json")
			ctx.Response.SetBodyRaw(jsonBody)
			return
		}
		ctx.SetContentType("text/event-stream")
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for i, e := range events {
				if i > 0 && delay > 0 {
					time.Sleep(delay)
				}
				if _, err := w.Write(e); err != nil {
					return
				}
				if err := w.Flush(); err != nil {
					return
				}
			}
		})
	}
}

// Listener is one serving address and its mode.
type Listener struct {
	Mode string
	Addr string
}

// Serve starts, for each mode in counts, that many loopback listeners, and
// returns their addresses. The servers run until the process exits.
func Serve(counts map[string]int, order []string, o Options) ([]Listener, error) {
	var out []Listener
	for _, mode := range order {
		switch mode {
		case ModeJSON, ModeSSE, ModeAnthropic, ModeSlow:
		default:
			return nil, fmt.Errorf("unknown upstream mode %q", mode)
		}
		for i := 0; i < counts[mode]; i++ {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			srv := &fasthttp.Server{
				Handler:               Handler(mode, o),
				Name:                  "bench-upstream",
				NoDefaultDate:         true,
				NoDefaultServerHeader: true,
				ReadTimeout:           60 * time.Second,
				IdleTimeout:           120 * time.Second,
				MaxRequestBodySize:    64 << 20,
				ReadBufferSize:        16 << 10,
			}
			go func() { _ = srv.Serve(ln) }()
			out = append(out, Listener{Mode: mode, Addr: ln.Addr().String()})
		}
	}
	return out, nil
}

// ParseCounts reads "json:2,sse:2" into counts and their order.
func ParseCounts(s string) (map[string]int, []string, error) {
	counts := map[string]int{}
	var order []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		mode, n, ok := strings.Cut(f, ":")
		c := 1
		if ok {
			if _, err := fmt.Sscanf(n, "%d", &c); err != nil || c < 1 || c > 16 {
				return nil, nil, fmt.Errorf("bad listener count in %q", f)
			}
		}
		if _, dup := counts[mode]; !dup {
			order = append(order, mode)
		}
		counts[mode] += c
	}
	return counts, order, nil
}
