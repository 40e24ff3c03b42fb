package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/dialect/anthropic"
	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/router"
	"github.com/switchyard/switchyard/internal/tokens"
)

// gatewayFields are request fields meant for the gateway itself (LiteLLM's
// per-request knobs); they are removed before a body goes upstream.
var gatewayFields = []string{"num_retries", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
	"mock_response", "caching", "cache", "ttl", "no-log", "tags"}

// maxErrorBody bounds how much of an upstream error reply is read.
const maxErrorBody = 1 << 20

// maxReplyBody bounds a non-streamed upstream reply.
const maxReplyBody = 64 << 20

// bodyBuf holds an outbound request body until its call is sent.
type bodyBuf struct{ b []byte }

var bodyBufs = sync.Pool{New: func() any { return new(bodyBuf) }}

func (ob *bodyBuf) put() {
	if cap(ob.b) <= 256<<10 {
		ob.b = ob.b[:0]
		bodyBufs.Put(ob)
	}
}

// replyBuf holds a non-streamed reply while it is relayed or decoded.
type replyBuf struct{ b []byte }

var replyBufs = sync.Pool{New: func() any { return &replyBuf{b: make([]byte, 0, 4<<10)} }}

// readReply reads a non-streamed reply from d into a pooled buffer, sized
// from its Content-Length when it has one; put returns the buffer.
func readReply(d *router.Deployment, resp *provider.Response) (*replyBuf, error) {
	rb := replyBufs.Get().(*replyBuf)
	b := rb.b[:0]
	if n := resp.ContentLength; n > int64(cap(b)) && n <= maxReplyBody {
		b = make([]byte, 0, n+1)
	}
	defer func() { rb.b = b }()
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > maxReplyBody {
			return rb, &llm.Error{Kind: llm.KindUpstream, Message: fmt.Sprintf("deployment %s sent a reply larger than %d bytes", d.Upstream.Name, maxReplyBody)}
		}
		if err == io.EOF {
			return rb, nil
		}
		if err != nil {
			return rb, err
		}
	}
}

func (rb *replyBuf) put() {
	if cap(rb.b) <= 1<<20 {
		rb.b = rb.b[:0]
		replyBufs.Put(rb)
	}
}

func (s *Server) chatOpenAI(w *httpd.Response, r *httpd.Request, info *reqInfo) error {
	return s.serveChat(w, r, info, llm.DialectOpenAI)
}

func (s *Server) chatAnthropic(w *httpd.Response, r *httpd.Request, info *reqInfo) error {
	return s.serveChat(w, r, info, llm.DialectAnthropic)
}

// call is one client request on its way through the router.
type call struct {
	s      *Server
	w      *httpd.Response
	r      *httpd.Request
	client llm.Dialect
	body   []byte
	bi     bodyInfo
	model  string
	stream bool
	info   *reqInfo
	start  time.Time
	// hub is the decoded request, made once on first need.
	hub    *llm.Request
	hubErr error
	// try is the current attempt.
	try *router.Try
	// promptTokens is our estimate of the decoded prompt, 0 until needed.
	promptTokens int
	// numCtxSent is the num_ctx sent to an Ollama upstream, 0 if none.
	numCtxSent int
	// warnedTools is set once the server-tool warning was logged.
	warnedTools bool
	// firstByte stops the stream_timeout timer of the current attempt.
	firstByte func() bool
	// deadline ends the current attempt (its deployment's timeout).
	deadline time.Time
}

// readBody is the request's body, or the error for one over MaxBodyBytes
// (the server did not read it).
func (s *Server) readBody(r *httpd.Request) ([]byte, error) {
	if r.BodyErr != nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Message: fmt.Sprintf("request body is larger than %d bytes", s.opts.MaxBodyBytes), Err: errBodyTooLarge}
	}
	return r.Body, nil
}

