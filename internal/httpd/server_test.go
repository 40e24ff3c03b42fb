package httpd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// start serves h on a loopback port and returns its address.
func start(t *testing.T, h HandlerFunc, opts ...func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, h, opts...)
}

// serveOn serves h on ln until the test ends.
func serveOn(t *testing.T, ln net.Listener, h HandlerFunc, opts ...func(*Server)) (*Server, string) {
	t.Helper()
	s := &Server{Handler: h, Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

// rawConn is a client speaking bytes.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// read reads one response.
func (rc *rawConn) read(method string) *http.Response {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return string(b)
}

// closed reports whether the server closed the connection (EOF within 2s).
func (rc *rawConn) closed() bool {
	_ = rc.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := rc.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

func echo(w *Response, r *Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Path", r.Path)
	w.Header().Set("X-Query", r.RawQuery)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Auth", r.Get("Authorization"))
	_, _ = w.Write(r.Body)
}

func TestKeepAliveAndFraming(t *testing.T) {
	_, addr := start(t, echo)
	rc := dial(t, addr)
	for i := range 3 {
		b := fmt.Sprintf(`{"n":%d}`, i)
		rc.send(fmt.Sprintf("POST /v1/chat/completions?x=%d HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer k\r\nContent-Length: %d\r\n\r\n%s", i, len(b), b))
		resp := rc.read("POST")
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(b)) || len(resp.TransferEncoding) != 0 {
			t.Fatalf("request %d: status %d, length %d, coding %v", i, resp.StatusCode, resp.ContentLength, resp.TransferEncoding)
		}
		if got := body(t, resp); got != b {
			t.Fatalf("request %d: body %q, want %q", i, got, b)
		}
		for k, want := range map[string]string{"X-Path": "/v1/chat/completions", "X-Query": fmt.Sprintf("x=%d", i),
			"X-Method": "POST", "X-Auth": "Bearer k", "Content-Type": "text/plain"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("request %d: %s = %q, want %q", i, k, got, want)
			}
		}
		if resp.Close {
			t.Fatalf("request %d: connection not kept alive", i)
		}
	}
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	_, addr := start(t, echo)
	rc := dial(t, addr)
	var all strings.Builder
	for i := range 5 {
		b := strings.Repeat(string(rune('a'+i)), i+1)
		fmt.Fprintf(&all, "POST /p%d HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", i, len(b), b)
	}
	rc.send(all.String())
	for i := range 5 {
		resp := rc.read("POST")
		if got, want := body(t, resp), strings.Repeat(string(rune('a'+i)), i+1); got != want || resp.Header.Get("X-Path") != fmt.Sprintf("/p%d", i) {
			t.Fatalf("response %d: %q at %s, want %q", i, got, resp.Header.Get("X-Path"), want)
		}
	}
}

func TestChunkedRequestBodyIsDecoded(t *testing.T) {
	_, addr := start(t, echo)
	rc := dial(t, addr)
	rc.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	if got := body(t, rc.read("POST")); got != "hello world" {
		t.Fatalf("body %q", got)
	}
}

func TestExpectContinue(t *testing.T) {
	_, addr := start(t, echo)
	rc := dial(t, addr)
	rc.send("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := rc.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 Continue") {
		t.Fatalf("first line %q, %v: want 100 Continue before the body is sent", line, err)
	}
	if blank, _ := rc.br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q", blank)
	}
	rc.send("data")
	if got := body(t, rc.read("POST")); got != "data" {
		t.Fatalf("body %q", got)
	}
}

