package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/router"
)

// The pass-through stream relay. It reads the upstream body in chunks, as
// they arrive, and looks at each complete event where it lies in the read
// buffer: usage and output text are read from its data, the end marker is
// noted, and the events a client gets are written back as runs of the
// buffer's bytes (one Write for every event of a read, unless one is held
// back), then flushed once per read. A partial event waits in the buffer
// for the rest of its bytes.

var (
	dataPrefix  = []byte("data:")
	eventPrefix = []byte("event:")
	doneData    = []byte("[DONE]")
	usageKey    = []byte(`"usage"`)
)

// maxEventBytes bounds one relayed event.
const maxEventBytes = 16 << 20

// relayBuf is a relay's read buffer: 4 KB, grown for a longer event.
type relayBuf struct{ b []byte }

var relayBufs = sync.Pool{New: func() any { return &relayBuf{b: make([]byte, 4<<10)} }}

// relayState is one relay's state between reads.
type relayState struct {
	c              *call
	d              *router.Deployment
	tracker        llm.UsageTracker
	dropUsageChunk bool
	committed      bool
	done           bool
	// wrote is set when the current read's events wrote bytes.
	wrote bool
	// late flushes the end marker should the upstream body stay open; it
	// is used once per stream (lateUsed).
	late     *lateFlush
	lateUsed bool
	// joined holds an event's data when it spans several data lines.
	joined []byte
}

// relay copies an SSE stream event by event, flushing once per read, and
// tells the tracker each event's data. Until the first event is out nothing
// is written, so a failure there can still be retried. A stream that ends
// without its dialect's end marker becomes an in-band error for the client.
func (c *call) relay(ctx context.Context, d *router.Deployment, body io.Reader, tracker llm.UsageTracker, dropUsageChunk bool) (bool, error) {
	rb := relayBufs.Get().(*relayBuf)
	defer func() {
		if cap(rb.b) <= 64<<10 {
			relayBufs.Put(rb)
		}
	}()
	r := relayState{c: c, d: d, tracker: tracker, dropUsageChunk: dropUsageChunk}
	defer r.stopLate()
	buf := rb.b[:cap(rb.b)]
	n := 0 // buf[:n] holds what was read and not relayed yet
	for {
		m, err := body.Read(buf[n:])
		n += m
		// An event ends at a line's end: bytes without one complete none
		// (a long line read in pieces is not scanned again each time).
		if m > 0 && bytes.IndexByte(buf[n-m:n], '\n') >= 0 {
			used, werr := r.events(buf[:n])
			if werr != nil {
				return true, werr
			}
			n = copy(buf, buf[used:n])
			if r.wrote {
				// Every event read so far is written: the next read may
				// block, so what was written goes out now (the end marker
				// waits a little for the body's end, to leave with it).
				if r.done && r.late == nil && !r.lateUsed {
					r.late, r.lateUsed = flushLater(c.w), true
				} else {
					c.flush()
				}
			}
		}
		if err == nil && n == len(buf) {
			// One event fills the buffer: make room for the rest.
			if len(buf) >= maxEventBytes {
				err = errors.New("upstream sent an event longer than 16 MiB")
			} else {
				nb := make([]byte, 2*len(buf))
				copy(nb, buf[:n])
				buf, rb.b = nb, nb
			}
		}
		if err == nil {
			continue
		}
		r.stopLate()
		c.setUsage(tracker.Usage())
		if err == io.EOF && r.done {
			if r.committed && len(bytes.TrimSpace(buf[:n])) > 0 {
				_, _ = c.w.Write(buf[:n])
			}
			// The server flushes it with the response's end.
			return r.committed, nil
		}
		var e *llm.Error
		if err == io.EOF {
			e = &llm.Error{Kind: llm.KindUpstream, Message: fmt.Sprintf("deployment %s ended its stream early", d.Upstream.Name)}
		} else {
			e = d.Upstream.Classify(ctx, err)
		}
		if !r.committed {
			return false, e
		}
		c.failInBand(e)
		return true, e
	}
}

