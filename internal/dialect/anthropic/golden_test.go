package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"

	goldenfile "github.com/switchyard/switchyard/internal/testutil/golden"
)

const fixtureDir = "../../../testdata/claude-code"

// abbrev shortens long texts for readable goldens: first 80 characters and the length.
func abbrev(s string) string {
	r := []rune(s)
	if len(r) <= 80 {
		return s
	}
	return fmt.Sprintf("%s… [%d chars]", string(r[:80]), len(r))
}

func dumpParts(parts []llm.Part) []map[string]any {
	out := make([]map[string]any, 0, len(parts))
	for _, p := range parts {
		m := map[string]any{"type": string(p.Type)}
		set := func(k, v string) {
			if v != "" {
				m[k] = abbrev(v)
			}
		}
		set("text", p.Text)
		set("signature", p.Signature)
		set("redacted", p.Redacted)
		set("media_type", p.MediaType)
		set("data", p.Data)
		set("url", p.URL)
		set("tool_call_id", p.ToolCallID)
		set("name", p.Name)
		set("arguments", p.Arguments)
		if p.Content != nil {
			m["content"] = dumpParts(p.Content)
		}
		if p.IsError {
			m["is_error"] = true
		}
		if len(p.CacheControl) > 0 {
			m["cache_control"] = json.RawMessage(p.CacheControl)
		}
		out = append(out, m)
	}
	return out
}

// dumpRequest renders a hub request as readable JSON.
func dumpRequest(req *llm.Request) []byte {
	m := map[string]any{"model": req.Model, "max_tokens": req.MaxTokens, "stream": req.Stream}
	if req.System != nil {
		m["system"] = dumpParts(req.System)
	}
	msgs := make([]map[string]any, 0, len(req.Messages))
	for _, msg := range req.Messages {
		msgs = append(msgs, map[string]any{"role": string(msg.Role), "content": dumpParts(msg.Content)})
	}
	m["messages"] = msgs
	if req.Tools != nil {
		tools := make([]map[string]any, 0, len(req.Tools))
		for _, t := range req.Tools {
			tm := map[string]any{"name": t.Name, "raw_len": len(t.Raw)}
			if t.Description != "" {
				tm["description"] = abbrev(t.Description)
			}
			if len(t.Parameters) > 0 {
				tm["parameters"] = abbrev(compactJSON(t.Parameters))
			}
			if t.Server {
				tm["server"], tm["server_type"] = true, t.ServerType
			}
			tools = append(tools, tm)
		}
		m["tools"] = tools
	}
	opt := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	opt("tool_choice", req.ToolChoice, req.ToolChoice != nil)
	opt("reasoning", req.Reasoning, req.Reasoning != nil)
	if rf := req.ResponseFormat; rf != nil {
		m["response_format"] = map[string]any{"type": rf.Type, "name": rf.Name, "schema": json.RawMessage(rf.Schema), "strict": rf.Strict}
	}
	opt("temperature", req.Temperature, req.Temperature != nil)
	opt("top_p", req.TopP, req.TopP != nil)
	opt("top_k", req.TopK, req.TopK != nil)
	opt("stop", req.Stop, req.Stop != nil)
	opt("user", req.User, req.User != "")
	opt("extra", req.Extra, req.Extra != nil)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(out, '\n')
}

func fixtures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.request.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	return files
}

func TestGoldenFixtureRequests(t *testing.T) {
	for _, f := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".request.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			req, err := Codec{}.DecodeRequest(body)
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			golden(t, "request/"+name+".hub.json", dumpRequest(req))
		})
	}
}

var (
	tooluRe = regexp.MustCompile(`toolu_[0-9A-Za-z]{24}`)
	msgRe   = regexp.MustCompile(`msg_[0-9A-Za-z]{24}`)
)

// normalizeIDs replaces generated ids by stable placeholders, in order of appearance.
func normalizeIDs(b []byte) []byte {
	for _, x := range []struct {
		re   *regexp.Regexp
		name string
	}{{tooluRe, "toolu_GENERATED_"}, {msgRe, "msg_GENERATED_"}} {
		seen := map[string]string{}
		b = x.re.ReplaceAllFunc(b, func(id []byte) []byte {
			if v, ok := seen[string(id)]; ok {
				return []byte(v)
			}
			v := fmt.Sprintf("%s%d", x.name, len(seen)+1)
			seen[string(id)] = v
			return []byte(v)
		})
	}
	return b
}

