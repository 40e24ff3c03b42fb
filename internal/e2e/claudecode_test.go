//go:build unix

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/fakeup"
)

// The real Claude Code CLI (npm @anthropic-ai/claude-code, installed by
// scripts/claude-code.sh) run with `claude -p` against an in-process gateway
// in front of scripted fake upstreams of each dialect. The upstream first
// asks for the Bash tool to echo a random token, then, once a tool result
// carrying the token comes back, answers "done: <token>". A case passes only
// when the tool really ran (the token is in the tool result the upstream
// receives) and Claude Code prints the final text.

const ccConfig = `
model_list:
  - model_name: "{{MODEL}}"
    litellm_params: {model: "{{UPMODEL}}", api_base: "{{UPBASE}}", api_key: sk-upstream-key}
router_settings:
  num_retries: 0
general_settings:
  master_key: sk-test-master
`

// ccDialects is how each upstream dialect is configured.
var ccDialects = map[fakeup.Dialect]struct{ upModel, baseSuffix string }{
	fakeup.OpenAI:    {"openai/qwen2.5-7b-instruct", "/v1"},
	fakeup.Ollama:    {"ollama_chat/qwen2.5:7b", ""},
	fakeup.Anthropic: {"anthropic/claude-sonnet-4-5-20250929", ""},
}

type ccCase struct {
	name    string
	dialect fakeup.Dialect
	// model is what Claude Code asks for (--model); group is the gateway's
	// model_name (default: model).
	model, group string
	// baseSuffix is appended to the gateway URL for ANTHROPIC_BASE_URL.
	baseSuffix string
	apiKey     bool
	// first, when set, answers the first chat request (a fault).
	first func(toolCall fakeup.Reply) fakeup.Reply
	check func(t *testing.T, c *ccCase, env *ccEnv)
}

// ccEnv is what a case's check can look at.
type ccEnv struct {
	token string
	up    *ccUpstream
	proxy *ccProxy
	run   *ccRun
}

func TestClaudeCodeCLI(t *testing.T) {
	bin := ccBinary(t)
	cases := []ccCase{
		{name: "openai-compatible", dialect: fakeup.OpenAI, model: "sy-qwen-openai", check: ccCheckTranslated},
		{name: "ollama native", dialect: fakeup.Ollama, model: "sy-qwen-ollama", check: ccCheckTranslated},
		{name: "anthropic pass-through", dialect: fakeup.Anthropic, model: "claude-sonnet-4-5-20250929", check: ccCheckPassThrough},
		{name: "claude id via wildcard to ollama", dialect: fakeup.Ollama, model: "claude-haiku-4-5-20251001", group: "claude-haiku-*", check: ccCheckTranslated},
		{name: "base URL ending in /v1, ANTHROPIC_API_KEY", dialect: fakeup.OpenAI, model: "sy-qwen-openai", baseSuffix: "/v1", apiKey: true,
			check: func(t *testing.T, c *ccCase, env *ccEnv) {
				ex := env.proxy.exchanges("/messages")
				for _, e := range ex {
					if !strings.HasPrefix(e.URI, "/v1/v1/messages") {
						t.Errorf("Claude Code called %s, want /v1/v1/messages", e.URI)
					}
					if e.ReqHdr.Get("X-Api-Key") != masterKey || e.ReqHdr.Get("Authorization") != "" {
						t.Errorf("want the key in X-Api-Key only (ANTHROPIC_API_KEY), got Authorization=%q X-Api-Key=%q",
							redact(e.ReqHdr.Get("Authorization")), redact(e.ReqHdr.Get("X-Api-Key")))
					}
				}
			}},
		{name: "429 retry-after waited out, openai-compatible", dialect: fakeup.OpenAI, model: "sy-qwen-openai",
			first: ccRateLimited, check: ccCheckRateLimit},
		{name: "429 retry-after waited out, anthropic pass-through", dialect: fakeup.Anthropic, model: "claude-sonnet-4-5-20250929",
			first: ccRateLimited, check: ccCheckRateLimit},
	}
	for _, d := range []fakeup.Dialect{fakeup.OpenAI, fakeup.Ollama, fakeup.Anthropic} {
		model := map[fakeup.Dialect]string{fakeup.OpenAI: "sy-qwen-openai", fakeup.Ollama: "sy-qwen-ollama", fakeup.Anthropic: "claude-sonnet-4-5-20250929"}[d]
		cases = append(cases, ccCase{name: "non-streaming fallback after a cut stream, " + string(d), dialect: d, model: model,
			first: func(tc fakeup.Reply) fakeup.Reply {
				// Text before the tool call so every dialect has events to
				// cut between; the cut comes after the second event.
				tc.Text, tc.ResetAfterEvents = "I'll run it.", 2
				return tc
			},
			check: ccCheckFallback})
	}
	for i := range cases {
		c := &cases[i]
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ccRunCase(t, bin, c)
		})
	}
}

