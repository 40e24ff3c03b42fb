package benchdata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// MemUpstreams are upstreams in memory: Dial hands out connections that
// answer every request with a fixed HTTP/1.1 reply, so a benchmark
// measures the gateway's own work without the kernel's. Hosts name the
// mode: a deployment's api_base http://json.mem/v1 gets JSONReply,
// http://sse.mem/v1 OpenAIStream, http://anthropic.mem AnthropicStream.
type MemUpstreams struct{}

// MemBase is the api_base of mode's in-memory upstream (no trailing slash).
func MemBase(mode string) string { return "http://" + mode + ".mem" }

// Dial is a net.Dialer's DialContext over in-memory upstreams.
func (MemUpstreams) Dial(_ context.Context, _, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	var body []byte
	ct := "text/event-stream"
	switch host {
	case UpstreamJSON + ".mem":
		body, ct = JSONReply, "application/json"
	case UpstreamSSE + ".mem":
		body = OpenAIStream()
	case UpstreamAnthropic + ".mem":
		body = AnthropicStream()
	default:
		return nil, fmt.Errorf("benchdata: no in-memory upstream at %q", addr)
	}
	reply := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", ct, len(body), body)
	c := &memConn{reply: reply}
	c.cond.L = &c.mu
	return c, nil
}

// memConn reads requests from its writes and queues a reply for each.
type memConn struct {
	reply  []byte
	mu     sync.Mutex
	cond   sync.Cond
	in     []byte // request bytes not yet answered
	out    []byte // reply bytes not yet read
	closed bool
}

var errMemClosed = errors.New("benchdata: in-memory connection closed")

func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errMemClosed
	}
	c.in = append(c.in, p...)
	for {
		end := bytes.Index(c.in, []byte("\r\n\r\n"))
		if end < 0 {
			break
		}
		n := end + 4 + contentLength(c.in[:end])
		if len(c.in) < n {
			break
		}
		c.in = c.in[:copy(c.in, c.in[n:])]
		c.out = append(c.out, c.reply...)
		c.cond.Broadcast()
	}
	return len(p), nil
}

// contentLength is the Content-Length of a request head (0 if none).
func contentLength(head []byte) int {
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Content-Length")) {
			n, _ := strconv.Atoi(string(bytes.TrimSpace(v)))
			return n
		}
	}
	return 0
}

func (c *memConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.out) == 0 && !c.closed {
		c.cond.Wait()
	}
	if len(c.out) == 0 {
		return 0, errMemClosed
	}
	n := copy(p, c.out)
	c.out = c.out[:copy(c.out, c.out[n:])]
	return n, nil
}

func (c *memConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

func (c *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