func TestBodyTooLargeReachesHandlerThenCloses(t *testing.T) {
	var gotErr error
	var gotLen int
	_, addr := start(t, func(w *Response, r *Request) {
		gotErr, gotLen = r.BodyErr, len(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.WriteString("too big")
	}, func(s *Server) { s.MaxBodyBytes = 10 })
	rc := dial(t, addr)
	rc.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n")
	resp := rc.read("POST")
	if resp.StatusCode != 400 || body(t, resp) != "too big" || !resp.Close {
		t.Fatalf("status %d, close %v", resp.StatusCode, resp.Close)
	}
	if !errors.Is(gotErr, ErrBodyTooLarge) || gotLen != 0 {
		t.Fatalf("handler saw BodyErr %v, %d body bytes", gotErr, gotLen)
	}
	if !rc.closed() {
		t.Fatal("connection left open after an unread body")
	}

	// A chunked body that outgrows the limit is refused by the server.
	rc = dial(t, addr)
	rc.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")
	if resp := rc.read("POST"); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked over the limit: status %d", resp.StatusCode)
	}
}

func TestMalformedAndOversizedHeaders(t *testing.T) {
	_, addr := start(t, echo, func(s *Server) { s.MaxHeaderBytes = 2048 })
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"garbage", "HELLO\r\n\r\n", 400},
		{"bad content length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400},
		{"header too large", "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 4000) + "\r\n\r\n", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dial(t, addr)
			rc.send(tc.req)
			resp := rc.read("GET")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			body(t, resp)
			if !rc.closed() {
				t.Fatal("connection left open after a bad request")
			}
		})
	}
}

func TestHeadAndBodylessStatuses(t *testing.T) {
	_, addr := start(t, func(w *Response, r *Request) {
		if r.Path == "/204" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.WriteString("hello")
	})
	rc := dial(t, addr)
	rc.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp := rc.read("HEAD"); resp.StatusCode != 200 || body(t, resp) != "" {
		t.Fatal("HEAD got a body")
	}
	if resp := rc.read("GET"); resp.StatusCode != 204 || body(t, resp) != "" || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("204: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := rc.read("GET"); body(t, resp) != "hello" {
		t.Fatal("the request after HEAD and 204 was misframed")
	}
}

func TestStreamFlushesEachEvent(t *testing.T) {
	next := make(chan struct{})
	_, addr := start(t, func(w *Response, r *Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := w.Flush(); err != nil {
				return
			}
			<-next // the client must have the event before the next one is made
		}
	})
	resp, err := http.Post("http://"+addr+"/s", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("transfer encoding %v, want chunked", resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q, %v", i, line, err)
		}
		_, _ = br.ReadString('\n')
		next <- struct{}{}
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("trailing bytes %q", rest)
	}
}

func TestLargeUnsizedBodyGoesChunked(t *testing.T) {
	big := strings.Repeat("x", 3*holdBack)
	_, addr := start(t, func(w *Response, r *Request) {
		for i := 0; i < len(big); i += 1000 {
			_, _ = w.WriteString(big[i:min(i+1000, len(big))])
		}
	})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) == 0 {
		t.Fatal("a body over the hold-back was not chunked")
	}
	if got := body(t, resp); got != big {
		t.Fatalf("got %d bytes, want %d", len(got), len(big))
	}
}

func TestDeclaredLengthNotKeptClosesConnection(t *testing.T) {
	_, addr := start(t, func(w *Response, r *Request) {
		w.SetContentLength(10)
		_, _ = w.WriteString("short")
	})
	rc := dial(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp := rc.read("GET")
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("a body cut short read as complete")
	}
}

func TestHTTP10(t *testing.T) {
	_, addr := start(t, func(w *Response, r *Request) {
		_, _ = w.WriteString("one")
		_ = w.Flush()
		_, _ = w.WriteString("two")
	})
	rc := dial(t, addr)
	rc.send("GET / HTTP/1.0\r\n\r\n")
	resp := rc.read("GET")
	if got := body(t, resp); got != "onetwo" || len(resp.TransferEncoding) != 0 {
		t.Fatalf("body %q, coding %v: HTTP/1.0 has no chunked coding", got, resp.TransferEncoding)
	}
	if !rc.closed() {
		t.Fatal("HTTP/1.0 connection kept open")
	}
}

