package provider

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// fastUp is an OpenAI-dialect upstream at base over the fast path.
func fastUp(base string) *Upstream {
	return &Upstream{Name: "gpt/dep1", Dialect: llm.DialectOpenAI, BaseURL: base + "/v1",
		Client: &http.Client{Transport: NewTransport()}, Pool: NewPool()}
}

// countingServer is an httptest server that counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

// rawUpstream accepts TCP connections and hands each, numbered from 0, to serve.
func rawUpstream(t *testing.T, serve func(n int, c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readReq reads one request and its body.
func readReq(br *bufio.Reader) (*http.Request, []byte, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(req.Body)
	return req, b, err
}

func reset(c net.Conn) {
	_ = c.(*net.TCPConn).SetLinger(0)
	_ = c.Close()
}

func call(t *testing.T, u *Upstream, ctx context.Context) (*Response, []byte, error) {
	t.Helper()
	resp, err := u.Do(ctx, EndpointChat, []byte(`{"model":"m"}`), nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func kindOf(err error) llm.ErrorKind {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Kind
	}
	return -1
}

// TestFastBodies: each framing arrives whole, and the connection is reused
// after every body that ended as framed.
func TestFastBodies(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	cases := []struct {
		name string
		h    http.HandlerFunc
		want string
		code int
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "11")
			io.WriteString(w, `{"ok":true}`)
		}, `{"ok":true}`, 200},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			for _, s := range []string{"a", "bb", "ccc"} {
				io.WriteString(w, s)
				w.(http.Flusher).Flush()
			}
		}, "abbccc", 200},
		{"big", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }, big, 200},
		{"empty", func(w http.ResponseWriter, r *http.Request) {}, "", 200},
		{"no content", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, "", 204},
		{"error status", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
			io.WriteString(w, `{"error":{}}`)
		}, `{"error":{}}`, 429},
		{"trailers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Sum", "1")
		}, "body", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, conns := countingServer(t, tc.h)
			u := fastUp(srv.URL)
			for i := range 3 {
				resp, b, err := call(t, u, context.Background())
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if resp.StatusCode != tc.code || string(b) != tc.want {
					t.Fatalf("call %d: %d %.40q, want %d %.40q", i, resp.StatusCode, b, tc.code, tc.want)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Fatalf("%d connections for 3 sequential calls, want 1", n)
			}
		})
	}
}

