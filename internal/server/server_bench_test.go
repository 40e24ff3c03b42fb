package server_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/logging"

	"github.com/switchyard/switchyard/internal/testutil/benchdata"
	"github.com/switchyard/switchyard/internal/testutil/cputime"
)

// BenchmarkServerPassthrough runs the real handler, wired by the gateway
// package as cmd/switchyard wires it (master key, Prometheus metrics,
// SQLite spend log with its journal, the request log at info), with the
// client side in memory (httpd.Recorder) and the upstreams on loopback
// (benchdata.ServeUpstream, in this process: their CPU counts too). It is
// the benchmark to profile the data path with:
//
//	go test -run '^$' -bench ServerPassthrough/json -benchmem -cpuprofile cpu.out ./internal/server
//	go tool pprof -top cpu.out
func BenchmarkServerPassthrough(b *testing.B) {
	h := benchGateway(b, true)
	for _, tc := range benchCases(b) {
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
// the real binary (the fast upstream client included), against fixed-reply
// upstreams on loopback.
func benchGateway(b *testing.B, spendLog bool) httpd.Handler {
	b.Helper()
	return newBenchGateway(b, spendLog, map[string]string{
		benchdata.UpstreamJSON:      benchdata.ServeUpstream(b, benchdata.UpstreamJSON),
		benchdata.UpstreamSSE:       benchdata.ServeUpstream(b, benchdata.UpstreamSSE),
		benchdata.UpstreamAnthropic: benchdata.ServeUpstream(b, benchdata.UpstreamAnthropic),
	}, nil)
}

// newBenchGateway is benchGateway's gateway with the upstreams at bases
// (by mode), dialed by dial (nil: TCP).
func newBenchGateway(b *testing.B, spendLog bool, bases map[string]string, dial func(context.Context, string, string) (net.Conn, error)) httpd.Handler {
	b.Helper()
	dir := b.TempDir()
	jsonUp, sseUp, antUp := bases[benchdata.UpstreamJSON], bases[benchdata.UpstreamSSE], bases[benchdata.UpstreamAnthropic]
	yaml := `
model_list:
  - model_name: bench-json
    litellm_params: {model: openai/bench-upstream, api_base: "` + jsonUp + `/v1", api_key: sk-up}
  - model_name: bench-json
    litellm_params: {model: openai/bench-upstream, api_base: "` + jsonUp + `/v1/", api_key: sk-up}
  - model_name: bench-stream
    litellm_params: {model: openai/bench-upstream, api_base: "` + sseUp + `/v1", api_key: sk-up}
  - model_name: bench-stream
    litellm_params: {model: openai/bench-upstream, api_base: "` + sseUp + `/v1/", api_key: sk-up}
  - model_name: claude-pass
    litellm_params: {model: anthropic/claude-bench-upstream, api_base: "` + antUp + `", api_key: sk-up}
  - model_name: claude-pass
    litellm_params: {model: anthropic/claude-bench-upstream, api_base: "` + antUp + `/", api_key: sk-up}
  - model_name: claude-xlate
    litellm_params: {model: openai/bench-upstream, api_base: "` + sseUp + `/v1", api_key: sk-up}
  - model_name: claude-xlate
    litellm_params: {model: openai/bench-upstream, api_base: "` + sseUp + `/v1/", api_key: sk-up}
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
	log, logw := logging.New(io.Discard, false, false)
	g, err := gateway.New(cfg, gateway.Options{Logger: log, DataDir: dir, Dial: dial})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = g.Close()
		_ = logw.Close()
	})
	return g.Handler()
}

// BenchmarkGatewayWork is BenchmarkServerPassthrough with the upstreams in
// memory too (benchdata.MemUpstreams): no system call on the way, so it
// measures what the gateway itself adds (auth, routing, the upstream
// request and reply, usage, metrics, the request log, the spend journal and
// its inserter: cpu-ns/op counts every goroutine) far more steadily than a
// benchmark over sockets. The one to judge a change to the data path by:
//
//	go test -run '^$' -bench GatewayWork -count 8 ./internal/server | benchstat -
func BenchmarkGatewayWork(b *testing.B) {
	h := newBenchGateway(b, true, map[string]string{
		benchdata.UpstreamJSON:      benchdata.MemBase(benchdata.UpstreamJSON),
		benchdata.UpstreamSSE:       benchdata.MemBase(benchdata.UpstreamSSE),
		benchdata.UpstreamAnthropic: benchdata.MemBase(benchdata.UpstreamAnthropic),
	}, benchdata.MemUpstreams{}.Dial)
	for _, tc := range benchCases(b) {
		b.Run(tc.name, func(b *testing.B) {
			var rec httpd.Recorder
			rec.Remote = benchRemote
			ctx := &hookCtx{Context: b.Context()}
			if raw := rec.Do(ctx, h, http.MethodPost, tc.path, tc.body, tc.hdr...); !bytes.HasPrefix(raw, ok200) || !bytes.Contains(raw, []byte(tc.expect)) {
				b.Fatalf("reply:\n%.600s", raw)
			}
			b.ReportAllocs()
			cpu := cputime.Start(b)
			for b.Loop() {
				if raw := rec.Do(ctx, h, http.MethodPost, tc.path, tc.body, tc.hdr...); !bytes.HasPrefix(raw, ok200) {
					b.Fatalf("reply:\n%.600s", raw)
				}
			}
			cpu.Stop()
		})
	}
}

// BenchmarkServerParallel is BenchmarkServerPassthrough/json from every
// P at once (b.RunParallel): what state shared between requests (metric
// series, the request log's buffer, the spend journal, the router's and
// the connection pool's locks) costs when two cores take turns writing
// it. cpu-ns/op is the process's CPU per request, upstream included.
func BenchmarkServerParallel(b *testing.B) {
	h := benchGateway(b, true)
	body := []byte(`{"model":"bench-json","messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64,"temperature":0.2}`)
	hdr := []string{"Content-Type", "application/json", "Authorization", "Bearer sk-bench-master"}
	b.ReportAllocs()
	b.SetParallelism(4)
	cpu := cputime.Start(b)
	b.RunParallel(func(pb *testing.PB) {
		var rec httpd.Recorder
		rec.Remote = benchRemote
		for pb.Next() {
			if raw := rec.Do(b.Context(), h, http.MethodPost, "/v1/chat/completions", body, hdr...); !bytes.HasPrefix(raw, ok200) {
				b.Errorf("reply:\n%.600s", raw)
				return
			}
		}
	})
	cpu.Stop()
}

// benchCase is one request of the data-path benchmarks.
type benchCase struct {
	name, path string
	body       []byte
	hdr        []string
	expect     string // in a successful reply
}

// benchCases are the benchmark tool's scenarios: OpenAI json and 10-event
// stream pass-through, and a Claude Code request passed through to an
// Anthropic upstream and translated to an OpenAI one.
func benchCases(b *testing.B) []benchCase {
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
	return []benchCase{
		{"json", "/v1/chat/completions", chat("bench-json", false), oaHdr, `"usage"`},
		{"stream-10-events", "/v1/chat/completions", chat("bench-stream", true), oaHdr, "[DONE]"},
		{"claude-code-passthrough", "/v1/messages?beta=true", withModel("claude-pass"), antHdr, "message_stop"},
		{"claude-code-translated", "/v1/messages?beta=true", withModel("claude-xlate"), antHdr, "message_stop"},
	}
}

// hookCtx gives the upstream client the cancel hook that the server's
// request contexts have (OnCancel, StopOnCancel), so that a benchmark
// calling the handler directly pays what a served request pays, not
// context.AfterFunc's price. It never cancels.
type hookCtx struct {
	context.Context
	mu sync.Mutex
	f  func()
	id uint64
}

func (h *hookCtx) OnCancel(f func()) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f != nil {
		return 0, false
	}
	h.id++
	h.f = f
	return h.id, true
}

func (h *hookCtx) StopOnCancel(id uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil || h.id != id {
		return false
	}
	h.f = nil
	return true
}
