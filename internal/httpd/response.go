package httpd

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/switchyard/switchyard/internal/word"
)

// Header is a response header (fasthttp's: Set, Add, Del, Peek,
// SetContentType). Keys are written as given: pass them in canonical form
// ("X-Request-Id"). Set the length with Response.SetContentLength, not
// here.
type Header = fasthttp.ResponseHeader

// holdBack bounds the body a Response keeps before its head is sent: a
// reply smaller than this that the handler neither flushes nor sizes goes
// out with a Content-Length; a larger one is sent chunked.
const holdBack = 32 << 10

// Response writes one response. The status and headers go out with the
// first Flush, the first write past holdBack or after SetContentLength, or
// when the handler returns; until then they can change. Like net/http's
// ResponseWriter, it sends a body the handler did not size with a
// Content-Length when the body is complete before anything was flushed,
// else chunked; each Flush sends what was written at once (one write(2)).
// A write error sticks: once the client is gone every later Write and
// Flush returns it.
type Response struct {
	hdr Header
	// bw is what the response is written into. A connection's Response
	// takes one from the pool (for dst) when it first writes and gives it
	// back when the response ends, and after each Flush while lean is set
	// (a long request: an open stream holds no buffer between events).
	bw     *bufio.Writer
	dst    io.Writer
	lean   *atomic.Bool
	status int
	// declared is the length set with SetContentLength, -1 when none.
	declared int
	// head is set once the head is written (into bw; Flush sends it).
	head    bool
	chunked bool
	noBody  bool // a HEAD request or a status without a body
	isHEAD  bool
	http10  bool
	buf     []byte // the body held back before the head
	lines   []byte // header lines added with AddLine, "K: v\r\n" each
	written int64  // body bytes written after the head
	err     error
	// close asks for the connection to be closed after this response.
	close bool
	// ended is set by End; keep is then what finish reports.
	ended, keep bool
}

// Header returns the header to change before the head goes out.
func (w *Response) Header() *Header { return &w.hdr }

// Status is the status sent or to be sent (200 until WriteHeader).
func (w *Response) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Started reports whether the handler set a status or wrote body bytes.
func (w *Response) Started() bool { return w.status != 0 || w.head }

// Committed reports whether the head was written: from then on the status
// and headers cannot change.
func (w *Response) Committed() bool { return w.head }

// WriteHeader sets the status; only the first call counts, and none after
// the head went out.
func (w *Response) WriteHeader(status int) {
	if w.status == 0 && !w.head {
		w.status = status
	}
}

// AddLine adds a header line as it is: key (canonical form) and value go
// out unmerged, after the lines of Header (a CR or LF in the value becomes
// a space). It is the cheap way to add headers a handler knows to be
// unique; it does nothing once the head is out.
func (w *Response) AddLine(key, value string) {
	if w.head {
		return
	}
	w.lines = append(w.lines, key...)
	w.lines = append(w.lines, ": "...)
	n := len(w.lines)
	w.lines = append(w.lines, value...)
	if hasLineBreak(value) {
		for i := n; i < len(w.lines); i++ {
			if c := w.lines[i]; c == '\r' || c == '\n' {
				w.lines[i] = ' '
			}
		}
	}
	w.lines = append(w.lines, "\r\n"...)
}

// AddLineInt is AddLine of a decimal value.
func (w *Response) AddLineInt(key string, value int64) {
	if w.head {
		return
	}
	w.lines = append(w.lines, key...)
	w.lines = append(w.lines, ": "...)
	w.lines = strconv.AppendInt(w.lines, value, 10)
	w.lines = append(w.lines, "\r\n"...)
}

// AddLines adds header lines already formatted ("K: v\r\n" each).
func (w *Response) AddLines(lines []byte) {
	if !w.head {
		w.lines = append(w.lines, lines...)
	}
}

// SetContentLength declares the body's length: the head goes out with the
// first Write, and the body follows unbuffered.
func (w *Response) SetContentLength(n int) {
	if !w.head && n >= 0 {
		w.declared = n
	}
}

// SetClose makes the server close the connection after this response (and
// say so in its Connection header when the head is not out yet).
func (w *Response) SetClose() { w.close = true }

// Write writes body bytes.
func (w *Response) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.ended {
		return 0, ErrEnded
	}
	if w.head {
		return w.writeBody(p)
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.declared >= 0 {
		w.writeHead(w.declared)
		return w.writeBody(p)
	}
	if len(w.buf)+len(p) <= holdBack {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.writeHead(-1)
	return w.writeBody(p)
}

// WriteString is Write of a string.
func (w *Response) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Flush sends everything written so far, the head too.
func (w *Response) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.ended {
		return nil // End flushed everything
	}
	if !w.head {
		w.writeHead(w.declared)
	}
	if w.err == nil && w.bw != nil {
		if err := w.bw.Flush(); err != nil {
			w.err = err
		}
		if w.lean != nil && w.lean.Load() {
			w.release()
		}
	}
	return w.err
}

