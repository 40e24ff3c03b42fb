package provider

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard/switchyard/internal/llm"
)

// benchUpstream is a local upstream that costs little itself, so that the
// client's cost shows: a keep-alive loop that parses each request with
// fasthttp and answers a small JSON reply, or, when the request asks for a
// stream, a 10-event SSE stream written one chunk (one write) per event.
func benchUpstream(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	msg := `{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}`
	reply := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(msg)) + "\r\n\r\n" + msg)
	streamHead := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
	var events [][]byte
	for i := range 10 {
		ev := "data: [DONE]\n\n"
		if i < 9 {
			ev = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"word` + strconv.Itoa(i) + ` "}}]}` + "\n\n"
		}
		chunk := strconv.FormatInt(int64(len(ev)), 16) + "\r\n" + ev + "\r\n"
		if i == 9 {
			chunk += "0\r\n\r\n"
		}
		events = append(events, []byte(chunk))
	}
	serve := func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		var req fasthttp.Request
		for {
			req.Reset()
			if err := req.Read(br); err != nil {
				return
			}
			if !bytes.Contains(req.Body(), []byte(`"stream":true`)) {
				if _, err := c.Write(reply); err != nil {
					return
				}
				continue
			}
			if _, err := c.Write(streamHead); err != nil {
				return
			}
			for _, ev := range events {
				if _, err := c.Write(ev); err != nil {
					return
				}
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	b.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String()
}

// BenchmarkClient compares the fast path with net/http for one call: the
// request sent, the reply read to its end. The upstream runs in the same
// process, so ns/op includes its share; compare within one run.
func BenchmarkClient(b *testing.B) {
	base := benchUpstream(b)
	in := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer sk-client"}}
	bodies := []struct{ name, body string }{
		{"json", `{"model":"m","messages":[{"role":"user","content":"Say hello."}]}`},
		{"sse", `{"model":"m","stream":true,"messages":[{"role":"user","content":"Say hello."}]}`},
	}
	for _, bd := range bodies {
		for _, path := range []string{"fast", "std"} {
			b.Run(bd.name+"/"+path, func(b *testing.B) {
				u := &Upstream{Name: "m/d", Dialect: llm.DialectOpenAI, BaseURL: base + "/v1", APIKey: "sk-up",
					Client: &http.Client{Transport: NewTransport()}}
				if path == "fast" {
					u.Pool = NewPool()
				}
				body := []byte(bd.body)
				buf := make([]byte, 32<<10)
				b.ReportAllocs()
				for b.Loop() {
					// As the server does per attempt: a timeout and a cause.
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					ctx, cancelCause := context.WithCancelCause(ctx)
					resp, err := u.Do(ctx, EndpointChat, body, in)
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for {
						m, err := resp.Body.Read(buf)
						n += m
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					resp.Body.Close()
					cancelCause(nil)
					cancel()
					if resp.StatusCode != 200 || n == 0 {
						b.Fatalf("%d, %d bytes", resp.StatusCode, n)
					}
				}
			})
		}
	}
}
