// Package provider sends requests to one upstream deployment over HTTP: it
// knows each dialect's paths and auth headers, classifies transport failures
// into llm error kinds, and probes health. It does not translate bodies (the
// dialect packages do) and does not choose deployments (the router does).
package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// AnthropicVersion is sent to Anthropic upstreams when the client gave none.
const AnthropicVersion = "2023-06-01"

// Upstream is one deployment's endpoint.
type Upstream struct {
	// Name identifies the deployment in messages (group and id).
	Name    string
	Dialect llm.Dialect
	// BaseURL is the api_base, without a trailing slash.
	BaseURL string
	APIKey  string
	Headers map[string]string
	// Client is the net/http client: for every call when Pool is nil, and
	// for the calls the fast path does not serve (through a proxy, say).
	Client *http.Client
	// Pool is the fast HTTP/1.1 client's connection pool; nil sends every
	// call through Client.
	Pool *Pool

	fastOnce sync.Once
	fast     *fastUpstream
}

// Response is an upstream's answer. Body must be closed; the header must
// be read before closing Body.
type Response struct {
	StatusCode int
	Body       io.ReadCloser
	// ContentLength is the body's declared length, -1 when unknown.
	ContentLength int64

	header http.Header
	status string
	fast   *fastBody
}

// BodySent reports that the call is done with the request body it was
// given: the fast path has written it whole when the response comes, while
// net/http may still be writing it.
func (r *Response) BodySent() bool { return r.fast != nil }

// CloseAfterEnd closes the body of a caller that has read all it needs
// (a stream's end marker, when the body's own end is still to come): the
// rest is read in the background, for at most a second and 64 KiB, and
// the connection then serves the next call instead of being closed. Close,
// by contrast, closes the connection of a body not read to its end, which
// tells the upstream the caller left.
func (r *Response) CloseAfterEnd() error {
	if r.fast != nil {
		return r.fast.closeDrained()
	}
	return r.Body.Close()
}

// Header is the response header.
func (r *Response) Header() http.Header {
	if r.header == nil {
		if r.fast != nil {
			r.header = r.fast.header()
		} else {
			r.header = http.Header{}
		}
	}
	return r.header
}

// Status is the status line's text, as "404 Not Found".
func (r *Response) Status() string {
	if r.status != "" {
		return r.status
	}
	if t := http.StatusText(r.StatusCode); t != "" {
		return strconv.Itoa(r.StatusCode) + " " + t
	}
	return strconv.Itoa(r.StatusCode)
}

// Endpoint names an upstream operation.
type Endpoint int

// Upstream endpoints.
const (
	EndpointChat Endpoint = iota
	EndpointCountTokens
	EndpointEmbeddings
	EndpointModels
	// EndpointShow is Ollama's /api/show (model details).
	EndpointShow
	// EndpointGenerate is Ollama's /api/generate (used to preload a model).
	EndpointGenerate
)

// URL is the full URL of an endpoint of u.
func (u *Upstream) URL(ep Endpoint) string {
	base := u.BaseURL
	switch u.Dialect {
	case llm.DialectAnthropic:
		base = strings.TrimSuffix(base, "/v1")
		switch ep {
		case EndpointCountTokens:
			return base + "/v1/messages/count_tokens"
		case EndpointModels:
			return base + "/v1/models"
		}
		return base + "/v1/messages"
	case llm.DialectOllama:
		switch ep {
		case EndpointEmbeddings:
			return base + "/api/embed"
		case EndpointModels:
			return base + "/api/tags"
		case EndpointShow:
			return base + "/api/show"
		case EndpointGenerate:
			return base + "/api/generate"
		}
		return base + "/api/chat"
	}
	switch ep {
	case EndpointEmbeddings:
		return base + "/embeddings"
	case EndpointModels:
		return base + "/models"
	}
	return base + "/chat/completions"
}

