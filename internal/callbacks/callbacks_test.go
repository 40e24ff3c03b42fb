package callbacks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Dropped(sink string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[sink]++
}

func (c *counter) get(sink string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[sink]
}

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func okRecord(id string) *record.Record {
	return &record.Record{
		ID: id, StartTime: t0, EndTime: t0.Add(2 * time.Second), Route: "messages",
		ClientDialect: llm.DialectAnthropic, ModelRequested: "claude-3-5-sonnet-20241022",
		ModelGroup: "claude-3-5-sonnet-20241022", DeploymentID: "dep-a", Provider: "ollama",
		UpstreamModel: "qwen2.5:7b", APIBase: "http://localhost:11434", Stream: true,
		Usage: llm.Usage{InputTokens: 100, CacheReadTokens: 20, OutputTokens: 30}, Cost: 0.0125,
		Latency: 2 * time.Second, TTFT: 250 * time.Millisecond, UpstreamLatency: 1900 * time.Millisecond,
		Status: record.StatusSuccess, HTTPStatus: 200, KeyHash: "deadbeef", User: "u1", Tags: []string{"ci"},
	}
}

func failRecord(id string) *record.Record {
	return &record.Record{
		ID: id, StartTime: t0, EndTime: t0.Add(time.Second), Route: "chat_completions",
		ModelRequested: "gpt-4", ModelGroup: "claude-3-5-sonnet-20241022", DeploymentID: "dep-b",
		Provider: "anthropic", UpstreamModel: "claude-3-5-sonnet-20241022", APIBase: "https://api.anthropic.com",
		Latency: time.Second, Status: record.StatusFailure, HTTPStatus: 429, ErrorKind: "rate_limit",
		ErrorMessage: "upstream rate limited",
	}
}

