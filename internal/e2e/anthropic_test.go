package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/fakeup"
	"github.com/switchyard/switchyard/internal/gateway"
)

func anClient(g *gw, opts ...aopt.RequestOption) anthropic.Client {
	base := []aopt.RequestOption{aopt.WithBaseURL(g.URL), aopt.WithAPIKey(masterKey), aopt.WithMaxRetries(0)}
	return anthropic.NewClient(append(base, opts...)...)
}

func bashTool() anthropic.ToolUnionParam {
	return anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
		Name:        "Bash",
		Description: anthropic.String("run a command"),
		InputSchema: anthropic.ToolInputSchemaParam{
			Properties:  map[string]any{"command": map[string]any{"type": "string"}},
			Required:    []string{"command"},
			ExtraFields: map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "additionalProperties": false},
		},
	}}
}

func msgParams(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     model,
		MaxTokens: 1024,
		System:    []anthropic.TextBlockParam{{Text: "x-anthropic-billing-header: cc_version=2.1.197.abc; cc_entrypoint=sdk-cli;"}, {Text: "You are helpful."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("run echo hi"))},
		Tools:     []anthropic.ToolUnionParam{bashTool()},
	}
}

const threeDialects = `
model_list:
  - model_name: claude-via-openai
    litellm_params: {model: hosted_vllm/qwen2.5-7b, api_base: "{{OA}}/v1"}
  - model_name: claude-via-ollama
    litellm_params: {model: ollama_chat/qwen2.5:7b, api_base: "{{OLL}}"}
  - model_name: claude-via-anthropic
    litellm_params: {model: anthropic/claude-sonnet-4-5-20250929, api_base: "{{AN}}", api_key: sk-ant-upstream}
  - model_name: "claude-haiku-*"
    litellm_params: {model: ollama_chat/qwen2.5:7b, api_base: "{{OLL}}"}
litellm_settings:
  num_retries: 0
general_settings:
  master_key: sk-test-master
`

type fakes struct{ oa, oll, an *fakeup.Server }

func startThree(t *testing.T) (*gw, fakes) {
	f := fakes{fakeup.New(fakeup.OpenAI), fakeup.New(fakeup.Ollama), fakeup.New(fakeup.Anthropic)}
	t.Cleanup(func() { f.oa.Close(); f.oll.Close(); f.an.Close() })
	toolThenText := func(n int, r fakeup.Request) fakeup.Reply {
		if strings.Contains(string(r.Body), "tool_result") || strings.Contains(string(r.Body), `"role":"tool"`) {
			return fakeup.Reply{Text: "the command printed hi"}
		}
		return fakeup.Reply{Text: "I'll run it.", ToolCall: "Bash", ToolArgs: `{"command":"echo hi"}`}
	}
	f.oa.Script, f.oll.Script, f.an.Script = toolThenText, toolThenText, toolThenText
	g := startGateway(t, threeDialects, map[string]string{"OA": f.oa.URL, "OLL": f.oll.URL, "AN": f.an.URL})
	return g, f
}