// NormalizeBase makes an api_base usable: no trailing slash, and for
// OpenAI-compatible servers given as a bare host (http://host:8000) the /v1
// prefix they all serve under.
func NormalizeBase(d llm.Dialect, base string) string {
	base = strings.TrimRight(base, "/")
	if d == llm.DialectOpenAI {
		if p, err := url.Parse(base); err == nil && (p.Path == "" || p.Path == "/") {
			base += "/v1"
		}
	}
	return base
}

// ClientHeader is the client request's header, as far as an upstream call
// reads it: http.Header is one, and so is the server's request.
type ClientHeader interface {
	Values(key string) []string
}

// forwardHeaders are client headers passed to an upstream of the same dialect.
var forwardHeaders = map[llm.Dialect][]string{
	llm.DialectAnthropic: {"Anthropic-Version", "Anthropic-Beta"},
	llm.DialectOpenAI:    {"Openai-Organization", "Openai-Project"},
}

// NewRequest builds the outbound net/http request. in is the client's
// request header; only the headers the dialect defines to be forwarded are
// taken from it. Do sends the same request, over the fast path when it can.
func (u *Upstream) NewRequest(ctx context.Context, ep Endpoint, body []byte, in ClientHeader) (*http.Request, error) {
	method := http.MethodPost
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.URL(ep), rd)
	if err != nil {
		return nil, fmt.Errorf("build request for %s: %w", u.Name, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range forwardHeaders[u.Dialect] {
		if in == nil {
			break
		}
		if v := in.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	switch u.Dialect {
	case llm.DialectAnthropic:
		if req.Header.Get("Anthropic-Version") == "" {
			req.Header.Set("Anthropic-Version", AnthropicVersion)
		}
		if u.APIKey != "" {
			req.Header.Set("X-Api-Key", u.APIKey)
		}
	default:
		if u.APIKey != "" {
			req.Header.Set("Authorization", "Bearer "+u.APIKey)
		}
	}
	for k, v := range u.Headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// Do sends a call to endpoint ep: a POST of the JSON body, or a GET when
// body is nil, with the headers NewRequest sets. It goes over the fast
// path (Pool) when it can, else through Client. A transport failure comes
// back as an *llm.Error: a refused or unreachable upstream is
// KindUnavailable with a message naming the deployment and its api_base
// (and, for Ollama, how to start it); a deadline is KindTimeout; the client
// going away is KindClientGone. ctx governs the whole call, body included.
func (u *Upstream) Do(ctx context.Context, ep Endpoint, body []byte, in ClientHeader) (*Response, error) {
	dl, _ := ctx.Deadline()
	return u.DoBy(ctx, dl, ep, body, in)
}

// Deadline is the deadline of a call that starts at start and may take
// timeout (0 or less: none, the zero time): start+timeout rounded up to a
// multiple of the largest power of two nanoseconds no more than a 64th of
// timeout. Calls that start close together then share one deadline, and a
// connection that serves them one after another keeps the deadline it has
// (DoBy sets it only when it changes: two runtime timers moved per call
// otherwise). The timeout fires up to 1/64 of itself late.
func Deadline(start time.Time, timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	d := start.Add(timeout).Round(0) // wall clock only: Equal compares monotonic readings when both have one
	q := timeout / 64
	if q <= 1 || timeout > 100*365*24*time.Hour { // (UnixNano's range)
		return d
	}
	q = 1 << (bits.Len64(uint64(q)) - 1)
	if r := time.Duration(d.UnixNano()) & (q - 1); r != 0 {
		d = d.Add(q - r)
	}
	return d
}

// DoBy is Do bounded by deadline (zero: none) besides ctx: the whole call,
// body included, fails with a timeout once it passes. The fast path puts
// the deadline on the connection instead of on a context, which would cost
// a timer and three allocations per call.
func (u *Upstream) DoBy(ctx context.Context, deadline time.Time, ep Endpoint, body []byte, in ClientHeader) (*Response, error) {
	if t := u.fastTarget(ep); t != nil {
		if resp, ok, err := u.doFast(ctx, deadline, t, body, in); ok {
			return resp, err
		}
	}
	var cancel context.CancelFunc = func() {}
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	req, err := u.NewRequest(ctx, ep, body, in)
	if err != nil {
		cancel()
		return nil, err
	}
	client := u.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		err = u.classify(ctx, err)
		cancel()
		return nil, err
	}
	return &Response{StatusCode: resp.StatusCode, Body: cancelOnClose{resp.Body, cancel}, ContentLength: resp.ContentLength,
		header: resp.Header, status: resp.Status}, nil
}

// cancelOnClose ends a call's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func (u *Upstream) classify(ctx context.Context, err error) *llm.Error {
	cause := context.Cause(ctx)
	if errors.Is(cause, ErrFirstByteTimeout) {
		return &llm.Error{Kind: llm.KindTimeout, Err: err,
			Message: fmt.Sprintf("deployment %s at %s sent nothing within stream_timeout", u.Name, u.BaseURL)}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(cause, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &llm.Error{Kind: llm.KindTimeout, Err: err,
			Message: fmt.Sprintf("deployment %s at %s did not answer in time", u.Name, u.BaseURL)}
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return &llm.Error{Kind: llm.KindClientGone, Message: "client closed the request", Err: err}
	}
	msg := fmt.Sprintf("cannot reach deployment %s at %s: %s", u.Name, u.BaseURL, reason(err))
	if u.Dialect == llm.DialectOllama {
		msg = fmt.Sprintf("cannot reach Ollama at %s (deployment %s: %s): is it running? Start it with `ollama serve` and check with `curl %s/api/tags`",
			u.BaseURL, u.Name, reason(err), u.BaseURL)
	}
	return &llm.Error{Kind: llm.KindUnavailable, Message: msg, Err: err}
}

// Classify turns an error met while reading an upstream body into an *llm.Error.
func (u *Upstream) Classify(ctx context.Context, err error) *llm.Error {
	var le *llm.Error
	if errors.As(err, &le) {
		return le
	}
	e := u.classify(ctx, err)
	if e.Kind == llm.KindUnavailable {
		e.Kind = llm.KindUpstream
		e.Message = fmt.Sprintf("deployment %s at %s broke off its reply: %s", u.Name, u.BaseURL, reason(err))
	}
	return e
}

func reason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed early"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "host not found"
	}
	return "network error"
}

