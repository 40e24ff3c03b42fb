// Package httpd is Switchyard's HTTP/1.1 server: fasthttp's request parser
// and header types under a connection loop of its own.
//
// It exists for two things neither standard server gives together
// (docs/benchmarks.md has the measurements):
//
//   - the cost of fasthttp's server (no allocation per request, headers
//     parsed in place, a pooled body), where net/http's server alone spends
//     more CPU per request than a whole fasthttp forwarder;
//   - what net/http gives and fasthttp's server does not: a handler learns
//     that its client went away (its context is canceled, which stops the
//     upstream generation), and streams its response with a flush per event
//     straight to the socket, on its own goroutine, while it can still
//     retry before the first byte.
//
// One goroutine serves each connection: it reads a request (header and
// whole body), runs the handler, ends the response and waits for the next
// request. While a handler runs nothing reads the connection, so a client
// that leaves would go unnoticed: after WatchAfter the server watches the
// connection and cancels the request's context when the client closes or
// resets it. On Linux the socket joins the process's one epoll set for
// hang-ups (no goroutine per request; the connection's read buffer goes
// back to the pool meanwhile); elsewhere, or for a connection without a
// socket, a goroutine reads one byte into the connection's buffer, as
// net/http's background read does. Quick requests never pay for either.
// A long request's response also gives its write buffer back after each
// flush, so an open stream holds no buffer of the server's between events.
package httpd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard/switchyard/internal/rawio"
)

// Handler serves one request.
type Handler interface {
	ServeHTTPD(w *Response, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w *Response, r *Request)

// ServeHTTPD implements Handler.
func (f HandlerFunc) ServeHTTPD(w *Response, r *Request) { f(w, r) }

// Errors.
var (
	// ErrClientGone is the cause of a request context canceled because its
	// connection was closed or reset.
	ErrClientGone = errors.New("httpd: client went away")
	// ErrBodyTooLarge is Request.BodyErr for a body over MaxBodyBytes.
	ErrBodyTooLarge = errors.New("httpd: request body too large")
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("httpd: server closed")
	// ErrShutdown is the cause of request contexts canceled by Close, or by
	// Shutdown when its context ends.
	ErrShutdown = errors.New("httpd: server shut down")
	// ErrEnded is what a Write after Response.End returns.
	ErrEnded = errors.New("httpd: write after the response ended")
)

// Server serves HTTP/1.1 (and 1.0) on listeners.
type Server struct {
	Handler Handler
	// ReadHeaderTimeout bounds reading a request's header and body once its
	// first byte arrived; 30s when zero.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection (and for the first one); 120s when zero.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and header (it is the size of
	// each connection's read buffer); 16 KiB when zero. A larger one is
	// answered 431.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request body; 64 MiB when zero. One declared
	// larger is not read and is passed to the handler as Request.BodyErr =
	// ErrBodyTooLarge (then the connection closes); a chunked one that grows
	// larger is answered 413.
	MaxBodyBytes int
	// WatchAfter is how long a handler runs before the server watches its
	// connection for the client going away; 20ms when zero.
	WatchAfter time.Duration
	// Logger gets the connection errors worth knowing (at debug: malformed
	// requests; at warn: accept errors, handler panics). Default slog.Default().
	Logger *slog.Logger

	initOnce  sync.Once
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  atomic.Bool
	connsDone chan struct{} // signaled when a connection ends during Shutdown
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.connsDone = make(chan struct{}, 1)
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
	})
}

func (s *Server) readHeaderTimeout() time.Duration {
	return durOr(s.ReadHeaderTimeout, 30*time.Second)
}
func (s *Server) idleTimeout() time.Duration { return durOr(s.IdleTimeout, 120*time.Second) }
func (s *Server) watchAfter() time.Duration  { return durOr(s.WatchAfter, 20*time.Millisecond) }

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return max(s.MaxHeaderBytes, 1024)
	}
	return 16 << 10
}

func (s *Server) maxBodyBytes() int {
	if s.MaxBodyBytes > 0 {
		return s.MaxBodyBytes
	}
	return 64 << 20
}

func durOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Serve accepts connections on ln and serves each on its own goroutine,
// until Shutdown or Close (ErrServerClosed) or an accept error that is not
// temporary.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
				errors.Is(err, syscall.ECONNABORTED) {
				// Out of descriptors or a connection reset before accept: wait
				// and go on, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.Logger.Warn("httpd: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			continue
		}
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections, lets the requests in
// flight finish (their connections close after their response), and
// returns when every connection is closed or ctx ends (then it closes the
// rest, canceling their requests, and returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.shutdown.Store(true)
	s.closeListeners()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			s.closeAll(ErrShutdown)
			return ctx.Err()
		case <-s.connsDone:
		case <-tick.C:
		}
	}
}

// Close closes the listeners and every connection at once, canceling the
// requests in flight.
func (s *Server) Close() error {
	s.init()
	s.shutdown.Store(true)
	s.closeListeners()
	s.closeAll(ErrShutdown)
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		ln.Close()
		delete(s.listeners, ln)
	}
}

// closeIdle closes the connections that wait for a request; true when no
// connection is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosing) {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) closeAll(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.state.Store(stateClosing)
		c.cancelRequest(cause)
		c.nc.Close()
	}
}

// Connection states.
const (
	stateIdle int32 = iota // waiting for a request
	stateActive
	stateClosing // claimed by Shutdown or Close
)

// conn is one client connection.
type conn struct {
	s     *Server
	nc    net.Conn
	br    *bufio.Reader
	state atomic.Int32
	// long is set while a request runs past WatchAfter: its response
	// gives its write buffer back after each flush.
	long atomic.Bool

	req    fasthttp.Request
	r      Request
	w      Response
	remote netip.AddrPort

	// deadline is the read deadline set on nc.
	deadline time.Time
	// small is the buffer of bodies up to smallBody; large the pooled one
	// of the request in flight, if its body is larger.
	small []byte
	large *[]byte
	// The watcher: armed per request with watchTimer, it runs watch on
	// the timer's goroutine; watchDone gets a value when it returns.
	// stopping (under watchMu) tells it to stop. hangup (under watchMu)
	// is the registration with the process's hang-up watcher, when watch
	// handed the connection to it instead of reading it; rc is the
	// socket's raw connection, nil when it has none.
	watchTimer *time.Timer
	watchDone  chan struct{}
	watchMu    sync.Mutex
	stopping   bool
	hangup     uint64
	rc         syscall.RawConn
	// cancel cancels the context of the request in flight (nil between
	// requests); the watcher and Close call it, and then onCancel, the
	// function registered with the context's OnCancel (one at a time).
	cancelMu   sync.Mutex
	cancel     context.CancelCauseFunc
	canceled   bool
	onCancel   func()
	onCancelID uint64
	gen        uint64 // counts requests: a context of an earlier one registers nothing
}

// cancelRequest cancels the context of the request in flight, if any, and
// runs what was registered to run then.
func (c *conn) cancelRequest(cause error) {
	c.cancelMu.Lock()
	if c.cancel != nil {
		c.cancel(cause)
		c.canceled = true
	}
	f := c.onCancel
	c.onCancel = nil
	c.cancelMu.Unlock()
	if f != nil {
		f()
	}
}

// setCancel starts (f set) or ends (nil) the context of a request; it
// returns the request's generation.
func (c *conn) setCancel(f context.CancelCauseFunc) uint64 {
	c.cancelMu.Lock()
	defer c.cancelMu.Unlock()
	c.cancel, c.canceled, c.onCancel = f, false, nil
	c.gen++
	return c.gen
}

// reqCtx is a request's context: its cancel context, plus a way to run a
// function when it is canceled that costs none of context.AfterFunc's
// allocations and bookkeeping (the upstream client aborts its call with
// it). Derived contexts find the cancel context inside as usual.
type reqCtx struct {
	context.Context
	c   *conn
	gen uint64
}

// OnCancel makes f run when the request's context is canceled by the
// server (the client went away, or Close); ok is false when a function is
// registered already (the caller then uses context.AfterFunc). If the
// context is canceled already, f runs at once.
func (x *reqCtx) OnCancel(f func()) (id uint64, ok bool) {
	c := x.c
	c.cancelMu.Lock()
	if c.onCancel != nil || c.gen != x.gen {
		c.cancelMu.Unlock()
		return 0, false
	}
	c.onCancelID++
	id = c.onCancelID
	if c.canceled {
		c.cancelMu.Unlock()
		f()
		return id, true
	}
	c.onCancel = f
	c.cancelMu.Unlock()
	return id, true
}

