package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

// TestEncodeToolsCache: a cached tool list encodes to the bytes the
// uncached path writes, and a list that differs in any tool's raw bytes or
// name (or in length) is never served another list's JSON.
func TestEncodeToolsCache(t *testing.T) {
	tool := func(name, desc string) llm.Tool {
		params := json.RawMessage(`{"type":"object","properties":{"x":{"type":"string","format":"uri"}},"$schema":"http://json-schema.org/draft-07/schema#"}`)
		raw, _ := json.Marshal(map[string]any{"name": name, "description": desc, "input_schema": params})
		return llm.Tool{Name: name, Description: desc, Parameters: params, Raw: raw}
	}
	base := []llm.Tool{tool("Bash", "Run a command."), tool("Read", "Read a file.")}
	encode := func(tools []llm.Tool) string {
		t.Helper()
		req := &llm.Request{Model: "m", Tools: tools, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "Read"},
			Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "hi"}}}}}
		b, err := Codec{}.EncodeRequest(req, llm.EncodeOptions{Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	uncached := func(tools []llm.Tool) string {
		t.Helper()
		chat, err := marshalTools(tools)
		if err != nil {
			t.Fatal(err)
		}
		return string(chat)
	}
	first, again := encode(base), encode(base)
	if first != again {
		t.Fatalf("a cache hit changed the body:\n%s\n%s", first, again)
	}
	if !bytes.Contains([]byte(first), []byte(`"messages":[{"role":"user","content":"hi"}],"tools":`+uncached(base)+`,"tool_choice":`)) {
		t.Fatalf("tools not after the messages, or not as marshalled:\n%s", first)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(first), &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, first)
	}
	for i, variant := range [][]llm.Tool{
		{tool("Bash", "Run a command!"), tool("Read", "Read a file.")}, // a description
		{tool("Bash", "Run a command."), tool("Reed", "Read a file.")}, // a name
		{tool("Bash", "Run a command.")},                               // fewer
		append([]llm.Tool{tool("Bash", "Run a command.")}, tool("Read", "Read a file."), tool("Grep", "Search.")),
		{{Name: "Bash", Description: "no raw", Parameters: json.RawMessage(`{"type":"object"}`)}}, // not cacheable
		{{Name: "web_search", Server: true, Raw: json.RawMessage(`{"type":"web_search_20250305","name":"web_search"}`)}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got := encode(variant)
			want := uncached(variant)
			if want == "" {
				if bytes.Contains([]byte(got), []byte(`"tools"`)) {
					t.Fatalf("no tool reaches the upstream, yet:\n%s", got)
				}
				return
			}
			if !bytes.Contains([]byte(got), []byte(`"tools":`+want)) {
				t.Fatalf("got\n%s\nwant tools\n%s", got, want)
			}
		})
	}
	// A full cache starts over and goes on serving correct lists.
	for i := range toolsCache.Max + 10 {
		l := []llm.Tool{tool(fmt.Sprintf("T%d", i), "x")}
		if got, want := encode(l), uncached(l); !bytes.Contains([]byte(got), []byte(want)) {
			t.Fatalf("list %d: got\n%s\nwant\n%s", i, got, want)
		}
	}
	if n := toolsCache.Len(); n > toolsCache.Max {
		t.Fatalf("%d cached lists, bound %d", n, toolsCache.Max)
	}
}

// TestEncodeToolsInterned: a list of interned tools (a decoder's cached
// copies) is found by the addresses of its bytes; a list that differs in
// a name, a length, an address or a tool encodes afresh, and whatever the
// way taken the JSON is the uncached encoding of the list asked for.
func TestEncodeToolsInterned(t *testing.T) {
	tool := func(name, desc string) llm.Tool {
		raw, _ := json.Marshal(map[string]any{"name": name, "description": desc, "input_schema": map[string]any{"type": "object"}})
		return llm.Tool{Name: name, Description: desc, Parameters: json.RawMessage(`{"type":"object"}`), Raw: raw, Interned: true}
	}
	check := func(tools []llm.Tool) {
		t.Helper()
		got, err := encodeToolsJSON(tools)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := marshalTools(tools)
		if string(got) != string(want) {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	}
	list := []llm.Tool{tool("Bash", "Run."), tool("Read", "Read."), tool("Edit", "Edit.")}
	check(list)
	before := toolsByAddr.Len()
	check(list)
	if toolsByAddr.Len() != before {
		t.Fatal("the second encoding of the same interned list was not found by address")
	}

	// A middle tool renamed, shortened at the same address, or another
	// tool: each list encodes what it holds.
	renamed := slices.Clone(list)
	renamed[1].Name = "Reed"
	check(renamed)
	check(list)
	shorter := slices.Clone(list)
	shorter[1].Raw, shorter[1].Description = shorter[1].Raw[:len(shorter[1].Raw)-1], "Rea."
	check(shorter)
	check(list)
	other := slices.Clone(list)
	other[1] = tool("Grep", "Search.")
	check(other)

	// Equal bytes at other addresses are equal tools: found by bytes, then
	// by their own addresses.
	copied := slices.Clone(list)
	for i := range copied {
		copied[i].Raw = bytes.Clone(copied[i].Raw)
	}
	check(copied)

	// A list with a tool that is not interned is never looked up by
	// address: its bytes may be a reused buffer's.
	buf := bytes.Clone(list[1].Raw)
	loose := slices.Clone(list)
	loose[1].Raw, loose[1].Interned = buf, false
	check(loose)
	copy(buf, tool("Read", "Reap.").Raw) // same name, same length
	loose[1].Description = "Reap."
	check(loose)
}
