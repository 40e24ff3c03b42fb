package anthropic

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

// TestDecodeToolsCache: a cached list decodes as the uncached path does, a
// changed list is decoded afresh, and an append to a decoded list never
// writes into the shared one.
func TestDecodeToolsCache(t *testing.T) {
	list := func(descs ...string) json.RawMessage {
		var tools []map[string]any
		for i, d := range descs {
			tools = append(tools, map[string]any{"name": fmt.Sprintf("t%d", i), "description": d,
				"input_schema": map[string]any{"type": "object", "properties": map[string]any{"p": map[string]any{"type": "string"}}}})
		}
		b, _ := json.Marshal(tools)
		return b
	}
	uncached := func(raw json.RawMessage) []llm.Tool {
		var out []llm.Tool
		for i, e := range splitArray(raw) {
			tool, err := decodeToolUncached(e, i)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tool)
		}
		return out
	}
	same := func(a, b []llm.Tool) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i].Name != b[i].Name || a[i].Description != b[i].Description ||
				string(a[i].Parameters) != string(b[i].Parameters) || string(a[i].Raw) != string(b[i].Raw) {
				return false
			}
		}
		return true
	}
	raw := list("one", "two")
	first, err := decodeTools(raw, false)
	if err != nil {
		t.Fatal(err)
	}
	second, err := decodeTools(append(json.RawMessage(nil), raw...), false) // equal bytes elsewhere
	if err != nil {
		t.Fatal(err)
	}
	if !same(first, uncached(raw)) || !same(second, first) {
		t.Fatalf("cached list differs:\n%+v\n%+v", first, second)
	}
	grown := append(second, llm.Tool{Name: "extra"})
	if reflect.ValueOf(grown).Pointer() == reflect.ValueOf(first).Pointer() {
		t.Fatal("an append wrote into the shared list")
	}
	changed := list("one", "TWO")
	got, err := decodeTools(changed, false)
	if err != nil {
		t.Fatal(err)
	}
	if !same(got, uncached(changed)) || got[1].Description != "TWO" {
		t.Fatalf("changed list decoded as %+v", got)
	}
	if _, err := decodeTools(json.RawMessage(`[{"name":"x","input_schema":"not an object"}]`), false); err == nil {
		t.Fatal("a bad tool decoded")
	}
}
