package provider

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/rawio"
)

// The fast path: a small HTTP/1.1 client for upstream calls, cheaper than
// net/http's Transport (no per-connection reader and writer goroutines, no
// channel hand-offs, no header maps on the way out). Requests are written
// from a precomputed per-endpoint prefix; responses are parsed with
// fasthttp's response type and their bodies streamed straight off the
// connection. A context ending (client gone, stream_timeout, request
// timeout) aborts whatever read or write is blocked and closes the
// connection, so the upstream sees the disconnect at once.

// Pool is a set of keep-alive connections, one idle stack per upstream
// host. It is safe for concurrent use. The zero value is not usable: use
// NewPool.
type Pool struct {
	// TLSClientConfig is the base TLS configuration for https upstreams
	// (nil: system roots). ServerName and NextProtos are set per host.
	// It must be set before the first call.
	TLSClientConfig *tls.Config
	// Proxy decides whether a URL goes through a proxy (default
	// http.ProxyFromEnvironment, as NewTransport); calls that do are sent
	// through the Upstream's net/http Client instead.
	Proxy func(*http.Request) (*url.URL, error)
	// IdleTimeout closes a connection idle for this long (default 90s).
	IdleTimeout time.Duration
	// CheckAfter is how long a connection may have been idle and still be
	// reused without first checking (a non-blocking read, one system
	// call) that the upstream did not close it (default 1s; negative:
	// always check). A connection the upstream closed meanwhile is met by
	// the send-again-once of a call whose reused connection dies before any
	// reply byte.
	CheckAfter time.Duration
	// MaxIdlePerHost and MaxIdle bound the idle connections kept (default
	// 256 and 1024).
	MaxIdlePerHost, MaxIdle int
	// Dial, when set, opens the TCP connections instead of a net.Dialer
	// (benchmarks: upstreams in memory).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	dialer net.Dialer
	// drainWait bounds the wait for a body's end after CloseAfterEnd.
	drainWait time.Duration
	nidle     atomic.Int64
	mu        sync.Mutex
	hosts     map[string]*hostPool
}

// NewPool returns a pool with the defaults of NewTransport.
func NewPool() *Pool {
	return &Pool{
		Proxy:          http.ProxyFromEnvironment,
		IdleTimeout:    90 * time.Second,
		CheckAfter:     time.Second,
		MaxIdlePerHost: 256,
		MaxIdle:        1024,
		dialer:         net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		drainWait:      time.Second,
		hosts:          map[string]*hostPool{},
	}
}

// tlsHandshakeTimeout bounds a TLS handshake, as NewTransport does.
const tlsHandshakeTimeout = 10 * time.Second

// A connection reads through a small buffer (an open stream holds one).
// A response whose header does not fit moves its connection on to a
// bigger one, which it keeps; a header bigger still moves it to one of
// maxHeaderBytes, after which it is closed instead of pooled.
const (
	readBufSize    = 4 << 10
	bigHeaderBytes = 64 << 10
	maxHeaderBytes = 1 << 20
)

// CloseIdleConnections closes the connections now idle.
func (p *Pool) CloseIdleConnections() {
	p.mu.Lock()
	hps := make([]*hostPool, 0, len(p.hosts))
	for _, hp := range p.hosts {
		hps = append(hps, hp)
	}
	p.mu.Unlock()
	for _, hp := range hps {
		hp.mu.Lock()
		idle := hp.idle
		hp.idle = nil
		hp.mu.Unlock()
		p.nidle.Add(-int64(len(idle)))
		for _, c := range idle {
			c.close()
		}
	}
}

