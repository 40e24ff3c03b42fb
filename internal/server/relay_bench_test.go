package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/dialect/openai"
	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/router"

	"github.com/switchyard/switchyard/internal/testutil/benchdata"
)

// Micro-benchmarks of the pieces of the pass-through path, run with
// `go test -bench . -benchmem ./internal/server`. The whole handler, wired as
// the gateway wires it, is measured in server_bench_test.go.

// benchSmallBody is an OpenAI SDK-sized chat request.
var benchSmallBody = []byte(`{"model":"bench-json","messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64,"temperature":0.2}`)

// benchOpenAIStream is a 10-event OpenAI stream: 7 content deltas, a finish
// chunk, a usage-only chunk, and [DONE].
func benchOpenAIStream() []byte {
	const head = `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-upstream","choices":[`
	var b bytes.Buffer
	b.WriteString(head + `{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}` + "\n\n")
	for i := 1; i < 8; i++ {
		fmt.Fprintf(&b, head+`{"index":0,"delta":{"content":" word%d"},"finish_reason":null}]}`+"\n\n", i)
	}
	b.WriteString(head + `{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString(head + `],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// newBenchServer is a Server over one OpenAI-compatible deployment that is
// never dialled.
func newBenchServer(b testing.TB) *Server {
	b.Helper()
	deps := testDeployments(b, `
model_list:
  - model_name: bench-stream
    litellm_params: {model: openai/bench-upstream, api_base: "http://127.0.0.1:9/v1", api_key: sk-up}
`, nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return New(router.New(deps, nil, router.Options{Logger: log}), Options{Logger: log})
}

// testDeployments are the deployments of a config's model_list, each with
// an Upstream over net/http's default client and pool (nil: none).
func testDeployments(tb testing.TB, yaml string, pool *provider.Pool) []*router.Deployment {
	tb.Helper()
	cfg, err := config.Parse("t.yaml", []byte(yaml), config.MapEnv(map[string]string{}))
	if err != nil {
		tb.Fatal(err)
	}
	var deps []*router.Deployment
	for _, d := range cfg.Deployments {
		deps = append(deps, &router.Deployment{Cfg: d, Upstream: &provider.Upstream{Name: d.ID, Dialect: d.Dialect,
			BaseURL: d.APIBase, Client: http.DefaultClient, Pool: pool}})
	}
	return deps
}

// BenchmarkRelay is the server's relay of a 10-event OpenAI stream to an
// OpenAI client (usage chunk dropped, as for a client that did not ask for
// it), inside one router.Run; router-only is that Run with an attempt that
// does nothing, to subtract.
func BenchmarkRelay(b *testing.B) {
	s := newBenchServer(b)
	rt, err := s.router.Resolve("bench-stream")
	if err != nil {
		b.Fatal(err)
	}
	stream := benchOpenAIStream()
	ctx := context.Background()
	b.Run("router-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, err := s.router.Run(ctx, router.Request{Route: rt, NumRetries: -1, Stream: true},
				func(context.Context, *router.Try) (bool, error) { return true, nil })
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("10-events", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(stream)))
		var rec httpd.Recorder
		var err error
		h := httpd.HandlerFunc(func(w *httpd.Response, r *httpd.Request) {
			info := &reqInfo{}
			defer info.releaseOutput() // as ServeHTTPD does
			c := &call{s: s, w: w, r: r, client: llm.DialectOpenAI, stream: true, model: "bench-stream",
				info: info, firstByte: func() bool { return false }}
			_, err = s.router.Run(ctx, router.Request{Route: rt, NumRetries: -1, Stream: true},
				func(ctx context.Context, t *router.Try) (bool, error) {
					c.try = t
					return c.relay(ctx, t.Deployment, bytes.NewReader(stream), openai.Codec{}.NewUsageTracker(), true)
				})
		})
		for b.Loop() {
			if rec.Do(ctx, h, http.MethodPost, "/v1/chat/completions", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// sjsonRewrite is the plain way to rewrite the model: a full re-parse.
func sjsonRewrite(body []byte, openAIStream bool) ([]byte, error) {
	out, err := sjson.SetBytes(body, "model", "bench-upstream")
	if err != nil {
		return nil, err
	}
	if openAIStream && !gjson.GetBytes(out, "stream_options.include_usage").Bool() {
		out, _ = sjson.SetBytes(out, "stream_options.include_usage", true)
	}
	return out, nil
}

// scanRewrite is what the pass-through path does: validate and read the
// top level in one pass (scanValid), one splice for the model. known
// holds the large values seen before, or is nil (a first request).
func scanRewrite(body []byte, openAIStream bool, known *llm.KnownValues) ([]byte, error) {
	bi, ok := scanValid(body, known, nil)
	if !ok {
		return nil, fmt.Errorf("invalid")
	}
	out := withModel(body, bi.model, "bench-upstream")
	if openAIStream && !bi.includeUsage {
		out, _ = sjson.SetBytes(out, "stream_options.include_usage", true)
	}
	return out, nil
}

// BenchmarkScanRewrite is the request scan and model rewrite of the
// pass-through path on a small OpenAI body and on the ~76 KB Claude Code
// body, against a plain sjson rewrite; both must give the same bytes.
func BenchmarkScanRewrite(b *testing.B) {
	claude := benchdata.ClaudeCodeBody(b)
	stream, _ := sjson.SetBytes(benchSmallBody, "stream", true)
	for _, tc := range []struct {
		name   string
		body   []byte
		oaiSSE bool
	}{
		{"openai-small", benchSmallBody, false},
		{"openai-small-stream", stream, true},
		{"claude-code-76KB", claude, false},
	} {
		plain, err := sjsonRewrite(tc.body, tc.oaiSSE)
		if err != nil {
			b.Fatal(err)
		}
		var known llm.KnownValues
		for _, k := range []*llm.KnownValues{nil, &known, &known} { // first, then known
			got, err := scanRewrite(tc.body, tc.oaiSSE, k)
			if err != nil {
				b.Fatal(err)
			}
			if !bytes.Equal(plain, got) {
				b.Fatalf("%s: the one-pass scan rewrites differently:\n%.300s\n%.300s", tc.name, plain, got)
			}
		}
		for name, fn := range map[string]func([]byte, bool) ([]byte, error){
			"sjson":      sjsonRewrite,
			"scan":       func(b []byte, s bool) ([]byte, error) { return scanRewrite(b, s, nil) },
			"scan-known": func(b []byte, s bool) ([]byte, error) { return scanRewrite(b, s, &known) },
		} {
			b.Run(tc.name+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(tc.body)))
				for b.Loop() {
					if _, err := fn(tc.body, tc.oaiSSE); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkNewID is the request id made for every request.
func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if id := newID("req_"); !strings.HasPrefix(id, "req_") {
			b.Fatal(id)
		}
	}
}