// StopOnCancel unregisters what OnCancel registered as id; false when it
// has run (or is running).
func (x *reqCtx) StopOnCancel(id uint64) bool {
	c := x.c
	c.cancelMu.Lock()
	defer c.cancelMu.Unlock()
	if c.onCancel == nil || c.onCancelID != id || c.gen != x.gen {
		return false
	}
	c.onCancel = nil
	return true
}

func (s *Server) newConn(nc net.Conn) *conn {
	nc = rawio.Wrap(nc)
	c := &conn{s: s, nc: nc, watchDone: make(chan struct{}, 1), remote: addrPort(nc.RemoteAddr())}
	if sc, ok := nc.(syscall.Conn); ok {
		c.rc, _ = sc.SyscallConn()
	}
	c.state.Store(stateIdle)
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

func (c *conn) close() {
	c.nc.Close()
	s := c.s
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if s.shutdown.Load() {
		select {
		case s.connsDone <- struct{}{}:
		default:
		}
	}
	if c.br != nil {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.br = nil
	}
	c.w.release()
}

// The connection buffers are pooled; a reader's size bounds the header.
var (
	readers sync.Pool
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
)

// A connection starts with small buffers (a thousand open streams hold a
// thousand of each); a request whose header does not fit moves its
// connection to a reader of MaxHeaderBytes.
const (
	readBufSize  = 4 << 10
	writeBufSize = 4 << 10
)

// readerSize is the size of a connection's first reader.
func (c *conn) readerSize() int { return min(readBufSize, c.s.maxHeaderBytes()) }

func (c *conn) reader() *bufio.Reader {
	size := c.readerSize()
	if v := readers.Get(); v != nil {
		br := v.(*bufio.Reader)
		if br.Size() == size {
			br.Reset(c.nc)
			return br
		}
	}
	return bufio.NewReaderSize(c.nc, size)
}

// growReader moves c to a reader of MaxHeaderBytes for a header that does
// not fit the one it has; false when it has that one already. What the
// old reader holds is read first.
func (c *conn) growReader() bool {
	max := c.s.maxHeaderBytes()
	if c.br.Size() >= max {
		return false
	}
	held, _ := c.br.Peek(c.br.Buffered())
	pre := bytes.Clone(held)
	c.br.Reset(nil)
	readers.Put(c.br)
	c.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pre), c.nc), max)
	return true
}

func (c *conn) serve() {
	defer c.close()
	defer func() {
		if v := recover(); v != nil {
			c.s.Logger.Error("httpd: panic serving a connection", "panic", v)
		}
	}()
	c.br = c.reader()
	c.w.dst, c.w.lean = c.nc, &c.long
	for n := 0; ; n++ {
		if !c.serveOne(n) {
			return
		}
	}
}

// serveOne reads and serves one request; false when the connection ends.
//
// Read deadlines cost a timer update each, so a request that arrives whole
// in one read sets none: the wait for it runs under the idle deadline, which
// is moved only once less than half of IdleTimeout is left (an idle
// connection is closed after between half and all of IdleTimeout). Only a
// header or body that needs more reads gets ReadHeaderTimeout. Nothing
// reads while the handler runs; its watcher clears the deadline first.
func (c *conn) serveOne(n int) bool {
	s := c.s
	now := time.Now()
	if idle := s.idleTimeout(); c.deadline.Sub(now) < idle/2 {
		if err := c.setDeadline(now.Add(idle)); err != nil {
			return false
		}
	}
	if _, err := c.br.Peek(1); err != nil {
		return false // closed, reset, idle too long, or claimed by Shutdown
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return false
	}
	defer c.state.CompareAndSwap(stateActive, stateIdle)
	if b, _ := c.br.Peek(c.br.Buffered()); !headerComplete(b) {
		if err := c.setDeadline(time.Now().Add(s.readHeaderTimeout())); err != nil {
			return false
		}
	}
	req := &c.req
	req.Reset()
	err := req.Header.Read(c.br)
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) && c.growReader() {
		err = req.Header.Read(c.br)
	}
	if err != nil {
		c.badRequest(err)
		return false
	}
	var bodyErr error
	if cl := req.Header.ContentLength(); cl > s.maxBodyBytes() {
		// Declared too large: not read; the handler answers and the
		// connection closes.
		bodyErr = ErrBodyTooLarge
	} else if cl != 0 && cl != -2 {
		if cl < 0 || c.br.Buffered() < cl {
			if err := c.setDeadline(time.Now().Add(s.readHeaderTimeout())); err != nil {
				return false
			}
		}
		if req.MayContinue() {
			bw := c.w.writer()
			_, err := bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err == nil {
				err = bw.Flush()
			}
			c.w.release()
			if err != nil {
				return false
			}
		}
		if cl > 0 {
			// Read into a buffer of the connection's (small bodies) or the
			// large-body pool, never fasthttp's body pool: that one sizes
			// every new buffer by what it saw most, so after a run of large
			// bodies each small request on a new connection would take a
			// large buffer.
			b := c.bodyBuf(cl)
			if _, err := io.ReadFull(c.br, b); err != nil {
				c.badRequest(err)
				return false
			}
			req.SetBodyRaw(b)
		} else if err := req.ContinueReadBody(c.br, s.maxBodyBytes(), false); err != nil {
			// A chunked body that outgrew the limit (the parser dropped the
			// header with it) or a malformed body.
			c.badRequest(err)
			return false
		}
	} else if err := req.ContinueReadBody(c.br, s.maxBodyBytes(), false); err != nil {
		c.badRequest(err)
		return false
	}
	return c.handle(bodyErr)
}