// host returns the idle stack for scheme://addr.
func (p *Pool) host(https bool, addr, serverName string) *hostPool {
	key := "http://" + addr
	if https {
		key = "https://" + addr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if hp := p.hosts[key]; hp != nil {
		return hp
	}
	hp := &hostPool{p: p, addr: addr}
	if https {
		cfg := &tls.Config{}
		if p.TLSClientConfig != nil {
			cfg = p.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = serverName
		}
		cfg.NextProtos = []string{"http/1.1"}
		hp.tls = cfg
	}
	p.hosts[key] = hp
	return hp
}

// hostPool holds one host's idle connections, oldest first.
type hostPool struct {
	p    *Pool
	addr string
	tls  *tls.Config

	mu      sync.Mutex
	idle    []*conn
	timer   *time.Timer
	timerOn bool
}

// get returns an idle connection that is still open, else a new one.
func (hp *hostPool) get(ctx context.Context, deadline time.Time) (*conn, error) {
	for {
		hp.mu.Lock()
		n := len(hp.idle)
		if n == 0 {
			hp.mu.Unlock()
			return hp.dialAside(ctx, deadline)
		}
		c := hp.idle[n-1]
		hp.idle[n-1] = nil
		hp.idle = hp.idle[:n-1]
		hp.mu.Unlock()
		hp.p.nidle.Add(-1)
		if idle := time.Since(c.idleAt); idle < hp.p.IdleTimeout && (idle < hp.p.CheckAfter || c.alive()) {
			c.reused = true
			return c, nil
		}
		c.close()
	}
}

// put keeps c for the next call, unless the pool is full or c has bytes
// nobody asked for.
func (hp *hostPool) put(c *conn) {
	if c.br.Buffered() > 0 || hp.p.nidle.Load() >= int64(hp.p.MaxIdle) {
		c.close()
		return
	}
	c.idleAt = time.Now()
	hp.mu.Lock()
	if len(hp.idle) >= hp.p.MaxIdlePerHost {
		hp.mu.Unlock()
		c.close()
		return
	}
	hp.idle = append(hp.idle, c)
	hp.p.nidle.Add(1)
	if !hp.timerOn {
		hp.timerOn = true
		if hp.timer == nil {
			hp.timer = time.AfterFunc(hp.p.IdleTimeout, hp.reap)
		} else {
			hp.timer.Reset(hp.p.IdleTimeout)
		}
	}
	hp.mu.Unlock()
}

// reap closes the connections idle for IdleTimeout and runs again when the
// oldest of the rest is due.
func (hp *hostPool) reap() {
	now := time.Now()
	hp.mu.Lock()
	i := 0
	for i < len(hp.idle) && now.Sub(hp.idle[i].idleAt) >= hp.p.IdleTimeout {
		i++
	}
	old := make([]*conn, i)
	copy(old, hp.idle[:i])
	n := copy(hp.idle, hp.idle[i:])
	clear(hp.idle[n:])
	hp.idle = hp.idle[:n]
	if n > 0 {
		hp.timer.Reset(hp.p.IdleTimeout - now.Sub(hp.idle[0].idleAt))
	} else {
		hp.timerOn = false
	}
	hp.mu.Unlock()
	hp.p.nidle.Add(-int64(len(old)))
	for _, c := range old {
		c.close()
	}
}

// dialAside is dial on a goroutine of its own, as net/http's transport
// dials: the caller's goroutine, which goes on to wait for a stream's
// events with the gateway's whole call chain on its stack, would
// otherwise double its stack for the dialer's deep calls and keep it that
// size for good.
func (hp *hostPool) dialAside(ctx context.Context, deadline time.Time) (*conn, error) {
	type dialed struct {
		c   *conn
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := hp.dial(ctx, deadline)
		ch <- dialed{c, err}
	}()
	d := <-ch
	return d.c, d.err
}

// dial opens a new connection (TCP, then TLS for https).
func (hp *hostPool) dial(ctx context.Context, deadline time.Time) (*conn, error) {
	d := hp.p.dialer
	if !deadline.IsZero() && (d.Deadline.IsZero() || deadline.Before(d.Deadline)) {
		d.Deadline = deadline
	}
	dial := d.DialContext
	if hp.p.Dial != nil {
		dial = hp.p.Dial
	}
	nc, err := dial(ctx, "tcp", hp.addr)
	if err != nil {
		return nil, err
	}
	nc = rawio.Wrap(nc)
	c := &conn{nc: nc, hp: hp}
	if sc, ok := nc.(syscall.Conn); ok {
		c.rc, _ = sc.SyscallConn()
	}
	c.raw = nc
	if hp.tls != nil {
		tc := tls.Client(nc, hp.tls)
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, err
		}
		c.nc = tc
	}
	c.br = bufio.NewReaderSize(c, readBufSize)
	c.abortFn = c.abort
	c.checkFn = c.check
	c.sendFn = c.sendStep
	return c, nil
}