// TestFastStreaming: each event reaches the caller before the next is sent.
func TestFastStreaming(t *testing.T) {
	next := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 5 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				t.Errorf("event %d was not read before the next was due", i)
				return
			}
		}
	})
	u := fastUp(srv.URL)
	resp, err := u.Do(context.Background(), EndpointChat, []byte(`{"stream":true}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 5 {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the events: %q %v", rest, err)
	}
}

// TestFastKeepAlive: concurrent calls open a few connections, later calls
// reuse them.
func TestFastKeepAlive(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		io.WriteString(w, "ok")
	})
	u := fastUp(srv.URL)
	for range 5 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, b, err := call(t, u, context.Background()); err != nil || string(b) != "ok" {
					t.Errorf("%q %v", b, err)
				}
			})
		}
		wg.Wait()
	}
	if n := conns.Load(); n < 1 || n > 8 {
		t.Fatalf("%d connections for 5 rounds of 8 concurrent calls, want at most 8", n)
	}
	if n := u.Pool.nidle.Load(); n != int64(conns.Load()) {
		t.Fatalf("%d idle connections, want %d", n, conns.Load())
	}
}

// okResponse is a keep-alive 200 with a small body.
const okResponse = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

// TestFastIdleClosedByUpstream: an idle connection the upstream closed is
// not used; a connection that dies under a call before any byte of the
// answer is replaced once, transparently; a second failure is reported.
func TestFastIdleClosedByUpstream(t *testing.T) {
	for _, checked := range []bool{true, false} {
		name := "closed while idle, checked before reuse"
		if !checked {
			name = "closed while idle, reused unchecked (idle under CheckAfter)"
		}
		t.Run(name, func(t *testing.T) { testClosedWhileIdle(t, checked) })
	}
	testClosedUnderTheCall(t)
}

// testClosedWhileIdle: the upstream closes the first connection after one
// answer; the next calls succeed on a second connection, whether the pool
// notices before reuse (checked) or the call is sent again (unchecked).
func testClosedWhileIdle(t *testing.T, checked bool) {
	var reqs [4]atomic.Int32
	base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err != nil {
			return
		}
		reqs[n].Add(1)
		io.WriteString(c, okResponse)
		if n == 0 {
			return // closes the connection after one answer
		}
		for {
			if _, _, err := readReq(br); err != nil {
				return
			}
			reqs[n].Add(1)
			io.WriteString(c, okResponse)
		}
	})
	p := NewPool()
	if checked {
		p.CheckAfter = -1
	}
	u := &Upstream{Name: "gpt/dep1", Dialect: llm.DialectOpenAI, BaseURL: base + "/v1", Pool: p}
	if _, _, err := call(t, u, context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the FIN arrives
	for i := range 2 {
		if _, _, err := call(t, u, context.Background()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if a, b := reqs[0].Load(), reqs[1].Load(); a != 1 || b != 2 {
		t.Fatalf("requests per connection %d, %d: want 1, 2", a, b)
	}
}

func testClosedUnderTheCall(t *testing.T) {
	t.Run("closed under the call", func(t *testing.T) {
		var reqs [4]atomic.Int32
		base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
			for i := 0; ; i++ {
				if _, _, err := readReq(br); err != nil {
					return
				}
				reqs[n].Add(1)
				if n == 0 && i == 1 {
					return // the second request on the first connection: closed unanswered
				}
				io.WriteString(c, okResponse)
			}
		})
		u := &Upstream{Name: "gpt/dep1", Dialect: llm.DialectOpenAI, BaseURL: base + "/v1", Pool: NewPool()}
		for i := range 3 {
			if _, b, err := call(t, u, context.Background()); err != nil || string(b) != "{}" {
				t.Fatalf("call %d: %q %v", i, b, err)
			}
		}
		if a, b := reqs[0].Load(), reqs[1].Load(); a != 2 || b != 2 {
			t.Fatalf("requests per connection %d, %d: want 2 (one unanswered), 2", a, b)
		}
	})
	t.Run("fresh connection fails too", func(t *testing.T) {
		var total atomic.Int32
		base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
			for i := 0; ; i++ {
				if _, _, err := readReq(br); err != nil {
					return
				}
				total.Add(1)
				if n > 0 || i > 0 {
					return
				}
				io.WriteString(c, okResponse)
			}
		})
		u := &Upstream{Name: "gpt/dep1", Dialect: llm.DialectOpenAI, BaseURL: base + "/v1", Pool: NewPool()}
		if _, _, err := call(t, u, context.Background()); err != nil {
			t.Fatal(err)
		}
		_, _, err := call(t, u, context.Background())
		if kindOf(err) != llm.KindUnavailable || !strings.Contains(err.Error(), "connection closed early") {
			t.Fatalf("err %v, want unavailable: connection closed early", err)
		}
		if n := total.Load(); n != 3 {
			t.Fatalf("%d requests, want 3 (one answered, one sent twice)", n)
		}
	})
}

// TestFastConnectionClose: a response with Connection: close is read whole
// and its connection is not reused.
func TestFastConnectionClose(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	u := fastUp(srv.URL)
	for i := range 3 {
		if _, b, err := call(t, u, context.Background()); err != nil || string(b) != "bye" {
			t.Fatalf("call %d: %q %v", i, b, err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
	if n := u.Pool.nidle.Load(); n != 0 {
		t.Fatalf("%d idle connections kept, want 0", n)
	}
}

// TestFastBrokenBody: a body cut by the upstream is an error that says so,
// never a short body that looks whole.
func TestFastBrokenBody(t *testing.T) {
	cases := []struct {
		name, head string
		cut        func(net.Conn)
		want       string
	}{
		{"reset, content-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", reset, "connection reset"},
		{"reset, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n", reset, "connection reset"},
		{"closed, content-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", func(c net.Conn) { c.Close() }, "connection closed early"},
		{"closed, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n", func(c net.Conn) { c.Close() }, "connection closed early"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
				readReq(br)
				io.WriteString(c, tc.head)
				time.Sleep(20 * time.Millisecond)
				tc.cut(c)
			})
			u := fastUp(base)
			ctx := context.Background()
			_, b, err := call(t, u, ctx)
			if err == nil {
				t.Fatalf("no error; body %q", b)
			}
			e := u.Classify(ctx, err)
			if e.Kind != llm.KindUpstream || !strings.Contains(e.Message, "dep1") || !strings.Contains(e.Message, "broke off its reply: "+tc.want) {
				t.Fatalf("%v %q, want upstream error: broke off its reply: %s", e.Kind, e.Message, tc.want)
			}
			if string(b) != "0123456789" {
				t.Fatalf("read %q before the cut", b)
			}
		})
	}
	t.Run("reset before the answer", func(t *testing.T) {
		base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
			readReq(br)
			reset(c)
		})
		_, _, err := call(t, fastUp(base), context.Background())
		if kindOf(err) != llm.KindUnavailable || !strings.Contains(err.Error(), "connection reset") {
			t.Fatalf("err %v, want unavailable: connection reset", err)
		}
	})
}

// hangingUpstream reads one request, then answers head (if any) and waits
// until the gateway closes the connection, reporting when it saw that.
func hangingUpstream(t *testing.T, head string) (string, <-chan time.Time) {
	closed := make(chan time.Time, 1)
	base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, head)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, br)
		closed <- time.Now()
	})
	return base, closed
}

func seenWithin(t *testing.T, closed <-chan time.Time, from time.Time, d time.Duration) {
	t.Helper()
	select {
	case at := <-closed:
		if at.Sub(from) > d {
			t.Fatalf("the upstream saw the disconnect after %v", at.Sub(from))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never saw the disconnect")
	}
}

// TestFastCancel: a context ending while the call waits for the answer or
// its body aborts it at once, closes the connection (the upstream sees it)
// and is classified by its cause.
func TestFastCancel(t *testing.T) {
	const chunkHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n"
	cases := []struct {
		name   string
		head   string
		ctx    func() (context.Context, func())
		kind   llm.ErrorKind
		inBody bool
		msg    string
	}{
		{"client gone, waiting for the head", "", cancelAfter(50 * time.Millisecond), llm.KindClientGone, false, "client closed"},
		{"client gone, reading the body", chunkHead, cancelAfter(50 * time.Millisecond), llm.KindClientGone, true, "client closed"},
		{"deadline, waiting for the head", "", timeoutAfter(50 * time.Millisecond), llm.KindTimeout, false, "did not answer in time"},
		{"deadline, reading the body", chunkHead, timeoutAfter(50 * time.Millisecond), llm.KindTimeout, true, "did not answer in time"},
		{"stream_timeout, waiting for the head", "", firstByteAfter(50 * time.Millisecond), llm.KindTimeout, false, "stream_timeout"},
		{"stream_timeout, reading the body", chunkHead, firstByteAfter(50 * time.Millisecond), llm.KindTimeout, true, "stream_timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, closed := hangingUpstream(t, tc.head)
			u := fastUp(base)
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			resp, err := u.Do(ctx, EndpointChat, []byte(`{}`), nil)
			if tc.inBody {
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				buf := make([]byte, 64)
				if n, err := resp.Body.Read(buf); err != nil || string(buf[:n]) != "data: 1\n\n" {
					t.Fatalf("first event %q %v", buf[:n], err)
				}
				_, err = resp.Body.Read(buf)
				if err == nil {
					t.Fatal("read on after the context ended")
				}
				err = u.Classify(ctx, err)
			}
			if took := time.Since(start); took > time.Second {
				t.Fatalf("the call returned after %v", took)
			}
			if kindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v (%v), want %v: %s", err, kindOf(err), tc.kind, tc.msg)
			}
			seenWithin(t, closed, start, time.Second)
			if n := u.Pool.nidle.Load(); n != 0 {
				t.Fatalf("%d idle connections after an aborted call", n)
			}
		})
	}
	t.Run("already canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := fastUp("http://127.0.0.1:9").Do(ctx, EndpointChat, nil, nil)
		if kindOf(err) != llm.KindClientGone {
			t.Fatalf("err %v, want client gone", err)
		}
	})
}

func cancelAfter(d time.Duration) func() (context.Context, func()) {
	return func() (context.Context, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		t := time.AfterFunc(d, cancel)
		return ctx, func() { t.Stop(); cancel() }
	}
}

func timeoutAfter(d time.Duration) func() (context.Context, func()) {
	return func() (context.Context, func()) { return context.WithTimeout(context.Background(), d) }
}

func firstByteAfter(d time.Duration) func() (context.Context, func()) {
	return func() (context.Context, func()) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ctx, cancelCause := context.WithCancelCause(ctx)
		t := time.AfterFunc(d, func() { cancelCause(ErrFirstByteTimeout) })
		return ctx, func() { t.Stop(); cancelCause(nil); cancel() }
	}
}

// TestFastCloseDuringRead: closing the body while another goroutine is
// blocked reading it (what the server does when its client leaves) ends
// the read at once and disconnects the upstream.
func TestFastCloseDuringRead(t *testing.T) {
	base, closed := hangingUpstream(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	u := fastUp(base)
	resp, err := u.Do(context.Background(), EndpointChat, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 64))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	resp.Body.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the blocked read ended without an error")
		}
	case <-time.After(time.Second):
		t.Fatal("the blocked read went on after Close")
	}
	seenWithin(t, closed, start, time.Second)
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after Close succeeded")
	}
}

// TestFastEarlyClose: a body closed before its end closes the connection;
// one read to its end keeps it.
func TestFastEarlyClose(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 100<<10))
	})
	u := fastUp(srv.URL)
	resp, err := u.Do(context.Background(), EndpointChat, []byte(`{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	if _, _, err := call(t, u, context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := call(t, u, context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the early-closed one not reused)", n)
	}
}

// TestFastReplyDuringWrite: an upstream that answers while the request
// body is still being written (here after reading only the head) has its
// reply read as soon as the write ends, and the connection serves the next
// call. The send waits for the reply inside the same raw read it wrote
// from, so a reply that arrived during the write must not be missed.
func TestFastReplyDuringWrite(t *testing.T) {
	var reqs atomic.Int32
	base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			reqs.Add(1)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
		}
	})
	u := &Upstream{Name: "gpt/dep1", Dialect: llm.DialectOpenAI, BaseURL: base + "/v1", Pool: NewPool()}
	big := []byte(`{"model":"m","pad":"` + strings.Repeat("x", 8<<20) + `"}`)
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := u.Do(ctx, EndpointChat, big, nil)
		if err != nil {
			cancel()
			t.Fatalf("call %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if err != nil || string(b) != "early" {
			t.Fatalf("call %d: %q %v", i, b, err)
		}
	}
	if n := reqs.Load(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

// TestFastRefused: nothing listening is KindUnavailable naming the deployment.
func TestFastRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	base := "http://" + ln.Addr().String()
	ln.Close()
	u := fastUp(base)
	_, err := u.Do(context.Background(), EndpointChat, []byte(`{}`), nil)
	if kindOf(err) != llm.KindUnavailable || !strings.Contains(err.Error(), "gpt/dep1") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err %v, want unavailable naming gpt/dep1: connection refused", err)
	}
	o := &Upstream{Name: "llama/local", Dialect: llm.DialectOllama, BaseURL: base, Pool: NewPool()}
	_, err = o.Do(context.Background(), EndpointChat, []byte(`{}`), nil)
	if kindOf(err) != llm.KindUnavailable || !strings.Contains(err.Error(), "ollama serve") {
		t.Fatalf("err %v, want the Ollama hint", err)
	}
}