// smallBody bounds the bodies a connection reads into a buffer of its own.
const smallBody = 16 << 10

// largeBodies holds the buffers of bodies over smallBody between requests.
var largeBodies sync.Pool

// bodyBuf returns a buffer of n bytes for the request's body: the
// connection's own for a small one, a pooled one for a large one
// (releaseBody gives it back after the request).
func (c *conn) bodyBuf(n int) []byte {
	if n <= smallBody {
		if cap(c.small) < n {
			c.small = make([]byte, n, max(n, 512))
		}
		return c.small[:n]
	}
	if p, _ := largeBodies.Get().(*[]byte); p != nil && cap(*p) >= n {
		c.large = p
		return (*p)[:n]
	}
	b := make([]byte, n)
	c.large = &b
	return b
}

// releaseBody returns a large body's buffer once its request is done.
func (c *conn) releaseBody() {
	if c.large != nil {
		largeBodies.Put(c.large)
		c.large = nil
	}
}

// setDeadline sets the read deadline, unless it is set already.
func (c *conn) setDeadline(t time.Time) error {
	if t.Equal(c.deadline) {
		return nil
	}
	c.deadline = t
	return c.nc.SetReadDeadline(t)
}

// headerComplete reports whether b holds a whole request line and header.
func headerComplete(b []byte) bool {
	return bytes.Contains(b, crlfcrlf) || bytes.Contains(b, lflf)
}

var crlfcrlf, lflf = []byte("\r\n\r\n"), []byte("\n\n")

// handle runs the handler on the request in c.req and ends its response.
func (c *conn) handle(bodyErr error) bool {
	s := c.s
	req := &c.req
	ctx, cancel := context.WithCancelCause(context.Background())
	// Its own value: goroutines may hold a request's context past it.
	rctx := &reqCtx{Context: ctx, c: c, gen: c.setCancel(cancel)}
	r := &c.r
	r.set(req, c.remote, rctx)
	r.BodyErr = bodyErr
	w := &c.w
	w.reset(r.Method == http.MethodHead, !req.Header.IsHTTP11())
	keep := !req.Header.ConnectionClose() && bodyErr == nil
	if !keep {
		w.SetClose()
	}
	if s.shutdown.Load() {
		w.SetClose()
	}
	c.arm()
	ok := c.run(w, r)
	c.disarm()
	defer c.releaseBody() // after the response: nothing reads the body then
	c.setCancel(nil)
	cancel(nil)
	if !ok {
		return false
	}
	if s.shutdown.Load() {
		w.SetClose()
	}
	return w.finish()
}

// run calls the handler, turning a panic into a 500 (or a cut response when
// the head is out); false when the connection must close at once.
func (c *conn) run(w *Response, r *Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				ok = false
				return
			}
			c.s.Logger.Error("httpd: handler panic", "panic", v, "method", r.Method, "path", r.Path)
			if w.Committed() {
				w.fail(errors.New("handler panic"))
				ok = false
				return
			}
			w.hdr.Reset()
			w.hdr.SetNoDefaultContentType(true)
			w.hdr.DisableNormalizing()
			w.buf, w.lines = w.buf[:0], w.lines[:0]
			w.status, w.declared = http.StatusInternalServerError, -1
			w.SetClose()
			ok = true
		}
	}()
	c.s.Handler.ServeHTTPD(w, r)
	return true
}

