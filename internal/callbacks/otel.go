package callbacks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// otel exports one span per record as OTLP/HTTP JSON
// (ExportTraceServiceRequest, POST …/v1/traces, Content-Type
// application/json). The encoding is written here rather than pulled from the
// OpenTelemetry SDK: it is a few structs, while the SDK's OTLP exporter brings
// protobuf, gRPC and a dozen modules into a static binary for one POST.
//
// OTLP/JSON rules followed: lowerCamelCase field names, trace and span ids
// as hex strings, 64-bit integers (timestamps, intValue) as decimal strings,
// enums (kind, status code) as integers.
type otel struct {
	url     string
	header  http.Header
	service string
	client  *http.Client
}

// OTLP enum values.
const (
	spanKindClient  = 3
	statusCodeError = 2
	scopeName       = "github.com/switchyard/switchyard/internal/callbacks"
)

func newOTel(cfg Settings, getenv func(string) string, c *http.Client) (*otel, error) {
	u := ""
	switch {
	case cfg.OTLPEndpoint != "":
		u = strings.TrimRight(cfg.OTLPEndpoint, "/") + "/v1/traces"
	case getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		u = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	default:
		u = strings.TrimRight(orString(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), DefaultOTLPEndpoint), "/") + "/v1/traces"
	}
	if _, err := url.ParseRequestURI(u); err != nil {
		return nil, fmt.Errorf("otlp endpoint %q: %w", u, err)
	}
	hdr := cfg.OTLPHeaders
	if hdr == nil {
		hdr = parseHeaders(orString(getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS"), getenv("OTEL_EXPORTER_OTLP_HEADERS")))
	}
	h := http.Header{}
	for k, v := range hdr {
		h.Set(k, v)
	}
	return &otel{
		url:     u,
		header:  h,
		service: orString(cfg.ServiceName, orString(getenv("OTEL_SERVICE_NAME"), "switchyard")),
		client:  c,
	}, nil
}

// OTLP JSON shapes (opentelemetry/proto/collector/trace/v1 and trace/v1).
type (
	otlpRequest struct {
		ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
	}
	otlpResourceSpans struct {
		Resource   otlpResource     `json:"resource"`
		ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
	}
	otlpResource struct {
		Attributes []otlpKeyValue `json:"attributes"`
	}
	otlpScopeSpans struct {
		Scope otlpScope  `json:"scope"`
		Spans []otlpSpan `json:"spans"`
	}
	otlpScope struct {
		Name string `json:"name"`
	}
	otlpSpan struct {
		TraceID           string         `json:"traceId"`
		SpanID            string         `json:"spanId"`
		Name              string         `json:"name"`
		Kind              int            `json:"kind"`
		StartTimeUnixNano string         `json:"startTimeUnixNano"`
		EndTimeUnixNano   string         `json:"endTimeUnixNano"`
		Attributes        []otlpKeyValue `json:"attributes"`
		Events            []otlpEvent    `json:"events,omitempty"`
		Status            otlpStatus     `json:"status"`
	}
	otlpEvent struct {
		TimeUnixNano string         `json:"timeUnixNano"`
		Name         string         `json:"name"`
		Attributes   []otlpKeyValue `json:"attributes,omitempty"`
	}
	otlpStatus struct {
		Code    int    `json:"code,omitempty"`
		Message string `json:"message,omitempty"`
	}
	otlpKeyValue struct {
		Key   string       `json:"key"`
		Value otlpAnyValue `json:"value"`
	}
	otlpAnyValue struct {
		StringValue *string  `json:"stringValue,omitempty"`
		IntValue    *string  `json:"intValue,omitempty"`
		DoubleValue *float64 `json:"doubleValue,omitempty"`
		BoolValue   *bool    `json:"boolValue,omitempty"`
	}
)

func strAttr(k, v string) otlpKeyValue {
	return otlpKeyValue{Key: k, Value: otlpAnyValue{StringValue: &v}}
}
func intAttr(k string, v int64) otlpKeyValue {
	s := strconv.FormatInt(v, 10)
	return otlpKeyValue{Key: k, Value: otlpAnyValue{IntValue: &s}}
}
func floatAttr(k string, v float64) otlpKeyValue {
	return otlpKeyValue{Key: k, Value: otlpAnyValue{DoubleValue: &v}}
}
func boolAttr(k string, v bool) otlpKeyValue {
	return otlpKeyValue{Key: k, Value: otlpAnyValue{BoolValue: &v}}
}

func unixNano(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// operationName maps a client route to gen_ai.operation.name.
func operationName(route string) string {
	switch route {
	case "chat_completions", "messages", "chat":
		return "chat"
	case "embeddings":
		return "embeddings"
	case "completions", "text_completion":
		return "text_completion"
	case "":
		return "chat"
	}
	return route
}

// spanIDs derives the trace and span ids from the request id, so the same
// request always maps to the same trace; random without one.
func spanIDs(requestID string) (traceID, spanID string) {
	var b []byte
	if requestID != "" {
		sum := sha256.Sum256([]byte(requestID))
		b = sum[:24]
	} else {
		b, _ = hex.DecodeString(randomHex(24))
	}
	return hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:24])
}