// events relays the complete events at the start of b, returning the bytes
// they took; the rest of b is a partial event.
func (r *relayState) events(b []byte) (int, error) {
	r.wrote = false
	pos := 0 // the start of the current event
	run := 0 // the start of the bytes to write: b[run:pos] are kept events
	var data, name []byte
	joined := false
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		next := i + j + 1
		t := b[i : i+j]
		if len(t) > 0 && t[len(t)-1] == '\r' {
			t = t[:len(t)-1]
		}
		switch {
		case len(t) == 0:
			// A blank line dispatches the event b[pos:next].
			if !r.keep(data, name, i > pos) {
				if err := r.write(b[run:pos]); err != nil {
					return pos, err
				}
				run = next
			}
			pos = next
			data, name, joined = nil, nil, false
		case bytes.HasPrefix(t, dataPrefix):
			v := t[len(dataPrefix):]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			switch {
			case data == nil:
				data = v
			case !joined:
				r.joined = append(append(append(r.joined[:0], data...), '\n'), v...)
				data, joined = r.joined, true
			default:
				r.joined = append(append(r.joined, '\n'), v...)
				data = r.joined
			}
		case bytes.HasPrefix(t, eventPrefix):
			name = bytes.TrimSpace(t[len(eventPrefix):])
		}
		i = next
	}
	return pos, r.write(b[run:pos])
}

// keep looks at one event (data, its name, and whether it had any line
// besides the blank one that ended it) and reports whether the client gets
// it. It commits the response before the first event a client gets and
// makes the call's record before its end marker.
func (r *relayState) keep(data, name []byte, lines bool) bool {
	c := r.c
	// Only events that name "usage" carry it (OpenAI's last chunks,
	// Anthropic's message_start and message_delta).
	hasUsage := len(data) > 0 && bytes.Contains(data, usageKey)
	if len(data) > 0 {
		if hasUsage {
			r.tracker.ObserveEvent(data)
		}
		c.info.noteOutputEvent(data)
	}
	keep := lines && !(r.dropUsageChunk && hasUsage && isUsageOnlyChunk(data))
	if keep && !r.committed {
		c.firstByte()
		c.try.FirstByte()
		c.info.ttfb = time.Since(c.start)
		c.commit(r.d, "text/event-stream", http.StatusOK)
		r.committed = true
	}
	if bytes.Equal(data, doneData) || string(name) == "message_stop" {
		r.done = true
		if r.committed {
			c.setUsage(r.tracker.Usage())
			c.recordNow()
		}
	}
	return keep
}

// write sends kept events' bytes to the client (not flushed).
func (r *relayState) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	r.stopLate() // bytes after the end marker: flushed as usual
	r.wrote = true
	if _, err := r.c.w.Write(b); err != nil {
		return &llm.Error{Kind: llm.KindClientGone, Message: "client went away", Err: err}
	}
	return nil
}

// stopLate cancels a pending late flush; the relay may then write.
func (r *relayState) stopLate() {
	r.late.cancel()
	r.late = nil // it may be back in its pool
}

// lateFlushWait is how long a relayed stream's end marker waits for the
// upstream body to end before it is flushed on its own.
const lateFlushWait = 5 * time.Millisecond

// lateFlush flushes a response after lateFlushWait unless canceled first.
// Until then the relay does not touch the response. They are pooled with
// their timers: one whose timer was stopped before it fired is reused.
type lateFlush struct {
	mu  sync.Mutex
	off bool
	w   *httpd.Response
	t   *time.Timer
}

var lateFlushes sync.Pool

func flushLater(w *httpd.Response) *lateFlush {
	l, _ := lateFlushes.Get().(*lateFlush)
	if l == nil {
		l = &lateFlush{}
		l.t = time.AfterFunc(time.Hour, l.fire)
		l.t.Stop()
	}
	l.mu.Lock()
	l.w, l.off = w, false
	l.mu.Unlock()
	l.t.Reset(lateFlushWait)
	return l
}

func (l *lateFlush) fire() {
	l.mu.Lock()
	if !l.off {
		_ = l.w.Flush()
		l.off = true
	}
	l.mu.Unlock()
}

// cancel stops l (nil: nothing to stop); once it returns, l never flushes
// and the caller must drop it (it may go back to the pool).
func (l *lateFlush) cancel() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.off, l.w = true, nil
	l.mu.Unlock()
	if l.t.Stop() {
		lateFlushes.Put(l) // its timer never fired: no stray fire to come
	}
}

// isUsageOnlyChunk reports an OpenAI chunk with usage and no choices (the
// caller saw "usage" in it).
func isUsageOnlyChunk(data []byte) bool {
	ch := gjson.GetBytes(data, "choices")
	return ch.IsArray() && len(ch.Array()) == 0
}