func (s *Server) serveChat(w *httpd.Response, r *httpd.Request, info *reqInfo, client llm.Dialect) error {
	c, err := s.newCall(w, r, info, client)
	if err != nil {
		return err
	}
	name := c.model
	if s.opts.InFlight != nil {
		s.opts.InFlight(1)
		defer s.opts.InFlight(-1)
	}
	rt, err := s.router.Resolve(name)
	if err != nil {
		return err
	}
	info.group = rt.Group.Name
	release, err := s.router.Admit(r.Context())
	if err != nil {
		return err
	}
	defer release()
	bi := &c.bi
	req := router.Request{Route: rt, NumRetries: bi.numRetries, Stream: c.stream, Scratch: info.scratch(),
		Fallbacks:              bi.fallbacks,
		ContextWindowFallbacks: bi.cwFallbacks,
		ContentPolicyFallbacks: bi.cpFallbacks,
	}
	if needsEstimate(rt.Group) {
		req.InputTokens = tokens.EstimateBytes(c.body)
		info.inputEstimate = req.InputTokens
	}
	res, err := s.router.Run(r.Context(), req, c.attempt)
	if res.Deployment != nil {
		info.deployment = res.Deployment.ID()
		info.dep = res.Deployment
		info.group = res.Group
	}
	info.retries, info.fallbacks = res.Retries, res.Fallbacks
	return err
}

// newCall reads and checks the request body and sets up the request's
// call. It is a function of its own so that its large temporaries (the
// body scan's result) are off the stack by the time the request goes
// upstream: a stream waits with the whole call chain on its goroutine's
// stack, and a deeper chain doubles that stack.
func (s *Server) newCall(w *httpd.Response, r *httpd.Request, info *reqInfo, client llm.Dialect) (*call, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	bi, ok := scanValid(body, &s.known, info.chat.bi.members)
	if !ok {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Message: "request body is not valid JSON"}
	}
	m := bi.model
	if m.Type != gjson.String || m.Str == "" {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Param: "model", Message: "`model` is required and must be a string"}
	}
	name := strings.Clone(m.Str)
	if client == llm.DialectAnthropic {
		name = anthropic.NormalizeModel(name)
	}
	// Field by field: a composite literal stored through c would be built
	// in a temporary on the stack first (a call is ~500 bytes), then copied.
	c := &info.chat
	*c = call{}
	c.s, c.w, c.r, c.client, c.body, c.bi = s, w, r, client, body, bi
	c.model, c.info, c.start, c.stream = name, info, info.start, bi.stream
	info.model, info.stream = name, c.stream
	info.body, info.client = body, client
	info.user, info.tags = bi.user, bi.tags
	info.route = "chat_completions"
	if client == llm.DialectAnthropic {
		info.route = "messages"
	}
	return c, nil
}

// needsEstimate reports whether routing in g uses the prompt's size: a
// context-window pre-check or a tpm limit.
func needsEstimate(g *router.Group) bool {
	for _, d := range g.Deployments {
		if d.Cfg.Info.MaxInputTokens > 0 || d.Cfg.TPM > 0 {
			return true
		}
	}
	return false
}

// hubRequest decodes the client body once.
func (c *call) hubRequest() (*llm.Request, error) {
	if c.hub == nil && c.hubErr == nil {
		if d, ok := c.s.clients[c.client].(llm.ScannedDecoder); ok {
			c.hub, c.hubErr = d.DecodeScanned(c.body, c.bi.members)
		} else {
			c.hub, c.hubErr = c.s.clients[c.client].DecodeRequest(c.body)
		}
		if c.hubErr == nil {
			c.hub.Model = c.model
			for _, f := range gatewayFields {
				delete(c.hub.Extra, f)
			}
		}
	}
	return c.hub, c.hubErr
}

// noFirstByteTimer is firstByte when no stream_timeout runs.
func noFirstByteTimer() bool { return false }

func (c *call) attempt(ctx context.Context, t *router.Try) (bool, error) {
	d, upModel := t.Deployment, t.UpstreamModel
	if d.Dialect() == "" {
		// A bare model "*": the provider depends on the name asked for.
		nd, name, err := c.s.resolveBare(d, upModel)
		if err != nil {
			return false, err
		}
		d, upModel = nd, name
	}
	c.try = t
	c.info.hasUsage, c.info.usage, c.info.priced = false, llm.Usage{}, false
	c.info.resetOutput()
	c.numCtxSent = 0
	c.info.upstreamModel = upModel
	c.info.dep, c.info.deployment, c.info.group = d, d.ID(), t.Group
	c.info.retries, c.info.fallbacks = t.Retries, t.Fallbacks
	began := time.Now()
	defer func() {
		c.info.upstreamTime += time.Since(began)
		if c.info.hasUsage {
			t.Tokens(c.info.usage.Total())
		}
	}()
	timeout := d.Cfg.Timeout
	if timeout <= 0 {
		timeout = c.s.opts.RequestTimeout
	}
	// The attempt's timeout bounds its upstream call, which puts it on the
	// connection (no context and timer per attempt). It is rounded up by
	// at most a 64th (provider.Deadline), so that calls one after another
	// on a connection leave its deadline as it is.
	c.deadline = provider.Deadline(began, timeout)
	c.firstByte = noFirstByteTimer
	if c.stream {
		st := d.Cfg.StreamTimeout
		if st <= 0 {
			st = c.s.opts.StreamTimeout
		}
		// A stream_timeout no shorter than the timeout (its default) adds
		// nothing to the attempt's deadline.
		if st > 0 && st < timeout {
			var cancelCause context.CancelCauseFunc
			ctx, cancelCause = context.WithCancelCause(ctx)
			defer cancelCause(nil)
			t := time.AfterFunc(st, func() { cancelCause(provider.ErrFirstByteTimeout) })
			defer t.Stop()
			c.firstByte = t.Stop
		}
	}
	if d.Dialect() == c.client {
		return c.passthrough(ctx, d, upModel)
	}
	return c.translated(ctx, d, upModel)
}

