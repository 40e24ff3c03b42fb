package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchyard/switchyard/internal/fakeup"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/spend"
)

type spendLogs struct {
	Data []struct {
		RequestID        string  `json:"request_id"`
		ModelGroup       string  `json:"model_group"`
		ModelID          string  `json:"model_id"`
		Stream           bool    `json:"stream"`
		PromptTokens     int     `json:"prompt_tokens"`
		CompletionTokens int     `json:"completion_tokens"`
		Spend            float64 `json:"spend"`
		Status           string  `json:"status"`
		UsageEstimated   bool    `json:"usage_estimated"`
		APIKey           string  `json:"api_key"`
		Messages         string  `json:"messages"`
	} `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// waitLogs polls /spend/logs until n records are there (the writer batches).
func waitLogs(t *testing.T, g *gw, query string, n int) spendLogs {
	t.Helper()
	var out spendLogs
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, b := g.do(t, "GET", "/spend/logs?"+query, "")
		if resp.StatusCode != 200 {
			t.Fatalf("spend logs %d %s", resp.StatusCode, b)
		}
		out = spendLogs{}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Data) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(out.Data) < n {
		t.Fatalf("%d spend records, want %d", len(out.Data), n)
	}
	return out
}

const pricedOpenAI = `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{UP}}/v1", api_key: sk-up, input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
  - model_name: local
    litellm_params: {model: ollama/qwen2.5:7b, api_base: "{{OLL}}"}
general_settings:
  master_key: sk-test-master
