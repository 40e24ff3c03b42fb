package anthropic

import (
	"bytes"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/testutil/benchdata"
)

// TestDecodeRequestKnownTools: Claude Code's tools list, sent again and
// again, decodes to the same tools when it is looked up by its kept copy
// (from the third request on), and a changed list decodes afresh.
func TestDecodeRequestKnownTools(t *testing.T) {
	raw := benchdata.ClaudeCodeFixture(t, "02_tool_result_followup.request.json")
	names := func(req *llm.Request) []string {
		var out []string
		for _, tl := range req.Tools {
			out = append(out, tl.Name)
		}
		return out
	}
	var first []string
	var stored [4]int64 // toolListByCopy's stores made by each request
	for i := range 4 {
		before := toolListByCopy.Len()
		req, err := Codec{}.DecodeRequest(bytes.Clone(raw)) // a fresh body each time, as a server reads it
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = names(req)
			if len(first) < 10 {
				t.Fatalf("the fixture has %d tools", len(first))
			}
		} else if got := names(req); len(got) != len(first) || got[0] != first[0] || got[len(got)-1] != first[len(first)-1] {
			t.Fatalf("request %d decoded tools %v, first %v", i, got, first)
		}
		stored[i] = toolListByCopy.Len() - before
	}
	// Seen, kept, stored by its copy, found by its copy: one store by the
	// third request (sooner if another test showed the list before), none
	// after it.
	k := slices.Index(stored[:], 1)
	if k < 0 || k > 2 || slices.ContainsFunc(stored[k+1:], func(n int64) bool { return n != 0 }) {
		t.Fatalf("stores by kept copy per request %v: want one by the third, none after", stored)
	}
	renamed, _ := sjson.SetBytes(raw, "tools.0.name", "renamed_tool")
	for range 3 {
		req, err := Codec{}.DecodeRequest(bytes.Clone(renamed))
		if err != nil {
			t.Fatal(err)
		}
		if req.Tools[0].Name != "renamed_tool" || req.Tools[1].Name != first[1] {
			t.Fatalf("changed list decoded as %v", names(req)[:2])
		}
	}
}

// scanMembers is what the server hands DecodeScanned: the members
// llm.ScanObject gave, kept copies marked.
func scanMembers(body []byte, known *llm.KnownValues) ([]llm.Member, bool) {
	var ms []llm.Member
	ok := llm.ScanObject(body, known, func(key string, val []byte, _ int) {
		ms = append(ms, llm.Member{Key: key, Val: val, Kept: known.Holds(val)})
	})
	return ms, ok
}

// TestDecodeScanned: a body decoded from the members of the gateway's scan
// is the request DecodeRequest makes of it (the fixtures, a repeated key,
// a body that is not an object, a bad field), and a tools list the scan
// kept is stored by its copy once and found by it after that.
func TestDecodeScanned(t *testing.T) {
	bodies := [][]byte{
		[]byte(`{"model":"m","messages":[{"role":"user","content":"a"}],"model":"n"}`),
		[]byte(`[{"model":"m"}]`),
		[]byte(`{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":"x"}`),
		[]byte(` {"model":"m","messages":[{"role":"user","content":"a"}],"tools":[{"name":"a","input_schema":{}}],"tools":null}`),
	}
	for _, file := range fixtures(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	for i, body := range bodies {
		want, wantErr := Codec{}.DecodeRequest(body)
		ms, ok := scanMembers(body, nil)
		if !ok {
			t.Fatalf("body %d: the scan finds it invalid", i)
		}
		got, err := Codec{}.DecodeScanned(body, ms)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("body %d: error %v, DecodeRequest's %v", i, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("body %d: decoded\n%+v\nDecodeRequest\n%+v", i, got, want)
		}
	}

	fixture := benchdata.ClaudeCodeFixture(t, "01_plain_prompt_default_model.request.json")
	want, err := Codec{}.DecodeRequest(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Tools) < 10 || len(want.System) < 2 {
		t.Fatalf("the fixture has %d tools, %d system parts", len(want.Tools), len(want.System))
	}
	var known llm.KnownValues
	var tools, system [4]int64
	for i := range tools {
		body := bytes.Clone(fixture)
		ms, ok := scanMembers(body, &known)
		if !ok {
			t.Fatal("the fixture is not valid")
		}
		t0, s0 := toolListByCopy.Len(), systemByCopy.Len()
		req, err := Codec{}.DecodeScanned(body, ms)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(req.Tools, want.Tools) || !reflect.DeepEqual(req.System, want.System) {
			t.Fatalf("request %d: tools or system differ from DecodeRequest's", i)
		}
		tools[i], system[i] = toolListByCopy.Len()-t0, systemByCopy.Len()-s0
	}
	// Seen, kept (the second time), passed as the kept copy and stored by
	// it (the third), found by it (the fourth).
	if tools != [4]int64{0, 0, 1, 0} || system != [4]int64{0, 0, 1, 0} {
		t.Fatalf("stores by kept copy per request: tools %v, system %v; want one by the third request, none after", tools, system)
	}
	// A changed prompt is a value of its own: decoded afresh each time.
	changed, _ := sjson.SetBytes(fixture, "system.2.text", "another prompt")
	for i := range 4 {
		body := bytes.Clone(changed)
		ms, _ := scanMembers(body, &known)
		req, err := Codec{}.DecodeScanned(body, ms)
		if err != nil {
			t.Fatal(err)
		}
		if got := req.System[len(req.System)-1].Text; got != "another prompt" {
			t.Fatalf("changed prompt, request %d: system ends %.40q", i, got)
		}
	}
}
