package server

import (
	"bytes"
	"log/slog"
	"sync"
	"time"

	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/logging"
	"github.com/switchyard/switchyard/internal/record"
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
	// outRaw is relayed event data whose text is not in outText yet (a
	// pooled buffer, released with the request).
	outRaw *[]byte
	// response is the reply body, kept only with store_prompts_in_spend_logs.
	response string
	// reqID and start identify the request in its record; recorded is set
	// once the record went out.
	reqID    string
	start    time.Time
	recorded bool
	usage    llm.Usage
	hasUsage bool
	// end is when the record was made (zero until then).
	end time.Time
	// rec is the call's record, made once by finish.
	rec record.Record
	// cost is what usage cost, when priced is set (for the reply's header).
	cost   float64
	priced bool
	ttfb   time.Duration
	err    error
	// chat is the state of a chat call, here so that one pooled object
	// serves the whole request.
	chat call
	// runScratch is the router's working memory for the request's Run (made on
	// first use, kept across release).
	runScratch *router.Scratch
}

// scratch is the request's router.Scratch.
func (info *reqInfo) scratch() *router.Scratch {
	if info.runScratch == nil {
		info.runScratch = new(router.Scratch)
	}
	return info.runScratch
}

// reqInfos are the requests' reqInfo, reused: nothing holds one once its
// request is over (the record's sinks copy what they keep).
var reqInfos = sync.Pool{New: func() any { return new(reqInfo) }}

// release returns info to reqInfos; the request is over.
func (info *reqInfo) release() {
	info.releaseOutput()
	members := info.chat.bi.members // the array is kept, not what it pointed to
	clear(members)
	rs := info.runScratch // Run left it reset
	*info = reqInfo{}
	info.chat.bi.members, info.runScratch = members[:0], rs
	reqInfos.Put(info)
}

// logRequest writes one line per request at info: no prompt text, no key.
// With the gateway's own logger it goes through logging.Lines (an
// append-style encoder, same bytes), else through slog.
func (s *Server) logRequest(r *httpd.Request, w *httpd.Response, info *reqInfo, now, start time.Time) {
	d := now.Sub(start)
	level := slog.LevelInfo
	var e *llm.Error
	if info.err != nil {
		e = llm.AsError(info.err)
		level = slog.LevelWarn
		if e.Kind == llm.KindInternal {
			level = slog.LevelError
		}
	}
	if r.Path == "/health/liveliness" || r.Path == "/health/readiness" || r.Path == "/health/liveness" {
		level = slog.LevelDebug
	}
	if s.lines != nil {
		if l := s.lines.BeginAt(now, level, "request"); l != nil {
			requestAttrs(lineAttrs{l}, r, w, info, e, d)
			l.End()
		}
		return
	}
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	var sa slogAttrs
	requestAttrs(&sa, r, w, info, e, d)
	s.log.LogAttrs(r.Context(), level, "request", sa.attrs...)
}

// attrSink takes a log line's attributes.
type attrSink interface {
	Str(k, v string)
	Int(k string, v int64)
	Bool(k string, v bool)
	Dur(k string, d time.Duration)
}

// requestAttrs are the attributes of a request's line, in order.
func requestAttrs(a attrSink, r *httpd.Request, w *httpd.Response, info *reqInfo, e *llm.Error, d time.Duration) {
	a.Str("request_id", info.reqID)
	a.Str("method", r.Method)
	a.Str("path", r.Path)
	a.Int("status", int64(w.Status()))
	a.Dur("duration", d)
	if info.model != "" {
		a.Str("model", info.model)
		a.Str("group", info.group)
		a.Str("deployment", info.deployment)
		a.Bool("stream", info.stream)
		a.Int("retries", int64(info.retries))
	}
	if info.ttfb > 0 {
		a.Dur("ttfb", info.ttfb)
	}
	if info.hasUsage {
		a.Int("input_tokens", int64(info.usage.PromptTokens()))
		a.Int("output_tokens", int64(info.usage.OutputTokens))
	}
	if e != nil {
		a.Str("error_kind", e.Kind.String())
		a.Str("error", e.Message)
		if e.Err != nil {
			a.Str("detail", e.Err.Error())
		}
	}
}

type lineAttrs struct{ l *logging.Line }

func (a lineAttrs) Str(k, v string)               { a.l.Str(k, v) }
func (a lineAttrs) Int(k string, v int64)         { a.l.Int(k, v) }
func (a lineAttrs) Bool(k string, v bool)         { a.l.Bool(k, v) }
func (a lineAttrs) Dur(k string, d time.Duration) { a.l.Dur(k, d) }

type slogAttrs struct {
	buf   [16]slog.Attr
	attrs []slog.Attr
}

func (a *slogAttrs) add(at slog.Attr) {
	if a.attrs == nil {
		a.attrs = a.buf[:0]
	}
	a.attrs = append(a.attrs, at)
}
func (a *slogAttrs) Str(k, v string)               { a.add(slog.String(k, v)) }
func (a *slogAttrs) Int(k string, v int64)         { a.add(slog.Int64(k, v)) }
func (a *slogAttrs) Bool(k string, v bool)         { a.add(slog.Bool(k, v)) }
func (a *slogAttrs) Dur(k string, d time.Duration) { a.add(slog.Duration(k, d)) }

// withRequestID adds request_id to an Anthropic error body.
func withRequestID(body []byte, id string) []byte {
	out, err := sjson.SetBytes(body, "request_id", id)
	if err != nil {
		return body
	}
	return out
}