func u(in, out, cr, cw int) *llm.Usage {
	return &llm.Usage{InputTokens: in, OutputTokens: out, CacheReadTokens: cr, CacheWriteTokens: cw}
}

// writerScripts are hub event sequences rendered by the client stream writer.
var writerScripts = []struct {
	name   string
	events []llm.Event
	ping   int // write a ping after this many events (0: none)
	fail   *llm.Error
}{
	{name: "text", ping: 1, events: []llm.Event{
		{Type: llm.EventStart, ID: "chatcmpl-1", Model: "qwen2.5:7b", Usage: u(19078, 0, 0, 0)},
		{Type: llm.EventTextDelta, Text: "Hi! This is the"},
		{Type: llm.EventTextDelta, Text: " capture server."},
		{Type: llm.EventStop, StopReason: llm.StopEnd, Usage: u(19078, 15, 0, 0)},
	}},
	{name: "thinking_then_tool_use", events: []llm.Event{
		{Type: llm.EventStart, ID: "msg_upstream", Model: "m"},
		{Type: llm.EventThinkingDelta, Text: "The user wants me to run a command. "},
		{Type: llm.EventThinkingDelta, Text: "I will use Bash."},
		{Type: llm.EventSignatureDelta, Text: "c2ln"},
		{Type: llm.EventTextDelta, Text: "I'll run the command."},
		{Type: llm.EventToolCallStart, Index: 0, ID: "call_0", Name: "Bash"},
		{Type: llm.EventToolArgsDelta, Index: 0, Text: `{"command": "ec`},
		{Type: llm.EventToolArgsDelta, Index: 0, Text: `ho hello"}`},
		{Type: llm.EventStop, StopReason: llm.StopToolUse, Usage: u(100, 20, 0, 0)},
	}},
	{name: "two_tool_calls_stop_end", events: []llm.Event{
		{Type: llm.EventStart, ID: "x", Model: "m"},
		{Type: llm.EventToolCallStart, Index: 0, ID: "call_0", Name: "Read"},
		{Type: llm.EventToolArgsDelta, Index: 0, Text: `{"file_path":"/a"}`},
		{Type: llm.EventToolCallStart, Index: 1, ID: "call_0", Name: "Read"},
		{Type: llm.EventToolArgsDelta, Index: 1, Text: `{"file_path":"/b"}`},
		// Some upstreams say "stop" after tool calls: the writer says tool_use.
		{Type: llm.EventStop, StopReason: llm.StopEnd},
	}},
	{name: "stop_with_usage", events: []llm.Event{
		{Type: llm.EventStart, ID: "x", Model: "m", Usage: u(10, 0, 5000, 7)},
		{Type: llm.EventTextDelta, Text: "Done."},
		{Type: llm.EventUsage, Usage: u(0, 3, 0, 0)},
		{Type: llm.EventStop, StopReason: llm.StopLength, Usage: u(12, 4, 0, 0)},
	}},
	{name: "stop_sequence", events: []llm.Event{
		{Type: llm.EventStart, ID: "x", Model: "m"},
		{Type: llm.EventTextDelta, Text: "a"},
		{Type: llm.EventStop, StopReason: llm.StopSequence, StopSequence: "END"},
	}},
	{name: "failure_mid_stream", events: []llm.Event{
		{Type: llm.EventStart, ID: "x", Model: "m"},
		{Type: llm.EventTextDelta, Text: "partial"},
	}, fail: &llm.Error{Kind: llm.KindOverloaded, Message: "upstream overloaded"}},
	{name: "failure_passes_upstream_body", events: []llm.Event{
		{Type: llm.EventStart, ID: "x", Model: "m"},
	}, fail: &llm.Error{Kind: llm.KindInvalidRequest, Message: "x", BodyDialect: llm.DialectAnthropic,
		Body: []byte("{\n  \"type\": \"error\",\n  \"error\": {\"type\": \"invalid_request_error\", \"message\": \"prompt is too long: 210000 tokens > 200000 maximum\"}\n}")}},
	{name: "no_start_event", events: []llm.Event{
		{Type: llm.EventTextDelta, Text: "hello"},
		{Type: llm.EventStop, StopReason: llm.StopEnd},
	}},
}