// watchModes are the two ways a long request's connection is watched: a
// socket (on Linux, by the process's hang-up watcher) and a connection
// without one (by a goroutine reading it).
var watchModes = []struct {
	name   string
	listen func(t *testing.T) net.Listener
}{
	{"socket", func(t *testing.T) net.Listener { return listen(t) }},
	{"plain", func(t *testing.T) net.Listener { return plainListener{listen(t)} }},
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// plainListener's connections hide their sockets.
type plainListener struct{ net.Listener }

func (l plainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return plainConn{c}, nil
}

type plainConn struct{ net.Conn }

func TestClientGoneCancelsContext(t *testing.T) {
	for _, m := range watchModes {
		t.Run(m.name, func(t *testing.T) {
			canceled := make(chan error, 1)
			_, addr := serveOn(t, m.listen(t), func(w *Response, r *Request) {
				select {
				case <-r.Context().Done():
					canceled <- context.Cause(r.Context())
				case <-time.After(5 * time.Second):
					canceled <- nil
				}
			})
			wantGone := func(what string) {
				t.Helper()
				select {
				case err := <-canceled:
					if !errors.Is(err, ErrClientGone) {
						t.Fatalf("%s: context cause %v, want ErrClientGone", what, err)
					}
				case <-time.After(6 * time.Second):
					t.Fatalf("%s: handler never returned", what)
				}
			}
			const req = "POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"

			rc := dial(t, addr)
			rc.send(req)
			time.Sleep(50 * time.Millisecond) // past WatchAfter
			rc.c.Close()
			wantGone("closed")

			// Closed before the watcher starts: noticed once it does.
			rc = dial(t, addr)
			rc.send(req)
			rc.c.Close()
			wantGone("closed at once")

			// Reset.
			rc = dial(t, addr)
			rc.send(req)
			time.Sleep(50 * time.Millisecond)
			_ = rc.c.(*net.TCPConn).SetLinger(0)
			rc.c.Close()
			wantGone("reset")

			// The request before, on the same connection, was watched too and
			// ended: its watch must not cancel this one.
			_, addr2 := serveOn(t, m.listen(t), func(w *Response, r *Request) {
				if r.Path == "/short" {
					time.Sleep(40 * time.Millisecond)
					_, _ = w.WriteString("ok")
					return
				}
				select {
				case <-r.Context().Done():
					canceled <- context.Cause(r.Context())
				case <-time.After(300 * time.Millisecond):
					canceled <- nil
				}
			})
			rc = dial(t, addr2)
			rc.send("GET /short HTTP/1.1\r\nHost: a\r\n\r\n")
			if got := body(t, rc.read("GET")); got != "ok" {
				t.Fatalf("short request: %q", got)
			}
			rc.send(req)
			if err := <-canceled; err != nil {
				t.Fatalf("request canceled with the client still there: %v", err)
			}
		})
	}
}

func TestWatcherKeepsPipelinedBytes(t *testing.T) {
	// A request that runs past WatchAfter while the client already sent the
	// next one: the watcher must leave those bytes for the next request
	// and must not cancel the first.
	for _, m := range watchModes {
		t.Run(m.name, func(t *testing.T) {
			_, addr := serveOn(t, m.listen(t), func(w *Response, r *Request) {
				if r.Path == "/slow" {
					time.Sleep(80 * time.Millisecond)
					if r.Context().Err() != nil {
						w.WriteHeader(500)
						return
					}
				}
				_, _ = w.WriteString(r.Path)
			})
			rc := dial(t, addr)
			rc.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
			time.Sleep(40 * time.Millisecond)
			rc.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp := rc.read("GET"); resp.StatusCode != 200 || body(t, resp) != "/slow" {
				t.Fatal("slow request failed")
			}
			if got := body(t, rc.read("GET")); got != "/next" {
				t.Fatalf("pipelined request lost: %q", got)
			}
			// Many slow requests in a row on one connection: every watcher
			// stops, and the connection reads on after each.
			for i := range 5 {
				rc.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
				if resp := rc.read("GET"); resp.StatusCode != 200 || body(t, resp) != "/slow" {
					t.Fatalf("slow request %d: %d", i, resp.StatusCode)
				}
			}
		})
	}
}

func TestPanics(t *testing.T) {
	_, addr := start(t, func(w *Response, r *Request) {
		if r.Path == "/after" {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.WriteString("data: 1\n\n")
			_ = w.Flush()
		}
		panic("boom")
	})
	rc := dial(t, addr)
	rc.send("GET /before HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp := rc.read("GET"); resp.StatusCode != 500 || !resp.Close {
		t.Fatalf("panic before the head: %d, close %v", resp.StatusCode, resp.Close)
	}
	rc = dial(t, addr)
	rc.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
	resp := rc.read("GET")
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("a stream cut by a panic read as complete")
	}
}

func TestShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	s, addr := start(t, func(w *Response, r *Request) {
		if r.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		_, _ = w.WriteString("done")
	})
	idle := dial(t, addr)
	idle.send("GET /quick HTTP/1.1\r\nHost: a\r\n\r\n")
	body(t, idle.read("GET"))
	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if !idle.closed() {
		t.Fatal("idle connection not closed by Shutdown")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("new connections still accepted")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	resp := busy.read("GET")
	if got := body(t, resp); got != "done" || !resp.Close {
		t.Fatalf("in-flight request: %q, close %v", got, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdownBoundCancelsRequests(t *testing.T) {
	canceled := make(chan error, 1)
	s, addr := start(t, func(w *Response, r *Request) {
		<-r.Context().Done()
		canceled <- context.Cause(r.Context())
	})
	rc := dial(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(30 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	if err := <-canceled; !errors.Is(err, ErrShutdown) {
		t.Fatalf("cause %v, want ErrShutdown", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	_, addr := start(t, echo, func(s *Server) { s.IdleTimeout = 100 * time.Millisecond })
	rc := dial(t, addr)
	if !rc.closed() {
		t.Fatal("idle connection not closed")
	}
}

func TestNetHTTPClient(t *testing.T) {
	_, addr := start(t, echo)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				b := fmt.Sprintf("g%d-%d", g, i)
				resp, err := client.Post("http://"+addr+"/e", "text/plain", strings.NewReader(b))
				if err != nil {
					t.Error(err)
					return
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(got) != b {
					t.Errorf("got %q, want %q", got, b)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestAdapt(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Header().Set("Content-Length", "11")
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Query().Get("q"))
	})
	_, addr := start(t, Adapt(h))
	resp, err := http.Get("http://" + addr + "/metrics?q=abcdefg")
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); got != "GET abcdefg" || resp.Header.Get("Content-Type") != "text/plain; version=0.0.4" || resp.ContentLength != 11 {
		t.Fatalf("%q %v", got, resp.Header)
	}
}

func TestRecorder(t *testing.T) {
	var rec Recorder
	raw := rec.Do(context.Background(), HandlerFunc(echo), "POST", "/v1/messages?beta=true", []byte("hi"), "Authorization", "Bearer x")
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); got != "hi" || resp.Header.Get("X-Path") != "/v1/messages" || resp.Header.Get("X-Query") != "beta=true" ||
		resp.Header.Get("X-Auth") != "Bearer x" {
		t.Fatalf("%q %v", got, resp.Header)
	}
}

func TestReadHeaderTimeoutOnSlowRequests(t *testing.T) {
	_, addr := start(t, echo, func(s *Server) {
		s.ReadHeaderTimeout = 100 * time.Millisecond
		s.IdleTimeout = 10 * time.Second
	})
	for _, tc := range []struct{ name, partial string }{
		{"header", "POST /x HTTP/1.1\r\nHost: a\r\n"},
		{"body", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dial(t, addr)
			rc.send(tc.partial)
			began := time.Now()
			if !rc.closed() {
				t.Fatal("a request that stalls is not cut")
			}
			if d := time.Since(began); d > time.Second {
				t.Fatalf("cut after %s: want ReadHeaderTimeout, not IdleTimeout", d)
			}
		})
	}
	// A request split over several writes but on time is served.
	rc := dial(t, addr)
	rc.send("POST /x HTTP/1.1\r\nHo")
	time.Sleep(20 * time.Millisecond)
	rc.send("st: a\r\nContent-Length: 4\r\n\r\nab")
	time.Sleep(20 * time.Millisecond)
	rc.send("cd")
	if got := body(t, rc.read("POST")); got != "abcd" {
		t.Fatalf("body %q", got)
	}
}

func TestAddLine(t *testing.T) {
	_, addr := start(t, func(w *Response, r *Request) {
		w.Header().Set("X-A", "a")
		w.AddLine("X-B", "b")
		w.AddLine("X-Evil", "x\r\nX-Injected: 1")
		w.AddLineInt("X-N", -42)
		w.AddLines([]byte("X-C: c\r\n"))
		if r.Path == "/stream" {
			_, _ = w.WriteString("data: 1\n\n")
			_ = w.Flush()
			w.AddLine("X-Late", "dropped")
		}
		_, _ = w.WriteString("ok")
	})
	rc := dial(t, addr)
	rc.send("GET /plain HTTP/1.1\r\nHost: a\r\n\r\nGET /stream HTTP/1.1\r\nHost: a\r\n\r\nHEAD /plain HTTP/1.1\r\nHost: a\r\n\r\n")
	for _, m := range []string{"GET", "GET", "HEAD"} {
		resp := rc.read(m)
		for k, want := range map[string]string{"X-A": "a", "X-B": "b", "X-N": "-42", "X-C": "c", "X-Evil": "x  X-Injected: 1", "X-Injected": "", "X-Late": ""} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s %s: %s = %q, want %q", m, resp.Request.URL, k, got, want)
			}
		}
		body(t, resp)
	}
}

// TestHasLineBreak puts a CR, an LF or another control byte at every
// offset of values from 0 to 20 bytes long (the word loop and the tail).
func TestHasLineBreak(t *testing.T) {
	for n := 0; n <= 20; n++ {
		plain := strings.Repeat("a", n)
		if hasLineBreak(plain) {
			t.Errorf("%q: a line break found", plain)
		}
		for i := range n {
			for _, c := range []byte{'\r', '\n', '\t', 0x0b, 0x8d, 0x8a} {
				b := []byte(plain)
				b[i] = c
				if got, want := hasLineBreak(string(b)), c == '\r' || c == '\n'; got != want {
					t.Errorf("%q: hasLineBreak = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func TestOnCancel(t *testing.T) {
	type hook interface {
		OnCancel(f func()) (uint64, bool)
		StopOnCancel(uint64) bool
	}
	got := make(chan string, 8)
	_, addr := start(t, func(w *Response, r *Request) {
		h, ok := r.Context().(hook)
		if !ok {
			got <- "no hook"
			return
		}
		switch r.Path {
		case "/stopped":
			id, ok := h.OnCancel(func() { got <- "stopped ran" })
			if !ok || !h.StopOnCancel(id) {
				got <- "could not stop"
			}
			if _, ok := h.OnCancel(func() { got <- "second ran" }); !ok {
				got <- "no second"
			}
			if _, ok := h.OnCancel(func() {}); ok {
				got <- "two at once"
			}
			got <- "stopped done"
		case "/gone":
			id, _ := h.OnCancel(func() { got <- "gone ran" })
			<-r.Context().Done()
			time.Sleep(10 * time.Millisecond)
			if h.StopOnCancel(id) {
				got <- "stopped after it ran"
			}
			if _, ok := h.OnCancel(func() { got <- "late ran" }); !ok {
				got <- "no late"
			}
			got <- "gone done"
		}
	})
	rc := dial(t, addr)
	rc.send("GET /stopped HTTP/1.1\r\nHost: a\r\n\r\n")
	body(t, rc.read("GET"))
	for _, want := range []string{"stopped done"} {
		if g := <-got; g != want {
			t.Fatalf("got %q, want %q", g, want)
		}
	}
	rc = dial(t, addr)
	rc.send("GET /gone HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	rc.c.Close()
	for _, want := range []string{"gone ran", "late ran", "gone done"} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q, want %q", g, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("waiting for %q", want)
		}
	}
	select {
	case g := <-got:
		t.Fatalf("unexpected %q (a registration ran after the request ended?)", g)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestBodiesOfEverySize(t *testing.T) {
	_, addr := start(t, echo)
	rc := dial(t, addr)
	for i, n := range []int{100 << 10, 10, 20 << 10, 0, smallBody, smallBody + 1, 3, 70 << 10, 5} {
		b := strings.Repeat(string(rune('a'+i)), n)
		rc.send(fmt.Sprintf("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", n, b))
		if got := body(t, rc.read("POST")); got != b {
			t.Fatalf("body %d (%d bytes): got %d bytes %.20q", i, n, len(got), got)
		}
	}
}

func TestHeaderLargerThanTheFirstBuffer(t *testing.T) {
	_, addr := start(t, echo)
	rc := dial(t, addr)
	big := strings.Repeat("v", 10<<10) // over the 4 KB first buffer, under the 16 KB bound
	rc.send("POST /a HTTP/1.1\r\nHost: a\r\nAuthorization: " + big + "\r\nContent-Length: 2\r\n\r\nhiPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nyou")
	resp := rc.read("POST")
	if got := body(t, resp); got != "hi" || resp.Header.Get("X-Auth") != big {
		t.Fatalf("big header: %q, auth %d bytes", got, len(resp.Header.Get("X-Auth")))
	}
	if got := body(t, rc.read("POST")); got != "you" {
		t.Fatalf("request after it: %q", got)
	}
	rc.send("GET /c HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("w", 20<<10) + "\r\n\r\n")
	if resp := rc.read("GET"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("over the bound: %d", resp.StatusCode)
	}
}

// A request past WatchAfter gives its write buffer back after each flush
// (an open stream holds none between events); a quick one keeps it until
// its end. Either way the client gets every byte, and the connection
// serves the next request.
func TestLongResponseGivesBackItsBuffer(t *testing.T) {
	for _, m := range watchModes {
		t.Run(m.name, func(t *testing.T) {
			held := make(chan bool, 2)
			_, addr := serveOn(t, m.listen(t), func(w *Response, r *Request) {
				if r.Path == "/long" {
					time.Sleep(60 * time.Millisecond) // past WatchAfter
				}
				_, _ = w.WriteString("data: 1\n\n")
				_ = w.Flush()
				held <- w.bw != nil
				_, _ = w.WriteString("data: 2\n\n")
			})
			rc := dial(t, addr)
			for _, tc := range []struct {
				path string
				held bool
			}{{"/long", false}, {"/quick", true}, {"/long", false}} {
				rc.send("GET " + tc.path + " HTTP/1.1\r\nHost: a\r\n\r\n")
				if got := body(t, rc.read("GET")); got != "data: 1\n\ndata: 2\n\n" {
					t.Fatalf("%s: body %q", tc.path, got)
				}
				if h := <-held; h != tc.held {
					t.Fatalf("%s: write buffer held after a flush: %v, want %v", tc.path, h, tc.held)
				}
			}
		})
	}
}

// End sends the response before the handler returns; what the handler
// does next does not hold the client up, and nothing more can be written.
func TestEnd(t *testing.T) {
	after := make(chan error, 1)
	hold := make(chan struct{})
	_, addr := start(t, func(w *Response, r *Request) {
		_, _ = w.WriteString("all of it")
		w.End()
		w.End()
		_, err := w.WriteString("more")
		<-hold
		after <- err
	})
	rc := dial(t, addr)
	rc.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
	resp := rc.read("GET")
	if got := body(t, resp); got != "all of it" || resp.ContentLength != 9 {
		t.Fatalf("body %q, length %d", got, resp.ContentLength)
	}
	close(hold)
	if err := <-after; !errors.Is(err, ErrEnded) {
		t.Fatalf("write after End: %v, want ErrEnded", err)
	}
	rc.send("GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
	if got := body(t, rc.read("GET")); got != "all of it" {
		t.Fatalf("next request on the connection: %q", got)
	}
	<-after
}