// otelSpan builds the span for one record with gen_ai.* attributes.
func otelSpan(r *record.Record, now time.Time) otlpSpan {
	start, end := r.StartTime, r.EndTime
	if end.IsZero() {
		end = now
	}
	if start.IsZero() {
		start = end.Add(-r.Latency)
	}
	op := operationName(r.Route)
	reqModel := orString(r.ModelRequested, r.ModelGroup)
	attrs := []otlpKeyValue{
		strAttr("gen_ai.operation.name", op),
		strAttr("gen_ai.request.model", reqModel),
		intAttr("gen_ai.usage.input_tokens", int64(r.Usage.PromptTokens())),
		intAttr("gen_ai.usage.output_tokens", int64(r.Usage.OutputTokens)),
		strAttr("switchyard.request_id", r.ID),
		strAttr("switchyard.route", r.Route),
		strAttr("switchyard.model_group", r.ModelGroup),
		boolAttr("switchyard.stream", r.Stream),
		floatAttr("switchyard.cost_usd", r.Cost),
		boolAttr("switchyard.cache_hit", r.CacheHit),
	}
	if r.Provider != "" {
		attrs = append(attrs, strAttr("gen_ai.provider.name", r.Provider), strAttr("gen_ai.system", r.Provider))
	}
	if r.UpstreamModel != "" {
		attrs = append(attrs, strAttr("gen_ai.response.model", r.UpstreamModel))
	}
	if r.DeploymentID != "" {
		attrs = append(attrs, strAttr("switchyard.deployment_id", r.DeploymentID))
	}
	if r.APIBase != "" {
		if u, err := url.Parse(r.APIBase); err == nil && u.Hostname() != "" {
			attrs = append(attrs, strAttr("server.address", u.Hostname()))
			if p, err := strconv.Atoi(u.Port()); err == nil {
				attrs = append(attrs, intAttr("server.port", int64(p)))
			}
		}
	}
	if r.HTTPStatus != 0 {
		attrs = append(attrs, intAttr("http.response.status_code", int64(r.HTTPStatus)))
	}
	if r.Usage.CacheReadTokens > 0 {
		attrs = append(attrs, intAttr("switchyard.usage.cache_read_input_tokens", int64(r.Usage.CacheReadTokens)))
	}
	if r.Usage.CacheWriteTokens > 0 {
		attrs = append(attrs, intAttr("switchyard.usage.cache_creation_input_tokens", int64(r.Usage.CacheWriteTokens)))
	}
	if r.UsageEstimated || r.Usage.Estimated {
		attrs = append(attrs, boolAttr("switchyard.usage.estimated", true))
	}
	if r.Retries > 0 {
		attrs = append(attrs, intAttr("switchyard.retries", int64(r.Retries)))
	}
	if r.Fallbacks > 0 {
		attrs = append(attrs, intAttr("switchyard.fallbacks", int64(r.Fallbacks)))
	}
	if r.TTFT > 0 {
		attrs = append(attrs, floatAttr("switchyard.time_to_first_token_s", r.TTFT.Seconds()))
	}
	if r.UpstreamLatency > 0 {
		attrs = append(attrs, floatAttr("switchyard.upstream_latency_s", r.UpstreamLatency.Seconds()))
	}
	traceID, spanID := spanIDs(r.ID)
	sp := otlpSpan{
		TraceID:           traceID,
		SpanID:            spanID,
		Name:              strings.TrimSpace(op + " " + reqModel),
		Kind:              spanKindClient,
		StartTimeUnixNano: unixNano(start),
		EndTimeUnixNano:   unixNano(end),
		Attributes:        attrs,
	}
	if r.Status == record.StatusFailure {
		kind := orString(r.ErrorKind, "error")
		sp.Attributes = append(sp.Attributes, strAttr("error.type", kind))
		sp.Status = otlpStatus{Code: statusCodeError, Message: orString(r.ErrorMessage, kind)}
	}
	if r.Stream && r.TTFT > 0 {
		sp.Events = []otlpEvent{{TimeUnixNano: unixNano(start.Add(r.TTFT)), Name: "gen_ai.first_token"}}
	}
	return sp
}

func (o *otel) export(ctx context.Context, batch []*record.Record) (int, error) {
	now := time.Now()
	spans := make([]otlpSpan, len(batch))
	for i, r := range batch {
		spans[i] = otelSpan(r, now)
	}
	req := otlpRequest{ResourceSpans: []otlpResourceSpans{{
		Resource:   otlpResource{Attributes: []otlpKeyValue{strAttr("service.name", o.service)}},
		ScopeSpans: []otlpScopeSpans{{Scope: otlpScope{Name: scopeName}, Spans: spans}},
	}}}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("otel: encode: %w", err)
	}
	reply, err := postJSON(ctx, o.client, o.url, body, o.header)
	if err != nil {
		return 0, err
	}
	// ExportTraceServiceResponse.partialSuccess.rejectedSpans (an int64, so
	// a string in JSON; accept a number too).
	var rep struct {
		PartialSuccess struct {
			RejectedSpans json.RawMessage `json:"rejectedSpans"`
		} `json:"partialSuccess"`
	}
	if json.Unmarshal(reply, &rep) != nil {
		return 0, nil
	}
	n, _ := strconv.Atoi(string(bytes.Trim(rep.PartialSuccess.RejectedSpans, `"`)))
	return min(max(n, 0), len(batch)), nil
}
