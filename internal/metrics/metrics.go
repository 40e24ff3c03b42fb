// Package metrics exposes the gateway's Prometheus metrics on GET /metrics.
//
// Two families of names are kept side by side: the ones the seed guide promises
// (litellm_requests_total, litellm_requests_duration_seconds, ...) and the ones
// the LiteLLM proxy really exports (litellm_proxy_total_requests_metric_total,
// litellm_spend_metric_total, litellm_deployment_state, ...), with LiteLLM's label
// names, so dashboards built for either keep working.
//
// Cardinality is bounded: labels carry the model group, deployment id,
// provider, api base, route and status, never the API key, user or team unless
// Options.PerKeyLabels is set; and at most Options.MaxSeries distinct label
// tuples are created, after which new tuples fold into an "other" series.
//
// Record is on the data path. The metric handles for one label tuple are
// resolved once and cached in a copy-on-write map, so a call for a known
// tuple is a lock-free map read plus atomic adds, with no allocation.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard/switchyard/internal/record"
)

// Options tunes New.
type Options struct {
	// PerKeyLabels adds hashed_api_key, api_key_alias, team and user labels to
	// the LiteLLM metrics (as LiteLLM does). Off by default: one series per key
	// is what makes a Prometheus server fall over.
	PerKeyLabels bool
	// MaxSeries caps the number of distinct label tuples Record creates; zero
	// means DefaultMaxSeries. Tuples beyond the cap are counted under
	// OverflowLabel values.
	MaxSeries int
	// NoRuntimeCollectors leaves out the Go and process collectors (tests).
	NoRuntimeCollectors bool
}

// DefaultMaxSeries is the default cap on label tuples.
const DefaultMaxSeries = 5000

// OverflowLabel replaces unbounded label values once MaxSeries is reached,
// and a requested model that resolved to no model group.
const OverflowLabel = "other"

// Deployment states for SetDeploymentState, as LiteLLM defines them.
const (
	StateHealthy       = 0
	StatePartialOutage = 1
	StateOutage        = 2
)

// LatencyBuckets are LiteLLM's LATENCY_BUCKETS (seconds), so histogram
// quantiles line up with existing LiteLLM dashboards.
var LatencyBuckets = []float64{
	0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0,
	3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0,
	15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0,
}

// Metrics owns a Prometheus registry and every gateway metric.
// All methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	perKey  bool
	maxSers int

	// The guide's names.
	requests    *prometheus.CounterVec   // route, status
	duration    *prometheus.HistogramVec // route, model
	errors      *prometheus.CounterVec   // route, model, exception_class
	modelReqs   *prometheus.CounterVec   // model, model_id, api_provider, status
	costTotal   *prometheus.CounterVec   // model, api_provider
	inFlight    atomic.Int64             // litellm_in_flight_requests (a GaugeFunc reads it)
	cbDropped   *prometheus.CounterVec   // sink
	depState    *prometheus.GaugeVec     // model_id, model_group, api_base
	depCooled   *prometheus.CounterVec   // model_id, model_group
	proxyTotal  *prometheus.CounterVec   // requested_model, status_code [+key]
	proxyFailed *prometheus.CounterVec   // requested_model, exception_status, exception_class [+key]
	spend       *prometheus.CounterVec   // model, requested_model [+key]
	totalTok    *prometheus.CounterVec   // model, requested_model [+key]
	inputTok    *prometheus.CounterVec
	outputTok   *prometheus.CounterVec
	totalLat    *prometheus.HistogramVec // model, requested_model [+key]
	apiLat      *prometheus.HistogramVec
	ttft        *prometheus.HistogramVec
	overhead    *prometheus.HistogramVec
	depSuccess  *prometheus.CounterVec // requested_model, litellm_model_name, model_id, api_base, api_provider [+key]
	depFailure  *prometheus.CounterVec // ... + exception_status, exception_class

	mu     sync.Mutex // serialises writers of series
	series atomic.Pointer[map[seriesKey]*series]

	dropMu  sync.RWMutex
	dropped map[string]prometheus.Counter
}