// TestFastTLS: an https upstream is reached over TLS (HTTP/1.1, the
// injected roots), with keep-alive; an unknown certificate is refused.
func TestFastTLS(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.ProtoMajor != 1 {
			t.Errorf("tls %v proto %s", r.TLS != nil, r.Proto)
		}
		io.WriteString(w, "secure")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	u := fastUp(srv.URL)
	u.Pool.TLSClientConfig = &tls.Config{RootCAs: roots}
	if u.fastTarget(EndpointChat) == nil {
		t.Fatal("https not on the fast path")
	}
	for i := range 3 {
		if _, b, err := call(t, u, context.Background()); err != nil || string(b) != "secure" {
			t.Fatalf("call %d: %q %v", i, b, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d TLS connections, want 1", n)
	}
	_, _, err := call(t, fastUp(srv.URL), context.Background())
	if kindOf(err) != llm.KindUnavailable {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

// TestFastIdleTimeout: connections idle for IdleTimeout are closed.
func TestFastIdleTimeout(t *testing.T) {
	var closed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	u := fastUp(srv.URL)
	u.Pool.IdleTimeout = 100 * time.Millisecond
	if _, _, err := call(t, u, context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for closed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection was never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := u.Pool.nidle.Load(); n != 0 {
		t.Fatalf("%d idle connections left", n)
	}
	if _, _, err := call(t, u, context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestFastBigHeader: a response head larger than the read buffer is read,
// and its connection reused unless the head is over bigHeaderBytes.
func TestFastBigHeader(t *testing.T) {
	for _, tc := range []struct {
		size  int
		dials int32 // for two calls
	}{
		{readBufSize / 2, 1},
		{readBufSize + 1000, 1},
		{40 << 10, 1},
		{bigHeaderBytes + 1000, 2},
		{500 << 10, 2},
	} {
		t.Run(strconv.Itoa(tc.size), func(t *testing.T) {
			big := strings.Repeat("v", tc.size)
			srv, dials := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Big", big)
				w.WriteHeader(500)
				io.WriteString(w, "err")
			})
			u := fastUp(srv.URL)
			for i := range 2 {
				resp, b, err := call(t, u, context.Background())
				if err != nil || string(b) != "err" || resp.Header().Get("X-Big") != big {
					t.Fatalf("call %d: %q %v", i, b, err)
				}
			}
			if n := dials.Load(); n != tc.dials {
				t.Fatalf("%d connections for two calls, want %d", n, tc.dials)
			}
		})
	}
}

// TestFastHeaderAfterClose: an error response's header can be read after
// its body is closed; a 2xx one's before.
func TestFastHeaderAfterClose(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		if r.URL.Path == "/v1/models" {
			return
		}
		w.WriteHeader(429)
	})
	u := fastUp(srv.URL)
	resp, _, err := call(t, u, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h := resp.Header(); h.Get("Retry-After") != "7" || len(h["X-Multi"]) != 2 || resp.Status() != "429 Too Many Requests" {
		t.Fatalf("%v %s", h, resp.Status())
	}
	resp, err = u.Do(context.Background(), EndpointModels, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header().Get("Retry-After") != "7" {
		t.Fatalf("%v", resp.Header())
	}
	resp.Body.Close()
}

// TestRequestsMatchNetHTTP: the fast path sends what net/http sends for
// the same call: method, path, Host, Content-Length and every header.
func TestRequestsMatchNetHTTP(t *testing.T) {
	type seen struct {
		Method, URI, Host string
		Length            int64
		Header            http.Header
		Body              string
	}
	var mu sync.Mutex
	var got []seen
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.RequestURI, r.Host, r.ContentLength, r.Header, string(b)})
		mu.Unlock()
	})
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name    string
		dialect llm.Dialect
		key     string
		headers map[string]string
		ep      Endpoint
		body    []byte
		in      http.Header
	}{
		{"openai", llm.DialectOpenAI, "sk-1", nil, EndpointChat, []byte(`{"a":1}`),
			hdr("Openai-Organization", "org", "Openai-Project", "p", "X-Other", "dropped", "Authorization", "Bearer client")},
		{"openai headers override", llm.DialectOpenAI, "sk-1",
			map[string]string{"authorization": "Bearer cfg", "x-custom": "  v  ", "Openai-Project": "cfg", "Content-Type": "text/plain",
				"Host": "ignored", "Content-Length": "99", "User-Agent": "custom/1"},
			EndpointEmbeddings, []byte(`{}`), hdr("Openai-Project", "client")},
		{"anthropic", llm.DialectAnthropic, "sk-ant", nil, EndpointChat, []byte(`{}`),
			hdr("Anthropic-Version", "2024-01-01", "Anthropic-Beta", "a", "Anthropic-Beta", "b")},
		{"anthropic default version", llm.DialectAnthropic, "sk-ant", nil, EndpointCountTokens, []byte(`{}`), hdr("Anthropic-Version", "")},
		{"anthropic version from config", llm.DialectAnthropic, "", map[string]string{"anthropic-version": "cfg", "User-Agent": ""},
			EndpointChat, []byte(`{}`), hdr("Anthropic-Version", "client")},
		{"ollama get", llm.DialectOllama, "", nil, EndpointModels, nil, nil},
		{"empty body", llm.DialectOllama, "", nil, EndpointShow, []byte{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			for _, fast := range []bool{true, false} {
				u := &Upstream{Name: "g/d", Dialect: tc.dialect, BaseURL: NormalizeBase(tc.dialect, srv.URL), APIKey: tc.key,
					Headers: tc.headers, Client: &http.Client{Transport: NewTransport()}}
				if fast {
					u.Pool = NewPool()
					if u.fastTarget(tc.ep) == nil {
						t.Fatal("not on the fast path")
					}
				}
				resp, err := u.Do(context.Background(), tc.ep, tc.body, tc.in)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if len(got) != 2 {
				t.Fatalf("%d requests", len(got))
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Fatalf("fast path sent\n%+v\nnet/http sent\n%+v", got[0], got[1])
			}
		})
	}
	t.Run("bad client header goes through net/http", func(t *testing.T) {
		u := &Upstream{Name: "g/d", Dialect: llm.DialectOpenAI, BaseURL: srv.URL + "/v1",
			Client: &http.Client{Transport: NewTransport()}, Pool: NewPool()}
		_, err := u.Do(context.Background(), EndpointChat, []byte(`{}`), hdr("Openai-Project", "a\x00b"))
		if kindOf(err) != llm.KindUnavailable || !strings.Contains(fmt.Sprint(errors.Unwrap(err)), "invalid header field value") {
			t.Fatalf("err %v", err)
		}
	})
}

// TestInjectedTransport: without a Pool every call goes through the Client.
func TestInjectedTransport(t *testing.T) {
	var calls atomic.Int32
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"X-Rt": {"1"}},
			Body: io.NopCloser(strings.NewReader("mem")), Request: r}, nil
	})
	u := &Upstream{Name: "g/d", Dialect: llm.DialectOpenAI, BaseURL: "http://upstream.test/v1", Client: &http.Client{Transport: rt}}
	resp, b, err := call(t, u, context.Background())
	if err != nil || string(b) != "mem" || resp.Header().Get("X-Rt") != "1" || calls.Load() != 1 {
		t.Fatalf("%q %v calls %d", b, err, calls.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestProxyFromEnvironment: with HTTP_PROXY set, calls to a host it
// applies to go through net/http and the proxy; loopback ones stay on the
// fast path. It runs in a child process, because net/http reads the proxy
// variables once per process.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("SWITCHYARD_PROXY_CHILD") != "1" {
		var proxied atomic.Value
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			proxied.Store(r.Method + " " + r.RequestURI)
			io.WriteString(w, "via proxy")
		}))
		defer proxy.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.v")
		cmd.Env = append(os.Environ(), "SWITCHYARD_PROXY_CHILD=1", "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL,
			"NO_PROXY=", "no_proxy=", "REQUEST_METHOD=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if p, _ := proxied.Load().(string); p != "POST http://upstream.invalid/v1/chat/completions" {
			t.Fatalf("proxy saw %q\n%s", p, out)
		}
		return
	}
	u := &Upstream{Name: "g/d", Dialect: llm.DialectOpenAI, BaseURL: "http://upstream.invalid/v1",
		Client: &http.Client{Transport: NewTransport()}, Pool: NewPool()}
	if u.fastTarget(EndpointChat) != nil {
		t.Fatal("a proxied URL is on the fast path")
	}
	if _, b, err := call(t, u, context.Background()); err != nil || string(b) != "via proxy" {
		t.Fatalf("%q %v", b, err)
	}
	local := fastUp("http://127.0.0.1:9")
	if local.fastTarget(EndpointChat) == nil {
		t.Fatal("a loopback URL left the fast path")
	}
}