// writer returns the buffer to write into, taking one from the pool if
// the response holds none.
func (w *Response) writer() *bufio.Writer {
	if w.bw == nil {
		bw := writers.Get().(*bufio.Writer)
		bw.Reset(w.dst)
		w.bw = bw
	}
	return w.bw
}

// release gives a connection's buffer back to the pool (what it held is
// sent or failed).
func (w *Response) release() {
	if w.dst != nil && w.bw != nil {
		w.bw.Reset(nil)
		writers.Put(w.bw)
		w.bw = nil
	}
}

// writeHead writes the status line and headers into bw, then the held-back
// body; size is the body's length, or -1 when unknown (chunked; for
// HTTP/1.0, the body ends when the connection closes).
func (w *Response) writeHead(size int) {
	w.head = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.hdr.SetStatusCode(w.status)
	w.noBody = w.isHEAD || !bodyAllowed(w.status)
	switch {
	case !bodyAllowed(w.status):
		// No length and no transfer coding on 1xx, 204, 304.
	case size >= 0:
		w.hdr.SetContentLength(size)
	case w.isHEAD:
		// The length of a HEAD reply's body is unknown: say nothing.
	case w.http10:
		w.hdr.SetContentLength(-2)
		w.close = true
	default:
		w.hdr.SetContentLength(-1)
		w.chunked = true
	}
	if w.close {
		w.hdr.SetConnectionClose()
	}
	head := w.hdr.Header() // ends with the blank line
	if len(w.lines) > 0 && len(head) >= 2 {
		head = head[:len(head)-2]
	}
	bw := w.writer()
	if _, err := bw.Write(head); err != nil {
		w.err = err
		return
	}
	if len(w.lines) > 0 {
		bw.Write(w.lines)
		if _, err := bw.WriteString("\r\n"); err != nil {
			w.err = err
			return
		}
	}
	if len(w.buf) > 0 {
		b := w.buf
		w.buf = w.buf[:0]
		_, _ = w.writeBody(b)
	}
}

func (w *Response) writeBody(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody || len(p) == 0 {
		return len(p), nil
	}
	bw := w.writer()
	if w.chunked {
		var hb [18]byte
		h := strconv.AppendUint(hb[:0], uint64(len(p)), 16)
		h = append(h, '\r', '\n')
		if _, err := bw.Write(h); err != nil {
			w.err = err
			return 0, err
		}
	}
	if _, err := bw.Write(p); err != nil {
		w.err = err
		return 0, err
	}
	w.written += int64(len(p))
	if w.chunked {
		if _, err := bw.WriteString("\r\n"); err != nil {
			w.err = err
			return 0, err
		}
	}
	return len(p), nil
}

// End sends what is left of the response now (its head, the body held
// back, a chunked body's end), as the server does when the handler
// returns, so that what the handler does after it (writing its log line)
// no longer delays the client. Nothing may be written after End; a second
// End does nothing.
func (w *Response) End() {
	if !w.ended {
		w.keep = w.end()
		w.ended = true
	}
}

// finish ends the response after the handler returned, unless the handler
// did (End). It reports whether the connection can serve another request.
func (w *Response) finish() bool {
	w.End()
	return w.keep
}

// end sends the rest of the response and flushes it. It reports whether
// the connection can serve another request.
func (w *Response) end() bool {
	if !w.head && w.err == nil {
		size := len(w.buf)
		if w.declared >= 0 {
			size = w.declared
		}
		w.writeHead(size)
	}
	if w.err == nil && w.chunked {
		if _, err := w.writer().WriteString("0\r\n\r\n"); err != nil {
			w.err = err
		}
	}
	if w.err == nil && w.bw != nil {
		if err := w.bw.Flush(); err != nil {
			w.err = err
		}
	}
	w.release()
	if w.err != nil {
		return false
	}
	if !w.chunked && !w.noBody && w.hdr.ContentLength() >= 0 && int64(w.hdr.ContentLength()) != w.written {
		// A declared length the handler did not keep to: the client cannot
		// find where the next response starts.
		return false
	}
	return !w.close
}

// fail marks the response failed: the connection is closed without ending
// a chunked body, so the client sees the cut instead of a complete reply.
func (w *Response) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *Response) reset(isHEAD, http10 bool) {
	w.hdr.Reset()
	w.hdr.SetNoDefaultContentType(true)
	w.hdr.DisableNormalizing()
	w.status, w.declared = 0, -1
	w.head, w.chunked, w.noBody, w.close = false, false, false, false
	w.ended, w.keep = false, false
	w.isHEAD, w.http10 = isHEAD, http10
	if cap(w.buf) > 4*holdBack {
		w.buf = nil
	}
	w.buf = w.buf[:0]
	w.lines = w.lines[:0]
	w.written = 0
	w.err = nil
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// hasLineBreak reports whether s holds a CR or an LF, a word at a time:
// header values are short and never hold one.
func hasLineBreak(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := word.Load(s[i : i+8])
		if (word.Eq(w, '\r')|word.Eq(w, '\n'))&word.High != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return true
		}
	}
	return false
}
