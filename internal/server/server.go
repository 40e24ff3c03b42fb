// Package server is Switchyard's HTTP surface: routes, authentication, the
// chat handlers (pass-through and translated), model listing, health, and the
// one place errors are rendered in the client's dialect.
package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/dialect/anthropic"
	"github.com/switchyard/switchyard/internal/dialect/ollama"
	"github.com/switchyard/switchyard/internal/dialect/openai"
	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/logging"
	"github.com/switchyard/switchyard/internal/record"
	"github.com/switchyard/switchyard/internal/router"
)

// Options configure a Server.
type Options struct {
	// MasterKey, when set, is required on every route but liveness/readiness.
	MasterKey string
	// RequestTimeout bounds a whole call when a deployment sets no timeout.
	RequestTimeout time.Duration
	// StreamTimeout bounds the time to the first byte when a deployment sets none.
	StreamTimeout time.Duration
	DropParams    bool
	// PingInterval is the silence after which a keep-alive is sent on streams.
	PingInterval time.Duration
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// AllowedIPs, when not empty, is the allow-list of client addresses
	// (general_settings.allowed_ips). The peer address of the connection is
	// checked; X-Forwarded-For is not trusted.
	AllowedIPs []netip.Prefix
	// Sink receives the record of every chat call (spend log, metrics,
	// callbacks). Nil records nothing.
	Sink record.Sink
	// Price is the cost in USD of usage on a deployment.
	Price func(d *router.Deployment, upstreamModel string, u llm.Usage) float64
	// StorePrompts keeps prompt and response text in records.
	StorePrompts bool
	// InFlight is told +1/-1 around every chat call (the in-flight gauge).
	InFlight func(delta int)
	// Metrics serves GET /metrics (no auth, like LiteLLM's); nil: 404.
	Metrics http.Handler
	// Spend answers the spend and log queries; nil when spend logs are off.
	Spend SpendQuerier
	// Ready reports readiness problems (nil when ready) for /health/readiness.
	Ready func(context.Context) error
}

// Server serves the gateway's API.
type Server struct {
	opts    Options
	router  *router.Router
	log     *slog.Logger
	keyHash [32]byte
	keyHex  string
	hasKey  bool
	lines   *logging.Lines
	// known are the large request values seen before (a client's tools),
	// which the request scan compares instead of validating again.
	known llm.KnownValues
	// routes are the POST routes, made once (a method value allocates).
	routes    struct{ chat, messages, countTokens, embeddings route }
	metrics   httpd.HandlerFunc
	clients   map[llm.Dialect]llm.ClientCodec
	upstreams map[llm.Dialect]llm.UpstreamCodec
	trackers  map[llm.Dialect]func() llm.UsageTracker
	draining  atomic.Bool
	started   time.Time
	numCtx    numCtxCache
	bare      bareDeployments
}

// New builds a Server.
func New(rt *router.Router, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 600 * time.Second
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 10 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 20
	}
	s := &Server{
		opts:   opts,
		router: rt,
		log:    opts.Logger,
		lines:  logging.LinesFor(opts.Logger),
		clients: map[llm.Dialect]llm.ClientCodec{
			llm.DialectOpenAI:    openai.Codec{},
			llm.DialectAnthropic: anthropic.Codec{},
		},
		upstreams: map[llm.Dialect]llm.UpstreamCodec{
			llm.DialectOpenAI:    openai.Codec{},
			llm.DialectAnthropic: anthropic.Codec{},
			llm.DialectOllama:    ollama.Codec{},
		},
		trackers: map[llm.Dialect]func() llm.UsageTracker{
			llm.DialectOpenAI:    openai.Codec{}.NewUsageTracker,
			llm.DialectAnthropic: anthropic.NewUsageTracker,
			llm.DialectOllama:    ollama.NewUsageTracker,
		},
		started: time.Now(),
	}
	if opts.MasterKey != "" {
		s.keyHash = sha256.Sum256([]byte(opts.MasterKey))
		s.keyHex = hex.EncodeToString(s.keyHash[:])
		s.hasKey = true
	}
	if opts.Metrics != nil {
		s.metrics = httpd.Adapt(opts.Metrics)
	}
	s.routes.chat = route{llm.DialectOpenAI, true, s.chatOpenAI}
	s.routes.messages = route{llm.DialectAnthropic, true, s.chatAnthropic}
	s.routes.countTokens = route{llm.DialectAnthropic, true, s.handleCountTokens}
	s.routes.embeddings = route{llm.DialectOpenAI, true, s.handleEmbeddings}
	return s
}

