package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type ev struct{ name, data string }

func readAll(t testing.TB, r io.Reader) ([]ev, error) {
	t.Helper()
	rd := NewReader(r)
	var out []ev
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev{string(e.Name), string(e.Data)})
	}
}

var cases = []struct {
	name string
	in   string
	want []ev
	err  error
}{
	{"lf", "data: a\n\ndata: b\n\n", []ev{{"", "a"}, {"", "b"}}, nil},
	{"crlf", "event: x\r\ndata: a\r\n\r\n", []ev{{"x", "a"}}, nil},
	{"cr", "event: x\rdata: a\r\r", []ev{{"x", "a"}}, nil},
	{"multi data", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}, nil},
	{"comment", ": ping\n\ndata: a\n\n", []ev{{"", "a"}}, nil},
	{"no space", "data:a\n\n", []ev{{"", "a"}}, nil},
	{"two spaces keep one", "data:  a\n\n", []ev{{"", " a"}}, nil},
	{"no final blank", "data: a\n\ndata: b", []ev{{"", "a"}, {"", "b"}}, nil},
	{"leading blanks", "\n\n\ndata: a\n\n", []ev{{"", "a"}}, nil},
	{"empty data", "data:\n\n", []ev{{"", ""}}, nil},
	{"event only", "event: ping\n\n", []ev{{"ping", ""}}, nil},
	{"done", "data: {\"x\":1}\n\ndata: [DONE]\n\n", []ev{{"", `{"x":1}`}, {"", "[DONE]"}}, nil},
	{"unknown field", "retry: 10\nfoo\ndata: a\n\n", []ev{{"", "a"}}, nil},
	{"truncated named", "event: message_stop\n", nil, io.ErrUnexpectedEOF},
	{"anthropic", "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
		[]ev{{"message_start", `{"type":"message_start"}`}, {"ping", `{"type": "ping"}`}}, nil},
}

func TestReader(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "onebyte"} {
				var r io.Reader = strings.NewReader(c.in)
				if mode == "onebyte" {
					r = iotest.OneByteReader(r)
				}
				got, err := readAll(t, r)
				if !errors.Is(err, c.err) {
					t.Fatalf("%s: err = %v, want %v", mode, err, c.err)
				}
				if len(got) != len(c.want) {
					t.Fatalf("%s: got %q, want %q", mode, got, c.want)
				}
				for i := range got {
					if got[i] != c.want[i] {
						t.Fatalf("%s: event %d = %q, want %q", mode, i, got[i], c.want[i])
					}
				}
			}
		})
	}
}

func TestLongLine(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	got, err := readAll(t, strings.NewReader("data: "+big+"\n\n"))
	if err != nil || len(got) != 1 || got[0].data != big {
		t.Fatalf("long line: err %v, %d events", err, len(got))
	}
	_, err = readAll(t, strings.NewReader("data: "+strings.Repeat("x", MaxLine+10)+"\n\n"))
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("too long: err = %v", err)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteEvent(&buf, "message_start", []byte("a\nb")); err != nil {
		t.Fatal(err)
	}
	if err := WriteEvent(&buf, "", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	want := "event: message_start\ndata: a\ndata: b\n\ndata: {\"x\":1}\n\n"
	if buf.String() != want {
		t.Fatalf("wrote %q, want %q", buf.String(), want)
	}
	got, err := readAll(t, &buf)
	if err != nil || len(got) != 2 || got[0] != (ev{"message_start", "a\nb"}) {
		t.Fatalf("round trip: %v %q", err, got)
	}
}

func FuzzReader(f *testing.F) {
	for _, c := range cases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		evs, err := readAll(t, strings.NewReader(in))
		if err != nil {
			return
		}
		// Re-encoding what was read and reading it again gives the same events.
		var buf bytes.Buffer
		for _, e := range evs {
			if strings.ContainsAny(e.name, "\r\n") {
				return
			}
			AppendEvent(&buf, e.name, []byte(e.data))
		}
		again, err := readAll(t, &buf)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(again) != len(evs) {
			t.Fatalf("re-read %d events, first read %d", len(again), len(evs))
		}
		for i := range evs {
			if evs[i].name != again[i].name || strings.ReplaceAll(evs[i].data, "\r", "") != strings.ReplaceAll(again[i].data, "\r", "") {
				t.Fatalf("event %d: %q then %q", i, evs[i], again[i])
			}
		}
	})
}