// conn is one upstream connection.
type conn struct {
	nc  net.Conn // what requests go over (TLS or TCP)
	raw net.Conn // the TCP connection under it
	rc  syscall.RawConn
	br  *bufio.Reader
	hp  *hostPool

	abortFn func()
	checkFn func(uintptr) bool
	isAlive bool

	// The request send writes from inside a raw read (see send): what it
	// writes, whether it did, and how that went.
	sendFn   func(uintptr) bool
	sendRB   *reqBuf
	sendBody []byte
	sent     bool
	sendErr  error

	// nread counts the bytes read for the current call; rerr is the last
	// read error the connection returned (what fasthttp may have reported
	// as a plain EOF or timeout).
	nread  int
	rerr   error
	idleAt time.Time
	reused bool
	// deadline is the read and write deadline set on nc.
	deadline time.Time
	// noReuse: the connection moved to a buffer of maxHeaderBytes.
	noReuse bool
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.nc.Read(p)
	c.nread += n
	if err != nil {
		c.rerr = err
	}
	return n, err
}

// setDeadline bounds the reads and writes of the call starting on c (zero:
// none), unless that is the deadline c has already.
func (c *conn) setDeadline(t time.Time) error {
	if t.Equal(c.deadline) {
		return nil
	}
	c.deadline = t
	return c.nc.SetDeadline(t)
}

// longAgo is a deadline that has passed.
var longAgo = time.Unix(1, 0)

// abort unblocks any read or write on c and closes it: the context of its
// call ended.
func (c *conn) abort() {
	_ = c.nc.SetDeadline(longAgo)
	_ = c.raw.Close()
}

func (c *conn) close() { _ = c.nc.Close() }

// alive reports whether an idle connection is still open: not closed by
// the upstream and with nothing unasked-for to read. The check is one
// non-blocking read.
func (c *conn) alive() bool {
	if c.rc == nil || !connCheck {
		return true
	}
	c.isAlive = false
	if !c.deadline.IsZero() && c.setDeadline(time.Time{}) != nil {
		return false // the last call's deadline would fail the check
	}
	if err := c.rc.Read(c.checkFn); err != nil {
		return false
	}
	return c.isAlive
}

// send writes a request (head in rb, then body unless nil) and, where it
// can, waits for the first bytes of the reply before it returns.
//
// A read right after the write nearly always finds nothing yet: the
// upstream has not answered. That costs a system call which only says so
// (EAGAIN) before the read waits for the poller; on a virtual machine a
// system call is a large part of a small request's cost. So the write
// happens from inside a raw read, which starts by resetting the socket's
// readiness and then waits for the poller without reading: the reply can
// only come after the request, so it always wakes the wait, and the read
// that follows finds it. A connection the upstream closed meanwhile wakes
// it too (the write draws a reset). If the wait ends otherwise (the
// deadline, an abort) the read that follows meets the same condition and
// reports it as before.
func (c *conn) send(rb *reqBuf, body []byte) error {
	if c.rc == nil || !awaitInRead {
		return c.write(rb, body)
	}
	c.sendRB, c.sendBody, c.sent, c.sendErr = rb, body, false, nil
	_ = c.rc.Read(c.sendFn) // its own error: see above
	err := c.sendErr
	c.sendRB, c.sendBody, c.sendErr = nil, nil, nil
	if !c.sent {
		// The raw read failed before it called back (closed, or its
		// deadline passed): write as usual, which says why.
		return c.write(rb, body)
	}
	return err
}

// sendStep is send's callback: the first call writes and asks to wait
// (unless the write failed); the next, after the poller said readable,
// ends the raw read without reading.
func (c *conn) sendStep(uintptr) bool {
	if c.sent {
		return true
	}
	c.sent = true
	c.sendErr = c.write(c.sendRB, c.sendBody)
	return c.sendErr != nil
}

// write writes a request: head and body in one writev, or the head alone.
func (c *conn) write(rb *reqBuf, body []byte) error {
	if body == nil {
		_, err := c.nc.Write(rb.b)
		return err
	}
	rb.vec[0], rb.vec[1] = rb.b, body
	var err error
	if v, ok := c.nc.(vectorWriter); ok {
		_, err = v.Writev(rb.vec[:])
	} else {
		rb.bufs = rb.vec[:]
		_, err = rb.bufs.WriteTo(c.nc)
		rb.bufs = nil
	}
	rb.vec[0], rb.vec[1] = nil, nil
	return err
}

// vectorWriter writes buffers in one system call (rawio.Conn).
type vectorWriter interface {
	Writev(bufs [][]byte) (int, error)
}