// seriesKey is the tuple of raw label inputs taken from one record.
// Fields not used as labels (the key fields when PerKeyLabels is off) stay
// empty so they do not split series.
type seriesKey struct {
	route, requested, model, group, deployment, provider, apiBase string
	status                                                        int
	errClass                                                      string
	keyHash, keyAlias, team, user                                 string
}

// series holds the resolved handles for one seriesKey.
type series struct {
	success bool

	requests, modelReqs, errors, cost prometheus.Counter
	duration                          prometheus.Observer

	proxyTotal, proxyFailed, spend prometheus.Counter
	totalTok, inputTok, outputTok  prometheus.Counter
	totalLat, apiLat, ttft, over   prometheus.Observer
	depResult                      prometheus.Counter // success or failure, nil without deployment
}

var keyLabels = []string{"hashed_api_key", "api_key_alias", "team", "user"}

// New builds the metrics and their registry.
func New(opts Options) *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		perKey:  opts.PerKeyLabels,
		maxSers: opts.MaxSeries,
		dropped: make(map[string]prometheus.Counter),
	}
	if m.maxSers <= 0 {
		m.maxSers = DefaultMaxSeries
	}
	empty := map[seriesKey]*series{}
	m.series.Store(&empty)

	withKey := func(l ...string) []string {
		if !m.perKey {
			return l
		}
		return append(l, keyLabels...)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	histogram := func(name, help string, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: LatencyBuckets}, labels)
		m.reg.MustRegister(v)
		return v
	}

	m.requests = counter("litellm_requests_total",
		"Requests through the gateway, by client route and status class.", "route", "status")
	m.duration = histogram("litellm_requests_duration_seconds",
		"Whole-request latency in seconds, by client route and model group.", "route", "model")
	m.errors = counter("litellm_requests_errors_total",
		"Failed requests, by client route, model group and error kind.", "route", "model", "exception_class")
	m.modelReqs = counter("litellm_model_requests_total",
		"Requests per model group and deployment.", "model", "model_id", "api_provider", "status")
	m.costTotal = counter("litellm_cost_total",
		"Total cost in USD, by model group and provider.", "model", "api_provider")

	m.proxyTotal = counter("litellm_proxy_total_requests_metric_total",
		"Total number of requests made to the proxy server.", withKey("requested_model", "status_code")...)
	m.proxyFailed = counter("litellm_proxy_failed_requests_metric_total",
		"Requests for which the client did not get a success response.",
		withKey("requested_model", "exception_status", "exception_class")...)
	m.spend = counter("litellm_spend_metric_total", "Total spend in USD.", withKey("model", "requested_model")...)
	m.totalTok = counter("litellm_total_tokens_metric_total", "Input plus output tokens.", withKey("model", "requested_model")...)
	m.inputTok = counter("litellm_input_tokens_metric_total", "Input (prompt) tokens.", withKey("model", "requested_model")...)
	m.outputTok = counter("litellm_output_tokens_metric_total", "Output (completion) tokens.", withKey("model", "requested_model")...)
	m.totalLat = histogram("litellm_request_total_latency_metric",
		"Total latency (seconds) of a request to the proxy.", withKey("model", "requested_model")...)
	m.apiLat = histogram("litellm_llm_api_latency_metric",
		"Latency (seconds) of the upstream LLM API call alone.", withKey("model", "requested_model")...)
	m.ttft = histogram("litellm_llm_api_time_to_first_token_metric",
		"Time to first token (seconds) of streamed calls.", withKey("model", "requested_model")...)
	m.overhead = histogram("litellm_overhead_latency_metric",
		"Latency (seconds) added by the gateway itself.", withKey("model", "requested_model")...)
	depLabels := []string{"requested_model", "litellm_model_name", "model_id", "api_base", "api_provider"}
	m.depSuccess = counter("litellm_deployment_success_responses_total",
		"Successful LLM API calls per deployment.", withKey(depLabels...)...)
	m.depFailure = counter("litellm_deployment_failure_responses_total",
		"Failed LLM API calls per deployment.", withKey(append(depLabels, "exception_status", "exception_class")...)...)

	m.depState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "litellm_deployment_state",
		Help: "Deployment state: 0 healthy, 1 partial outage, 2 complete outage.",
	}, []string{"model_id", "model_group", "api_base"})
	m.reg.MustRegister(m.depState)
	m.depCooled = counter("litellm_deployment_cooled_down_total",
		"Times the router cooled a deployment down.", "model_id", "model_group")
	// An integer moved with one atomic add: a float Gauge's Add is a
	// compare-and-swap loop, which two cores moving it at once retry.
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "litellm_in_flight_requests",
		Help: "Requests being served right now.",
	}, func() float64 { return float64(m.inFlight.Load()) }))
	m.cbDropped = counter("switchyard_callback_dropped_total",
		"Records a callback sink dropped (queue full, collector down or rejecting).", "sink")

	if !opts.NoRuntimeCollectors {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry is the registry behind Handler, for other packages' collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

var _ record.Sink = (*Metrics)(nil)

// Record counts one finished call. It never blocks on I/O and, for a label
// tuple already seen, does not allocate.
func (m *Metrics) Record(r *record.Record) {
	if r == nil {
		return
	}
	s := m.lookup(r)

	s.requests.Inc()
	s.modelReqs.Inc()
	s.proxyTotal.Inc()
	lat := r.Latency.Seconds()
	s.duration.Observe(lat)
	s.totalLat.Observe(lat)
	if !s.success {
		s.errors.Inc()
		s.proxyFailed.Inc()
	}
	if s.depResult != nil {
		s.depResult.Inc()
	}
	if r.Cost > 0 {
		s.cost.Add(r.Cost)
		s.spend.Add(r.Cost)
	}
	if in := r.Usage.PromptTokens(); in > 0 {
		s.inputTok.Add(float64(in))
	}
	if out := r.Usage.OutputTokens; out > 0 {
		s.outputTok.Add(float64(out))
	}
	if tot := r.Usage.Total(); tot > 0 {
		s.totalTok.Add(float64(tot))
	}
	if r.UpstreamLatency > 0 {
		s.apiLat.Observe(r.UpstreamLatency.Seconds())
		if over := r.Latency - r.UpstreamLatency; over >= 0 {
			s.over.Observe(over.Seconds())
		}
	}
	if r.Stream && r.TTFT > 0 {
		s.ttft.Observe(r.TTFT.Seconds())
	}
}

// InFlight moves litellm_in_flight_requests by delta: +1 when a request
// starts, -1 when it ends.
func (m *Metrics) InFlight(delta int) { m.inFlight.Add(int64(delta)) }

// SetDeploymentState sets litellm_deployment_state for one deployment
// (StateHealthy, StatePartialOutage or StateOutage).
func (m *Metrics) SetDeploymentState(id, group, apiBase string, state int) {
	m.depState.WithLabelValues(id, group, apiBase).Set(float64(state))
}

// CooledDown counts one cooldown of a deployment.
func (m *Metrics) CooledDown(id, group string) {
	m.depCooled.WithLabelValues(id, group).Inc()
}

// Dropped counts one record a callback sink dropped. It implements
// callbacks.DropCounter.
func (m *Metrics) Dropped(sink string) {
	m.dropMu.RLock()
	c, ok := m.dropped[sink]
	m.dropMu.RUnlock()
	if !ok {
		m.dropMu.Lock()
		if c, ok = m.dropped[sink]; !ok {
			c = m.cbDropped.WithLabelValues(sink)
			m.dropped[sink] = c
		}
		m.dropMu.Unlock()
	}
	c.Inc()
}

// keyOf maps a record to its label tuple.
func (m *Metrics) keyOf(r *record.Record) seriesKey {
	k := seriesKey{
		route:      r.Route,
		requested:  r.ModelRequested,
		model:      r.UpstreamModel,
		group:      r.ModelGroup,
		deployment: r.DeploymentID,
		provider:   r.Provider,
		apiBase:    r.APIBase,
		status:     r.HTTPStatus,
	}
	// A name that resolved to no group is whatever the client typed:
	// never a label value.
	if k.group == "" {
		k.requested = OverflowLabel
	}
	if k.model == "" {
		k.model = k.group
	}
	if r.Status == record.StatusFailure {
		k.errClass = r.ErrorKind
		if k.errClass == "" {
			k.errClass = "error"
		}
		// A stream that failed after its 200 went out keeps its 200: that
		// is what the client saw; the failure shows in exception_class.
		if k.status == 0 {
			k.status = http.StatusInternalServerError
		}
	} else if k.status == 0 {
		k.status = http.StatusOK
	}
	if m.perKey {
		k.keyHash, k.keyAlias, k.team, k.user = r.KeyHash, r.KeyAlias, r.Team, r.User
	}
	return k
}

// overflow folds the unbounded parts of k into OverflowLabel.
func overflow(k seriesKey) seriesKey {
	o := OverflowLabel
	return seriesKey{
		route: k.route, requested: o, model: o, group: o, deployment: o, provider: o, apiBase: o,
		status: k.status, errClass: k.errClass,
		keyHash: o, keyAlias: o, team: o, user: o,
	}
}

func (m *Metrics) lookup(r *record.Record) *series {
	k := m.keyOf(r)
	if s, ok := (*m.series.Load())[k]; ok {
		return s
	}
	return m.add(k)
}

// add resolves a new series (once per tuple). Apart from lookup, whose
// frame then stays small: it runs on every request's goroutine at the
// deepest point of a stream.
func (m *Metrics) add(k seriesKey) *series {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := *m.series.Load()
	if s, ok := cur[k]; ok {
		return s
	}
	if len(cur) >= m.maxSers {
		k = overflow(k)
		if s, ok := cur[k]; ok {
			return s
		}
	}
	s := m.resolve(k)
	next := make(map[seriesKey]*series, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	next[k] = s
	m.series.Store(&next)
	return s
}

// statusClass turns 200 into "2xx".
func statusClass(code int) string {
	switch {
	case code >= 100 && code < 600:
		return string(rune('0'+code/100)) + "xx"
	default:
		return "unknown"
	}
}

// resolve creates the handles for k; called once per tuple.
func (m *Metrics) resolve(k seriesKey) *series {
	code := strconv.Itoa(k.status)
	s := &series{success: k.errClass == ""}
	kl := func(l ...string) []string {
		if !m.perKey {
			return l
		}
		return append(l, k.keyHash, k.keyAlias, k.team, k.user)
	}

	s.requests = m.requests.WithLabelValues(k.route, statusClass(k.status))
	s.duration = m.duration.WithLabelValues(k.route, k.group)
	s.modelReqs = m.modelReqs.WithLabelValues(k.group, k.deployment, k.provider, statusClass(k.status))
	s.cost = m.costTotal.WithLabelValues(k.group, k.provider)
	s.proxyTotal = m.proxyTotal.WithLabelValues(kl(k.requested, code)...)
	if !s.success {
		s.errors = m.errors.WithLabelValues(k.route, k.group, k.errClass)
		s.proxyFailed = m.proxyFailed.WithLabelValues(kl(k.requested, code, k.errClass)...)
	}
	mk := kl(k.model, k.requested)
	s.spend = m.spend.WithLabelValues(mk...)
	s.totalTok = m.totalTok.WithLabelValues(mk...)
	s.inputTok = m.inputTok.WithLabelValues(mk...)
	s.outputTok = m.outputTok.WithLabelValues(mk...)
	s.totalLat = m.totalLat.WithLabelValues(mk...)
	s.apiLat = m.apiLat.WithLabelValues(mk...)
	s.ttft = m.ttft.WithLabelValues(mk...)
	s.over = m.overhead.WithLabelValues(mk...)
	if k.deployment != "" {
		if s.success {
			s.depResult = m.depSuccess.WithLabelValues(kl(k.requested, k.model, k.deployment, k.apiBase, k.provider)...)
		} else {
			s.depResult = m.depFailure.WithLabelValues(kl(k.requested, k.model, k.deployment, k.apiBase, k.provider, code, k.errClass)...)
		}
	}
	return s
}