// arm starts the watch timer of the request in flight.
func (c *conn) arm() {
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(c.s.watchAfter(), c.watch)
		return
	}
	c.watchTimer.Reset(c.s.watchAfter())
}

// disarm stops the timer, or the watch it started: the registration with
// the hang-up watcher is removed, or the watching read ends (a read
// deadline in the past).
func (c *conn) disarm() {
	if c.watchTimer.Stop() {
		return
	}
	c.watchMu.Lock()
	c.stopping = true
	reading := c.hangup == 0 // or watch has yet to run, and will stop
	if reading {
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
	}
	c.watchMu.Unlock()
	<-c.watchDone
	c.watchMu.Lock()
	if c.hangup != 0 {
		hangupWatch().remove(c, c.hangup)
		c.hangup = 0
	}
	c.stopping = false
	c.watchMu.Unlock()
	c.long.Store(false)
	if c.br == nil {
		c.br = c.reader() // watch gave it back
	}
	if reading {
		c.deadline = aLongTimeAgo // serveOne sets the idle one
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// watch runs once the handler has run for WatchAfter, on the timer's
// goroutine; nothing else reads the connection until the handler returns.
// Where it can, it hands the socket to the process's hang-up watcher and
// returns, giving back the read buffer if it holds nothing. Else it waits
// in the buffer for one byte, with no deadline: bytes that arrive (a
// client pipelining its next request) stay in the buffer for the next
// request; EOF or an error means the client is gone.
func (c *conn) watch() {
	defer func() { c.watchDone <- struct{}{} }()
	c.watchMu.Lock()
	if c.stopping {
		c.watchMu.Unlock()
		return
	}
	c.long.Store(true)
	if tok, ok := hangupWatch().add(c); ok {
		c.hangup = tok
		if c.br.Buffered() == 0 && c.br.Size() == c.readerSize() {
			c.br.Reset(nil)
			readers.Put(c.br)
			c.br = nil
		}
		c.watchMu.Unlock()
		return
	}
	c.deadline = time.Time{}
	err := c.nc.SetReadDeadline(c.deadline)
	c.watchMu.Unlock()
	if err != nil {
		return
	}
	if _, err := c.br.Peek(1); err != nil && !c.isStopping() {
		c.cancelRequest(ErrClientGone)
	}
}

// hungUp is the hang-up watcher's report for registration tok: the client
// closed or reset the connection.
func (c *conn) hungUp(tok uint64) {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if c.hangup == tok && !c.stopping {
		c.cancelRequest(ErrClientGone)
	}
}

func (c *conn) isStopping() bool {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	return c.stopping
}

// badRequest answers a request that cannot be read, when it was not merely
// a closed or timed-out connection, and logs it at debug.
func (c *conn) badRequest(err error) {
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.ECONNRESET) {
		return
	}
	status, msg := http.StatusBadRequest, "malformed HTTP request"
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		status, msg = http.StatusRequestHeaderFieldsTooLarge, "request header too large"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "request body too large"
	}
	c.s.Logger.Debug("httpd: bad request", "remote", c.remote.String(), "err", err)
	body := `{"error":{"message":"` + msg + `","type":"invalid_request_error"}}`
	bw := c.w.writer()
	_, _ = bw.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) +
		"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	_ = bw.Flush()
}

// internPath returns p as a string, without allocating for the paths
// every chat request uses.
func internPath(p []byte) string {
	switch string(p) {
	case "/v1/chat/completions":
		return "/v1/chat/completions"
	case "/chat/completions":
		return "/chat/completions"
	case "/v1/messages":
		return "/v1/messages"
	case "/v1/messages/count_tokens":
		return "/v1/messages/count_tokens"
	case "/v1/embeddings":
		return "/v1/embeddings"
	case "/v1/models":
		return "/v1/models"
	case "/health/liveliness":
		return "/health/liveliness"
	case "/health/readiness":
		return "/health/readiness"
	case "/metrics":
		return "/metrics"
	}
	return string(p)
}
