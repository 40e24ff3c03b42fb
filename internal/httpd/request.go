package httpd

import (
	"context"
	"net"
	"net/netip"
	"net/url"

	"github.com/valyala/fasthttp"
)

// Request is one parsed request. It and everything it returns are valid
// until the handler returns; a handler copies what it keeps longer (strings
// from String-returning accessors are copies already).
type Request struct {
	// Method is the request method ("POST"); Path the URI's path, decoded
	// and normalized (no dot segments, no repeated slashes); RawQuery the
	// query after '?', undecoded.
	Method   string
	Path     string
	RawQuery string
	// Body is the whole request body (chunked bodies are decoded).
	Body []byte
	// BodyErr is set instead of Body when the body could not be taken:
	// ErrBodyTooLarge when it exceeds Server.MaxBodyBytes. The handler
	// answers it in its own words; the connection is closed afterwards.
	BodyErr error
	// RemoteAddr is the peer's address.
	RemoteAddr netip.AddrPort

	hdr *fasthttp.RequestHeader
	uri *fasthttp.URI
	ctx context.Context
}

// Context is canceled when the client goes away (the connection was closed
// or reset while the handler ran) with cause ErrClientGone, and when the
// server is closed.
func (r *Request) Context() context.Context { return r.ctx }

// Peek returns the first value of header key (case-insensitive), nil when
// absent. The bytes are the server's: valid until the handler returns.
func (r *Request) Peek(key string) []byte { return r.hdr.Peek(key) }

// Get returns a copy of the first value of header key, "" when absent.
func (r *Request) Get(key string) string { return string(r.hdr.Peek(key)) }

// Values returns copies of every value of header key.
func (r *Request) Values(key string) []string {
	all := r.hdr.PeekAll(key)
	if len(all) == 0 {
		return nil
	}
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = string(v)
	}
	return out
}

// VisitHeaders calls f for every header line, in order.
func (r *Request) VisitHeaders(f func(key, value []byte)) {
	for k, v := range r.hdr.All() {
		f(k, v)
	}
}

// Query parses RawQuery.
func (r *Request) Query() url.Values {
	v, _ := url.ParseQuery(r.RawQuery)
	return v
}

// RequestURI is the request target as sent ("/v1/models?limit=2").
func (r *Request) RequestURI() string { return string(r.hdr.RequestURI()) }

// ContentLength is the declared body length: -1 for a chunked body.
func (r *Request) ContentLength() int { return r.hdr.ContentLength() }

// set points r at req.
func (r *Request) set(req *fasthttp.Request, remote netip.AddrPort, ctx context.Context) {
	uri := req.URI()
	*r = Request{
		Method:     method(req.Header.Method()),
		Path:       internPath(uri.Path()),
		RawQuery:   string(uri.QueryString()),
		Body:       req.Body(),
		RemoteAddr: remote,
		hdr:        &req.Header,
		uri:        uri,
		ctx:        ctx,
	}
}

// method interns the common methods: no allocation for them.
func method(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	}
	return string(b)
}

// addrPort reads a net.Addr's address and port; zero when it has none.
func addrPort(a net.Addr) netip.AddrPort {
	switch t := a.(type) {
	case *net.TCPAddr:
		return t.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
