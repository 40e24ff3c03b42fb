package llm

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

type member struct {
	key, val string
	at       int
}

// scanMembers is ScanObject's verdict and members.
func scanMembers(body []byte, known *KnownValues) (bool, []member) {
	var ms []member
	ok := ScanObject(body, known, func(key string, val []byte, at int) {
		ms = append(ms, member{strings.Clone(key), string(val), at})
	})
	return ok, ms
}

// gjsonMembers are the top-level members as gjson reads them.
func gjsonMembers(body []byte) []member {
	var ms []member
	gjson.ParseBytes(body).ForEach(func(k, v gjson.Result) bool {
		ms = append(ms, member{k.Str, v.Raw, v.Index})
		return true
	})
	return ms
}

// checkScan: ScanObject gives ValidJSON's verdict and, for a valid object,
// gjson's members at their offsets.
func checkScan(t *testing.T, body []byte, known *KnownValues) {
	t.Helper()
	ok, ms := scanMembers(body, known)
	if want := ValidJSON(body); ok != want {
		t.Fatalf("%q: ScanObject says valid=%v, ValidJSON %v", body, ok, want)
	}
	t0 := bytes.TrimLeft(body, " \t\r\n")
	if !ok || len(t0) == 0 || t0[0] != '{' {
		return
	}
	want := gjsonMembers(body)
	if len(ms) != len(want) {
		t.Fatalf("%q: members %v, gjson %v", body, ms, want)
	}
	for i := range ms {
		if ms[i] != want[i] || body[ms[i].at] != ms[i].val[0] {
			t.Fatalf("%q: member %d is %+v, gjson %+v", body, i, ms[i], want[i])
		}
	}
}

func TestScanObject(t *testing.T) {
	for _, body := range []string{
		`{}`, ` { } `, `{"a":1}`, "{\n\t\"a\" : [1, {\"b\": \"}\"}] ,\r\"c\":\"x\\\"y\"}\n",
		`{"model":"m","stream":true,"n":null,"f":false,"x":-1.5e3,"s":"\u00e9\\"}`,
		`{"a\"b":1,"a\u0041":2,"a":1,"a":2}`, `[1,2]`, `"str"`, `12`, `null`, ``, ` `,
		`{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`, `{"a":1 "b":2}`, `{"a":1}x`, `{"a":1}}`,
		`{"a":[}`, `{"a":{]}`, `{"a":"x}`, `{"a":"\x01"}`, "{\"a\x01\":1}", `{"a\q":1}`, `{"a":tru}`,
		`{"a":01}`, `{"a":1.}`, `{"a":"x\\"}`, `{"a":"x\\\"}`, `{a:1}`, `{"a":1]`, `{"a":[1,2}`,
		"{\"a\":\"\xff\"}", "\ufeff{}", `{"a":{"b":{"c":[[[]]]}}}`, `{"a":"]}"}`,
	} {
		checkScan(t, []byte(body), nil)
	}
}

