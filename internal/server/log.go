package server

import (
	"bytes"
	"log/slog"
	"time"

	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/router"
)

// reqInfo collects what one request did, for its log line (and later its
// spend record). Handlers fill it in.
type reqInfo struct {
	model      string
	group      string
	deployment string
	stream     bool
	retries    int
	fallbacks  int
	// dep is the deployment that served (or was tried last).
	dep *router.Deployment
	// inputEstimate is our token estimate of the prompt, 0 if not made.
	inputEstimate int
	// upstreamTime is the time spent waiting on upstream calls.
	upstreamTime time.Duration
	// route names the API ("chat_completions", "messages"); empty for
	// requests that make no record.
	route  string
	client llm.Dialect
	// keyHash is the SHA-256 hex of the key the request used.
	keyHash string
	// body is the client's request body (usage estimates, stored prompts);
	// user and tags are read from it for the record.
	body []byte
	user string
	tags []string
	// upstreamModel is the model name sent upstream.
	upstreamModel string
	// outText is output text kept for an estimate when usage is missing.
	outText bytes.Buffer
	// response is the reply body, kept only with store_prompts_in_spend_logs.
	response string
	// reqID and start identify the request in its record; recorded is set
	// once the record went out.
	reqID    string
	start    time.Time
	recorded bool
	usage    llm.Usage
	hasUsage bool
	ttfb     time.Duration
	err      error
}

// logRequest writes one line per request at info: no prompt text, no key.
func (s *Server) logRequest(r *httpd.Request, w *httpd.Response, info *reqInfo, d time.Duration) {
	if r.Path == "/health/liveliness" || r.Path == "/health/readiness" || r.Path == "/health/liveness" {
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			return
		}
	}
	var buf [16]slog.Attr
	attrs := append(buf[:0],
		slog.String("request_id", info.reqID),
		slog.String("method", r.Method),
		slog.String("path", r.Path),
		slog.Int("status", w.Status()),
		slog.Duration("duration", d),
	)
	if info.model != "" {
		attrs = append(attrs, slog.String("model", info.model), slog.String("group", info.group),
			slog.String("deployment", info.deployment), slog.Bool("stream", info.stream), slog.Int("retries", info.retries))
	}
	if info.ttfb > 0 {
		attrs = append(attrs, slog.Duration("ttfb", info.ttfb))
	}
	if info.hasUsage {
		attrs = append(attrs, slog.Int("input_tokens", info.usage.PromptTokens()), slog.Int("output_tokens", info.usage.OutputTokens))
	}
	level := slog.LevelInfo
	if info.err != nil {
		e := llm.AsError(info.err)
		attrs = append(attrs, slog.String("error_kind", e.Kind.String()), slog.String("error", e.Message))
		if e.Err != nil {
			attrs = append(attrs, slog.String("detail", e.Err.Error()))
		}
		if e.Kind == llm.KindInternal {
			level = slog.LevelError
		} else {
			level = slog.LevelWarn
		}
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// withRequestID adds request_id to an Anthropic error body.
func withRequestID(body []byte, id string) []byte {
	out, err := sjson.SetBytes(body, "request_id", id)
	if err != nil {
		return body
	}
	return out
}
