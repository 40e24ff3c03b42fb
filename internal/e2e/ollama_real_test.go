package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
)

// realOllama is the base URL of the real Ollama that scripts/ollama.sh runs
// (SWITCHYARD_OLLAMA_URL, default http://127.0.0.1:11435) with the tiny
// model. Under CI=true its absence fails the test.
func realOllama(t *testing.T) string {
	t.Helper()
	url := os.Getenv("SWITCHYARD_OLLAMA_URL")
	if url == "" {
		url = "http://127.0.0.1:11435"
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url + "/api/tags")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `"tiny:latest"`) {
			return url
		}
		err = errors.New("no tiny model")
	}
	msg := "no real Ollama with the tiny model at " + url + " (" + err.Error() + "): run `bash scripts/ollama.sh up`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func ollamaPost(t *testing.T, url, path, body string) []byte {
	t.Helper()
	resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

const realOllamaConfig = `
model_list:
  - model_name: native
    litellm_params: {model: ollama/tiny, api_base: "{{OLL}}"}
  - model_name: native-chat
    litellm_params: {model: ollama_chat/tiny, api_base: "{{OLL}}"}
  - model_name: openai-compat
    litellm_params: {model: openai/tiny, api_base: "{{OLL}}/v1", api_key: ollama}
  - model_name: anthropic-compat
    litellm_params: {model: anthropic/tiny, api_base: "{{OLL}}", api_key: ollama}
general_settings:
  master_key: sk-test-master
`

func TestRealOllamaEveryWay(t *testing.T) {
	url := realOllama(t)
	g := startGateway(t, realOllamaConfig, map[string]string{"OLL": url})
	ctx := context.Background()
	oc := oaClient(g)
	ac := anClient(g)
	for _, model := range []string{"native", "native-chat", "openai-compat", "anthropic-compat"} {
		t.Run(model+"/openai", func(t *testing.T) {
			p := params(model)
			p.MaxTokens = openai.Int(8)
			resp, err := oc.Chat.Completions.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			fr := resp.Choices[0].FinishReason
			if (fr != "stop" && fr != "length") || resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens == 0 {
				t.Fatalf("finish %q usage %+v", fr, resp.Usage)
			}
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			stream := oc.Chat.Completions.NewStreaming(ctx, p)
			acc := openai.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			fr = acc.Choices[0].FinishReason
			if (fr != "stop" && fr != "length") || acc.Usage.PromptTokens == 0 || acc.Usage.CompletionTokens == 0 {
				t.Fatalf("stream finish %q usage %+v", fr, acc.Usage)
			}
		})
		t.Run(model+"/anthropic", func(t *testing.T) {
			p := anthropic.MessageNewParams{Model: model, MaxTokens: 8,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
			msg, err := ac.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if (msg.StopReason != anthropic.StopReasonEndTurn && msg.StopReason != anthropic.StopReasonMaxTokens) || msg.Usage.InputTokens == 0 || msg.Usage.OutputTokens == 0 {
				t.Fatalf("stop %q usage %+v", msg.StopReason, msg.Usage)
			}
			stream := ac.Messages.NewStreaming(ctx, p)
			var acc anthropic.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if (acc.StopReason != anthropic.StopReasonEndTurn && acc.StopReason != anthropic.StopReasonMaxTokens) || acc.Usage.OutputTokens == 0 {
				t.Fatalf("stream stop %q usage %+v", acc.StopReason, acc.Usage)
			}
		})
	}
	t.Run("models and health", func(t *testing.T) {
		_, b := g.do(t, "GET", "/v1/models", "")
		for _, m := range []string{"native", "native-chat", "openai-compat", "anthropic-compat"} {
			if !strings.Contains(string(b), `"`+m+`"`) {
				t.Fatalf("models %s", b)
			}
		}
		_, b = g.do(t, "GET", "/health", "")
		var h struct {
			Unhealthy []any `json:"unhealthy_endpoints"`
			Count     int   `json:"healthy_count"`
		}
		if json.Unmarshal(b, &h) != nil || len(h.Unhealthy) != 0 || h.Count != 4 {
			t.Fatalf("health %s", b)
		}
	})
}

// flakyProxy forwards TCP to target and can be taken down and brought back
// on the same port: a stopped and restarted Ollama, as a client sees it.
type flakyProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	p := &flakyProxy{target: target}
	p.up(t)
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.down)
	return p
}

