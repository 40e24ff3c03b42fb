package e2e

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/fakeup"
)

// fault is one way a fake upstream misbehaves.
type fault struct {
	name string
	// reply scripts the faulty answer; nil with refused means a closed port.
	reply   fakeup.Reply
	refused bool
}

var faults = []fault{
	{name: "500", reply: fakeup.Reply{Status: 500}},
	{name: "429 with retry-after", reply: fakeup.Reply{Status: 429, Header: map[string]string{"Retry-After": "1"}}},
	{name: "connection refused", refused: true},
	{name: "accept then hang", reply: fakeup.Reply{Hang: true}},
	{name: "reset before first byte", reply: fakeup.Reply{ResetBeforeBody: true}},
	{name: "slow first byte", reply: fakeup.Reply{Delay: 5 * time.Second}},
}

var strategies = []string{"simple-shuffle", "least-busy", "latency-based", "cost-based", "usage-based-routing-v2"}

// closedURL is the address of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// TestRouterFaultMatrix: for every fault and strategy, with two faulty
// deployments and one healthy one in the group, every non-streaming request
// and every stream that fails before its first byte succeeds.
func TestRouterFaultMatrix(t *testing.T) {
	for _, f := range faults {
		for _, strat := range strategies {
			t.Run(f.name+"/"+strat, func(t *testing.T) {
				t.Parallel()
				var urls []string
				for range 2 {
					if f.refused {
						urls = append(urls, closedURL(t))
						continue
					}
					bad := fakeup.New(fakeup.OpenAI)
					t.Cleanup(bad.Close)
					rep := f.reply
					bad.Script = func(int, fakeup.Request) fakeup.Reply { return rep }
					urls = append(urls, bad.URL)
				}
				good := fakeup.New(fakeup.OpenAI)
				t.Cleanup(good.Close)
				g := startGateway(t, `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{BAD1}}/v1", timeout: 0.5, stream_timeout: 0.5, input_cost_per_token: 0.000001, output_cost_per_token: 0.000001}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{BAD2}}/v1", timeout: 0.5, stream_timeout: 0.5}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{GOOD}}/v1", timeout: 0.5, stream_timeout: 0.5, input_cost_per_token: 0.000002, output_cost_per_token: 0.000002}
router_settings:
  routing_strategy: {{STRAT}}
  num_retries: 2
general_settings:
  master_key: sk-test-master
`, map[string]string{"BAD1": urls[0], "BAD2": urls[1], "GOOD": good.URL, "STRAT": strat})
				c := oaClient(g)
				ctx := context.Background()
				for i := range 6 {
					if _, err := c.Chat.Completions.New(ctx, params("gpt-4o")); err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					stream := c.Chat.Completions.NewStreaming(ctx, params("gpt-4o"))
					n := 0
					for stream.Next() {
						n++
					}
					if err := stream.Err(); err != nil || n == 0 {
						t.Fatalf("stream %d: %d chunks, %v", i, n, err)
					}
				}
				if good.ChatCount() != 12 {
					t.Fatalf("healthy deployment served %d of 12", good.ChatCount())
				}
			})
		}
	}
}

// TestRouterResetAfterFirstByte: a stream cut after its first event is not
// retried (the client already has bytes) and ends in an error, while a
// non-streaming call cut the same way is retried elsewhere.
func TestRouterResetAfterFirstByte(t *testing.T) {
	bad := fakeup.New(fakeup.OpenAI)
	defer bad.Close()
	bad.Script = func(int, fakeup.Request) fakeup.Reply {
		return fakeup.Reply{Chunks: 6, ResetAfterEvents: 1}
	}
	good := fakeup.New(fakeup.OpenAI)
	defer good.Close()
	g := startGateway(t, `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{BAD}}/v1", order: 1}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{GOOD}}/v1", order: 2}
router_settings:
  num_retries: 2
  disable_cooldowns: true
general_settings:
  master_key: sk-test-master
`, map[string]string{"BAD": bad.URL, "GOOD": good.URL})
	c := oaClient(g)
	stream := c.Chat.Completions.NewStreaming(context.Background(), params("gpt-4o"))
	n := 0
	for stream.Next() {
		n++
	}
	if stream.Err() == nil || n == 0 || good.ChatCount() != 0 {
		t.Fatalf("chunks %d err %v good %d: want the cut reported and no retry", n, stream.Err(), good.ChatCount())
	}
}

// TestRouterCooldownTakesDeploymentOut: after a 429 the deployment gets no
// traffic for cooldown_time, from the very next request on.
func TestRouterCooldownTakesDeploymentOut(t *testing.T) {
	limited := fakeup.New(fakeup.OpenAI)
	defer limited.Close()
	limited.Script = func(int, fakeup.Request) fakeup.Reply { return fakeup.Reply{Status: 429} }
	good := fakeup.New(fakeup.OpenAI)
	defer good.Close()
	g := startGateway(t, `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{BAD}}/v1", order: 1}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{GOOD}}/v1", order: 2}
router_settings:
  num_retries: 1
  cooldown_time: 60
general_settings:
  master_key: sk-test-master
`, map[string]string{"BAD": limited.URL, "GOOD": good.URL})
	c := oaClient(g)
	chatN(t, c, "gpt-4o", 10)
	if limited.ChatCount() != 1 || good.ChatCount() != 10 {
		t.Fatalf("rate-limited deployment got %d calls, healthy %d", limited.ChatCount(), good.ChatCount())
	}
}