func TestAnthropicClientEveryUpstream(t *testing.T) {
	g, f := startThree(t)
	ctx := context.Background()
	seen := map[string]bool{}
	for _, model := range []string{"claude-via-openai", "claude-via-ollama", "claude-via-anthropic"} {
		up := map[string]*fakeup.Server{"claude-via-openai": f.oa, "claude-via-ollama": f.oll, "claude-via-anthropic": f.an}[model]
		t.Run(model+" stream", func(t *testing.T) {
			c := anClient(g)
			var resp *http.Response
			stream := c.Messages.NewStreaming(ctx, msgParams(model), aopt.WithResponseInto(&resp))
			var msg anthropic.Message
			for stream.Next() {
				if err := msg.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if resp.Header.Get("Request-Id") == "" {
				t.Errorf("no request-id header")
			}
			if msg.StopReason != anthropic.StopReasonToolUse {
				t.Fatalf("stop reason %q", msg.StopReason)
			}
			var text, toolID, input string
			for _, b := range msg.Content {
				switch b.Type {
				case "text":
					text += b.Text
				case "tool_use":
					toolID, input = b.ID, string(b.Input)
				}
			}
			if text != "I'll run it." || !strings.HasPrefix(toolID, "toolu_") || seen[toolID] {
				t.Fatalf("text %q tool id %q (seen before: %v)", text, toolID, seen[toolID])
			}
			seen[toolID] = true
			var args map[string]string
			if json.Unmarshal([]byte(input), &args) != nil || args["command"] != "echo hi" {
				t.Fatalf("tool input %s", input)
			}
			if msg.Usage.OutputTokens != 7 {
				t.Fatalf("usage %+v", msg.Usage)
			}
			// The upstream got the translated request.
			body := string(up.Last().Body)
			if model != "claude-via-anthropic" {
				if strings.Contains(body, "x-anthropic-billing-header") {
					t.Errorf("billing header reached a non-Anthropic upstream")
				}
				if strings.Contains(body, "$schema") {
					t.Errorf("$schema reached a non-Anthropic upstream")
				}
			}

			// Second turn: the tool result goes back; the answer is text.
			p := msgParams(model)
			p.Messages = append(p.Messages,
				anthropic.NewAssistantMessage(anthropic.NewTextBlock("I'll run it."), anthropic.NewToolUseBlock(toolID, map[string]string{"command": "echo hi"}, "Bash")),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(toolID, "hi", false)))
			msg2, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if msg2.StopReason != anthropic.StopReasonEndTurn || msg2.Content[0].Text != "the command printed hi" {
				t.Fatalf("second turn %+v", msg2)
			}
			last := up.Last()
			if !strings.Contains(string(last.Body), toolID) || !strings.Contains(string(last.Body), `"hi"`) {
				t.Fatalf("the tool result did not reach the upstream: %s", last.Body)
			}
		})
	}
	t.Run("pass-through to Anthropic rewrites only the model and forwards betas", func(t *testing.T) {
		c := anClient(g)
		_, err := c.Messages.New(ctx, msgParams("claude-via-anthropic"), aopt.WithHeader("anthropic-beta", "interleaved-thinking-2025-05-14"))
		if err != nil {
			t.Fatal(err)
		}
		last := f.an.Last()
		if last.Path != "/v1/messages" || last.JSON()["model"] != "claude-sonnet-4-5-20250929" {
			t.Fatalf("upstream %s model %v", last.Path, last.JSON()["model"])
		}
		if last.Header.Get("X-Api-Key") != "sk-ant-upstream" || last.Header.Get("Anthropic-Beta") != "interleaved-thinking-2025-05-14" || last.Header.Get("Anthropic-Version") == "" {
			t.Fatalf("upstream headers %v", last.Header)
		}
		if !strings.Contains(string(last.Body), "x-anthropic-billing-header") {
			t.Fatalf("pass-through changed the system blocks")
		}
	})
}

func TestClaudeCodeFixturesThroughGateway(t *testing.T) {
	g, f := startThree(t)
	f.oa.Script = nil
	f.oll.Script = nil
	for _, name := range []string{"01_plain_prompt_default_model", "02_tool_result_followup", "03_thinking_signature_tool_followup", "05_legacy_model_sonnet45_budget_thinking", "06_subagent", "07_title_generation_structured_output", "09_websearch_server_tool"} {
		for _, model := range []string{"claude-via-openai", "claude-via-ollama"} {
			t.Run(name+"/"+model, func(t *testing.T) {
				raw, err := os.ReadFile("../../testdata/claude-code/" + name + ".request.json")
				if err != nil {
					t.Fatal(err)
				}
				var body map[string]any
				if err := json.Unmarshal(raw, &body); err != nil {
					t.Fatal(err)
				}
				body["model"] = model
				b, _ := json.Marshal(body)
				resp, out := g.do(t, "POST", "/v1/v1/messages?beta=true", string(b), "Anthropic-Version", "2023-06-01")
				if resp.StatusCode != 200 {
					t.Fatalf("%d %s", resp.StatusCode, out)
				}
				if body["stream"] == true && !strings.Contains(string(out), "event: message_stop") {
					t.Fatalf("stream did not end with message_stop:\n%s", out)
				}
			})
		}
	}
}

