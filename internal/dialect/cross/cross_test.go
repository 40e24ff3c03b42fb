// Package cross holds the golden tests across dialects: every Claude Code
// fixture request translated to each upstream dialect, and scripted upstream
// streams translated back to each client dialect.
package cross

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

	"github.com/switchyard/switchyard/internal/dialect/anthropic"
	"github.com/switchyard/switchyard/internal/dialect/ollama"
	"github.com/switchyard/switchyard/internal/dialect/openai"
	"github.com/switchyard/switchyard/internal/llm"

	goldenfile "github.com/switchyard/switchyard/internal/testutil/golden"
)

// abbreviate shortens long strings so goldens stay readable.
func abbreviate(v any) any {
	switch t := v.(type) {
	case string:
		if len(t) > 160 {
			return fmt.Sprintf("%s…(%d bytes)", t[:80], len(t))
		}
		return t
	case map[string]any:
		for k, x := range t {
			t[k] = abbreviate(x)
		}
	case []any:
		for i, x := range t {
			t[i] = abbreviate(x)
		}
	}
	return v
}

func pretty(t *testing.T, body []byte) []byte {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	out, _ := json.MarshalIndent(abbreviate(v), "", "  ")
	return append(out, '\n')
}

var upstreams = map[string]llm.UpstreamCodec{"openai": openai.Codec{}, "ollama": ollama.Codec{}}

func TestClaudeCodeRequestsToEveryUpstream(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/claude-code/*.request.json")
	if len(files) < 10 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".request.json")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		req, err := anthropic.Codec{}.DecodeRequest(raw)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		for dn, up := range upstreams {
			t.Run(name+"/"+dn, func(t *testing.T) {
				body, err := up.EncodeRequest(req, llm.EncodeOptions{Model: "qwen2.5:7b", DropParams: false})
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				s := string(body)
				for _, bad := range []string{"x-anthropic-billing-header", `"$schema"`, `"propertyNames"`, `"signature"`, "context_management"} {
					if strings.Contains(s, bad) {
						t.Errorf("%s reached the %s upstream", bad, dn)
					}
				}
				goldenfile.Check(t, filepath.Join("testdata", "requests", name+"."+dn+".json"), pretty(t, body))
			})
		}
	}
}

var idRE = regexp.MustCompile(`(toolu_|msg_|chatcmpl-|call_)[A-Za-z0-9]{6,}|"created":\d+`)

// normalize replaces generated ids with stable numbered ones.
func normalize(b []byte) []byte {
	seen := map[string]string{}
	return idRE.ReplaceAllFunc(b, func(m []byte) []byte {
		if bytes.HasPrefix(m, []byte(`"created"`)) {
			return []byte(`"created":0`)
		}
		k := string(m)
		if v, ok := seen[k]; ok {
			return []byte(v)
		}
		prefix := idRE.FindSubmatch(m)[1]
		v := fmt.Sprintf("%sID%d", prefix, len(seen)+1)
		seen[k] = v
		return []byte(v)
	})
}

// translate runs an upstream stream through a client writer.
func translate(t *testing.T, st llm.Stream, client llm.ClientCodec, req *llm.Request) []byte {
	var out bytes.Buffer
	w := client.NewStreamWriter(&out, req)
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = w.Fail(llm.AsError(err))
			break
		}
		if err := w.Write(ev); err != nil {
			fmt.Fprintf(&out, "[writer error: %v]\n", err)
			break
		}
	}
	return normalize(out.Bytes())
}

func TestUpstreamStreamsToEveryClient(t *testing.T) {
	type src struct {
		dir, ext string
		codec    llm.UpstreamCodec
	}
	sources := map[string]src{
		"openai":    {"../openai/testdata/streams", ".sse", openai.Codec{}},
		"ollama":    {"../ollama/testdata/stream", ".ndjson", ollama.Codec{}},
		"anthropic": {"../../../testdata/claude-code/responses", ".sse", anthropic.Codec{}},
	}
	clients := map[string]llm.ClientCodec{"openai": openai.Codec{}, "anthropic": anthropic.Codec{}}
	for sn, s := range sources {
		files, _ := filepath.Glob(filepath.Join(s.dir, "*"+s.ext))
		if len(files) == 0 {
			t.Fatalf("no %s stream fixtures in %s", sn, s.dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".client.sse") {
				continue
			}
			name := strings.TrimSuffix(filepath.Base(f), s.ext)
			for cn, client := range clients {
				if cn == sn {
					continue // same dialect: pass-through, no translation
				}
				t.Run(sn+"/"+name+"/to-"+cn, func(t *testing.T) {
					raw, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					req := &llm.Request{Model: "client-model", Stream: true}
					out := translate(t, s.codec.NewStreamReader(bytes.NewReader(raw)), client, req)
					goldenfile.Check(t, filepath.Join("testdata", "streams", sn+"."+name+".to-"+cn+".txt"), out)
					if cn == "anthropic" {
						assertAnthropicSequence(t, out)
					}
				})
			}
		}
	}
}

// assertAnthropicSequence checks the event grammar Claude Code relies on:
// message_start first; blocks opened before their deltas and closed once;
// message_delta then message_stop last — or an error event that ends it.
func assertAnthropicSequence(t *testing.T, out []byte) {
	t.Helper()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if n, ok := strings.CutPrefix(line, "event: "); ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		t.Fatalf("no events:\n%s", out)
	}
	if names[len(names)-1] == "error" {
		return
	}
	if names[0] != "message_start" || names[len(names)-1] != "message_stop" || names[len(names)-2] != "message_delta" {
		t.Fatalf("event order %v", names)
	}
	open := false
	for _, n := range names {
		switch n {
		case "content_block_start":
			if open {
				t.Fatalf("block opened twice: %v", names)
			}
			open = true
		case "content_block_delta":
			if !open {
				t.Fatalf("delta outside a block: %v", names)
			}
		case "content_block_stop":
			if !open {
				t.Fatalf("stop without start: %v", names)
			}
			open = false
		case "message_delta":
			if open {
				t.Fatalf("message_delta with a block open: %v", names)
			}
		}
	}
}
