package httpd

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// Recorder runs a handler on a request without a socket and keeps the
// response as the connection would have carried it (for tests and
// benchmarks of handlers). The zero value is ready; reuse it across calls.
type Recorder struct {
	// Remote is the client address handlers see.
	Remote netip.AddrPort
	req    fasthttp.Request
	r      Request
	w      Response
	out    bytes.Buffer
	bw     *bufio.Writer
}

// Do serves one request (header pairs as name, value, name, value...)
// through h and returns the response's bytes, valid until the next Do.
func (rec *Recorder) Do(ctx context.Context, h Handler, method, target string, body []byte, header ...string) []byte {
	if rec.bw == nil {
		rec.bw = bufio.NewWriterSize(&rec.out, 8<<10)
	}
	rec.out.Reset()
	req := &rec.req
	req.Reset()
	req.Header.SetMethod(method)
	req.Header.SetRequestURI(target)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	if body != nil {
		req.SetBodyRaw(body)
	}
	rec.r.set(req, rec.Remote, ctx)
	rec.w.bw = rec.bw
	rec.w.reset(method == "HEAD", false)
	h.ServeHTTPD(&rec.w, &rec.r)
	rec.w.finish()
	return rec.out.Bytes()
}

// Parse reads a response Do returned (the body dechunked).
func Parse(raw []byte, resp *fasthttp.Response) error {
	return resp.Read(bufio.NewReader(bytes.NewReader(raw)))
}