// bigTools is a tools list over knownMin.
func bigTools(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"tool_%d","description":"does thing %d \"quoted\" {not a brace}","input_schema":{"type":"object","properties":{"p":{"type":"string"}}}}`, i, i)
	}
	b.WriteString("]")
	return b.String()
}

func TestKnownValues(t *testing.T) {
	tools := bigTools(40)
	if len(tools) < knownMin {
		t.Fatalf("tools list of %d bytes is under knownMin", len(tools))
	}
	body := []byte(`{"model":"m","tools":` + tools + `,"stream":true}`)
	var k KnownValues
	checkScan(t, body, &k)
	if k.list.Load() != nil {
		t.Fatal("a value seen once was kept")
	}
	checkScan(t, body, &k)
	if l := k.list.Load(); l == nil || len(*l) != 1 || string((*l)[0].raw) != tools {
		t.Fatal("the tools list was not kept the second time")
	}
	at := bytes.Index(body, []byte(tools))
	m := k.match("tools", body, at)
	if string(m) != tools || !k.Holds(m) {
		t.Fatalf("match gave %d bytes, not the kept copy of the tools", len(m))
	}
	if k.Holds(body[at:at+len(tools)]) || k.Holds(m[:len(m)-1]) || k.Holds(nil) {
		t.Fatal("Holds took the same bytes elsewhere, or a part of the copy, for the copy")
	}
	if k.match("system", body, at) != nil {
		t.Fatal("a known value matched under another key")
	}
	// ScanObject passes a known value as the kept copy.
	held := false
	ScanObject(body, &k, func(key string, val []byte, _ int) {
		if key == "tools" {
			held = k.Holds(val)
		}
	})
	if !held {
		t.Fatal("ScanObject passed a known value as body bytes, not as the kept copy")
	}
	// Known, then: the same members, and faults elsewhere still found.
	checkScan(t, body, &k)
	for _, bad := range []string{
		`{"model":"m","tools":` + tools + `,"stream":tru}`,
		`{"model":"m","tools":` + tools + `,}`,
		`{"model":"m","tools":` + tools + `]}`,
		`{"model":"m","tools":` + tools[:len(tools)-1] + `}`,
		`{"model":"m","tools":` + tools + "\x01}",
	} {
		if ok, _ := scanMembers([]byte(bad), &k); ok {
			t.Fatalf("invalid body with a known value passed: …%q", bad[len(bad)-20:])
		}
		checkScan(t, []byte(bad), &k)
	}
	// A list that differs from the known one only in its last tool, or
	// only in its first, is read in full.
	other := tools[:len(tools)-40] + strings.Replace(tools[len(tools)-40:], "string", "number", 1)
	first := strings.Replace(tools, "tool_0", "tool_X", 1)
	for _, v := range []string{other, first} {
		b := []byte(`{"tools":` + v + `}`)
		_, ms := scanMembers(b, &k)
		if len(ms) != 1 || ms[0].val != v {
			t.Fatalf("changed list read as %d members", len(ms))
		}
	}
	// Values seen once are not copied.
	var once KnownValues
	for i := range 20 {
		checkScan(t, []byte(`{"tools":`+bigTools(40+i)+`}`), &once)
	}
	if once.list.Load() != nil {
		t.Fatal("values seen once were kept")
	}
	// Bounded, newest first, no duplicates.
	for i := range knownPerSet + 3 {
		checkScan(t, []byte(`{"tools":`+bigTools(40+i)+`}`), &k)
		checkScan(t, []byte(`{"tools":`+bigTools(40+i)+`}`), &k)
	}
	if l := *k.list.Load(); len(l) != knownPerSet || string(l[0].raw) != bigTools(40+knownPerSet+2) {
		t.Fatalf("%d values kept, want %d, newest first", len(l), knownPerSet)
	}
}

// TestKnownValuesKeep: only large objects, arrays and strings of the listed
// keys are kept, once seen twice.
func TestKnownValuesKeep(t *testing.T) {
	big := bigTools(40)
	for _, tc := range []struct {
		body string
		keep bool
	}{
		{`{"tools":` + big + `}`, true},
		{`{"system":"` + strings.Repeat("x", knownMin) + `"}`, true},
		{`{"messages":` + big + `}`, false},
		{`{"tools":[1,2,3]}`, false},
		{`{"tools":` + strings.Repeat("1", knownMin) + `}`, false},
	} {
		var k KnownValues
		for range 2 {
			if ok, _ := scanMembers([]byte(tc.body), &k); !ok {
				t.Fatalf("%.40q: invalid", tc.body)
			}
		}
		if got := k.list.Load() != nil; got != tc.keep {
			t.Errorf("%.40q: kept %v, want %v", tc.body, got, tc.keep)
		}
	}
}

// FuzzScanObject: ScanObject's verdict is ValidJSON's and its members are
// gjson's, with and without known values (small ones here, so that short
// inputs reach them: the seeds' tools list and system prompt are known).
func FuzzScanObject(f *testing.F) {
	tools, system := `[{"name":"a","input_schema":{"type":"object"}}]`, `"be brief"`
	k := KnownValues{min: 8}
	for range 2 {
		k.offer("tools", []byte(tools))
		k.offer("system", []byte(system))
	}
	for _, s := range []string{`{}`, `{"model":"m","stream":true}`, `{"a":[1,{"b":"}"}]}`, `[1]`, `{"a":"\"}`,
		`{"tools":` + tools + `,"x":1}`, `{"tools":` + tools + `,"x":}`, `{"system":` + system + `,"tools":` + tools + `}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkScan(t, body, nil)
		checkScan(t, body, &k)
	})
}

func BenchmarkScanObject(b *testing.B) {
	tools := bigTools(300)
	body := []byte(`{"model":"claude","messages":[{"role":"user","content":"hello"}],"tools":` + tools + `,"stream":true}`)
	noop := func(string, []byte, int) {}
	b.Run("validjson", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			ValidJSON(body)
		}
	})
	b.Run("validjson+gjson", func(b *testing.B) { // what the gateway did before ScanObject
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			ValidJSON(body)
			gjson.ParseBytes(body).ForEach(func(k, v gjson.Result) bool { return true })
		}
	})
	b.Run("cold", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			ScanObject(body, nil, noop)
		}
	})
	b.Run("known", func(b *testing.B) {
		var k KnownValues
		ScanObject(body, &k, noop) // seen
		ScanObject(body, &k, noop) // kept
		if k.list.Load() == nil {
			b.Fatal("not kept")
		}
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			ScanObject(body, &k, noop)
		}
	})
}
