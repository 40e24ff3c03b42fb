package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

// scrape GETs the handler and parses the text exposition.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// find returns the metric in family name whose labels include want.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, mt := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range mt.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return mt
	}
	return nil
}

func value(mt *dto.Metric) float64 {
	switch {
	case mt.Counter != nil:
		return mt.Counter.GetValue()
	case mt.Gauge != nil:
		return mt.Gauge.GetValue()
	case mt.Histogram != nil:
		return float64(mt.Histogram.GetSampleCount())
	}
	return -1
}

func sampleRecords() []*record.Record {
	ok := &record.Record{
		ID: "req-1", Route: "messages", ModelRequested: "claude-3-5-sonnet-20241022",
		ModelGroup: "claude-3-5-sonnet-20241022", DeploymentID: "dep-a", Provider: "ollama",
		UpstreamModel: "qwen2.5:7b", APIBase: "http://localhost:11434", Stream: true,
		Usage: llm.Usage{InputTokens: 100, CacheReadTokens: 20, OutputTokens: 30},
		Cost:  0.5, Latency: 2 * time.Second, UpstreamLatency: 1500 * time.Millisecond,
		TTFT: 300 * time.Millisecond, Status: record.StatusSuccess, HTTPStatus: 200,
		KeyHash: "abc", Team: "t1",
	}
	ok2 := *ok
	ok2.ID, ok2.Stream, ok2.TTFT, ok2.Cost = "req-2", false, 0, 0.25
	fail := &record.Record{
		ID: "req-3", Route: "chat_completions", ModelRequested: "gpt-4", ModelGroup: "claude-3-5-sonnet-20241022",
		DeploymentID: "dep-b", Provider: "anthropic", UpstreamModel: "claude-3-5-sonnet-20241022",
		APIBase: "https://api.anthropic.com", Latency: 100 * time.Millisecond,
		Status: record.StatusFailure, HTTPStatus: 429, ErrorKind: "rate_limit",
	}
	noRoute := &record.Record{
		ID: "req-4", Route: "chat_completions", ModelRequested: "random-name-from-client",
		Latency: time.Millisecond, Status: record.StatusFailure, HTTPStatus: 400, ErrorKind: "invalid_request",
	}
	return []*record.Record{ok, &ok2, fail, noRoute}
}

func TestRecordScrape(t *testing.T) {
	m := New(Options{})
	for _, r := range sampleRecords() {
		m.Record(r)
	}
	m.InFlight(1)
	m.InFlight(1)
	m.InFlight(-1)
	m.SetDeploymentState("dep-b", "claude-3-5-sonnet-20241022", "https://api.anthropic.com", StatePartialOutage)
	m.CooledDown("dep-b", "claude-3-5-sonnet-20241022")
	m.CooledDown("dep-b", "claude-3-5-sonnet-20241022")
	m.Dropped("langfuse")
	fams := scrape(t, m)

	const group = "claude-3-5-sonnet-20241022"
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		// The guide's names.
		{"requests 2xx", "litellm_requests_total", map[string]string{"route": "messages", "status": "2xx"}, 2},
		{"requests 4xx chat", "litellm_requests_total", map[string]string{"route": "chat_completions", "status": "4xx"}, 2},
		{"duration count", "litellm_requests_duration_seconds", map[string]string{"route": "messages", "model": group}, 2},
		{"errors", "litellm_requests_errors_total", map[string]string{"model": group, "exception_class": "rate_limit"}, 1},
		{"errors unrouted", "litellm_requests_errors_total", map[string]string{"model": "", "exception_class": "invalid_request"}, 1},
		{"model requests", "litellm_model_requests_total", map[string]string{"model": group, "model_id": "dep-a", "api_provider": "ollama"}, 2},
		{"cost", "litellm_cost_total", map[string]string{"model": group, "api_provider": "ollama"}, 0.75},
		// LiteLLM's names.
		{"proxy total 200", "litellm_proxy_total_requests_metric_total", map[string]string{"requested_model": group, "status_code": "200"}, 2},
		{"proxy total 429", "litellm_proxy_total_requests_metric_total", map[string]string{"requested_model": "gpt-4", "status_code": "429"}, 1},
		{"proxy total unrouted", "litellm_proxy_total_requests_metric_total", map[string]string{"requested_model": OverflowLabel, "status_code": "400"}, 1},
		{"proxy failed", "litellm_proxy_failed_requests_metric_total", map[string]string{"requested_model": "gpt-4", "exception_status": "429", "exception_class": "rate_limit"}, 1},
		{"spend", "litellm_spend_metric_total", map[string]string{"model": "qwen2.5:7b", "requested_model": group}, 0.75},
		{"input tokens", "litellm_input_tokens_metric_total", map[string]string{"model": "qwen2.5:7b"}, 240},
		{"output tokens", "litellm_output_tokens_metric_total", map[string]string{"model": "qwen2.5:7b"}, 60},
		{"total tokens", "litellm_total_tokens_metric_total", map[string]string{"model": "qwen2.5:7b"}, 300},
		{"total latency", "litellm_request_total_latency_metric", map[string]string{"model": "qwen2.5:7b"}, 2},
		{"api latency", "litellm_llm_api_latency_metric", map[string]string{"model": "qwen2.5:7b"}, 2},
		{"ttft only streams", "litellm_llm_api_time_to_first_token_metric", map[string]string{"model": "qwen2.5:7b"}, 1},
		{"overhead", "litellm_overhead_latency_metric", map[string]string{"model": "qwen2.5:7b"}, 2},
		{"deployment success", "litellm_deployment_success_responses_total", map[string]string{
			"requested_model": group, "litellm_model_name": "qwen2.5:7b", "model_id": "dep-a",
			"api_base": "http://localhost:11434", "api_provider": "ollama"}, 2},
		{"deployment failure", "litellm_deployment_failure_responses_total", map[string]string{
			"model_id": "dep-b", "api_provider": "anthropic", "exception_status": "429", "exception_class": "rate_limit"}, 1},
		{"deployment state", "litellm_deployment_state", map[string]string{"model_id": "dep-b", "model_group": group, "api_base": "https://api.anthropic.com"}, 1},
		{"cooled down", "litellm_deployment_cooled_down_total", map[string]string{"model_id": "dep-b", "model_group": group}, 2},
		{"in flight", "litellm_in_flight_requests", nil, 1},
		{"callback drops", "switchyard_callback_dropped_total", map[string]string{"sink": "langfuse"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mt := find(fams, tc.metric, tc.labels)
			if mt == nil {
				t.Fatalf("%s%v not found (family present: %v)", tc.metric, tc.labels, fams[tc.metric] != nil)
			}
			if got := value(mt); got != tc.want {
				t.Errorf("%s%v = %v, want %v", tc.metric, tc.labels, got, tc.want)
			}
		})
	}

	// Histogram sums are in seconds.
	if mt := find(fams, "litellm_llm_api_time_to_first_token_metric", map[string]string{"model": "qwen2.5:7b"}); mt.Histogram.GetSampleSum() != 0.3 {
		t.Errorf("ttft sum = %v, want 0.3", mt.Histogram.GetSampleSum())
	}
	// No per-key labels by default, anywhere.
	for name, f := range fams {
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				switch lp.GetName() {
				case "hashed_api_key", "api_key_alias", "team", "user", "end_user":
					t.Errorf("%s has per-key label %s by default", name, lp.GetName())
				}
			}
		}
	}
	// The Go and process collectors are registered.
	if fams["go_goroutines"] == nil {
		t.Error("go collector missing")
	}
}

