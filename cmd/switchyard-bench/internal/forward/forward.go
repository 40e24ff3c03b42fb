// Package forward holds the bare forwarders the benchmark measures
// Switchyard against: the least work an LLM gateway can do. Each reads the
// request's `model`, picks the upstream for it from a fixed table, forwards
// the body over a pooled client to the same path, and relays the reply:
// streamed replies (text/event-stream) are written and flushed as each read
// returns, so events are never held back. One runs on fasthttp (the physical
// floor), one on net/http (the reference for the standard library), and
// one with Switchyard's server (internal/httpd) before fasthttp's client.
package forward

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/switchyard/switchyard/internal/httpd"
)

// Routes maps a model name to an upstream host:port.
type Routes map[string]string

// ParseRoutes reads "model=host:port,model2=host:port".
func ParseRoutes(s string) (Routes, error) {
	r := Routes{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		m, a, ok := strings.Cut(f, "=")
		if !ok || m == "" || a == "" {
			return nil, fmt.Errorf("bad route %q: want model=host:port", f)
		}
		r[m] = a
	}
	return r, nil
}

var eventStream = []byte("text/event-stream")

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Fast is the fasthttp forwarder.
type Fast struct {
	clients map[string]*fasthttp.HostClient
}

// NewFast builds the fasthttp forwarder for routes.
func NewFast(routes Routes) *Fast {
	f := &Fast{clients: map[string]*fasthttp.HostClient{}}
	for m, addr := range routes {
		f.clients[m] = &fasthttp.HostClient{
			Addr:                     addr,
			MaxConns:                 4096,
			MaxIdleConnDuration:      90 * time.Second,
			ReadTimeout:              120 * time.Second,
			WriteTimeout:             30 * time.Second,
			StreamResponseBody:       true,
			NoDefaultUserAgentHeader: true,
			ReadBufferSize:           16 << 10,
		}
	}
	return f
}

// Handle is the fasthttp request handler.
func (f *Fast) Handle(ctx *fasthttp.RequestCtx) {
	body := ctx.PostBody()
	hc := f.clients[gjson.GetBytes(body, "model").Str]
	if hc == nil {
		ctx.Error(`{"error":"unknown model"}`, fasthttp.StatusNotFound)
		return
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetRequestURIBytes(ctx.RequestURI())
	req.Header.SetHost(hc.Addr)
	req.Header.SetContentTypeBytes(ctx.Request.Header.ContentType())
	req.SetBodyRaw(body)
	err := hc.Do(req, resp)
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		ctx.Error(`{"error":"upstream: `+err.Error()+`"}`, fasthttp.StatusBadGateway)
		return
	}
	ctx.SetStatusCode(resp.StatusCode())
	ct := resp.Header.ContentType()
	ctx.Response.Header.SetContentTypeBytes(ct)
	if bs := resp.BodyStream(); bs != nil && bytes.HasPrefix(ct, eventStream) {
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			bp := bufPool.Get().(*[]byte)
			defer bufPool.Put(bp)
			for {
				n, err := bs.Read(*bp)
				if n > 0 {
					if _, werr := w.Write((*bp)[:n]); werr != nil {
						break
					}
					if werr := w.Flush(); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			_ = resp.CloseBodyStream()
			fasthttp.ReleaseResponse(resp)
		})
		return
	}
	ctx.SetBody(resp.Body())
	fasthttp.ReleaseResponse(resp)
}

// ServeFast serves the fasthttp forwarder on ln until the process exits.
func ServeFast(ln net.Listener, routes Routes) error {
	f := NewFast(routes)
	srv := &fasthttp.Server{
		Handler:               f.Handle,
		Name:                  "bench-floor",
		NoDefaultServerHeader: true,
		ReadTimeout:           120 * time.Second,
		IdleTimeout:           120 * time.Second,
		MaxRequestBodySize:    64 << 20,
		ReadBufferSize:        16 << 10,
	}
	return srv.Serve(ln)
}

// Std is the net/http forwarder.
type Std struct {
	routes Routes
	client *http.Client
	bases  map[string]string
}

// NewStd builds the net/http forwarder for routes.
func NewStd(routes Routes) *Std {
	tr := &http.Transport{
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	s := &Std{routes: routes, client: &http.Client{Transport: tr}, bases: map[string]string{}}
	for m, a := range routes {
		s.bases[m] = "http://" + a
	}
	return s
}

// ServeHTTP forwards one request.
func (s *Std) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	base, ok := s.bases[gjson.GetBytes(body, "model").Str]
	if !ok {
		http.Error(w, `{"error":"unknown model"}`, http.StatusNotFound)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), http.MethodPost, base+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	resp, err := s.client.Do(out)
	if err != nil {
		http.Error(w, `{"error":"upstream"}`, http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	w.Header().Set("Content-Type", ct)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	if !strings.HasPrefix(ct, "text/event-stream") {
		_, _ = io.Copy(w, resp.Body)
		return
	}
	relayFlushed(stdFlusher{w}, resp.Body)
}

// ServeStd serves the net/http forwarder on ln until the process exits.
func ServeStd(ln net.Listener, routes Routes) error {
	srv := &http.Server{Handler: NewStd(routes), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	return srv.Serve(ln)
}

// ServeHTTPD serves the fasthttp forwarder's logic with Switchyard's own
// server (internal/httpd) in front of fasthttp's client: the floor of a
// gateway on Switchyard's HTTP stack, against the fasthttp floor it splits
// the cost of the server from that of the client.
func ServeHTTPD(ln net.Listener, routes Routes) error {
	f := NewFast(routes)
	srv := &httpd.Server{ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		Handler: httpd.HandlerFunc(func(w *httpd.Response, r *httpd.Request) {
			hc := f.clients[gjson.GetBytes(r.Body, "model").Str]
			if hc == nil {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.WriteString(`{"error":"unknown model"}`)
				return
			}
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetRequestURI(r.RequestURI())
			req.Header.SetHost(hc.Addr)
			req.Header.SetContentTypeBytes(r.Peek("Content-Type"))
			req.SetBodyRaw(r.Body)
			err := hc.Do(req, resp)
			fasthttp.ReleaseRequest(req)
			if err != nil {
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.WriteString(`{"error":"upstream"}`)
				return
			}
			ct := resp.Header.ContentType()
			w.Header().SetContentTypeBytes(ct)
			bs := resp.BodyStream()
			if bs == nil || !bytes.HasPrefix(ct, eventStream) {
				b := resp.Body()
				w.SetContentLength(len(b))
				w.WriteHeader(resp.StatusCode())
				_, _ = w.Write(b)
				return
			}
			defer func() { _ = resp.CloseBodyStream() }()
			w.WriteHeader(resp.StatusCode())
			relayFlushed(w, bs)
		})}
	return srv.Serve(ln)
}

// flushWriter is a response writer that can send what it holds at once
// (net/http's through http.Flusher, httpd's Response).
type flushWriter interface {
	io.Writer
	Flush() error
}

// stdFlusher adapts a net/http ResponseWriter.
type stdFlusher struct{ http.ResponseWriter }

func (f stdFlusher) Flush() error {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
	return nil
}

// relayFlushed copies a stream to a client, flushing after every read,
// until either side fails.
func relayFlushed(w flushWriter, r io.Reader) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		n, err := r.Read(*bp)
		if n > 0 {
			if _, werr := w.Write((*bp)[:n]); werr != nil {
				return
			}
			if w.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
