package benchdata

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// JSONReply is the non-streamed OpenAI reply of ServeUpstream's json mode.
var JSONReply = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-upstream",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench upstream."},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}`)

// Upstream modes: what every POST to a ServeUpstream listener answers.
const (
	UpstreamJSON      = "json"      // JSONReply
	UpstreamSSE       = "sse"       // OpenAIStream
	UpstreamAnthropic = "anthropic" // AnthropicStream
)

// ServeUpstream serves a fixed reply on a loopback port for the test's
// life (fasthttp, the body read and never parsed; a GET gets an empty
// model list) and returns its base URL, http://127.0.0.1:port.
func ServeUpstream(tb testing.TB, mode string) string {
	tb.Helper()
	body, ct := JSONReply, "application/json"
	switch mode {
	case UpstreamSSE:
		body, ct = OpenAIStream(), "text/event-stream"
	case UpstreamAnthropic:
		body, ct = AnthropicStream(), "text/event-stream"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{NoDefaultServerHeader: true, NoDefaultDate: true, Handler: func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() {
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"object":"list","data":[]}`)
			return
		}
		ctx.SetContentType(ct)
		ctx.SetBody(body)
	}}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}