// check is the non-blocking read behind alive.
func (c *conn) check(fd uintptr) bool {
	c.isAlive = peekIdle(fd)
	return true
}

// fastUpstream is what the fast path precomputes for an Upstream.
type fastUpstream struct {
	// static is the header lines that do not depend on the call:
	// User-Agent, the api key, the deployment's Headers.
	static []byte
	// fwd are the client headers forwarded (those not overridden).
	fwd []string
	// defaultVersion: send Anthropic-Version when the client gave none.
	defaultVersion bool
	// contentType: send Content-Type: application/json with a body.
	contentType bool
	eps         [numEndpoints]*target
}

// target is one endpoint's request line and connection pool; nil when the
// fast path cannot serve it.
type target struct {
	get, post []byte // "GET /path HTTP/1.1\r\nHost: h\r\n", and POST
	hp        *hostPool
}

const numEndpoints = int(EndpointGenerate) + 1

// userAgent is what net/http sends, kept so that upstreams see no change.
const userAgent = "Go-http-client/1.1"

// fastTarget returns ep's target, or nil when the call must go through
// net/http.
func (u *Upstream) fastTarget(ep Endpoint) *target {
	if u.Pool == nil || ep < 0 || int(ep) >= numEndpoints {
		return nil
	}
	u.fastOnce.Do(func() { u.fast = u.prepare() })
	if u.fast == nil {
		return nil
	}
	return u.fast.eps[ep]
}

// prepare builds the fast path's per-upstream state, or returns nil when
// the fast path cannot send its requests as net/http would.
func (u *Upstream) prepare() *fastUpstream {
	f := &fastUpstream{}
	hdr := make(map[string]string, len(u.Headers))
	for k, v := range u.Headers {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return nil // net/http refuses it; let it say so
		}
		hdr[http.CanonicalHeaderKey(k)] = v
	}
	over := func(k string) bool { _, ok := hdr[k]; return ok }
	if !httpguts.ValidHeaderFieldValue(u.APIKey) {
		return nil
	}
	b := f.static
	if !over("User-Agent") {
		b = appendHeader(b, "User-Agent", userAgent)
	}
	if u.APIKey != "" {
		switch u.Dialect {
		case llm.DialectAnthropic:
			if !over("X-Api-Key") {
				b = appendHeader(b, "X-Api-Key", u.APIKey)
			}
		default:
			if !over("Authorization") {
				b = appendHeader(b, "Authorization", "Bearer "+u.APIKey)
			}
		}
	}
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			// net/http does not send these from the header map.
			continue
		case "User-Agent":
			if hdr[k] == "" {
				continue // an empty User-Agent means none
			}
		}
		b = appendHeader(b, k, hdr[k])
	}
	f.static = b
	for _, h := range forwardHeaders[u.Dialect] {
		if !over(h) {
			f.fwd = append(f.fwd, h)
		}
	}
	f.defaultVersion = u.Dialect == llm.DialectAnthropic && !over("Anthropic-Version")
	f.contentType = !over("Content-Type")
	for ep := range f.eps {
		f.eps[ep] = u.prepareTarget(Endpoint(ep))
	}
	return f
}

// prepareTarget parses ep's URL; nil when it needs what only net/http
// does: a proxy, credentials in the URL, an odd scheme or host.
func (u *Upstream) prepareTarget(ep Endpoint) *target {
	pu, err := url.Parse(u.URL(ep))
	if err != nil || pu.User != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
		return nil
	}
	for i := 0; i < len(pu.Host); i++ {
		if b := pu.Host[i]; b >= 0x80 || b <= ' ' || b == '%' {
			return nil // punycode or a zone: leave to net/http
		}
	}
	proxy := u.Pool.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	if p, err := proxy(&http.Request{URL: pu}); p != nil || err != nil {
		return nil
	}
	port := pu.Port()
	if port == "" {
		port = "80"
		if pu.Scheme == "https" {
			port = "443"
		}
	}
	addr := net.JoinHostPort(pu.Hostname(), port)
	uri := pu.RequestURI()
	line := func(method string) []byte {
		b := make([]byte, 0, len(method)+len(uri)+len(pu.Host)+19)
		b = append(b, method...)
		b = append(b, ' ')
		b = append(b, uri...)
		b = append(b, " HTTP/1.1\r\nHost: "...)
		b = append(b, pu.Host...)
		return append(b, "\r\n"...)
	}
	return &target{
		get:  line(http.MethodGet),
		post: line(http.MethodPost),
		hp:   u.Pool.host(pu.Scheme == "https", addr, pu.Hostname()),
	}
}