// chunkWriter records each Write call, to check that every call carries whole events.
type chunkWriter struct {
	all    bytes.Buffer
	chunks [][]byte
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.chunks = append(c.chunks, append([]byte(nil), p...))
	return c.all.Write(p)
}

func renderScript(t *testing.T, i int) []byte {
	t.Helper()
	sc := writerScripts[i]
	var cw chunkWriter
	w := Codec{}.NewStreamWriter(&cw, &llm.Request{Model: "claude-opus-4-8"})
	for j, ev := range sc.events {
		if err := w.Write(ev); err != nil {
			t.Fatalf("Write(%d): %v", j, err)
		}
		if sc.ping != 0 && j+1 == sc.ping {
			if err := w.Ping(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sc.fail != nil {
		if err := w.Fail(sc.fail); err != nil {
			t.Fatal(err)
		}
		// Nothing after an error.
		_ = w.Write(llm.Event{Type: llm.EventStop})
		_ = w.Ping()
	}
	for _, c := range cw.chunks {
		if !bytes.HasPrefix(c, []byte("event: ")) || !bytes.HasSuffix(c, []byte("\n\n")) {
			t.Errorf("Write carried a partial event: %q", c)
		}
	}
	return cw.all.Bytes()
}

func TestGoldenStreamWriter(t *testing.T) {
	for i, sc := range writerScripts {
		t.Run(sc.name, func(t *testing.T) {
			golden(t, "writer/"+sc.name+".sse", normalizeIDs(renderScript(t, i)))
		})
	}
}

// dumpEvents renders hub events one JSON object a line.
func dumpEvents(s llm.Stream) []byte {
	var buf bytes.Buffer
	names := map[llm.EventType]string{llm.EventStart: "start", llm.EventTextDelta: "text", llm.EventThinkingDelta: "thinking",
		llm.EventSignatureDelta: "signature", llm.EventToolCallStart: "tool_call_start", llm.EventToolArgsDelta: "tool_args",
		llm.EventUsage: "usage", llm.EventStop: "stop", llm.EventError: "error"}
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			buf.WriteString("EOF\n")
			break
		}
		if err != nil {
			e := llm.AsError(err)
			fmt.Fprintf(&buf, "ERROR kind=%s message=%q\n", e.Kind, e.Message)
			break
		}
		m := map[string]any{"type": names[ev.Type]}
		if ev.Index != 0 || ev.Type == llm.EventToolCallStart || ev.Type == llm.EventToolArgsDelta {
			m["index"] = ev.Index
		}
		for k, v := range map[string]string{"id": ev.ID, "model": ev.Model, "name": ev.Name, "text": ev.Text,
			"stop_reason": string(ev.StopReason), "stop_sequence": ev.StopSequence} {
			if v != "" {
				m[k] = v
			}
		}
		if ev.Usage != nil {
			m["usage"] = ev.Usage
		}
		line, _ := json.Marshal(m)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func TestGoldenStreamReader(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "upstream", "*.sse"))
	if len(files) == 0 {
		t.Fatal("no upstream fixtures")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sse")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "reader/"+name+".events", dumpEvents(Codec{}.NewStreamReader(bytes.NewReader(body))))
			// Cut before message_stop: an error, never a silent EOF.
			cut := body[:bytes.LastIndex(body, []byte("event: message_stop"))]
			golden(t, "reader/"+name+".truncated.events", dumpEvents(Codec{}.NewStreamReader(bytes.NewReader(cut))))
		})
	}
}

// TestRoundTripThroughWriter feeds the upstream fixtures through the reader
// and the client writer: the output must be the same stream, modulo ids.
func TestRoundTripThroughWriter(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "upstream", "*.sse"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, _ := os.ReadFile(f)
			var out bytes.Buffer
			r := Codec{}.NewStreamReader(bytes.NewReader(body))
			w := Codec{}.NewStreamWriter(&out, &llm.Request{Model: "claude-opus-4-8"})
			for {
				ev, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(ev); err != nil {
					t.Fatal(err)
				}
			}
			golden(t, "roundtrip/"+filepath.Base(f), normalizeIDs(out.Bytes()))
		})
	}
}

// golden compares got with testdata/golden/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "golden", name), got)
}