// Drain marks the server as shutting down: readiness fails so load balancers
// stop sending new work.
func (s *Server) Drain() { s.draining.Store(true) }

// handlerFunc is a handler that returns its error for the renderer.
type handlerFunc func(w *httpd.Response, r *httpd.Request, info *reqInfo) error

// route is one entry of the routing table.
type route struct {
	dialect llm.Dialect
	auth    bool
	h       handlerFunc
}

// match picks the route for a request. Chat routes match by path suffix so
// that any base-path prefix works (Claude Code appends /v1/messages to its
// base URL verbatim: a base URL ending in /v1 gives /v1/v1/messages).
func (s *Server) match(r *httpd.Request) (route, bool) {
	p := r.Path
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	switch r.Method {
	case http.MethodPost:
		switch {
		case strings.HasSuffix(p, "/v1/messages/count_tokens"), p == "/messages/count_tokens":
			return s.routes.countTokens, true
		case strings.HasSuffix(p, "/v1/messages"), p == "/messages":
			return s.routes.messages, true
		case strings.HasSuffix(p, "/chat/completions"):
			return s.routes.chat, true
		case strings.HasSuffix(p, "/embeddings"):
			return s.routes.embeddings, true
		}
	case http.MethodGet:
		switch p {
		case "/health/liveliness", "/health/liveness", "/health/live":
			return route{llm.DialectOpenAI, false, s.handleLiveness}, true
		case "/health/readiness", "/health/ready":
			return route{llm.DialectOpenAI, false, s.handleReadiness}, true
		case "/health":
			return route{llm.DialectOpenAI, true, s.handleHealth}, true
		case "/metrics", "/metrics/":
			if s.metrics != nil {
				return route{llm.DialectOpenAI, false, s.handleMetrics}, true
			}
		case "/spend/logs", "/logs":
			return route{llm.DialectOpenAI, true, s.handleSpendLogs}, true
		case "/global/spend/report":
			return route{llm.DialectOpenAI, true, s.handleSpendReport}, true
		case "/stats":
			return route{llm.DialectOpenAI, true, s.handleStats}, true
		}
		if strings.HasSuffix(p, "/v1/models") || p == "/models" {
			d := llm.DialectOpenAI
			if len(r.Peek("Anthropic-Version")) > 0 {
				d = llm.DialectAnthropic
			}
			return route{d, true, s.handleModels}, true
		}
		if strings.HasPrefix(p, "/v1/models/") || strings.HasPrefix(p, "/models/") {
			return route{llm.DialectOpenAI, true, s.handleModel}, true
		}
	}
	return route{}, false
}

// ServeHTTPD routes, authenticates, runs the handler and renders its
// error. The request is recorded before its response ends; the response
// goes out before the log line is written.
func (s *Server) ServeHTTPD(w *httpd.Response, r *httpd.Request) {
	start := time.Now()
	info := reqInfos.Get().(*reqInfo)
	info.reqID, info.start = record.NewIDAt("req_", start), start
	w.AddLine("Request-Id", info.reqID)
	w.AddLine("X-Request-Id", info.reqID)
	returned := false
	defer func() {
		if !returned {
			s.endRequest(w, r, info, start, false) // a panic: the server answers it
		}
	}()
	s.serve(w, r, info)
	returned = true
	s.endRequest(w, r, info, start, true)
}

// endRequest records the request (unless it was), ends its response when
// send is set, then writes its log line.
func (s *Server) endRequest(w *httpd.Response, r *httpd.Request, info *reqInfo, start time.Time, send bool) {
	s.finish(info, w.Status())
	if send {
		w.End()
	}
	end := info.end // the record's end, if there is one
	if end.IsZero() {
		end = time.Now()
	}
	s.logRequest(r, w, info, end, start)
	info.release()
}