// appendRequest appends the request head for a call (nil body: GET); false
// when a client header cannot be sent as it is.
func (f *fastUpstream) appendRequest(b []byte, t *target, body []byte, in ClientHeader) ([]byte, bool) {
	if body == nil {
		b = append(b, t.get...)
	} else {
		b = append(b, t.post...)
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
		if f.contentType {
			b = append(b, "Content-Type: application/json\r\n"...)
		}
	}
	var version []string
	for _, h := range f.fwd {
		var vs []string
		if in != nil {
			vs = in.Values(h)
		}
		if h == "Anthropic-Version" {
			version = vs
		}
		if h == "Anthropic-Version" && f.defaultVersion && (len(vs) == 0 || vs[0] == "") {
			continue // the default goes out below
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return b, false
			}
			b = appendHeader(b, h, v)
		}
	}
	if f.defaultVersion && (len(version) == 0 || version[0] == "") {
		b = append(b, "Anthropic-Version: "+AnthropicVersion+"\r\n"...)
	}
	b = append(b, f.static...)
	return append(b, "\r\n"...), true
}

// appendHeader appends "k: v\r\n", v trimmed as net/http does.
func appendHeader(b []byte, k, v string) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// reqBuf is a pooled buffer for a request head.
type reqBuf struct {
	b    []byte
	bufs net.Buffers
	vec  [2][]byte
}

var reqBufs = sync.Pool{New: func() any { return &reqBuf{b: make([]byte, 0, 1024)} }}

// smallBody is copied after the head into one write; a larger one goes out
// with it in one writev (or two writes over TLS).
const smallBody = 8 << 10

// doFast sends a call over the pool; ok is false when it must go through
// net/http instead (a client header net/http would refuse).
func (u *Upstream) doFast(ctx context.Context, deadline time.Time, t *target, body []byte, in ClientHeader) (resp *Response, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, true, u.classify(ctx, err)
	}
	rb := reqBufs.Get().(*reqBuf)
	defer func() {
		if cap(rb.b) <= 64<<10 {
			reqBufs.Put(rb)
		}
	}()
	rb.b, ok = u.fast.appendRequest(rb.b[:0], t, body, in)
	if !ok {
		return nil, false, nil
	}
	if len(body) <= smallBody {
		rb.b = append(rb.b, body...)
		body = nil
	}
	c, err := t.hp.get(ctx, deadline)
	if err != nil {
		return nil, true, u.classify(ctx, err)
	}
	for retried := false; ; retried = true {
		if err := c.setDeadline(deadline); err != nil {
			c.close()
			return nil, true, u.classify(ctx, err)
		}
		resp, err := c.roundTrip(ctx, rb, body)
		if err == nil {
			return resp, true, nil
		}
		// The upstream closed a reused connection before answering (it
		// timed it out as idle): send again once on a new connection, as
		// net/http does.
		if !retried && c.reused && c.nread == 0 && ctx.Err() == nil && closedEarly(err) {
			if c, err = t.hp.dial(ctx, deadline); err != nil {
				return nil, true, u.classify(ctx, err)
			}
			continue
		}
		return nil, true, u.classify(ctx, err)
	}
}