func TestPerKeyLabels(t *testing.T) {
	m := New(Options{PerKeyLabels: true, NoRuntimeCollectors: true})
	for _, r := range sampleRecords() {
		m.Record(r)
	}
	fams := scrape(t, m)
	mt := find(fams, "litellm_spend_metric_total", map[string]string{"hashed_api_key": "abc", "team": "t1"})
	if mt == nil || value(mt) != 0.75 {
		t.Fatalf("per-key spend: %v", mt)
	}
	// The guide's metrics stay key-free.
	if mt := find(fams, "litellm_requests_total", map[string]string{"route": "messages"}); mt == nil || len(mt.GetLabel()) != 2 {
		t.Errorf("litellm_requests_total labels: %v", mt)
	}
}

func TestMaxSeriesOverflow(t *testing.T) {
	m := New(Options{MaxSeries: 3, NoRuntimeCollectors: true})
	for i := range 10 {
		m.Record(&record.Record{
			Route: "chat_completions", ModelRequested: fmt.Sprintf("m%d", i), ModelGroup: fmt.Sprintf("m%d", i),
			Status: record.StatusSuccess, HTTPStatus: 200,
		})
	}
	if n := len(*m.series.Load()); n != 4 { // 3 + the overflow tuple
		t.Errorf("series = %d, want 4", n)
	}
	fams := scrape(t, m)
	if mt := find(fams, "litellm_proxy_total_requests_metric_total", map[string]string{"requested_model": OverflowLabel}); mt == nil || value(mt) != 7 {
		t.Errorf("overflow series: %v", mt)
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{200: "2xx", 429: "4xx", 503: "5xx", 0: "unknown", 999: "unknown"} {
		if got := statusClass(code); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestConcurrentRecord(t *testing.T) {
	m := New(Options{NoRuntimeCollectors: true})
	recs := sampleRecords()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				m.Record(recs[(g+i)%len(recs)])
				m.InFlight(1)
				m.InFlight(-1)
				m.Dropped("otel")
			}
		}()
	}
	wg.Wait()
	fams := scrape(t, m)
	var total float64
	for _, mt := range fams["litellm_requests_total"].GetMetric() {
		total += value(mt)
	}
	if total != 4000 {
		t.Errorf("requests total = %v, want 4000", total)
	}
	if mt := find(fams, "switchyard_callback_dropped_total", map[string]string{"sink": "otel"}); value(mt) != 4000 {
		t.Errorf("drops = %v", value(mt))
	}
}

func TestRecordAllocs(t *testing.T) {
	m := New(Options{NoRuntimeCollectors: true})
	r := sampleRecords()[0]
	m.Record(r)
	if a := testing.AllocsPerRun(1000, func() { m.Record(r) }); a != 0 {
		t.Errorf("Record allocates %v times per call for a known tuple", a)
	}
}

func BenchmarkRecord(b *testing.B) {
	m := New(Options{NoRuntimeCollectors: true})
	recs := sampleRecords()
	for _, r := range recs {
		m.Record(r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Record(recs[i%len(recs)])
			i++
		}
	})
}
