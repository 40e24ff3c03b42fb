package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// slogLine is what slog's handler writes for the record.
func slogLine(t testing.TB, json bool, at time.Time, level slog.Level, msg string, attrs ...slog.Attr) string {
	var out bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	var h slog.Handler = slog.NewTextHandler(&out, opts)
	if json {
		h = slog.NewJSONHandler(&out, opts)
	}
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// ourLine is what Lines writes for the same record.
func ourLine(json bool, at time.Time, level slog.Level, msg string, attrs ...slog.Attr) string {
	var out bytes.Buffer
	w := NewWriter(&out)
	ls := &Lines{w: w, json: json, level: slog.LevelDebug}
	l := ls.BeginAt(at, level, msg)
	for _, a := range attrs {
		switch a.Value.Kind() {
		case slog.KindString:
			l.Str(a.Key, a.Value.String())
		case slog.KindInt64:
			l.Int(a.Key, a.Value.Int64())
		case slog.KindBool:
			l.Bool(a.Key, a.Value.Bool())
		case slog.KindDuration:
			l.Dur(a.Key, a.Value.Duration())
		default:
			panic(a.Value.Kind().String())
		}
	}
	l.End()
	_ = w.Close()
	return out.String()
}

var lineCases = []struct {
	name  string
	level slog.Level
	msg   string
	attrs []slog.Attr
}{
	{"request", slog.LevelInfo, "request", []slog.Attr{
		slog.String("request_id", "req_019ad0c5e9a14c7a2d3e4f5a6b7c8d9e"), slog.String("method", "POST"),
		slog.String("path", "/v1/chat/completions"), slog.Int("status", 200), slog.Duration("duration", 1234567*time.Nanosecond),
		slog.String("model", "claude-opus-4-8"), slog.String("group", "claude-*"), slog.String("deployment", "b8d80dbda959"),
		slog.Bool("stream", true), slog.Int("retries", 0), slog.Duration("ttfb", 870*time.Microsecond),
		slog.Int("input_tokens", 21034), slog.Int("output_tokens", 512)}},
	{"error with quoting", slog.LevelWarn, "request", []slog.Attr{
		slog.String("error_kind", "upstream"), slog.String("error", `deployment a/b at http://x:1 said "no" = 5`),
		slog.String("detail", "line1\nline2\ttab\x00nul\x7f del \u2028 sep \xff bad"), slog.String("empty", ""),
		slog.String("unicode", "héllo wörld"), slog.String("nbsp", "a\u00a0b"), slog.String("backslash", `a\b`),
		slog.String("html", "<a href='x'>&amp;</a>")}},
	{"odd keys", slog.LevelError, "a message with spaces", []slog.Attr{slog.String("key with space", "v"), slog.String("k=v", "x"), slog.Int("", -3)}},
	{"debug", slog.LevelDebug, "msg", []slog.Attr{slog.Duration("d", 0), slog.Duration("neg", -time.Second), slog.Bool("f", false)}},
}

func TestLinesMatchSlog(t *testing.T) {
	at := time.Date(2026, 12, 1, 21, 46, 4, 123456789, time.UTC)
	for _, zone := range []*time.Location{time.UTC, time.FixedZone("x", -5*3600-30*60)} {
		for _, tc := range lineCases {
			for _, json := range []bool{false, true} {
				want := slogLine(t, json, at.In(zone), tc.level, tc.msg, tc.attrs...)
				got := ourLine(json, at.In(zone), tc.level, tc.msg, tc.attrs...)
				if got != want {
					t.Errorf("%s (json %v, %s):\n got %q\nwant %q", tc.name, json, zone, got, want)
				}
			}
		}
	}
}

// One Lines writes a sequence of times (the same second, the next one, back
// again, another zone, a year RFC 3339 cannot hold) as slog does: its
// cached second is never used for another second or location.
func TestLinesTimeStamp(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	ls := &Lines{w: w, level: slog.LevelInfo}
	base := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	east := time.FixedZone("east", 5*3600+45*60)
	times := []time.Time{
		base, base.Add(1 * time.Millisecond), base.Add(999_999_999), base.Add(time.Second), // into 2027
		base.Add(time.Second + 7*time.Millisecond), base.Add(123 * time.Millisecond), // back a second
		base.In(east), base.Add(500 * time.Millisecond).In(east), base.Add(500 * time.Millisecond),
		base.Add(500 * time.Millisecond).In(time.FixedZone("same offset, other zone", 0)),
		time.Date(10000, 1, 1, 0, 0, 0, 5e6, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 5e6, time.UTC),
		base.Add(-time.Nanosecond), time.Unix(-1, 999e6).UTC(), time.Unix(0, 0).UTC(),
	}
	for _, at := range times {
		out.Reset()
		ls.BeginAt(at, slog.LevelInfo, "m").End()
		_ = w.Flush()
		if got, want := out.String(), slogLine(t, false, at, slog.LevelInfo, "m"); got != want {
			t.Errorf("%v:\n got %q\nwant %q", at, got, want)
		}
	}
}

func FuzzLinesMatchSlog(f *testing.F) {
	for _, tc := range lineCases {
		for _, a := range tc.attrs {
			f.Add(tc.msg, a.Key, a.Value.String(), int64(len(a.Key)), int64(7*time.Millisecond))
		}
	}
	at := time.Date(2026, 12, 1, 21, 46, 4, 999999999, time.UTC)
	f.Fuzz(func(t *testing.T, msg, k, v string, n, d int64) {
		attrs := []slog.Attr{slog.String(k, v), slog.Int64(k, n), slog.Duration(v, time.Duration(d)), slog.Bool(k, n%2 == 0)}
		for _, json := range []bool{false, true} {
			if got, want := ourLine(json, at, slog.LevelInfo, msg, attrs...), slogLine(t, json, at, slog.LevelInfo, msg, attrs...); got != want {
				t.Fatalf("json %v:\n got %q\nwant %q", json, got, want)
			}
		}
	})
}

// FuzzLinesTime writes two lines through one Lines, at two times in two
// zones: each must be slog's bytes, whatever second the cache holds.
func FuzzLinesTime(f *testing.F) {
	f.Add(int64(1796169599), int64(999_000_000), int64(0), int64(1796169600), int64(5_000_000), int64(0))
	f.Add(int64(1796169599), int64(1), int64(20700), int64(1796169599), int64(2), int64(0))
	f.Add(int64(-62167219200), int64(0), int64(-3600), int64(253402300800), int64(0), int64(60))
	f.Fuzz(func(t *testing.T, s1, ns1, off1, s2, ns2, off2 int64) {
		zones := map[int]*time.Location{} // one Location per offset, as a process has
		zone := func(off int64) *time.Location {
			o := int(off % (18 * 3600))
			if zones[o] == nil {
				zones[o] = time.FixedZone("z", o)
			}
			return zones[o]
		}
		t1 := time.Unix(s1%(1<<40), ns1%1e9).In(zone(off1))
		t2 := time.Unix(s2%(1<<40), ns2%1e9).In(zone(off2))
		var out bytes.Buffer
		w := NewWriter(&out)
		ls := &Lines{w: w, level: slog.LevelInfo}
		for _, at := range []time.Time{t1, t2, t1} {
			out.Reset()
			ls.BeginAt(at, slog.LevelInfo, "m").End()
			_ = w.Flush()
			if got, want := out.String(), slogLine(t, false, at, slog.LevelInfo, "m"); got != want {
				t.Fatalf("%v:\n got %q\nwant %q", at, got, want)
			}
		}
	})
}

func TestLinesFor(t *testing.T) {
	var out lockedBuffer
	log, w := New(&out, false, false)
	ls := LinesFor(log)
	if ls == nil {
		t.Fatal("no Lines for a logger New made")
	}
	if ls.Begin(slog.LevelDebug, "hidden") != nil {
		t.Fatal("a debug line at info level")
	}
	ls.Begin(slog.LevelInfo, "buffered").Int("n", 1).End()
	if strings.Contains(out.String(), "buffered") {
		t.Fatal("an info line was written at once")
	}
	ls.Begin(slog.LevelWarn, "now").End()
	if s := out.String(); !strings.Contains(s, "msg=buffered n=1") || !strings.Contains(s, "msg=now") {
		t.Fatalf("a warning must write itself and what was buffered; got %q", s)
	}
	_ = w.Close()
	if LinesFor(log.With("k", "v")) != nil || LinesFor(slog.New(slog.NewTextHandler(&out, nil))) != nil {
		t.Fatal("Lines for a logger whose lines it cannot write alike")
	}
}

func BenchmarkRequestLine(b *testing.B) {
	tc := lineCases[0]
	var sink bytes.Buffer
	w := NewWriter(&sink)
	b.Run("slog", func(b *testing.B) {
		log := slog.New(flushHandler{slog.NewTextHandler(w, nil), w, nil})
		b.ReportAllocs()
		for b.Loop() {
			log.LogAttrs(context.Background(), slog.LevelInfo, tc.msg, tc.attrs...)
			if sink.Len() > 1<<20 {
				sink.Reset()
			}
		}
	})
	b.Run("lines", func(b *testing.B) {
		ls := &Lines{w: w, level: slog.LevelInfo}
		b.ReportAllocs()
		for b.Loop() {
			l := ls.Begin(slog.LevelInfo, tc.msg)
			for _, a := range tc.attrs {
				switch a.Value.Kind() {
				case slog.KindString:
					l.Str(a.Key, a.Value.String())
				case slog.KindInt64:
					l.Int(a.Key, a.Value.Int64())
				case slog.KindBool:
					l.Bool(a.Key, a.Value.Bool())
				case slog.KindDuration:
					l.Dur(a.Key, a.Value.Duration())
				}
			}
			l.End()
			if sink.Len() > 1<<20 {
				sink.Reset()
			}
		}
	})
}

// plainText8 agrees with the byte-wise rule (quoteASCII, non-ASCII to the
// rune-wise check) for every byte value at every position.
func TestPlainText8(t *testing.T) {
	plain := func(c byte) bool { return c < utf8.RuneSelf && !quoteASCII[c] }
	base := []byte("abcdefgh")
	for pos := range 8 {
		for c := range 256 {
			w := append([]byte(nil), base...)
			w[pos] = byte(c)
			if got, want := plainText8(string(w)), plain(byte(c)); got != want {
				t.Fatalf("plainText8(%q) = %v, want %v", w, got, want)
			}
		}
	}
	for _, w := range []string{"\x00\x00bcdefg", "a\x20=defgh", "abcdef\x7e\x80", "!#<>~\x7fab"} {
		want := true
		for i := range 8 {
			want = want && plain(w[i])
		}
		if got := plainText8(w); got != want {
			t.Errorf("plainText8(%q) = %v, want %v", w, got, want)
		}
	}
}