func (p *flakyProxy) up(t *testing.T) {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *flakyProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestRealOllamaDownAndBack(t *testing.T) {
	url := realOllama(t)
	proxy := newFlakyProxy(t, strings.TrimPrefix(url, "http://"))
	g := startGateway(t, realOllamaConfig, map[string]string{"OLL": "http://" + proxy.addr})
	body := `{"model":"native-chat","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`
	if resp, b := g.do(t, "POST", "/v1/chat/completions", body); resp.StatusCode != 200 {
		t.Fatalf("up: %d %s", resp.StatusCode, b)
	}
	proxy.down()
	resp, b := g.do(t, "POST", "/v1/chat/completions", body)
	if resp.StatusCode != 503 || !strings.Contains(string(b), "cannot reach Ollama at http://"+proxy.addr) || !strings.Contains(string(b), "ollama serve") {
		t.Fatalf("down: %d %s", resp.StatusCode, b)
	}
	_, hb := g.do(t, "GET", "/health", "")
	if !strings.Contains(string(hb), "cannot reach Ollama") {
		t.Fatalf("health while down: %s", hb)
	}
	proxy.up(t)
	// A single deployment is not cooled down (LiteLLM's rule), so the very
	// next request goes through.
	if resp, b := g.do(t, "POST", "/v1/chat/completions", body); resp.StatusCode != 200 {
		t.Fatalf("back: %d %s", resp.StatusCode, b)
	}
}

func TestRealOllamaTruncationIsNotSilent(t *testing.T) {
	url := realOllama(t)
	// The problem: straight to Ollama, a prompt longer than num_ctx is cut
	// and the answer looks normal.
	long := strings.Repeat("alpha bravo charlie delta echo foxtrot ", 40) // ~1600 characters, ~1 token each in this vocabulary
	var direct struct {
		PromptEvalCount int    `json:"prompt_eval_count"`
		DoneReason      string `json:"done_reason"`
	}
	raw := ollamaPost(t, url, "/api/chat", `{"model":"tiny","stream":false,"options":{"num_ctx":256,"num_predict":2},"messages":[{"role":"user","content":"`+long+`"}]}`)
	if err := json.Unmarshal(raw, &direct); err != nil || direct.PromptEvalCount != 256 {
		t.Fatalf("expected Ollama to cut the prompt to 256 tokens silently: %s", raw)
	}
	g := startGateway(t, `
model_list:
  - model_name: small
    litellm_params: {model: ollama_chat/tiny, api_base: "{{OLL}}", num_ctx: 256}
  - model_name: roomy
    litellm_params: {model: ollama_chat/tiny, api_base: "{{OLL}}"}
general_settings:
  master_key: sk-test-master
`, map[string]string{"OLL": url})
	req := `{"model":"small","max_tokens":2,"messages":[{"role":"user","content":"` + long + `"}]}`
	resp, b := g.do(t, "POST", "/v1/chat/completions", req)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "num_ctx") {
		t.Fatalf("non-streamed: %d %s", resp.StatusCode, b)
	}
	resp, b = g.do(t, "POST", "/v1/messages", `{"model":"small","max_tokens":2,"stream":true,"messages":[{"role":"user","content":"`+long+`"}]}`)
	if resp.StatusCode == 200 && (!strings.Contains(string(b), "event: error") || strings.Contains(string(b), "message_stop")) {
		t.Fatalf("streamed: a cut prompt ended like a whole one:\n%s", b)
	}
	// Without num_ctx in the config, Switchyard sends the model's context
	// length from /api/show (4096 for tiny), so the same prompt is read whole.
	resp, b = g.do(t, "POST", "/v1/chat/completions", strings.Replace(req, `"small"`, `"roomy"`, 1))
	var ok struct {
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		}
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &ok) != nil || ok.Usage.PromptTokens <= 256 {
		t.Fatalf("roomy: %d %s", resp.StatusCode, b)
	}
}

func TestRealOllamaWarmup(t *testing.T) {
	url := realOllama(t)
	ollamaPost(t, url, "/api/generate", `{"model":"tiny-endless","keep_alive":0}`)
	loaded := func() bool {
		resp, err := http.Get(url + "/api/ps")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"tiny-endless:latest"`)
	}
	deadline := time.Now().Add(10 * time.Second)
	for loaded() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if loaded() {
		t.Fatal("could not unload the model before the test")
	}
	startGateway(t, `
model_list:
  - model_name: warm
    litellm_params: {model: ollama_chat/tiny-endless, api_base: "{{OLL}}", warmup: true, keep_alive: 5m}
`, map[string]string{"OLL": url})
	deadline = time.Now().Add(30 * time.Second)
	for !loaded() {
		if time.Now().After(deadline) {
			t.Fatal("the model was not loaded at start-up with warmup: true")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRealOllamaClaudeCode runs the real Claude Code CLI through Switchyard
// on the real Ollama. The tiny model's vocabulary makes about one token per
// character, so Claude Code's full 80 KB prompt cannot fit its 4096-token
// context: the run uses a short system prompt and no tools, and a second
// run with the full prompt proves Switchyard says so instead of letting
// Ollama cut it.
func TestRealOllamaClaudeCode(t *testing.T) {
	url := realOllama(t)
	bin := ccBinary(t)
	g := startGateway(t, `
model_list:
  - model_name: "claude-*"
    litellm_params: {model: ollama_chat/tiny, api_base: "{{OLL}}"}
  - model_name: tiny
    litellm_params: {model: ollama_chat/tiny, api_base: "{{OLL}}"}
litellm_settings:
  num_retries: 0
general_settings:
  master_key: sk-test-master
`, map[string]string{"OLL": url})
	run := runClaude(t, bin, ccOpts{BaseURL: g.URL, Model: "tiny", Prompt: "hi",
		Args: []string{"--system-prompt", "Answer briefly.", "--tools", ""},
		Env:  []string{"CLAUDE_CODE_MAX_OUTPUT_TOKENS=16", "MAX_THINKING_TOKENS=0", "CLAUDE_CODE_MAX_RETRIES=0"}})
	if run.Err != nil || run.ParseErr != nil || run.Out.IsError || run.Out.Subtype != "success" {
		t.Fatalf("Claude Code on the real Ollama:\n%s\ngateway log:\n%s", run, g.logs.String())
	}
	if !strings.Contains(g.logs.String(), "path=/v1/messages") {
		t.Fatalf("Claude Code did not go through the gateway")
	}

	full := runClaude(t, bin, ccOpts{BaseURL: g.URL, Model: "tiny", Prompt: "hi",
		Env: []string{"CLAUDE_CODE_MAX_RETRIES=0"}})
	if !full.Out.IsError || !strings.Contains(full.Stdout+full.Stderr, "context window") {
		t.Fatalf("a prompt larger than the context window was not reported:\n%s", full)
	}
}