// send posts body to d's chat endpoint and returns a 2xx response, or the
// upstream's error classified by its dialect.
func (c *call) send(ctx context.Context, d *router.Deployment, ep provider.Endpoint, body []byte) (*provider.Response, error) {
	resp, err := d.Upstream.DoBy(ctx, c.deadline, ep, body, c.r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := c.s.upstreams[d.Dialect()].DecodeError(resp.StatusCode, resp.Header(), b)
	if e.Kind == llm.KindUpstreamAuth {
		e.Message = fmt.Sprintf("deployment %s at %s refused its api_key (%d): %s", d.Upstream.Name, d.Upstream.BaseURL, resp.StatusCode, e.Message)
	}
	return nil, e
}

// commit sets the response status and headers: from here on nothing can
// be retried.
func (c *call) commit(d *router.Deployment, contentType string, status int) {
	w := c.w
	w.Header().SetContentType(contentType)
	if contentType == "text/event-stream" {
		w.AddLine("Cache-Control", "no-cache")
		w.AddLine("X-Accel-Buffering", "no")
	}
	// Lines of our own, each once per response: added as they are.
	w.AddLine("X-Litellm-Model-Id", d.ID())
	w.AddLine("X-Litellm-Model-Group", c.try.Group)
	w.AddLine("X-Litellm-Model-Api-Base", d.Cfg.APIBase)
	w.AddLineInt("X-Litellm-Attempted-Retries", int64(c.try.Retries))
	w.AddLineInt("X-Litellm-Attempted-Fallbacks", int64(c.try.Fallbacks))
	// The overhead is the time spent in the gateway itself: the whole call
	// so far less the time waiting on upstreams.
	elapsed := time.Since(c.start)
	w.AddLineInt("X-Litellm-Overhead-Duration-Ms", max(elapsed-c.info.upstreamTime, 0).Milliseconds())
	w.AddLine("X-Litellm-Call-Id", c.info.reqID)
	w.AddLineInt("X-Litellm-Response-Duration-Ms", elapsed.Milliseconds())
	c.w.WriteHeader(status)
}

// reply sends a whole non-streamed reply: headers with its length, the
// record made durable, then the body, flushed at once, so that the client
// has its answer before the call's bookkeeping (router state, request log)
// runs.
func (c *call) reply(body []byte) error {
	c.w.SetContentLength(len(body))
	c.commit(c.info.dep, "application/json", http.StatusOK)
	c.recordNow()
	if _, err := c.w.Write(body); err != nil {
		return err
	}
	c.flush()
	return nil
}

func (c *call) flush() { _ = c.w.Flush() }

func (c *call) setUsage(u llm.Usage, ok bool) {
	if ok {
		c.info.usage, c.info.hasUsage = u, true
	}
}

// passthrough forwards the client's body with only `model` rewritten and
// relays the reply's bytes, reading usage on the way.
func (c *call) passthrough(ctx context.Context, d *router.Deployment, upModel string) (bool, error) {
	// Usage is asked for so spend can be counted; the usage-only chunk is
	// then kept from a client that did not ask for it.
	injected := c.client == llm.DialectOpenAI && c.stream && !c.bi.includeUsage
	extra := ""
	if injected && !c.bi.streamOptions {
		extra = `,"stream_options":{"include_usage":true}`
	}
	ob := bodyBufs.Get().(*bodyBuf)
	body := rewriteBody(ob.b, c.body, c.bi.model, upModel, extra)
	ob.b = body
	for _, f := range c.bi.gateway {
		body, _ = sjson.DeleteBytes(body, f)
	}
	for k, v := range d.Cfg.Params {
		if !c.bi.has(k) {
			body, _ = sjson.SetRawBytes(body, k, v)
		}
	}
	if injected && c.bi.streamOptions {
		body, _ = sjson.SetBytes(body, "stream_options.include_usage", true)
	}
	resp, err := c.send(ctx, d, provider.EndpointChat, body)
	if err != nil {
		return false, err
	}
	if resp.BodySent() {
		ob.put() // else net/http may be writing it still: left to the collector
	}
	defer resp.Body.Close()
	tracker := c.s.trackers[d.Dialect()]()
	if !c.stream {
		rb, err := readReply(d, resp)
		defer rb.put()
		if err != nil {
			return false, d.Upstream.Classify(ctx, err)
		}
		b := rb.b
		tracker.ObserveBody(b)
		c.setUsage(tracker.Usage())
		c.keepResponse(b)
		return true, c.reply(b)
	}
	return c.relay(ctx, d, resp.Body, tracker, injected)
}

// failInBand reports an error after the headers are out, in the client's
// dialect: never a silent truncation.
func (c *call) failInBand(e *llm.Error) {
	if e.Kind == llm.KindClientGone {
		return
	}
	sw := c.s.clients[c.client].NewStreamWriter(c.w, &llm.Request{Model: c.model})
	_ = sw.Fail(e)
	c.flush()
}

// translated decodes the client's request to the hub, encodes it for d's
// dialect, and translates the reply back.
func (c *call) translated(ctx context.Context, d *router.Deployment, upModel string) (bool, error) {
	hub, err := c.hubRequest()
	if err != nil {
		return false, err
	}
	if d.Dialect() != llm.DialectAnthropic {
		c.warnServerTools(hub, d)
	}
	up := c.s.upstreams[d.Dialect()]
	params := d.Cfg.Params
	if d.Dialect() == llm.DialectOllama {
		if params, err = c.ollamaParams(ctx, d, upModel, hub); err != nil {
			return false, err
		}
	}
	body, err := up.EncodeRequest(hub, llm.EncodeOptions{
		Model:           upModel,
		DropParams:      c.s.opts.DropParams,
		Params:          params,
		MaxOutputTokens: d.Cfg.Info.MaxOutputTokens,
	})
	if err != nil {
		return false, err
	}
	resp, err := c.send(ctx, d, provider.EndpointChat, body)
	if err != nil {
		return false, err
	}
	if resp.BodySent() {
		llm.PutBody(body) // else net/http may be writing it still: left to the collector
	}
	// A stream read to its end marker leaves only the body's end: the
	// connection is kept for the next call. Otherwise (an error, the
	// client gone) closing the body tells the upstream to stop.
	ended := false
	defer func() {
		if ended {
			_ = resp.CloseAfterEnd()
		} else {
			_ = resp.Body.Close()
		}
	}()
	client := c.s.clients[c.client]
	if !c.stream {
		rb, err := readReply(d, resp)
		defer rb.put()
		if err != nil {
			return false, d.Upstream.Classify(ctx, err)
		}
		b := rb.b
		out, err := up.DecodeResponse(b)
		if err != nil {
			return false, upstreamReplyError(d, err)
		}
		if e := c.truncated(d, &out.Usage); e != nil {
			return false, e
		}
		c.setUsage(out.Usage, true)
		enc, err := client.EncodeResponse(out, hub)
		if err != nil {
			return false, err
		}
		c.keepResponse(enc)
		return true, c.reply(enc)
	}
	st := up.NewStreamReader(resp.Body) // closed with resp.Body
	first, err := st.Next()
	if err != nil {
		return false, streamError(ctx, d, err)
	}
	c.firstByte()
	c.try.FirstByte()
	c.info.ttfb = time.Since(c.start)
	c.commit(d, "text/event-stream", http.StatusOK)
	sw := client.NewStreamWriter(c.w, hub)
	if err := c.write(sw, first); err != nil {
		return true, err
	}
	c.flush()
	err = c.pump(ctx, d, st, sw)
	ended = err == nil
	return true, err
}

func upstreamReplyError(d *router.Deployment, err error) *llm.Error {
	var e *llm.Error
	if errors.As(err, &e) {
		return e
	}
	return &llm.Error{Kind: llm.KindUpstream, Message: fmt.Sprintf("deployment %s sent a reply that cannot be read", d.Upstream.Name), Err: err}
}

func streamError(ctx context.Context, d *router.Deployment, err error) *llm.Error {
	var e *llm.Error
	if errors.As(err, &e) {
		return e
	}
	return d.Upstream.Classify(ctx, err)
}

func (c *call) write(sw llm.StreamWriter, ev llm.Event) error {
	if ev.Type == llm.EventTextDelta || ev.Type == llm.EventToolArgsDelta || ev.Type == llm.EventThinkingDelta {
		c.info.noteOutput(ev.Text)
	}
	if ev.Usage != nil && (ev.Type == llm.EventUsage || ev.Type == llm.EventStop || ev.Type == llm.EventStart) {
		u := *ev.Usage
		if c.info.hasUsage {
			m := c.info.usage
			m.Merge(u)
			u = m
		}
		c.setUsage(u, true)
	}
	if ev.Type == llm.EventStop {
		if e := c.truncated(c.info.dep, ev.Usage); e != nil {
			// Say so instead of ending as if the whole prompt was read.
			c.info.err = e
			_ = sw.Fail(e)
			c.flush()
			return e
		}
		c.recordNow()
	}
	if err := sw.Write(ev); err != nil {
		return &llm.Error{Kind: llm.KindClientGone, Message: "client went away", Err: err}
	}
	return nil
}

type evResult struct {
	ev  llm.Event
	err error
}

// pump moves events from st to sw, sending a keep-alive during long silences.
func (c *call) pump(ctx context.Context, d *router.Deployment, st llm.Stream, sw llm.StreamWriter) error {
	ch := make(chan evResult, 8)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			ev, err := st.Next()
			select {
			case ch <- evResult{ev, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	ping := time.NewTimer(c.s.opts.PingInterval)
	defer ping.Stop()
	for {
		select {
		case r := <-ch:
			if r.err == io.EOF {
				c.flush()
				return nil
			}
			if r.err != nil {
				e := streamError(ctx, d, r.err)
				if e.Kind != llm.KindClientGone {
					_ = sw.Fail(e)
					c.flush()
				}
				return e
			}
			if err := c.write(sw, r.ev); err != nil {
				return err
			}
			// Flush unless the next event is already decoded: every event
			// goes out as soon as it arrived, but a burst costs one write.
			if len(ch) == 0 {
				c.flush()
			}
			ping.Reset(c.s.opts.PingInterval)
		case <-ping.C:
			if err := sw.Ping(); err != nil {
				return &llm.Error{Kind: llm.KindClientGone, Message: "client went away", Err: err}
			}
			c.flush()
			ping.Reset(c.s.opts.PingInterval)
		case <-ctx.Done():
			e := d.Upstream.Classify(ctx, ctx.Err())
			if e.Kind != llm.KindClientGone {
				_ = sw.Fail(e)
				c.flush()
			}
			return e
		}
	}
}

func setModel(body []byte, model string) ([]byte, error) {
	return sjson.SetBytes(body, "model", model)
}

// keepResponse keeps a non-streamed reply for the record, only when prompts
// are stored, and sets its cost header.
func (c *call) keepResponse(b []byte) {
	if c.s.opts.StorePrompts {
		n := min(len(b), maxStoredPrompt)
		c.info.response = string(b[:n])
	}
	if c.s.opts.Price != nil && c.info.hasUsage {
		cost := c.s.opts.Price(c.info.dep, c.info.upstreamModel, c.info.usage)
		c.info.cost, c.info.priced = cost, true
		var b [32]byte
		c.w.Header().SetBytesV("X-Litellm-Response-Cost", strconv.AppendFloat(b[:0], cost, 'g', -1, 64))
	}
}

// recordNow makes the call's record (durable in the spend journal) before
// the last byte of a successful response goes out.
func (c *call) recordNow() {
	c.info.err = nil
	c.s.finish(c.info, http.StatusOK)
}

// warnServerTools says, once per request, that vendor-side tools (Anthropic
// web_search_*, ...) cannot run on d and are left out of the request.
func (c *call) warnServerTools(hub *llm.Request, d *router.Deployment) {
	if c.warnedTools {
		return
	}
	for _, t := range hub.Tools {
		if t.Server {
			c.warnedTools = true
			c.s.log.Warn("server tool dropped: the upstream cannot run it; the model answers without it",
				"tool", t.Name, "type", t.ServerType, "deployment", d.ID())
		}
	}
}

func readLimited(r io.Reader, n int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, n))
}