// closedEarly: the connection was closed or reset under a call.
func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// roundTrip writes the request and reads the response head. On error c is
// closed.
func (c *conn) roundTrip(ctx context.Context, rb *reqBuf, body []byte) (*Response, error) {
	c.nread, c.rerr = 0, nil
	stop := watchCancel(ctx, c.abortFn)
	err := c.send(rb, body)
	var fr *fasthttp.Response
	var bodyErr error // reading a whole body failed after its head
	whole := false
	if err == nil {
		fr = fasthttp.AcquireResponse()
		err = c.readHead(fr)
		for err != nil && smallBuffer(err) && !c.noReuse {
			// The header block does not fit the read buffer: read on
			// through a bigger one (what was peeked is still unread, in
			// the one under it).
			size := bigHeaderBytes
			if c.br.Size() >= bigHeaderBytes {
				size, c.noReuse = maxHeaderBytes, true
			}
			c.br = bufio.NewReaderSize(c.br, size)
			err = c.readHead(fr)
		}
		if err == nil {
			// A small body with a length is read whole, as fasthttp's own
			// client does: the connection is free at once. Others (a
			// stream, a large reply) are read off the connection as the
			// caller reads.
			cl := fr.Header.ContentLength()
			whole = cl >= 0 && cl <= wholeBodyMax
			fr.StreamBody = !whole
			if bodyAllowed(fr.Header.StatusCode()) {
				if err = fr.ReadBody(c.br, 0); err != nil && whole {
					// The head came: the caller meets the failure reading
					// the body, as it would on a streamed one.
					bodyErr, err = c.mapErr(ctx, err, false), nil
				}
			}
		}
	}
	if err != nil {
		stop.Stop()
		c.close()
		if fr != nil {
			fasthttp.ReleaseResponse(fr)
		}
		return nil, c.mapErr(ctx, err, true)
	}
	r := &fastResponse{}
	r.resp.StatusCode = fr.Header.StatusCode()
	r.resp.ContentLength = int64(max(fr.Header.ContentLength(), -1))
	r.resp.Body = &r.body
	r.resp.fast = &r.body
	r.body = fastBody{
		ctx:  ctx,
		c:    c,
		fr:   fr,
		stop: stop,
		clen: fr.Header.ContentLength(),
		keep: !fr.Header.ConnectionClose() && !c.noReuse,
	}
	switch rs := fr.BodyStream(); {
	case bodyErr != nil:
		r.body.whole, r.body.err = fr.Body(), bodyErr // what came, then the error
		r.body.finish(false)
	case rs != nil && !whole:
		r.body.rs = rs
	default:
		// Read whole, or no body (204, 304): the connection is free now.
		r.body.whole = fr.Body()
		r.body.finish(true)
	}
	if r.resp.StatusCode/100 != 2 {
		// The error path reads these, perhaps after Close.
		r.resp.header = headerOf(fr)
		if m := fr.Header.StatusMessage(); len(m) > 0 {
			r.resp.status = strconv.Itoa(r.resp.StatusCode) + " " + string(m)
		}
	}
	return &r.resp, nil
}

func smallBuffer(err error) bool {
	var small *fasthttp.ErrSmallBuffer
	return errors.As(err, &small)
}

// mapErr turns a failure on c into the error to report: the context's when
// it ended (so that it is classified by its cause), else the connection's
// own error (fasthttp reports a reset before the first byte as EOF).
func (c *conn) mapErr(ctx context.Context, err error, head bool) error {
	if e := ctx.Err(); e != nil {
		return e
	}
	switch {
	case c.rerr == nil:
		return err
	case c.rerr == io.EOF && !(head && c.nread == 0):
		return io.ErrUnexpectedEOF
	}
	return c.rerr
}

// cancelHook is a context that runs a function when it is canceled,
// cheaper than context.AfterFunc: the server's request context is one.
type cancelHook interface {
	OnCancel(f func()) (id uint64, ok bool)
	StopOnCancel(id uint64) bool
}

// cancelWatch runs a call's abort when the call's context ends.
type cancelWatch struct {
	hook cancelHook
	id   uint64
	stop func() bool // context.AfterFunc's, when the context is no hook
}

func watchCancel(ctx context.Context, f func()) cancelWatch {
	if h, ok := ctx.(cancelHook); ok {
		if id, ok := h.OnCancel(f); ok {
			return cancelWatch{hook: h, id: id}
		}
	}
	return cancelWatch{stop: context.AfterFunc(ctx, f)}
}

// Stop unregisters the abort; false when it ran (or runs) already.
func (w cancelWatch) Stop() bool {
	if w.hook != nil {
		return w.hook.StopOnCancel(w.id)
	}
	return w.stop()
}

// fastResponse holds a Response and its body in one allocation.
type fastResponse struct {
	resp Response
	body fastBody
}

// wholeBodyMax bounds a response body read whole with its head.
const wholeBodyMax = 64 << 10

