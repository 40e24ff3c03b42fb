// Package logging builds Switchyard's logger. Its output is buffered: the
// request path formats a line and appends it to memory, and the lines go out
// in one write at most FlushInterval later (or when the buffer fills), so a
// busy gateway does not pay a write() system call per request. Warnings and
// errors are written out at once, with everything buffered before them.
package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// FlushInterval bounds how long a buffered line waits before it is written.
const FlushInterval = 50 * time.Millisecond

// maxBuffered is the buffer size at which lines are written at once.
const maxBuffered = 64 << 10

// Writer buffers what is written to it and writes it to the underlying
// writer within FlushInterval. It is safe for concurrent use.
//
// The write to the underlying writer happens outside the lock that Write
// takes to append: a full buffer is swapped for an empty one and written
// while other goroutines go on appending. A slow log destination (a file
// on a busy disk, a pipe) then delays only the goroutine that flushes, not
// every request finishing meanwhile. Flushes go out in buffer order: the
// flusher takes out before it lets go of mu.
type Writer struct {
	mu      sync.Mutex // guards buf, pending, closed; taken before out
	buf     []byte
	pending bool
	closed  bool
	timer   *time.Timer

	out   sync.Mutex // serializes writes to w
	w     io.Writer
	spare []byte // an empty buffer for the next swap; guarded by out
}

// NewWriter buffers writes to w.
func NewWriter(w io.Writer) *Writer {
	bw := &Writer{w: w, buf: make([]byte, 0, 4<<10)}
	bw.timer = time.AfterFunc(time.Hour, func() { _ = bw.Flush() })
	bw.timer.Stop()
	return bw
}

// Write appends p to the buffer; it never fails (a failed write of the
// buffer is reported by Flush).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.out.Lock()
		w.mu.Unlock()
		defer w.out.Unlock()
		return w.w.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= maxBuffered {
		_ = w.flushUnlock()
		return len(p), nil
	}
	if !w.pending {
		w.pending = true
		w.timer.Reset(FlushInterval)
	}
	w.mu.Unlock()
	return len(p), nil
}

// Flush writes out what is buffered, after any write already under way.
func (w *Writer) Flush() error {
	w.mu.Lock()
	return w.flushUnlock()
}

// flushUnlock is called with mu held and releases it: it swaps the buffer
// for the spare and writes the full one once mu is released.
func (w *Writer) flushUnlock() error {
	w.pending = false
	w.out.Lock()
	full := w.buf
	if len(full) == 0 {
		w.mu.Unlock()
		w.out.Unlock()
		return nil
	}
	w.buf, w.spare = w.spare[:0], nil
	if w.buf == nil {
		w.buf = make([]byte, 0, 4<<10)
	}
	w.mu.Unlock()
	_, err := w.w.Write(full)
	if cap(full) <= 4*maxBuffered {
		w.spare = full[:0]
	}
	w.out.Unlock()
	return err
}

// Close flushes and makes later writes go straight through.
func (w *Writer) Close() error {
	w.mu.Lock()
	w.timer.Stop()
	w.closed = true
	return w.flushUnlock()
}

// New returns a logger writing text (or JSON) lines to w through a Writer,
// at info (or debug), and the Writer, which the caller closes on exit.
func New(w io.Writer, json, debug bool) (*slog.Logger, *Writer) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if debug {
		opts.Level = slog.LevelDebug
	}
	bw := NewWriter(w)
	var h slog.Handler
	if json {
		h = slog.NewJSONHandler(bw, opts)
	} else {
		h = slog.NewTextHandler(bw, opts)
	}
	return slog.New(flushHandler{h, bw, &Lines{w: bw, json: json, level: handlerLevel(opts)}}), bw
}

// flushHandler writes warnings and errors out at once.
type flushHandler struct {
	slog.Handler
	w *Writer
	// lines writes in the same format, when the handler has no attributes
	// or groups of its own.
	lines *Lines
}

func (h flushHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushHandler{h.Handler.WithAttrs(as), h.w, nil}
}

func (h flushHandler) WithGroup(name string) slog.Handler {
	return flushHandler{h.Handler.WithGroup(name), h.w, nil}
}