// ErrClientGone is the cancel cause the server sets when its client goes away.
var ErrClientGone = errors.New("client went away")

// ErrFirstByteTimeout is the cancel cause when stream_timeout passes before
// the first byte of the answer.
var ErrFirstByteTimeout = errors.New("no first byte within stream_timeout")

// Probe checks that the upstream answers a cheap call: Ollama's /api/tags, an
// OpenAI-compatible /models, Anthropic's /v1/models. It returns nil when it
// answered 2xx.
func (u *Upstream) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := u.Do(ctx, EndpointModels, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return &llm.Error{Kind: llm.KindUpstream, Status: resp.StatusCode,
			Message: fmt.Sprintf("deployment %s at %s answered %s", u.Name, u.BaseURL, resp.Status())}
	}
	return nil
}

// Get fetches an endpoint's body (models listing), at most limit bytes.
func (u *Upstream) Get(ctx context.Context, ep Endpoint, limit int64) ([]byte, error) {
	resp, err := u.Do(ctx, ep, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, u.classify(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &llm.Error{Kind: llm.KindUpstream, Status: resp.StatusCode,
			Message: fmt.Sprintf("deployment %s at %s answered %s", u.Name, u.BaseURL, resp.Status())}
	}
	return b, nil
}

// defaultClient serves an Upstream without a Client.
var defaultClient = &http.Client{Transport: NewTransport()}

// NewTransport is the shared pooled transport for all upstreams.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Bodies are relayed as they are: no transparent gzip.
		DisableCompression: true,
	}
}