func closeNow(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Settings
		want    []string
		wantErr error
		errHas  string
	}{
		{name: "none", want: []string{}},
		{name: "prometheus needs no sink", cfg: Settings{Callbacks: []string{"prometheus"}}, want: []string{}},
		{name: "unknown", cfg: Settings{Strict: true, SuccessCallback: []string{"datadog"}}, wantErr: ErrUnknownCallback, errHas: "langfuse"},
		{name: "unknown, lenient: left out with a warning", cfg: Settings{SuccessCallback: []string{"datadog"}}, want: []string{}},
		{name: "python path unknown", cfg: Settings{Strict: true, Callbacks: []string{"custom_callbacks.proxy_handler_instance"}}, wantErr: ErrUnknownCallback},
		{name: "langfuse without keys", cfg: Settings{Strict: true, SuccessCallback: []string{"langfuse"}}, wantErr: ErrNotConfigured},
		{name: "langfuse without keys, lenient: left out with a warning", cfg: Settings{SuccessCallback: []string{"langfuse"}}, want: []string{}},
		{name: "langfuse keys from env", cfg: Settings{SuccessCallback: []string{"langfuse"}, Getenv: env(map[string]string{
			"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk"})}, want: []string{"langfuse"}},
		{name: "langfuse keys from settings", cfg: Settings{SuccessCallback: []string{"Langfuse "},
			LangfusePublicKey: "pk", LangfuseSecretKey: "sk"}, want: []string{"langfuse"}},
		{name: "webhook without url", cfg: Settings{Strict: true, Callbacks: []string{"generic_api"}}, wantErr: ErrNotConfigured},
		{name: "webhook from env", cfg: Settings{Callbacks: []string{"generic_api"}, Getenv: env(map[string]string{
			"GENERIC_LOGGER_ENDPOINT": "http://127.0.0.1:1/hook"})}, want: []string{"webhook"}},
		{name: "otel defaults", cfg: Settings{Callbacks: []string{"opentelemetry", "otel"}}, want: []string{"otel"}},
		{name: "same sink in two lists is one sink", cfg: Settings{
			SuccessCallback: []string{"otel"}, FailureCallback: []string{"otel"}}, want: []string{"otel"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Getenv == nil {
				tc.cfg.Getenv = env(nil)
			}
			d, err := New(tc.cfg, nil, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if tc.errHas != "" && !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("err %q does not list %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer closeNow(t, d)
			if got := d.Names(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("sinks = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	s := FromConfig(config.LiteLLMSettings{SuccessCallback: []string{"langfuse"}, LangfusePublicKey: "pk",
		LangfuseSecretKey: "sk", LangfuseHost: "http://lf"})
	if s.SuccessCallback[0] != "langfuse" || s.LangfusePublicKey != "pk" || s.LangfuseSecretKey != "sk" || s.LangfuseHost != "http://lf" {
		t.Errorf("FromConfig = %+v", s)
	}
}

// fakeLangfuse is an ingestion server that checks every request's shape and
// keeps the events.
type fakeLangfuse struct {
	t      *testing.T
	mu     sync.Mutex
	events []map[string]any
	reject map[string]bool // generation body ids to refuse
}

var isoTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)

func (f *fakeLangfuse) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.Method != http.MethodPost || r.URL.Path != "/api/public/ingestion" {
		t.Errorf("%s %s, want POST /api/public/ingestion", r.Method, r.URL.Path)
	}
	if u, p, ok := r.BasicAuth(); !ok || u != "pk-lf-test" || p != "sk-lf-test" {
		t.Errorf("basic auth = %q:%q %v", u, p, ok)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var req map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		t.Errorf("decode: %v", err)
	}
	var batch []map[string]any
	if err := json.Unmarshal(req["batch"], &batch); err != nil || len(batch) == 0 {
		t.Errorf("batch is not a non-empty array: %v", err)
	}
	type res struct {
		ID     string `json:"id"`
		Status int    `json:"status"`
	}
	var ok, bad []res
	for _, ev := range batch {
		id, _ := ev["id"].(string)
		ts, _ := ev["timestamp"].(string)
		typ, _ := ev["type"].(string)
		body, _ := ev["body"].(map[string]any)
		if id == "" || !isoTime.MatchString(ts) || body == nil || body["id"] == "" {
			t.Errorf("bad envelope: %v", ev)
		}
		switch typ {
		case "trace-create":
			if !isoTime.MatchString(body["timestamp"].(string)) || body["name"] == "" {
				t.Errorf("bad trace body: %v", body)
			}
		case "generation-create":
			for _, k := range []string{"traceId", "startTime", "endTime", "model", "usage", "level", "metadata"} {
				if _, has := body[k]; !has {
					t.Errorf("generation body lacks %s: %v", k, body)
				}
			}
		default:
			t.Errorf("event type %q", typ)
		}
		if f.reject[body["id"].(string)] {
			bad = append(bad, res{id, 400})
		} else {
			ok = append(ok, res{id, 201})
		}
	}
	f.mu.Lock()
	f.events = append(f.events, batch...)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMultiStatus)
	_ = json.NewEncoder(w).Encode(map[string]any{"successes": ok, "errors": bad})
}

func (f *fakeLangfuse) byType(typ string) map[string]map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]any{}
	for _, ev := range f.events {
		if ev["type"] == typ {
			b := ev["body"].(map[string]any)
			out[b["id"].(string)] = b
		}
	}
	return out
}