// readHead reads a response's status line and header, past any interim
// (1xx) response.
func (c *conn) readHead(fr *fasthttp.Response) error {
	for n := 0; ; n++ {
		if err := fr.Header.Read(c.br); err != nil {
			return err
		}
		if st := fr.Header.StatusCode(); st >= 200 || st == http.StatusSwitchingProtocols {
			return nil
		}
		if n >= 10 {
			return errors.New("too many interim responses")
		}
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// errBodyClosed is a read after Close.
var errBodyClosed = errors.New("read on closed response body")

// fastBody streams a response body off its connection. At the end of a
// body framed by Content-Length or chunks the connection goes back to the
// pool; a body closed before its end closes the connection, which tells
// the upstream that the caller left. Close may be called while a Read is
// blocked in another goroutine: the connection is then closed under it.
type fastBody struct {
	mu   sync.Mutex
	ctx  context.Context
	c    *conn
	fr   *fasthttp.Response
	rs   io.Reader
	stop cancelWatch
	clen int
	n    int
	keep bool
	// whole is what is left of a body read whole with its head (the
	// connection is back in the pool already).
	whole []byte
	// reading: a Read is blocked on the connection; done: the body ended
	// (err says how); closed: Close was called.
	reading, done, closed bool
	err                   error
}

func (b *fastBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	if b.done {
		if len(b.whole) > 0 {
			n := copy(p, b.whole)
			b.whole = b.whole[n:]
			b.n += n
			b.mu.Unlock()
			return n, nil
		}
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	b.reading = true
	rs := b.rs
	b.mu.Unlock()

	n, err := rs.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading = false
	b.n += n
	if err != nil {
		if err != io.EOF {
			err = b.c.mapErr(b.ctx, err, false)
		}
		b.err = err
		// A Close during the read has closed the connection already.
		b.finish(err == io.EOF && !b.closed)
	}
	if b.closed {
		// Close came while this read was blocked: release what it left.
		if !b.done {
			b.finish(false)
		}
		b.release()
		if err == nil {
			err = errBodyClosed
		}
	}
	return n, err
}

// finish ends the body: the connection goes back to the pool when the
// body ended as framed and nothing else wants it closed.
func (b *fastBody) finish(ok bool) {
	b.done = true
	if b.err == nil {
		b.err = io.EOF
	}
	if b.rs != nil {
		_ = b.fr.CloseBodyStream()
		b.rs = nil
	}
	c := b.c
	b.c = nil
	if ok && b.keep && b.stop.Stop() {
		c.hp.put(c)
		return
	}
	b.stop.Stop()
	c.close()
}

// release gives the fasthttp response back.
func (b *fastBody) release() {
	if b.fr != nil {
		fasthttp.ReleaseResponse(b.fr)
		b.fr = nil
	}
}

func (b *fastBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.reading {
		b.c.abort() // the blocked Read returns and releases
		return nil
	}
	if !b.done {
		b.err = errBodyClosed
		// A Content-Length body read to its last byte is whole even if
		// nobody read the EOF.
		b.finish(b.clen >= 0 && b.n == b.clen)
	}
	b.release()
	return nil
}

// closeDrained is Close for a caller that has all it needs (a stream's
// end marker): what is left is the body's end, read in the background
// (drain) so the connection can serve the next call instead of being
// closed. The caller's context no longer reaches it.
func (b *fastBody) closeDrained() error {
	b.mu.Lock()
	if b.closed || b.done || b.reading || !b.keep || b.rs == nil || !b.stop.Stop() {
		b.mu.Unlock()
		return b.Close()
	}
	b.closed, b.done, b.err = true, true, errBodyClosed
	b.mu.Unlock()
	go b.drain()
	return nil
}

// drainBytes bounds the body end that drain reads.
const drainBytes = 64 << 10

// drain reads a closed body to its end and returns the connection to the
// pool, or closes it when the end takes longer than a second (the pool's
// drainWait) or is more than drainBytes away. It owns the body: Close marked it done.
func (b *fastBody) drain() {
	c := b.c
	ok := false
	if c.setDeadline(time.Now().Add(c.hp.p.drainWait)) == nil {
		var buf [2048]byte
		for n := 0; n <= drainBytes; {
			k, err := b.rs.Read(buf[:])
			n += k
			if err != nil {
				ok = err == io.EOF
				break
			}
		}
		ok = ok && c.setDeadline(time.Time{}) == nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.fr.CloseBodyStream()
	b.rs, b.c = nil, nil
	if ok {
		c.hp.put(c)
	} else {
		c.close()
	}
	b.release()
}

// header builds the response header while the body is open.
func (b *fastBody) header() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fr == nil {
		return http.Header{}
	}
	return headerOf(b.fr)
}

func headerOf(fr *fasthttp.Response) http.Header {
	h := make(http.Header, fr.Header.Len())
	for k, v := range fr.Header.All() {
		h.Add(string(k), string(v))
	}
	return h
}