`

func TestSpendStreamsPricedLikeNonStreams(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	oll := fakeup.New(fakeup.Ollama)
	defer oll.Close()
	g := startGatewayOpts(t, pricedOpenAI, map[string]string{"UP": up.URL, "OLL": oll.URL}, gateway.Options{Spend: spend.WriterOptions{FlushInterval: 50 * time.Millisecond}})
	c := oaClient(g)
	ctx := context.Background()
	if _, err := c.Chat.Completions.New(ctx, params("gpt-4o")); err != nil {
		t.Fatal(err)
	}
	stream := c.Chat.Completions.NewStreaming(ctx, params("gpt-4o"))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Chat.Completions.New(ctx, params("local")); err != nil {
		t.Fatal(err)
	}
	logs := waitLogs(t, g, "model=gpt-4o", 2)
	// gpt-4o: $2.50 in, $10 out per million; the fake reports 11 in, 7 out.
	want := 11*2.5e-6 + 7*10e-6
	var sawStream, sawPlain bool
	for _, l := range logs.Data {
		if math.Abs(l.Spend-want) > 1e-12 || l.PromptTokens != 11 || l.CompletionTokens != 7 || l.Status != "success" {
			t.Fatalf("record %+v: want cost %g with 11/7 tokens", l, want)
		}
		if l.APIKey == "" || strings.Contains(l.APIKey, masterKey) {
			t.Fatalf("key not hashed: %q", l.APIKey)
		}
		if l.Messages != "" {
			t.Fatalf("prompt stored without store_prompts_in_spend_logs")
		}
		sawStream = sawStream || l.Stream
		sawPlain = sawPlain || !l.Stream
	}
	if !sawStream || !sawPlain {
		t.Fatalf("want one streamed and one plain record: %+v", logs.Data)
	}
	local := waitLogs(t, g, "model=local", 1)
	if local.Data[0].Spend != 0 {
		t.Fatalf("a local deployment cost %g", local.Data[0].Spend)
	}
	// Filters and pages.
	page := waitLogs(t, g, "limit=1", 1)
	if len(page.Data) != 1 || page.NextCursor == "" {
		t.Fatalf("page %+v", page)
	}
	next := waitLogs(t, g, "limit=5&cursor="+page.NextCursor, 2)
	if next.Data[0].RequestID == page.Data[0].RequestID {
		t.Fatal("the cursor returned the same record")
	}
	if got := waitLogs(t, g, "api_key="+masterKey, 3); len(got.Data) != 3 {
		t.Fatalf("by key: %d", len(got.Data))
	}

	// The cost header on a non-streamed reply.
	r, b := g.do(t, "POST", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	cost, err := strconv.ParseFloat(r.Header.Get("X-Litellm-Response-Cost"), 64)
	if err != nil || math.Abs(cost-want) > 1e-12 {
		t.Fatalf("x-litellm-response-cost %q (%s)", r.Header.Get("X-Litellm-Response-Cost"), b)
	}
	// A non-streamed reply goes out whole, with its length (flushed before
	// the call's bookkeeping), never chunked.
	if r.ContentLength != int64(len(b)) || len(r.TransferEncoding) != 0 {
		t.Fatalf("content-length %d, transfer-encoding %v, body %d bytes", r.ContentLength, r.TransferEncoding, len(b))
	}

	t.Run("report and stats", func(t *testing.T) {
		waitLogs(t, g, "", 4)
		resp, b := g.do(t, "GET", "/global/spend/report?group_by=model", "")
		var rep struct {
			Data []struct {
				Group    string
				Requests int64
				Spend    float64
			}
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &rep) != nil {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		found := false
		for _, row := range rep.Data {
			if row.Group == "gpt-4o" && row.Requests == 3 && math.Abs(row.Spend-3*want) < 1e-12 {
				found = true
			}
		}
		if !found {
			t.Fatalf("report %s", b)
		}
		resp, b = g.do(t, "GET", "/stats?window=1h", "")
		var st struct {
			Total struct {
				Requests int64
				P99      float64 `json:"latency_p99_ms"`
			}
			ByModel []struct {
				ModelGroup string `json:"model_group"`
			} `json:"by_model"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil || st.Total.Requests != 4 || len(st.ByModel) != 2 {
			t.Fatalf("stats %d %s", resp.StatusCode, b)
		}
		if resp, _ := g.do(t, "GET", "/stats?window=bogus", ""); resp.StatusCode != 400 {
			t.Fatalf("bad window: %d", resp.StatusCode)
		}
		if resp, _ := g.do(t, "GET", "/logs", "", "Authorization", ""); resp.StatusCode != 401 {
			t.Fatalf("/logs without a key: %d", resp.StatusCode)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, b := g.do(t, "GET", "/metrics", "", "Authorization", "")
		if resp.StatusCode != 200 {
			t.Fatalf("%d", resp.StatusCode)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		sum := func(name string, labels map[string]string) float64 {
			var total float64
			f := fams[name]
			if f == nil {
				t.Fatalf("metric %s missing", name)
			}
		next:
			for _, m := range f.Metric {
				for k, v := range labels {
					ok := false
					for _, lp := range m.Label {
						if lp.GetName() == k && lp.GetValue() == v {
							ok = true
						}
					}
					if !ok {
						continue next
					}
				}
				switch {
				case m.Counter != nil:
					total += m.Counter.GetValue()
				case m.Histogram != nil:
					total += float64(m.Histogram.GetSampleCount())
				case m.Gauge != nil:
					total += m.Gauge.GetValue()
				}
			}
			return total
		}
		if n := sum("litellm_requests_total", nil); n != 4 {
			t.Errorf("litellm_requests_total %g, want 4", n)
		}
		if n := sum("litellm_proxy_total_requests_metric_total", map[string]string{"requested_model": "gpt-4o"}); n != 3 {
			t.Errorf("litellm_proxy_total_requests_metric_total{gpt-4o} %g, want 3", n)
		}
		if c := sum("litellm_spend_metric_total", nil); math.Abs(c-3*want) > 1e-9 {
			t.Errorf("litellm_spend_metric_total %g, want %g", c, 3*want)
		}
		if n := sum("litellm_input_tokens_metric_total", nil); n != 44 {
			t.Errorf("input tokens %g, want 44", n)
		}
		if n := sum("litellm_llm_api_time_to_first_token_metric", nil); n < 1 {
			t.Errorf("no time-to-first-token sample")
		}
		if n := sum("litellm_in_flight_requests", nil); n != 0 {
			t.Errorf("in flight %g after all calls finished", n)
		}
		for _, name := range []string{"litellm_requests_duration_seconds", "litellm_model_requests_total",
			"litellm_cost_total", "litellm_deployment_state", "litellm_request_total_latency_metric", "litellm_overhead_latency_metric"} {
			if fams[name] == nil {
				t.Errorf("metric %s missing", name)
			}
		}
	})
}

