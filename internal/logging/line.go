package logging

import (
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchyard/switchyard/internal/word"
)

// Lines builds log lines by appending, in the format of the handler New
// made (the bytes slog's text or JSON handler would write for the same
// record), for the line a busy gateway writes per request: slog's generic
// Record and handler state cost about 1µs per line plus 100ns per
// attribute, this about a tenth. TestLinesMatchSlog and FuzzLinesMatchSlog
// hold the output byte-equal to slog's.
type Lines struct {
	w     *Writer
	json  bool
	level slog.Leveler
	// stamp is the text format's time for the second of the last line.
	stamp atomic.Pointer[stamp]
}

// stamp is a text line's time in one second, in one location: what comes
// before the milliseconds and what comes after them (the zone).
type stamp struct {
	sec  int64
	loc  *time.Location
	head []byte // "2006-01-02T15:04:05."
	zone []byte // "Z", "+01:00"
}

// LinesFor returns the Lines that write where l writes, in its format, or
// nil when l is not a logger New made (a test's handler, a logger with
// attributes): the caller then logs through slog.
func LinesFor(l *slog.Logger) *Lines {
	h, ok := l.Handler().(flushHandler)
	if !ok || h.lines == nil {
		return nil
	}
	return h.lines
}

// Enabled reports whether lines at level are written.
func (ls *Lines) Enabled(level slog.Level) bool { return level >= ls.level.Level() }

// Line is one log line being built; End writes it.
type Line struct {
	ls  *Lines
	b   []byte
	lvl slog.Level
}

var linePool = sync.Pool{New: func() any { return &Line{b: make([]byte, 0, 512)} }}

// Begin starts a line at level with message msg, timed now; nil when the
// level is disabled (every method of a nil Line does nothing).
func (ls *Lines) Begin(level slog.Level, msg string) *Line {
	return ls.BeginAt(time.Now(), level, msg)
}

// BeginAt is Begin with the line's time.
func (ls *Lines) BeginAt(t time.Time, level slog.Level, msg string) *Line {
	if !ls.Enabled(level) {
		return nil
	}
	l := linePool.Get().(*Line)
	l.ls, l.lvl = ls, level
	b := l.b[:0]
	if ls.json {
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, level.String()...)
		b = append(b, `","msg":`...)
		b = appendJSONString(b, msg)
	} else {
		b = append(b, "time="...)
		b = ls.appendTime(b, t)
		b = append(b, " level="...)
		b = append(b, level.String()...)
		b = append(b, " msg="...)
		b = appendText(b, msg)
	}
	l.b = b
	return l
}

func (l *Line) key(k string) {
	if l.ls.json {
		l.b = append(l.b, ',')
		l.b = appendJSONString(l.b, k)
		l.b = append(l.b, ':')
		return
	}
	l.b = append(l.b, ' ')
	l.b = appendText(l.b, k)
	l.b = append(l.b, '=')
}

// Str adds a string attribute.
func (l *Line) Str(k, v string) *Line {
	if l == nil {
		return nil
	}
	l.key(k)
	if l.ls.json {
		l.b = appendJSONString(l.b, v)
	} else {
		l.b = appendText(l.b, v)
	}
	return l
}

// Int adds an integer attribute.
func (l *Line) Int(k string, v int64) *Line {
	if l == nil {
		return nil
	}
	l.key(k)
	l.b = strconv.AppendInt(l.b, v, 10)
	return l
}

// Bool adds a boolean attribute.
func (l *Line) Bool(k string, v bool) *Line {
	if l == nil {
		return nil
	}
	l.key(k)
	l.b = strconv.AppendBool(l.b, v)
	return l
}

// Dur adds a duration attribute: its String in text, nanoseconds in JSON,
// as slog writes it.
func (l *Line) Dur(k string, d time.Duration) *Line {
	if l == nil {
		return nil
	}
	l.key(k)
	if l.ls.json {
		l.b = strconv.AppendInt(l.b, int64(d), 10)
	} else {
		l.b = appendText(l.b, d.String())
	}
	return l
}

// End writes the line (warnings and errors at once, with what was buffered
// before them) and releases it.
func (l *Line) End() {
	if l == nil {
		return
	}
	if l.ls.json {
		l.b = append(l.b, '}')
	}
	l.b = append(l.b, '\n')
	_, _ = l.ls.w.Write(l.b)
	if l.lvl >= slog.LevelWarn {
		_ = l.ls.w.Flush()
	}
	if cap(l.b) <= 16<<10 {
		l.ls = nil
		linePool.Put(l)
	}
}

// appendTime is appendMillis with the part of the time before the
// milliseconds and the zone after them formatted once per second.
func (ls *Lines) appendTime(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	st := ls.stamp.Load()
	if st == nil || st.sec != sec || st.loc != loc {
		full := appendMillis(nil, t)
		const head = len("2006-01-02T15:04:05.")
		if len(full) <= head+3 || full[head-1] != '.' {
			return append(b, full...) // not RFC 3339's shape (a year past 9999)
		}
		st = &stamp{sec: sec, loc: loc, head: full[:head:head], zone: full[head+3:]}
		ls.stamp.Store(st)
	}
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, st.head...)
	b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, st.zone...)
}

// appendMillis appends t as slog's text handler does: RFC 3339 with
// exactly three fractional digits. RFC3339Nano has time's fast path but
// trims trailing zeros: t cut to the millisecond plus 100µs always prints
// four digits, and the fourth is dropped.
func appendMillis(b []byte, t time.Time) []byte {
	const upToMillis = len("2006-01-02T15:04:05.000")
	n := len(b)
	b = t.Truncate(time.Millisecond).Add(100*time.Microsecond).AppendFormat(b, time.RFC3339Nano)
	if len(b) < n+upToMillis+1 {
		return b // a year past 9999: not RFC 3339 anyway
	}
	return append(b[:n+upToMillis], b[n+upToMillis+1:]...)
}

// appendText appends s as slog's text handler writes a string: as it is,
// or Go-quoted when it is empty or holds a space, '=', '"', a control
// character, invalid UTF-8, or a non-printing or space rune.
func appendText(b []byte, s string) []byte {
	if textNeedsQuote(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// quoteASCII marks the ASCII bytes that make the text handler quote.
var quoteASCII = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c <= ' ' || c == '=' || c == '"'
	}
	return t
}()

func textNeedsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plainText8(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if quoteASCII[c] {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += n
	}
	return false
}

const hexDigits = "0123456789abcdef"

// plainText8 reports whether none of the 8 bytes of s (len 8) makes the
// text handler quote: each is ASCII above ' ' other than '=' and '"'. One
// word at a time, as keys, ids and names are.
func plainText8(s string) bool {
	w := word.Load(s)
	return (word.Less(w, 0x21)|word.Eq(w, '=')|word.Eq(w, '"')|w)&word.High == 0
}

// appendJSONString appends s as a JSON string the way slog's JSON handler
// escapes it: '"', '\\' and control characters escaped (\n, \r, \t by
// name), invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped, HTML
// characters left alone.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
		default:
			i += n
			continue
		}
		i += n
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// handlerLevel is what a Lines needs from the handler's options.
func handlerLevel(opts *slog.HandlerOptions) slog.Leveler {
	if opts.Level == nil {
		return slog.LevelInfo
	}
	return opts.Level
}