// ccRan reports whether r carries a tool result that is the output of
// `echo <token>`: it starts with the token (Claude Code may append a
// system reminder). An error quoting the command would not.
func ccRan(r fakeup.Request, token string) bool {
	for _, tr := range r.ToolResults() {
		if strings.HasPrefix(strings.TrimSpace(tr), token) {
			return true
		}
	}
	return false
}

func ccRateLimited(fakeup.Reply) fakeup.Reply {
	return fakeup.Reply{Status: 429, Header: map[string]string{"retry-after": "1"}}
}

func ccRunCase(t *testing.T, bin string, c *ccCase) {
	token := ccToken()
	toolCall := fakeup.Reply{Text: "", ToolCall: "Bash",
		ToolArgs: fmt.Sprintf(`{"command":"echo %s","description":"print token"}`, token)}
	up := newCCUpstream(t, c.dialect, func(n int, r fakeup.Request) fakeup.Reply {
		switch {
		case n == 0 && c.first != nil:
			return c.first(toolCall)
		case ccRan(r, token):
			return fakeup.Reply{Text: "done: " + token}
		case n >= 8:
			// Claude Code is looping: stop it with a plain answer.
			return fakeup.Reply{Text: "giving up after too many requests"}
		}
		return toolCall
	})
	dc := ccDialects[c.dialect]
	group := c.group
	if group == "" {
		group = c.model
	}
	g := startGateway(t, ccConfig, map[string]string{"MODEL": group, "UPMODEL": dc.upModel, "UPBASE": up.URL + dc.baseSuffix})
	proxy := newCCProxy(t, g.URL)
	run := runClaude(t, bin, ccOpts{BaseURL: proxy.URL + c.baseSuffix, Model: c.model, APIKey: c.apiKey})
	env := &ccEnv{token: token, up: up, proxy: proxy, run: run}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s\n--- Claude Code -> gateway (via recording proxy):\n%s--- gateway -> upstream (%s):\n%s",
				run, proxy.dump(), c.dialect, up.dump())
		}
	})
	t.Logf("claude ran %.1fs, %d upstream chat requests", run.Elapsed.Seconds(), len(up.chats()))

	// (a) the tool really ran: a tool result with the token reached the upstream.
	chats := up.chats()
	got := -1
	for i, r := range chats {
		if ccRan(r, token) {
			got = i
			break
		}
	}
	want := 1 // the request after the tool call
	if c.first != nil {
		want = 2 // after the fault's retry, which got the tool call
	}
	switch {
	case got < 0:
		t.Errorf("no upstream request carried a tool result with the output of `echo %s`: the Bash tool did not run or its result was lost", token)
	case got != want || len(chats) != want+1:
		t.Errorf("the tool result reached the upstream in chat request #%d of %d, want #%d of %d (extra round trips?)", got, len(chats), want, want+1)
	}
	// (b) Claude Code printed the final text.
	if run.Err != nil || run.ParseErr != nil {
		t.Errorf("claude failed: %v (output parse: %v)", run.Err, run.ParseErr)
	}
	if want := "done: " + token; run.Out.IsError || !strings.Contains(run.Out.Result, want) {
		t.Errorf("Claude Code result %q (is_error=%v, subtype=%q), want it to contain %q", run.Out.Result, run.Out.IsError, run.Out.Subtype, want)
	}
	if c.check != nil {
		c.check(t, c, env)
	}
}

// ccCheckTranslated: the upstream gets the configured model name, not
// Claude Code's billing-header system block (it would defeat local prefix
// caches), and, for OpenAI-compatible upstreams, the deployment's key in
// place of the client's.
func ccCheckTranslated(t *testing.T, c *ccCase, env *ccEnv) {
	wantModel := strings.SplitN(ccDialects[c.dialect].upModel, "/", 2)[1]
	for i, r := range env.up.chats() {
		if got := r.JSON()["model"]; got != wantModel {
			t.Errorf("upstream request #%d model %v, want %s", i, got, wantModel)
		}
		if strings.Contains(string(r.Body), "x-anthropic-billing-header") {
			t.Errorf("upstream request #%d still carries the x-anthropic-billing-header system block", i)
		}
		if strings.Contains(r.Header.Get("Authorization"), masterKey) {
			t.Errorf("upstream request #%d carries the gateway master key", i)
		}
		if c.dialect == fakeup.OpenAI {
			if got := r.Header.Get("Authorization"); got != "Bearer sk-upstream-key" {
				t.Errorf("upstream request #%d Authorization %q, want the deployment's key", i, redact(got))
			}
		}
	}
}

