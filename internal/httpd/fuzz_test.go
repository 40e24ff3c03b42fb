package httpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// memConn is a connection whose client sent in and then closed its side.
type memConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *memConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *memConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzServeConn feeds arbitrary bytes to a connection: the server must not
// panic, and what it writes back must read as a sequence of well-formed
// responses, one per request it answered.
func FuzzServeConn(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}GET /x HTTP/1.1\r\n\r\n",
		"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"HEAD / HTTP/1.0\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
		"GET /%zz?%%% HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &Server{Handler: HandlerFunc(echo), Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 16, MaxHeaderBytes: 4096}
		s.init()
		mc := &memConn{in: bytes.NewReader(in)}
		c := s.newConn(mc)
		c.serve()
		br := bufio.NewReader(&mc.out)
		for {
			if _, err := br.Peek(1); errors.Is(err, io.EOF) {
				return
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("unreadable response: %v\nin: %q\nout: %q", err, in, mc.out.Bytes())
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatalf("unreadable body: %v\nin: %q", err, in)
			}
			resp.Body.Close()
		}
	})
}

// FuzzPlainTarget: a target plainTarget takes has the path and query
// fasthttp's parser gives it, with a Host header and without.
func FuzzPlainTarget(f *testing.F) {
	for _, s := range []string{"/v1/chat/completions", "/v1/models?limit=2&x=%20", "/", "/?", "//x", "/a/../b", "/a/./b",
		"/%41", "/a?b#c", "/a#b", "http://h/p", "/a\x01", "/a?\x7f", "/A-Z_0~9/", "*", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, target []byte) {
		path, query, ok := plainTarget(target)
		if !ok {
			return
		}
		for _, host := range []string{"gateway.local", ""} {
			var req fasthttp.Request
			req.Header.SetRequestURIBytes(target)
			req.Header.SetHost(host)
			uri := req.URI()
			if !bytes.Equal(path, uri.Path()) || !bytes.Equal(query, uri.QueryString()) {
				t.Fatalf("plainTarget(%q) = %q, %q; fasthttp (host %q): %q, %q", target, path, query, host, uri.Path(), uri.QueryString())
			}
		}
	})
}

// TestPlainTarget: the targets every route uses take the quick path; any
// that needs decoding or normalizing goes to the parser.
func TestPlainTarget(t *testing.T) {
	for _, tc := range []struct {
		in, path, query string
		ok              bool
	}{
		{"/v1/chat/completions", "/v1/chat/completions", "", true},
		{"/v1/models?limit=2&q=a%20b", "/v1/models", "limit=2&q=a%20b", true},
		{"/", "/", "", true},
		{"/x?", "/x", "", true},
		{"/a/../b", "", "", false}, {"/a/./b", "", "", false}, {"//x", "", "", false}, {"/a//b", "", "", false},
		{"/%41", "", "", false}, {"/a#f", "", "", false}, {"/a?b#f", "", "", false}, {"/a?b\x00", "", "", false},
		{"/a\tb", "", "", false}, {"/a b", "", "", false}, {"/é", "", "", false}, {`/a\b`, "", "", false},
		{"http://h/p", "", "", false}, {"*", "", "", false}, {"", "", "", false},
	} {
		path, query, ok := plainTarget([]byte(tc.in))
		if string(path) != tc.path || string(query) != tc.query || ok != tc.ok {
			t.Errorf("plainTarget(%q) = %q, %q, %v; want %q, %q, %v", tc.in, path, query, ok, tc.path, tc.query, tc.ok)
		}
	}
}

// BenchmarkRequestTarget is the path and query of a chat request's target:
// plainTarget, and fasthttp's parser, which it spares.
func BenchmarkRequestTarget(b *testing.B) {
	target := []byte("/v1/chat/completions")
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if p, _, ok := plainTarget(target); !ok || len(p) != len(target) {
				b.Fatal("not plain")
			}
		}
	})
	b.Run("fasthttp", func(b *testing.B) {
		var uri fasthttp.URI
		host := []byte("gateway.local")
		for b.Loop() {
			if err := uri.Parse(host, target); err != nil || len(uri.Path()) != len(target) {
				b.Fatal("path")
			}
		}
	})
}