func TestLangfuse(t *testing.T) {
	fake := &fakeLangfuse{t: t, reject: map[string]bool{"req-rejected-generation": true}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	drops := &counter{}
	d, err := New(Settings{
		Callbacks: []string{"langfuse"}, LangfusePublicKey: "pk-lf-test", LangfuseSecretKey: "sk-lf-test",
		LangfuseHost: srv.URL + "/", Getenv: env(nil),
	}, drops, nil)
	if err != nil {
		t.Fatal(err)
	}
	withPrompt := okRecord("req-prompt")
	withPrompt.Prompt, withPrompt.Response = `[{"role":"user","content":"hi"}]`, "hello"
	for _, r := range []*record.Record{okRecord("req-ok"), failRecord("req-fail"), withPrompt, okRecord("req-rejected")} {
		d.Record(r)
	}
	closeNow(t, d)

	traces, gens := fake.byType("trace-create"), fake.byType("generation-create")
	if len(traces) != 4 || len(gens) != 4 {
		t.Fatalf("got %d traces, %d generations, want 4 each", len(traces), len(gens))
	}
	if n := drops.get("langfuse"); n != 1 {
		t.Errorf("drops = %d, want 1 (one record refused)", n)
	}

	tests := []struct {
		name  string
		body  map[string]any
		path  string
		want  any
		exist bool
	}{
		{"trace id is request id", traces["req-ok"], "id", "req-ok", true},
		{"trace user", traces["req-ok"], "userId", "u1", true},
		{"trace no prompt", traces["req-ok"], "input", nil, false},
		{"trace tags", traces["req-ok"], "tags", []any{"ci"}, true},
		{"gen trace link", gens["req-ok-generation"], "traceId", "req-ok", true},
		{"gen model", gens["req-ok-generation"], "model", "qwen2.5:7b", true},
		{"gen start", gens["req-ok-generation"], "startTime", "2026-03-01T12:00:00.000Z", true},
		{"gen end", gens["req-ok-generation"], "endTime", "2026-03-01T12:00:02.000Z", true},
		{"gen first token", gens["req-ok-generation"], "completionStartTime", "2026-03-01T12:00:00.250Z", true},
		{"gen usage input", gens["req-ok-generation"], "usage.input", 120.0, true},
		{"gen usage output", gens["req-ok-generation"], "usage.output", 30.0, true},
		{"gen usage total", gens["req-ok-generation"], "usage.total", 150.0, true},
		{"gen usage cost", gens["req-ok-generation"], "usage.totalCost", 0.0125, true},
		{"gen usageDetails", gens["req-ok-generation"], "usageDetails.input", 120.0, true},
		{"gen costDetails", gens["req-ok-generation"], "costDetails.total", 0.0125, true},
		{"gen level ok", gens["req-ok-generation"], "level", "DEFAULT", true},
		{"gen meta deployment", gens["req-ok-generation"], "metadata.deployment_id", "dep-a", true},
		{"gen meta group", gens["req-ok-generation"], "metadata.model_group", "claude-3-5-sonnet-20241022", true},
		{"gen meta request id", gens["req-ok-generation"], "metadata.request_id", "req-ok", true},
		{"gen no prompt", gens["req-ok-generation"], "input", nil, false},
		{"gen no key hash", gens["req-ok-generation"], "metadata.user_api_key_hash", nil, false},
		{"fail level", gens["req-fail-generation"], "level", "ERROR", true},
		{"fail message", gens["req-fail-generation"], "statusMessage", "upstream rate limited", true},
		{"fail meta kind", gens["req-fail-generation"], "metadata.error_kind", "rate_limit", true},
		{"prompt stored when set", gens["req-prompt-generation"], "input", `[{"role":"user","content":"hi"}]`, true},
		{"response stored when set", gens["req-prompt-generation"], "output", "hello", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := dig(tc.body, tc.path)
			if ok != tc.exist {
				t.Fatalf("%s present = %v, want %v (body %v)", tc.path, ok, tc.exist, tc.body)
			}
			if tc.exist && !jsonEqual(got, tc.want) {
				t.Errorf("%s = %#v, want %#v", tc.path, got, tc.want)
			}
		})
	}
}