// ccCheckPassThrough: only the model is rewritten; anthropic-version and
// anthropic-beta reach the upstream; the upstream key replaces the client's.
func ccCheckPassThrough(t *testing.T, _ *ccCase, env *ccEnv) {
	in := env.proxy.exchanges("/messages")
	for i, r := range env.up.chats() {
		if got := r.Header.Get("X-Api-Key"); got != "sk-upstream-key" {
			t.Errorf("upstream request #%d x-api-key %q, want the deployment's key", i, redact(got))
		}
		if strings.Contains(r.Header.Get("Authorization"), masterKey) {
			t.Errorf("upstream request #%d carries the gateway master key", i)
		}
		if r.Header.Get("Anthropic-Version") == "" {
			t.Errorf("upstream request #%d lacks anthropic-version", i)
		}
		if i < len(in) {
			if want := in[i].ReqHdr.Get("Anthropic-Beta"); want != "" && r.Header.Get("Anthropic-Beta") != want {
				t.Errorf("upstream request #%d anthropic-beta %q, client sent %q", i, r.Header.Get("Anthropic-Beta"), want)
			}
		}
		if got := r.JSON()["model"]; got != "claude-sonnet-4-5-20250929" {
			t.Errorf("upstream request #%d model %v", i, got)
		}
	}
}

// ccCheckRateLimit: the upstream's 429 reached Claude Code as a 429 with
// retry-after, and Claude Code waited about that long before trying again.
func ccCheckRateLimit(t *testing.T, _ *ccCase, env *ccEnv) {
	ex := env.proxy.exchanges("/messages")
	if len(ex) == 0 || ex[0].Status != 429 {
		t.Fatalf("the gateway's first answer to Claude Code was not a 429")
	}
	if ra := ex[0].RespHdr.Get("Retry-After"); ra != "1" {
		t.Errorf("gateway 429 Retry-After %q, want 1 (the upstream's)", ra)
	}
	if !strings.Contains(ex[0].body(), "rate_limit_error") {
		t.Errorf("gateway 429 body is not an Anthropic rate_limit_error: %s", ex[0].body())
	}
	times := env.up.arrivals()
	if len(times) < 2 {
		t.Fatalf("upstream saw %d chat requests, want a retry after the 429", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < 900*time.Millisecond {
		t.Errorf("Claude Code retried %v after the 429, want about 1 s (retry-after: 1)", gap)
	} else {
		t.Logf("retried %.2fs after the 429", gap.Seconds())
	}
}

// ccCheckFallback: after the cut stream Claude Code repeated the request
// without `stream`, the gateway's non-streaming path answered it, and the
// turn completed.
func ccCheckFallback(t *testing.T, c *ccCase, env *ccEnv) {
	ex := env.proxy.exchanges("/messages")
	if len(ex) < 2 {
		t.Fatalf("Claude Code made %d /messages calls, want a retry after the cut stream", len(ex))
	}
	if !strings.Contains(ex[0].body(), "event: error") {
		t.Errorf("the cut stream did not end with an in-band `event: error` (silent truncation?): %q", ex[0].body())
	}
	idx := -1
	for i, e := range ex[1:] {
		if !gjson.GetBytes(e.ReqBody, "stream").Bool() {
			idx = i + 1
			break
		}
	}
	if idx < 0 {
		t.Fatalf("Claude Code never fell back to a non-streaming request")
	}
	fb := ex[idx]
	if fb.Status != 200 || !strings.HasPrefix(fb.RespHdr.Get("Content-Type"), "application/json") {
		t.Errorf("non-streaming fallback answered %d %q", fb.Status, fb.RespHdr.Get("Content-Type"))
	}
	chats := env.up.chats()
	if len(chats) < 2 {
		t.Fatalf("upstream saw %d chat requests", len(chats))
	}
	if s, ok := chats[1].JSON()["stream"].(bool); ok && s {
		t.Errorf("upstream request after the cut is streaming; want the non-streaming fallback")
	}
	if c.dialect == fakeup.Ollama {
		if s, ok := chats[1].JSON()["stream"].(bool); !ok || s {
			t.Errorf("Ollama non-streaming request must say \"stream\": false (Ollama streams by default)")
		}
	}
}
