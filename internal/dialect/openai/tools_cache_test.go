package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
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