// serve is ServeHTTPD's routing, authentication and handler.
func (s *Server) serve(w *httpd.Response, r *httpd.Request, info *reqInfo) {
	if len(s.opts.AllowedIPs) > 0 && !s.ipAllowed(r) {
		s.renderError(w, llm.DialectOpenAI, info.reqID, &llm.Error{Kind: llm.KindPermission,
			Message: "this client address is not in general_settings.allowed_ips"})
		return
	}
	if r.Method == http.MethodHead {
		// Claude Code probes its base URL with HEAD at start-up.
		w.WriteHeader(http.StatusOK)
		return
	}
	rt, ok := s.match(r)
	if !ok {
		d := llm.DialectOpenAI
		if strings.Contains(r.Path, "/messages") || len(r.Peek("Anthropic-Version")) > 0 {
			d = llm.DialectAnthropic
		}
		s.renderError(w, d, info.reqID, &llm.Error{Kind: llm.KindNotFound,
			Message: "no route for " + r.Method + " " + r.Path})
		return
	}
	if rt.auth {
		if err := s.authenticate(r, info); err != nil {
			s.renderError(w, rt.dialect, info.reqID, err)
			return
		}
	}
	if err := rt.h(w, r, info); err != nil {
		info.err = err
		if w.Started() {
			// The response is under way: the handler already reported in-band.
			return
		}
		s.finish(info, s.errorStatus(rt.dialect, llm.AsError(err)))
		s.renderError(w, rt.dialect, info.reqID, err)
	}
}

func (s *Server) ipAllowed(r *httpd.Request) bool {
	addr := r.RemoteAddr.Addr().Unmap()
	if !addr.IsValid() {
		return false
	}
	for _, p := range s.opts.AllowedIPs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// authenticate checks the master key in Authorization: Bearer or x-api-key.
// Claude Code may send both headers; either one matching is enough.
func (s *Server) authenticate(r *httpd.Request, info *reqInfo) error {
	if !s.hasKey {
		return nil
	}
	var candidates [2][]byte
	n := 0
	if a := r.Peek("Authorization"); len(a) > 0 {
		if len(a) > 7 && (string(a[:7]) == "Bearer " || string(a[:7]) == "bearer ") {
			candidates[n] = bytes.TrimSpace(a[7:])
			n++
		}
	}
	if k := r.Peek("X-Api-Key"); len(k) > 0 {
		candidates[n] = bytes.TrimSpace(k)
		n++
	}
	if n == 0 {
		return &llm.Error{Kind: llm.KindAuth, Message: "missing API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`"}
	}
	ok := 0
	for _, c := range candidates[:n] {
		h := sha256.Sum256(c)
		ok |= subtle.ConstantTimeCompare(h[:], s.keyHash[:])
	}
	if ok != 1 {
		return &llm.Error{Kind: llm.KindAuth, Message: "invalid API key: it must match general_settings.master_key"}
	}
	info.keyHash = s.keyHex
	return nil
}

// renderError writes err in dialect d. The public message goes to the
// client; the detail is logged.
func (s *Server) renderError(w *httpd.Response, d llm.Dialect, reqID string, err error) {
	e := llm.AsError(err)
	if e.Kind == llm.KindClientGone {
		w.WriteHeader(e.Kind.Status())
		return
	}
	codec := s.clients[d]
	if codec == nil {
		codec = s.clients[llm.DialectOpenAI]
	}
	body := codec.EncodeError(e)
	if d == llm.DialectAnthropic && e.BodyDialect != llm.DialectAnthropic {
		body = withRequestID(body, reqID)
	}
	status := s.errorStatus(d, e)
	if e.Kind == llm.KindRateLimit || e.Kind == llm.KindOverloaded || e.Kind == llm.KindUnavailable {
		ra := e.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		w.Header().Set("Retry-After", retryAfterSeconds(ra))
	}
	w.Header().SetContentType("application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorStatus is the status an error is rendered with in dialect d.
func (s *Server) errorStatus(d llm.Dialect, e *llm.Error) int {
	if e.Kind == llm.KindClientGone {
		return e.Kind.Status()
	}
	if e.BodyDialect == d && e.Status >= 400 && len(e.Body) > 0 && e.Kind != llm.KindUpstreamAuth {
		// A same-dialect upstream error body is relayed as it is, status too:
		// clients pattern-match the upstream's wording.
		return e.Status
	}
	return e.Kind.Status()
}

func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// newID returns prefix + 32 hex characters, time-ordered (record.NewID):
// the request id is the spend log's unique key, and ids that grow with time
// keep its index inserts at the end of the index.
func newID(prefix string) string { return record.NewID(prefix) }

// errBodyTooLarge is a body over MaxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")