func TestRouterWeightsDistribution(t *testing.T) {
	a, b := fakeup.New(fakeup.OpenAI), fakeup.New(fakeup.OpenAI)
	defer a.Close()
	defer b.Close()
	g := startGateway(t, `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{A}}/v1", weight: 1}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{B}}/v1", weight: 3}
general_settings:
  master_key: sk-test-master
`, map[string]string{"A": a.URL, "B": b.URL})
	const n = 400
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			resp, body := g.do(t, "POST", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != 200 {
				t.Errorf("%d %s", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	// Binomial(400, 0.25): mean 100, sd 8.7; 5 sd either side.
	if got := a.ChatCount(); got < 57 || got > 143 || a.ChatCount()+b.ChatCount() != n {
		t.Fatalf("weight 1 of 4 got %d of %d", got, n)
	}
}

func TestRouterCostBasedPrefersLocal(t *testing.T) {
	local := fakeup.New(fakeup.Ollama)
	defer local.Close()
	cloud := fakeup.New(fakeup.OpenAI)
	defer cloud.Close()
	g := startGateway(t, `
model_list:
  - model_name: claude-3-5-sonnet-20241022
    litellm_params: {model: openai/gpt-4o, api_base: "{{CLOUD}}/v1", input_cost_per_token: 0.000003, output_cost_per_token: 0.000015}
  - model_name: claude-3-5-sonnet-20241022
    litellm_params: {model: ollama/qwen2.5:7b, api_base: "{{LOCAL}}"}
router_settings:
  routing_strategy: cost-based
  fallbacks: true
general_settings:
  master_key: sk-test-master
`, map[string]string{"LOCAL": local.URL, "CLOUD": cloud.URL})
	c := oaClient(g)
	chatN(t, c, "claude-3-5-sonnet-20241022", 10)
	if local.ChatCount() != 10 || cloud.ChatCount() != 0 {
		t.Fatalf("local %d cloud %d", local.ChatCount(), cloud.ChatCount())
	}
	// fallbacks: true — the local model fails, the cloud answers.
	local.Script = func(int, fakeup.Request) fakeup.Reply { return fakeup.Reply{Status: 500} }
	if _, err := c.Chat.Completions.New(context.Background(), params("claude-3-5-sonnet-20241022")); err != nil {
		t.Fatalf("fallbacks: true did not reach the cloud: %v", err)
	}
	if cloud.ChatCount() != 1 {
		t.Fatalf("cloud %d", cloud.ChatCount())
	}
}

func TestRouterLatencyBasedAvoidsSlowDeployment(t *testing.T) {
	fast, slowUp := fakeup.New(fakeup.OpenAI), fakeup.New(fakeup.OpenAI)
	defer fast.Close()
	defer slowUp.Close()
	slowUp.Script = func(int, fakeup.Request) fakeup.Reply { return fakeup.Reply{Delay: 150 * time.Millisecond} }
	g := startGateway(t, `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{FAST}}/v1"}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{SLOW}}/v1"}
router_settings:
  routing_strategy: latency-based
general_settings:
  master_key: sk-test-master
`, map[string]string{"FAST": fast.URL, "SLOW": slowUp.URL})
	c := oaClient(g)
	chatN(t, c, "gpt-4o", 30)
	if s := slowUp.ChatCount(); s > 3 {
		t.Fatalf("slow deployment got %d of 30", s)
	}
}

func TestRouterFallbacksAndLimits(t *testing.T) {
	broken, other := fakeup.New(fakeup.OpenAI), fakeup.New(fakeup.OpenAI)
	defer broken.Close()
	defer other.Close()
	broken.Script = func(int, fakeup.Request) fakeup.Reply { return fakeup.Reply{Status: 503} }
	g := startGateway(t, `
model_list:
  - model_name: primary
    litellm_params: {model: openai/gpt-4o, api_base: "{{BROKEN}}/v1"}
  - model_name: backup
    litellm_params: {model: openai/gpt-4o-mini, api_base: "{{OTHER}}/v1"}
  - model_name: limited
    litellm_params: {model: openai/gpt-4o-mini, api_base: "{{OTHER}}/v1", rpm: 2}
router_settings:
  fallbacks: [{"primary": ["backup"]}]
general_settings:
  master_key: sk-test-master
`, map[string]string{"BROKEN": broken.URL, "OTHER": other.URL})
	c := oaClient(g)
	resp, err := c.Chat.Completions.New(context.Background(), params("primary"))
	if err != nil {
		t.Fatalf("fallback: %v", err)
	}
	if got := other.Last().JSON()["model"]; got != "gpt-4o-mini" || resp.Choices[0].Message.Content == "" {
		t.Fatalf("fallback went to %v", got)
	}
	for range 2 {
		if r, b := g.do(t, "POST", "/v1/chat/completions", `{"model":"limited","messages":[{"role":"user","content":"hi"}]}`); r.StatusCode != 200 {
			t.Fatalf("%d %s", r.StatusCode, b)
		}
	}
	r, b := g.do(t, "POST", "/v1/chat/completions", `{"model":"limited","messages":[{"role":"user","content":"hi"}]}`)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("full group: %d retry-after %q %s", r.StatusCode, r.Header.Get("Retry-After"), b)
	}
	if !strings.Contains(string(b), "limit") {
		t.Fatalf("body %s", b)
	}
}
