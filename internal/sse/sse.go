// Package sse is the one reader and writer of server-sent events in
// Switchyard. The reader follows the WHATWG event-stream rules: lines end in
// CRLF, LF or CR; lines starting with ':' are comments; "data" lines of one
// event are joined with '\n'; a blank line dispatches the event. Lines are
// bounded by MaxLine so a hostile upstream cannot grow memory without limit.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest line the reader accepts (a tool call's arguments can
// arrive as one large data line).
const MaxLine = 8 << 20

// ErrLineTooLong is returned for a line longer than MaxLine.
var ErrLineTooLong = errors.New("sse: line too long")

// Event is one dispatched event. Data and Name are only valid until the next
// call to Next.
type Event struct {
	Name []byte
	Data []byte
	ID   []byte
}

// Reader reads events from an event stream.
type Reader struct {
	br      *bufio.Reader
	line    []byte
	data    []byte
	name    []byte
	id      []byte
	skipLF  bool
	hasData bool
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4<<10)} // longer lines are read on in pieces
}

// readLine returns the next line without its terminator. The returned slice is
// valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		b, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF && len(r.line) > 0 {
				return r.line, nil
			}
			return nil, err
		}
		if r.skipLF {
			r.skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return r.line, nil
		case '\r':
			r.skipLF = true
			return r.line, nil
		}
		r.line = append(r.line, b)
		// Fast path: copy the rest of a buffered run up to a line end at once.
		if buf, _ := r.br.Peek(r.br.Buffered()); len(buf) > 0 {
			i := bytes.IndexAny(buf, "\r\n")
			if i < 0 {
				i = len(buf)
			}
			r.line = append(r.line, buf[:i]...)
			_, _ = r.br.Discard(i)
		}
		if len(r.line) > MaxLine {
			return nil, ErrLineTooLong
		}
	}
}

// Next returns the next event. At the end of the stream it returns io.EOF; an
// event not terminated by a blank line before EOF is still dispatched (many
// servers omit the last blank line) only if it has data.
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	r.name = r.name[:0]
	r.hasData = false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && r.hasData {
				return Event{Name: r.name, Data: r.data, ID: r.id}, nil
			}
			if err == io.EOF && len(r.name) > 0 {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if !r.hasData && len(r.name) == 0 {
				continue
			}
			return Event{Name: r.name, Data: r.data, ID: r.id}, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if r.hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			r.hasData = true
			if len(r.data) > MaxLine {
				return Event{}, ErrLineTooLong
			}
		case "event":
			r.name = append(r.name[:0], value...)
		case "id":
			r.id = append(r.id[:0], value...)
		}
	}
}

// WriteEvent writes one event: an optional event line and the data, split at
// newlines into several data lines, then the blank line.
func WriteEvent(w io.Writer, name string, data []byte) error {
	var buf bytes.Buffer
	buf.Grow(len(name) + len(data) + 16)
	AppendEvent(&buf, name, data)
	_, err := w.Write(buf.Bytes())
	return err
}

// AppendEvent appends one encoded event to buf.
func AppendEvent(buf *bytes.Buffer, name string, data []byte) {
	if name != "" {
		buf.WriteString("event: ")
		buf.WriteString(name)
		buf.WriteByte('\n')
	}
	for {
		i := bytes.IndexByte(data, '\n')
		buf.WriteString("data: ")
		if i < 0 {
			buf.Write(data)
			buf.WriteByte('\n')
			break
		}
		buf.Write(bytes.TrimSuffix(data[:i], []byte{'\r'}))
		buf.WriteByte('\n')
		data = data[i+1:]
	}
	buf.WriteByte('\n')
}

// WriteComment writes a comment line, used as a keep-alive.
func WriteComment(w io.Writer, text string) error {
	_, err := fmt.Fprintf(w, ": %s\n\n", text)
	return err
}
