package server_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/httpd"

	"github.com/switchyard/switchyard/internal/testutil/benchdata"
	"github.com/switchyard/switchyard/internal/testutil/cputime"
)

// BenchmarkServerPassthrough runs the real handler, wired by the gateway
// package as cmd/switchyard wires it (master key, Prometheus metrics,
// SQLite spend log with its journal, info-level request log), against an
// in-memory upstream (a RoundTripper, so no upstream or socket cost is in
// the profile). It is the benchmark to profile the data path with:
//
//	go test -run '^$' -bench ServerPassthrough/json -benchmem -cpuprofile cpu.out ./internal/server
//	go tool pprof -top cpu.out
func BenchmarkServerPassthrough(b *testing.B) {
	h := benchGateway(b, true)
	claude := benchdata.ClaudeCodeBody(b)
	oaHdr := []string{"Content-Type", "application/json", "Authorization", "Bearer sk-bench-master"}
	antHdr := []string{"Content-Type", "application/json", "X-Api-Key", "sk-bench-master",
		"Anthropic-Version", "2023-06-01", "Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14"}
	chat := func(model string, stream bool) []byte {
		s := ""
		if stream {
			s = `,"stream":true`
		}
		return []byte(`{"model":"` + model + `","messages":[{"role":"system","content":"You are a helpful assistant."},` +
			`{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64,"temperature":0.2` + s + `}`)
	}
	withModel := func(m string) []byte { out, _ := sjson.SetBytes(claude, "model", m); return out }
	for _, tc := range []struct {
		name, path string
		body       []byte
		hdr        []string
		expect     string
	}{
		{"json", "/v1/chat/completions", chat("bench-json", false), oaHdr, `"usage"`},
		{"stream-10-events", "/v1/chat/completions", chat("bench-stream", true), oaHdr, "[DONE]"},
		{"claude-code-passthrough", "/v1/messages?beta=true", withModel("claude-pass"), antHdr, "message_stop"},
		{"claude-code-translated", "/v1/messages?beta=true", withModel("claude-xlate"), antHdr, "message_stop"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// One checked call first: the benchmark must measure success.
			var rec httpd.Recorder
			rec.Remote = benchRemote
			if raw := rec.Do(b.Context(), h, http.MethodPost, tc.path, tc.body, tc.hdr...); !bytes.HasPrefix(raw, ok200) || !bytes.Contains(raw, []byte(tc.expect)) {
				b.Fatalf("reply:\n%.600s", raw)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				if raw := rec.Do(b.Context(), h, http.MethodPost, tc.path, tc.body, tc.hdr...); !bytes.HasPrefix(raw, ok200) {
					b.Fatalf("reply:\n%.600s", raw)
				}
			}
		})
	}
}

// BenchmarkServerSpendLog is the data path's cost with the spend log on
// (SQLite, journaled before each response's last byte) and off; cpu-ns/op
// counts the spend log's inserter goroutine too.
func BenchmarkServerSpendLog(b *testing.B) {
	body := []byte(`{"model":"bench-json","messages":[{"role":"user","content":"Say hello."}],"max_tokens":64}`)
	hdr := []string{"Content-Type", "application/json", "Authorization", "Bearer sk-bench-master"}
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			h := benchGateway(b, on)
			var rec httpd.Recorder
			rec.Remote = benchRemote
			b.ReportAllocs()
			cpu := cputime.Start(b)
			for b.Loop() {
				if raw := rec.Do(b.Context(), h, http.MethodPost, "/v1/chat/completions", body, hdr...); !bytes.HasPrefix(raw, ok200) {
					b.Fatalf("reply:\n%.600s", raw)
				}
			}
			cpu.Stop() // the inserter's CPU included, but for the last batch
		})
	}
}

var (
	benchRemote = netip.MustParseAddrPort("127.0.0.1:50000")
	ok200       = []byte("HTTP/1.1 200 ")
)

// benchGateway builds the gateway the way the benchmark tool configures
// the real binary, with the in-memory upstream.
func benchGateway(b *testing.B, spendLog bool) httpd.Handler {
	b.Helper()
	dir := b.TempDir()
	yaml := `
model_list:
  - model_name: bench-json
    litellm_params: {model: openai/bench-upstream, api_base: "http://json-1.bench/v1", api_key: sk-up}
  - model_name: bench-json
    litellm_params: {model: openai/bench-upstream, api_base: "http://json-2.bench/v1", api_key: sk-up}
  - model_name: bench-stream
    litellm_params: {model: openai/bench-upstream, api_base: "http://sse-1.bench/v1", api_key: sk-up}
  - model_name: bench-stream
    litellm_params: {model: openai/bench-upstream, api_base: "http://sse-2.bench/v1", api_key: sk-up}
  - model_name: claude-pass
    litellm_params: {model: anthropic/claude-bench-upstream, api_base: "http://anthropic-1.bench", api_key: sk-up}
  - model_name: claude-pass
    litellm_params: {model: anthropic/claude-bench-upstream, api_base: "http://anthropic-2.bench", api_key: sk-up}
  - model_name: claude-xlate
    litellm_params: {model: openai/bench-upstream, api_base: "http://sse-1.bench/v1", api_key: sk-up}
  - model_name: claude-xlate
    litellm_params: {model: openai/bench-upstream, api_base: "http://sse-2.bench/v1", api_key: sk-up}
litellm_settings:
  callbacks: ["prometheus"]
general_settings:
  master_key: sk-bench-master
  database_url: "sqlite:///` + filepath.Join(dir, "spend.db") + `"
`
	if !spendLog {
		yaml += "  disable_spend_logs: true\n"
	}
	cfg, err := config.Parse("bench.yaml", []byte(yaml), config.MapEnv(map[string]string{}))
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, err := gateway.New(cfg, gateway.Options{Logger: log, Transport: memUpstream{}, DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	return g.Handler()
}

// memUpstream answers by host: json-* a chat.completion, sse-* a 10-event
// OpenAI stream, anthropic-* a 10-event Anthropic stream.
type memUpstream struct{}

var (
	memJSON = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-upstream",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench upstream."},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}`)
	memSSE       = benchdata.OpenAIStream()
	memAnthropic = benchdata.AnthropicStream()
)

func (memUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	body, ct := memJSON, "application/json"
	switch {
	case strings.HasPrefix(r.URL.Host, "sse-"):
		body, ct = memSSE, "text/event-stream"
	case strings.HasPrefix(r.URL.Host, "anthropic-"):
		body, ct = memAnthropic, "text/event-stream"
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {ct}}, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: -1, Request: r}, nil
}