func dig(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// collector records posted bodies.
type collector struct {
	mu     sync.Mutex
	bodies [][]byte
	header http.Header
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.bodies = append(c.bodies, b)
	c.header = r.Header.Clone()
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{}`))
}

func (c *collector) webhookRecords(t *testing.T) []WebhookRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []WebhookRecord
	for _, b := range c.bodies {
		var recs []WebhookRecord
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("webhook body is not a JSON array of records: %v: %s", err, b)
		}
		all = append(all, recs...)
	}
	return all
}

func TestWebhookFilters(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Settings
		wantIDs string
	}{
		{"success_callback gets successes", Settings{SuccessCallback: []string{"webhook"}}, "ok1,ok2"},
		{"failure_callback gets failures", Settings{FailureCallback: []string{"generic_api"}}, "fail1"},
		{"callbacks gets both", Settings{Callbacks: []string{"generic"}}, "ok1,fail1,ok2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &collector{}
			srv := httptest.NewServer(c)
			defer srv.Close()
			tc.cfg.Getenv = env(map[string]string{"GENERIC_LOGGER_ENDPOINT": srv.URL + "/hook",
				"GENERIC_LOGGER_HEADERS": "X-Token=abc, X-Env=test"})
			d, err := New(tc.cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			d.Record(okRecord("ok1"))
			d.Record(failRecord("fail1"))
			d.Record(okRecord("ok2"))
			closeNow(t, d)
			var ids []string
			for _, r := range c.webhookRecords(t) {
				ids = append(ids, r.ID)
			}
			if got := strings.Join(ids, ","); got != tc.wantIDs {
				t.Errorf("ids = %s, want %s", got, tc.wantIDs)
			}
			if c.header.Get("X-Token") != "abc" || c.header.Get("X-Env") != "test" {
				t.Errorf("headers = %v", c.header)
			}
		})
	}
}

func TestWebhookRecordShape(t *testing.T) {
	w := NewWebhookRecord(okRecord("r1"))
	b, _ := json.Marshal(w)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	want := map[string]any{
		"id": "r1", "call_type": "messages", "status": "success", "model_group": "claude-3-5-sonnet-20241022",
		"model_id": "dep-a", "model": "qwen2.5:7b", "custom_llm_provider": "ollama", "prompt_tokens": 120.0,
		"completion_tokens": 30.0, "total_tokens": 150.0, "response_cost": 0.0125, "response_time_ms": 2000.0,
		"startTime": float64(t0.Unix()), "user_api_key_hash": "deadbeef",
	}
	for k, v := range want {
		if !jsonEqual(m[k], v) {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	for _, k := range []string{"messages", "response", "error_str"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present without prompt storage / error", k)
		}
	}
}

func TestOTel(t *testing.T) {
	c := &collector{}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/traces", c)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	d, err := New(Settings{Callbacks: []string{"otel"}, Getenv: env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20x",
		"OTEL_SERVICE_NAME": "gw"})}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Record(okRecord("req-ok"))
	d.Record(failRecord("req-fail"))
	closeNow(t, d)

	if len(c.bodies) != 1 {
		t.Fatalf("%d posts, want 1 batch", len(c.bodies))
	}
	if got := c.header.Get("Authorization"); got != "Bearer x" {
		t.Errorf("Authorization = %q", got)
	}
	var req struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []otlpKeyValue `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Scope struct {
					Name string `json:"name"`
				} `json:"scope"`
				Spans []map[string]json.RawMessage `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(c.bodies[0], &req); err != nil {
		t.Fatal(err)
	}
	rs := req.ResourceSpans[0]
	if *rs.Resource.Attributes[0].Value.StringValue != "gw" || rs.ScopeSpans[0].Scope.Name == "" {
		t.Errorf("resource/scope: %s", c.bodies[0])
	}
	spans := rs.ScopeSpans[0].Spans
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	hex32, hex16 := regexp.MustCompile(`^"[0-9a-f]{32}"$`), regexp.MustCompile(`^"[0-9a-f]{16}"$`)
	digits := regexp.MustCompile(`^"\d+"$`)
	for _, sp := range spans {
		if !hex32.Match(sp["traceId"]) || !hex16.Match(sp["spanId"]) {
			t.Errorf("ids not hex: %s %s", sp["traceId"], sp["spanId"])
		}
		if !digits.Match(sp["startTimeUnixNano"]) || !digits.Match(sp["endTimeUnixNano"]) {
			t.Errorf("times not decimal strings: %s", sp["startTimeUnixNano"])
		}
		if string(sp["kind"]) != "3" {
			t.Errorf("kind = %s, want 3 (CLIENT)", sp["kind"])
		}
	}
	attrs := func(sp map[string]json.RawMessage) map[string]string {
		var kvs []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		_ = json.Unmarshal(sp["attributes"], &kvs)
		out := map[string]string{}
		for _, kv := range kvs {
			out[kv.Key] = string(kv.Value)
		}
		return out
	}
	ok, fail := attrs(spans[0]), attrs(spans[1])
	tests := []struct {
		got, want string
	}{
		{string(spans[0]["name"]), `"chat claude-3-5-sonnet-20241022"`},
		{ok["gen_ai.operation.name"], `{"stringValue":"chat"}`},
		{ok["gen_ai.request.model"], `{"stringValue":"claude-3-5-sonnet-20241022"}`},
		{ok["gen_ai.response.model"], `{"stringValue":"qwen2.5:7b"}`},
		{ok["gen_ai.provider.name"], `{"stringValue":"ollama"}`},
		{ok["gen_ai.usage.input_tokens"], `{"intValue":"120"}`},
		{ok["gen_ai.usage.output_tokens"], `{"intValue":"30"}`},
		{ok["server.address"], `{"stringValue":"localhost"}`},
		{ok["server.port"], `{"intValue":"11434"}`},
		{ok["switchyard.cost_usd"], `{"doubleValue":0.0125}`},
		{ok["switchyard.deployment_id"], `{"stringValue":"dep-a"}`},
		{string(spans[0]["status"]), `{}`},
		{fail["error.type"], `{"stringValue":"rate_limit"}`},
		{string(spans[1]["status"]), `{"code":2,"message":"upstream rate limited"}`},
	}
	for i, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%d: got %s, want %s", i, tc.got, tc.want)
		}
	}
	// The same request id always maps to the same trace.
	a, _ := spanIDs("req-ok")
	if string(spans[0]["traceId"]) != `"`+a+`"` {
		t.Errorf("trace id not derived from request id")
	}
}

func TestBatching(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	d, err := New(Settings{Callbacks: []string{"webhook"}, WebhookURL: srv.URL, BatchSize: 3,
		FlushInterval: 20 * time.Millisecond, Getenv: env(nil)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeNow(t, d)
	for range 7 {
		d.Record(okRecord("r"))
	}
	// Without Close: the size trigger sends two batches of 3, the timer the last one.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if len(c.webhookRecords(t)) == 7 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, b := range c.bodies {
		var recs []WebhookRecord
		_ = json.Unmarshal(b, &recs)
		if len(recs) > 3 {
			t.Errorf("batch of %d > BatchSize 3", len(recs))
		}
		total += len(recs)
	}
	if total != 7 {
		t.Errorf("delivered %d, want 7", total)
	}
}

// A collector that never answers must cost the data path nothing: Record
// stays fast and non-blocking, the overflow is counted, Close honours its
// deadline.
func TestHangingCollector(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	drops := &counter{}
	d, err := New(Settings{
		Callbacks: []string{"langfuse", "webhook", "otel"}, LangfusePublicKey: "pk", LangfuseSecretKey: "sk",
		LangfuseHost: srv.URL, WebhookURL: srv.URL, OTLPEndpoint: srv.URL,
		QueueSize: 100, BatchSize: 10, HTTPTimeout: 100 * time.Millisecond, Getenv: env(nil),
	}, drops, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	r := okRecord("r")
	var slowest time.Duration
	start := time.Now()
	for range n {
		t1 := time.Now()
		d.Record(r)
		if el := time.Since(t1); el > slowest {
			slowest = el
		}
	}
	total := time.Since(start)
	if slowest > 50*time.Millisecond || total > 2*time.Second {
		t.Errorf("Record blocked: slowest %v, total %v for %d", slowest, total, n)
	}
	for _, s := range []string{"langfuse", "webhook", "otel"} {
		if got := drops.get(s); got < n-200 {
			t.Errorf("%s drops = %d, want nearly %d", s, got, n)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t1 := time.Now()
	err = d.Close(ctx)
	if el := time.Since(t1); el > 2*time.Second {
		t.Errorf("Close took %v past its deadline", el)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v", err)
	}
	// Everything is accounted for: every record is either dropped or was
	// already lost to a timed-out batch; nothing is still queued.
	for _, s := range []string{"langfuse", "webhook", "otel"} {
		if got := drops.get(s); got != n {
			t.Errorf("%s drops after Close = %d, want %d", s, got, n)
		}
	}
	// After Close, Record is a counted drop, not a panic.
	d.Record(r)
	if got := drops.get("webhook"); got != n+1 {
		t.Errorf("drops after closed Record = %d", got)
	}
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"", nil},
		{"a=1", map[string]string{"a": "1"}},
		{" a = 1 ,b=x%20y,bad,=z", map[string]string{"a": "1", "b": "x y"}},
	}
	for _, tc := range tests {
		if got := parseHeaders(tc.in); !jsonEqual(got, tc.want) {
			t.Errorf("parseHeaders(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func BenchmarkDispatcherRecord(b *testing.B) {
	d, err := New(Settings{Callbacks: []string{"webhook"}, WebhookURL: "http://127.0.0.1:1", QueueSize: 1 << 20,
		Getenv: env(nil)}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = d.Close(ctx)
	}()
	r := okRecord("r")
	b.ReportAllocs()
	for b.Loop() {
		d.Record(r)
	}
}
