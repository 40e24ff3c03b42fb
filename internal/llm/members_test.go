package llm

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// members is what Members calls fn with, and its verdict.
func members(b []byte) ([][2]string, bool) {
	var ms [][2]string
	ok := Members(b, func(k string, v []byte) bool {
		ms = append(ms, [2]string{k, string(v)})
		return true
	})
	return ms, ok
}

func TestMembers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // key=val;… of the members seen
		ok   bool
	}{
		{`{}`, ``, true},
		{" \n{ } trailing", ``, true},
		{`{"a":1,"b":"x,}","c":{"d":[1,{"e":"}"}]},"f":null}`, `a=1;b="x,}";c={"d":[1,{"e":"}"}]};f=null;`, true},
		{"{ \"a\" :\t-1.5e3 , \"b\":true }", `a=-1.5e3;b=true;`, true},
		{`{"k\u0065y":"v\"}"}`, `key="v\"}";`, true},
		{`{"a":1,"b":2} {"c":3}`, `a=1;b=2;`, true}, // what follows the object is not read
		{`[1]`, ``, false},
		{``, ``, false},
		{`{"a":1`, `a=1;`, false},
		{`{"a" 1}`, ``, false},
		{`{"a":}`, ``, false},
		{`{"a":"x";"b":2}`, `a="x";`, false},
		{`{a:1}`, ``, false},
		{`{"a":"unterminated}`, ``, false},
	} {
		ms, ok := members([]byte(tc.in))
		var got strings.Builder
		for _, m := range ms {
			got.WriteString(m[0] + "=" + m[1] + ";")
		}
		if got.String() != tc.want || ok != tc.ok {
			t.Errorf("Members(%q) = %q, %v; want %q, %v", tc.in, got.String(), ok, tc.want, tc.ok)
		}
	}
	// fn returning false stops the walk: a later fault is not reached.
	n := 0
	if !Members([]byte(`{"a":1,"b":2,"c"`), func(string, []byte) bool { n++; return n < 2 }) || n != 2 {
		t.Errorf("stopped walk: %d calls", n)
	}
}

func TestIntValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{`0`, 0}, {`11`, 11}, {`-7`, -7}, {`999999999999999`, 999999999999999},
		{`12.9`, 12}, {`-12.9`, -12}, {`1e3`, 1000}, {`1E+2`, 100},
		{`"42"`, 42}, {`"4.5"`, 4}, {`true`, 1}, {`false`, 0}, {`null`, 0}, {`{}`, 0}, {`"x"`, 0},
		{`9223372036854775807`, 9223372036854775807}, {`-9223372036854775808`, -9223372036854775808},
		{`99999999999999999999`, 9223372036854775807}, {``, 0}, {`-`, 0},
	} {
		if got := IntValue([]byte(tc.in)); got != tc.want {
			t.Errorf("IntValue(%q) = %d, want %d", tc.in, got, tc.want)
		}
		if g := gjson.Parse(tc.in).Int(); g != tc.want {
			t.Errorf("gjson reads %q as %d: the table is wrong", tc.in, g)
		}
	}
}

func TestLastKeyValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the value's text from the offset found ("" for -1)
	}{
		{`{"usage":{"a":1}}`, `{"a":1}}`},
		{`{"usage":null,"x":{"usage":{"b":2}}}`, `{"b":2}}}`},
		{`{"usage" :  {"c":3}}`, `{"c":3}}`},
		{"{\"usage\"\n:\t5}", `5}`},
		{`{"x":"\"usage\":{}","y":1}`, ``}, // in a string: the quote is escaped
		{`{"x":"usage","usage":7}`, `7}`},  // the value "usage" is not a key
		{`{"\"usage":1}`, ``},              // the key is "usage with a quote
		{`{"usages":1,"my_usage":2,"usage_":3}`, ``},
		{`{"usage"}`, ``}, {`"usage"`, ``}, {`usage":1`, ``}, {`{"usage":`, ``}, {``, ``},
	} {
		i := LastKeyValue([]byte(tc.in), "usage")
		got := ""
		if i >= 0 {
			got = tc.in[i:]
		}
		if got != tc.want {
			t.Errorf("LastKeyValue(%q) at %d: %q, want %q", tc.in, i, got, tc.want)
		}
	}
}

// FuzzMembers: on a valid JSON object Members sees gjson's members and
// IntValue reads each value as gjson does; on anything else neither panics.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":[1,{"c":"}"}],"d":"\"x"}`, `{"prompt_tokens":11,"x":1.5e2,"y":"12"}`,
		`{"a":-0,"b":true,"c":null}`, `{"a"`, `[{"a":1}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, ok := members(b)
		for _, m := range ms {
			IntValue([]byte(m[1]))
		}
		v := gjson.ParseBytes(b)
		if !ValidJSON(b) || !v.IsObject() {
			return
		}
		if !ok {
			t.Fatalf("Members(%q) failed on a valid object", b)
		}
		var want [][2]string
		v.ForEach(func(k, x gjson.Result) bool {
			want = append(want, [2]string{k.Str, x.Raw})
			return true
		})
		if len(ms) != len(want) {
			t.Fatalf("Members(%q) = %q, gjson %q", b, ms, want)
		}
		for i := range ms {
			if ms[i] != want[i] {
				t.Fatalf("Members(%q) = %q, gjson %q", b, ms, want)
			}
			if got, w := IntValue([]byte(ms[i][1])), gjson.Parse(want[i][1]).Int(); got != w {
				t.Fatalf("IntValue(%q) = %d, gjson %d", ms[i][1], got, w)
			}
		}
	})
}

// FuzzLastKeyValue: in valid compact JSON without escapes, the value of
// the last "usage" key is right after the last `"usage":`; in anything
// else LastKeyValue does not panic and, when it finds one, points past a
// colon.
func FuzzLastKeyValue(f *testing.F) {
	for _, s := range []string{`{"usage":{"a":1}}`, `{"a":{"usage":1},"usage":null}`, `{"x":"usage","y":["usage"]}`,
		`{"usage" : 1}`, `"usage":`, `{"my_usage":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i := LastKeyValue(b, "usage")
		if i > len(b) || (i >= 0 && !bytes.Contains(b[:i], []byte(":"))) {
			t.Fatalf("LastKeyValue(%q) = %d", b, i)
		}
		if !ValidJSON(b) {
			return
		}
		var c bytes.Buffer
		if json.Compact(&c, b) != nil || bytes.IndexByte(c.Bytes(), '\\') >= 0 {
			return
		}
		want := bytes.LastIndex(c.Bytes(), []byte(`"usage":`))
		if want >= 0 {
			want += len(`"usage":`)
		}
		if got := LastKeyValue(c.Bytes(), "usage"); got != want {
			t.Fatalf("LastKeyValue(%q) = %d, want %d", c.Bytes(), got, want)
		}
	})
}