// TestConnAlive: the check before reusing an idle connection tells an open
// one from one the upstream closed, reset or wrote to unasked.
func TestConnAlive(t *testing.T) {
	if !connCheck {
		t.Skip("idle connections are not checked on this platform")
	}
	base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, err := br.ReadByte(); err != nil { // all dialled: go
			return
		}
		switch n {
		case 1:
			c.Close()
			return
		case 2:
			io.WriteString(c, "junk")
		case 3:
			reset(c)
			return
		}
		io.Copy(io.Discard, br)
	})
	p := NewPool()
	hp := p.host(false, strings.TrimPrefix(base, "http://"), "127.0.0.1")
	var cs []*conn
	for range 4 {
		c, err := hp.dial(context.Background(), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		cs = append(cs, c)
	}
	for _, c := range cs {
		c.nc.Write([]byte("x"))
	}
	time.Sleep(50 * time.Millisecond)
	for i, want := range []bool{true, false, false, false} {
		if got := cs[i].alive(); got != want {
			t.Errorf("connection %d: alive %v, want %v", i, got, want)
		}
	}
}

// TestCloseAfterEnd: a stream closed after its last event, its end still to
// come, leaves its connection for the next call once the end arrives; an
// end that does not come in drainWait closes it.
func TestCloseAfterEnd(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	ev := "data: [DONE]\n\n"
	chunk := fmt.Sprintf("%x\r\n%s\r\n", len(ev), ev)
	for _, tc := range []struct {
		name      string
		endAfter  time.Duration // -1: never
		wantConns int32
	}{
		{"end comes", 20 * time.Millisecond, 1},
		{"end never comes", -1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const drainWait = 200 * time.Millisecond
			var conns atomic.Int32
			base := rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
				conns.Add(1)
				for {
					if _, _, err := readReq(br); err != nil {
						return
					}
					io.WriteString(c, head+chunk)
					if tc.endAfter < 0 {
						time.Sleep(time.Second)
						return
					}
					time.Sleep(tc.endAfter)
					io.WriteString(c, "0\r\n\r\n")
				}
			})
			u := fastUp(base)
			u.Pool.drainWait = drainWait
			for i := range 2 {
				resp, err := u.Do(context.Background(), EndpointChat, []byte(`{"model":"m"}`), nil)
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				b := make([]byte, len(chunk))
				if n, _ := io.ReadAtLeast(resp.Body, b, len(ev)); string(b[:n]) != ev {
					t.Fatalf("call %d: read %q", i, b[:n])
				}
				if err := resp.CloseAfterEnd(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(drainWait + 100*time.Millisecond)
			}
			if got := conns.Load(); got != tc.wantConns {
				t.Fatalf("%d connections for 2 calls, want %d", got, tc.wantConns)
			}
		})
	}
}