func TestSpendFailuresAndOff(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	up.Script = func(int, fakeup.Request) fakeup.Reply { return fakeup.Reply{Status: 400} }
	g := startGatewayOpts(t, pricedOpenAI, map[string]string{"UP": up.URL, "OLL": up.URL}, gateway.Options{Spend: spend.WriterOptions{FlushInterval: 50 * time.Millisecond}})
	g.do(t, "POST", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	logs := waitLogs(t, g, "", 1)
	if logs.Data[0].Status != "failure" {
		t.Fatalf("failed call recorded as %q", logs.Data[0].Status)
	}
	if _, b := g.do(t, "GET", "/metrics", ""); !strings.Contains(string(b), "litellm_requests_errors_total{") ||
		!strings.Contains(string(b), "litellm_proxy_failed_requests_metric_total{") {
		t.Fatalf("failure metrics missing after a failed call")
	}

	off := startGateway(t, pricedOpenAI+"  disable_spend_logs: true\n", map[string]string{"UP": up.URL, "OLL": up.URL})
	resp, b := off.do(t, "GET", "/spend/logs", "")
	if resp.StatusCode != 404 || !strings.Contains(string(b), "disable_spend_logs") {
		t.Fatalf("spend logs off: %d %s", resp.StatusCode, b)
	}
}

func TestSpendDatabaseDownKeepsServing(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	// Nothing listens on port 1: the database is "down" from the start.
	cfg := pricedOpenAI + "  database_url: postgresql://postgres@127.0.0.1:1/none?connect_timeout=1\n"
	g := startGateway(t, cfg, map[string]string{"UP": up.URL, "OLL": up.URL})
	for i := range 5 {
		if resp, b := g.do(t, "POST", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
			t.Fatalf("request %d with the database down: %d %s", i, resp.StatusCode, b)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, b := g.do(t, "GET", "/health/readiness", "")
		if resp.StatusCode == 200 && strings.Contains(string(b), "unreachable") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness does not say the spend database is down: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// postgresSchemaURL makes a schema of its own in the local PostgreSQL and
// returns a database_url that uses it; without a server the test fails under
// CI=true and is skipped otherwise.
func postgresSchemaURL(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []string
	for _, base := range []string{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://root@127.0.0.1:5432/test?sslmode=disable"} {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		schema := fmt.Sprintf("sy_e2e_%d", time.Now().UnixNano())
		_, err = c.Exec(ctx, "CREATE SCHEMA "+schema)
		c.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), base)
			if err == nil {
				_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
				c.Close(context.Background())
			}
		})
		return base + "&search_path=" + schema
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL unreachable: %v", errs)
	}
	t.Skipf("PostgreSQL unreachable: %v", errs)
	return ""
}

func TestSpendInPostgres(t *testing.T) {
	url := postgresSchemaURL(t)
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	g := startGatewayOpts(t, pricedOpenAI+"  database_url: \""+url+"\"\n", map[string]string{"UP": up.URL, "OLL": up.URL},
		gateway.Options{Spend: spend.WriterOptions{FlushInterval: 50 * time.Millisecond}})
	for range 3 {
		if resp, b := g.do(t, "POST", "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	logs := waitLogs(t, g, "model=gpt-4o", 3)
	for _, l := range logs.Data {
		if l.Spend == 0 || l.PromptTokens != 11 {
			t.Fatalf("record %+v", l)
		}
	}
}