// TestClaudeCodeRepeatedTools: Claude Code sends the same ~64 KB tools list
// with every request, and the gateway compares it with the lists it saw
// instead of validating and walking it again. What the upstream gets must
// not change from the first request to the next, a changed list must be
// read afresh, and a fault elsewhere in a body holding the known list must
// still be a 400 that reaches no upstream.
func TestClaudeCodeRepeatedTools(t *testing.T) {
	g, f := startThree(t)
	f.oa.Script = nil
	pretty, err := os.ReadFile("../../testdata/claude-code/02_tool_result_followup.request.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer // as Claude Code sends it
	if err := json.Compact(&compact, pretty); err != nil {
		t.Fatal(err)
	}
	raw := compact.Bytes()
	if n := len(gjson.GetBytes(raw, "tools").Raw); n < 32<<10 {
		t.Fatalf("the fixture's tools list is %d bytes, not Claude Code-sized", n)
	}
	send := func(t *testing.T, body []byte) (int, string) {
		t.Helper()
		resp, out := g.do(t, "POST", "/v1/messages", string(body), "Anthropic-Version", "2023-06-01")
		return resp.StatusCode, string(out)
	}
	for model, up := range map[string]*fakeup.Server{"claude-via-anthropic": f.an, "claude-via-openai": f.oa} {
		t.Run(model, func(t *testing.T) {
			body, _ := sjson.SetBytes(raw, "model", model)
			var first string
			for i := range 3 {
				if code, out := send(t, body); code != 200 {
					t.Fatalf("request %d: %d %.300s", i, code, out)
				}
				got := gjson.GetBytes(up.Last().Body, "tools").Raw
				if i == 0 {
					first = got
				} else if got != first {
					t.Fatalf("request %d: the upstream got other tools than the first time", i)
				}
				if model == "claude-via-anthropic" && got != gjson.GetBytes(body, "tools").Raw {
					t.Fatal("pass-through changed the tools list")
				}
			}
			last := strconv.Itoa(int(gjson.GetBytes(body, "tools.#").Int() - 1))
			renamed, _ := sjson.SetBytes(body, "tools."+last+".name", "renamed_tool")
			if code, out := send(t, renamed); code != 200 || !strings.Contains(gjson.GetBytes(up.Last().Body, "tools").Raw, "renamed_tool") {
				t.Fatalf("changed tools list: %d %.200s; the upstream did not get it", code, out)
			}
			calls := len(up.Requests())
			end := strings.LastIndexByte(string(body), '}')
			for name, bad := range map[string]string{
				"after the tools":  string(body[:end]) + `,"x":}`,
				"before the tools": strings.Replace(string(body), `"messages":[`, `"messages":[,`, 1),
				"a cut body":       string(body[:end]),
			} {
				if bad == string(body) {
					t.Fatalf("%s: the body was not broken", name)
				}
				if code, out := send(t, []byte(bad)); code != 400 || !strings.Contains(out, "not valid JSON") {
					t.Fatalf("%s: %d %.300s", name, code, out)
				}
			}
			if n := len(up.Requests()); n != calls {
				t.Fatalf("invalid bodies reached the upstream: %d calls, want %d", n, calls)
			}
		})
	}
}

func TestAnthropicErrors(t *testing.T) {
	g, f := startThree(t)
	ctx := context.Background()
	check := func(t *testing.T, err error, status int, typ string, contains ...string) {
		t.Helper()
		var ae *anthropic.Error
		if !errors.As(err, &ae) {
			t.Fatalf("error %v is not an API error", err)
		}
		if ae.StatusCode != status {
			t.Fatalf("status %d, want %d: %s", ae.StatusCode, status, ae.RawJSON())
		}
		var body struct {
			Type  string
			Error struct{ Type, Message string }
		}
		if json.Unmarshal([]byte(ae.RawJSON()), &body) != nil || body.Type != "error" || body.Error.Type != typ {
			t.Fatalf("body %s, want Anthropic error JSON of type %s", ae.RawJSON(), typ)
		}
		for _, s := range contains {
			if !strings.Contains(body.Error.Message, s) {
				t.Fatalf("message %q lacks %q", body.Error.Message, s)
			}
		}
	}
	t.Run("unknown model 404 names the available ones", func(t *testing.T) {
		c := anClient(g)
		_, err := c.Messages.New(ctx, msgParams("claude-opus-4-8"))
		check(t, err, 404, "not_found_error", "claude-opus-4-8", "claude-via-openai")
	})
	t.Run("bad key is 401 authentication_error", func(t *testing.T) {
		c := anClient(g, aopt.WithAPIKey("wrong"))
		_, err := c.Messages.New(ctx, msgParams("claude-via-openai"))
		check(t, err, 401, "authentication_error")
	})
	t.Run("upstream 429 reaches Claude Code as 429 with retry-after", func(t *testing.T) {
		f.oa.Script = func(int, fakeup.Request) fakeup.Reply {
			return fakeup.Reply{Status: 429, Header: map[string]string{"Retry-After": "7"}}
		}
		var resp *http.Response
		c := anClient(g)
		_, err := c.Messages.New(ctx, msgParams("claude-via-openai"), aopt.WithResponseInto(&resp))
		check(t, err, 429, "rate_limit_error")
		var ae *anthropic.Error
		errors.As(err, &ae)
		if ra := ae.Response.Header.Get("Retry-After"); ra != "7" {
			t.Fatalf("retry-after %q", ra)
		}
	})
	t.Run("upstream auth failure is never 401", func(t *testing.T) {
		f.oa.Script = func(int, fakeup.Request) fakeup.Reply { return fakeup.Reply{Status: 401} }
		c := anClient(g)
		_, err := c.Messages.New(ctx, msgParams("claude-via-openai"))
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode == 401 {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a stream cut after the first byte ends with an error event", func(t *testing.T) {
		f.oa.Script = func(int, fakeup.Request) fakeup.Reply {
			return fakeup.Reply{Text: "a long answer that is cut", Chunks: 8, ResetAfterEvents: 3}
		}
		c := anClient(g)
		stream := c.Messages.NewStreaming(ctx, msgParams("claude-via-openai"))
		for stream.Next() {
		}
		if stream.Err() == nil {
			t.Fatal("silent truncation: no error after a cut stream")
		}
	})
	t.Run("count_tokens estimates", func(t *testing.T) {
		raw, _ := os.ReadFile("../../testdata/claude-code/08_count_tokens.request.json")
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		body["model"] = "claude-via-openai"
		b, _ := json.Marshal(body)
		resp, out := g.do(t, "POST", "/v1/messages/count_tokens?beta=true", string(b))
		var ct struct {
			InputTokens int `json:"input_tokens"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(out, &ct) != nil {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		// Claude Code's capture server answered 9599 for this body.
		if ct.InputTokens < 7000 || ct.InputTokens > 13000 {
			t.Fatalf("estimate %d far from the fixture's 9599", ct.InputTokens)
		}
		body["model"] = "claude-via-anthropic"
		b, _ = json.Marshal(body)
		_, out = g.do(t, "POST", "/v1/messages/count_tokens", string(b))
		if string(out) != `{"input_tokens":42}` {
			t.Fatalf("anthropic deployment not asked: %s", out)
		}
	})
	t.Run("[1m] suffix and wildcard", func(t *testing.T) {
		f.oll.Script = nil
		c := anClient(g)
		if _, err := c.Messages.New(ctx, msgParams("claude-haiku-4-5-20251001[1m]")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOpenAIClientToAnthropicUpstream(t *testing.T) {
	g, f := startThree(t)
	c := oaClient(g)
	ctx := context.Background()
	p := params("claude-via-anthropic")
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	resp, err := c.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "tool_calls" || len(resp.Choices[0].Message.ToolCalls) != 1 || resp.Choices[0].Message.ToolCalls[0].Function.Name != "Bash" {
		t.Fatalf("reply %+v", resp.Choices[0])
	}
	up := f.an.Last().JSON()
	if up["system"] == nil || up["max_tokens"] == nil {
		t.Fatalf("Anthropic request lacks system or max_tokens: %v", up)
	}
	stream := c.Chat.Completions.NewStreaming(ctx, params("claude-via-anthropic"))
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != "I'll run it." {
		t.Fatalf("content %q", acc.Choices[0].Message.Content)
	}
}

func TestPingDuringUpstreamSilence(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	up.Script = func(int, fakeup.Request) fakeup.Reply {
		return fakeup.Reply{Text: "slow answer", Chunks: 3, EventDelay: 300 * time.Millisecond}
	}
	g := startGatewayOpts(t, threeDialects, map[string]string{"OA": up.URL, "OLL": up.URL, "AN": up.URL},
		gateway.Options{PingInterval: 50 * time.Millisecond})
	resp, out := g.do(t, "POST", "/v1/messages", `{"model":"claude-via-openai","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	if !strings.Contains(string(out), "event: ping") || !strings.HasSuffix(strings.TrimSpace(string(out)), `data: {"type":"message_stop"}`) {
		t.Fatalf("no ping during a 300 ms silence, or no clean end:\n%s", out)
	}
}

func TestServerToolDroppedWithWarning(t *testing.T) {
	g, f := startThree(t)
	f.oa.Script = nil
	raw, err := os.ReadFile("../../testdata/claude-code/09_websearch_server_tool.request.json")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	body["model"] = "claude-via-openai"
	b, _ := json.Marshal(body)
	resp, out := g.do(t, "POST", "/v1/messages", string(b))
	if resp.StatusCode != 200 || !strings.Contains(string(out), "message_stop") {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	if strings.Contains(string(f.oa.Last().Body), "web_search") {
		t.Fatalf("the server tool reached an OpenAI-compatible upstream: %s", f.oa.Last().Body)
	}
	if !strings.Contains(g.logs.String(), "server tool dropped") {
		t.Fatalf("no warning for the dropped server tool")
	}
}
