package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/switchyard/switchyard/internal/fakeup"
)

func oaClient(g *gw) openai.Client {
	return openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(masterKey), option.WithMaxRetries(0))
}

// chatN sends n chat requests for model, each of which must succeed.
func chatN(t *testing.T, c openai.Client, model string, n int) {
	t.Helper()
	for i := range n {
		if _, err := c.Chat.Completions.New(context.Background(), params(model)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

func params(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
	}
}

const oneOpenAI = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: {{UP}}/v1
      api_key: sk-upstream
general_settings:
  master_key: sk-test-master
`

func TestOpenAIPassThrough(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	g := startGateway(t, oneOpenAI, map[string]string{"UP": up.URL})
	c := oaClient(g)
	ctx := context.Background()

	t.Run("non-streaming", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, params("gpt-4o"))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; got != "Hello from the fake upstream." {
			t.Fatalf("content %q", got)
		}
		if resp.Usage.PromptTokens != 11 || resp.Usage.CompletionTokens != 7 {
			t.Fatalf("usage %+v", resp.Usage)
		}
		last := up.Last()
		if last.Path != "/v1/chat/completions" {
			t.Fatalf("upstream path %q", last.Path)
		}
		if got := last.JSON()["model"]; got != "gpt-4o-2024-08-06" {
			t.Fatalf("upstream model %v", got)
		}
		if got := last.Header.Get("Authorization"); got != "Bearer sk-upstream" {
			t.Fatalf("upstream auth %q (the client's key must not be forwarded)", got)
		}
	})

	t.Run("streaming, usage kept from a client that did not ask", func(t *testing.T) {
		stream := c.Chat.Completions.NewStreaming(ctx, params("gpt-4o"))
		acc := openai.ChatCompletionAccumulator{}
		n := 0
		for stream.Next() {
			ch := stream.Current()
			if len(ch.Choices) == 0 {
				t.Fatalf("usage-only chunk reached a client that did not ask for it: %s", ch.RawJSON())
			}
			acc.AddChunk(ch)
			n++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0].Message.Content; got != "Hello from the fake upstream." {
			t.Fatalf("content %q after %d chunks", got, n)
		}
		so, _ := up.Last().JSON()["stream_options"].(map[string]any)
		if so["include_usage"] != true {
			t.Fatalf("upstream was not asked for usage: %v", up.Last().JSON())
		}
		if !strings.Contains(g.logs.String(), "input_tokens=11") {
			t.Fatalf("usage from the stream was not kept (log line lacks it)")
		}
	})

	t.Run("streaming, usage for a client that asked", func(t *testing.T) {
		p := params("gpt-4o")
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := c.Chat.Completions.NewStreaming(ctx, p)
		var usage int64
		for stream.Next() {
			if u := stream.Current().Usage; u.TotalTokens > 0 {
				usage = u.TotalTokens
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if usage != 18 {
			t.Fatalf("usage total %d, want 18", usage)
		}
	})
}

func TestAuth(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	g := startGateway(t, oneOpenAI, map[string]string{"UP": up.URL})
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"no key", []string{"Authorization", ""}, 401},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}, 401},
		{"x-api-key", []string{"Authorization", "", "X-Api-Key", masterKey}, 200},
		{"both, one right", []string{"Authorization", "Bearer nope", "X-Api-Key", masterKey}, 200},
		{"bearer", nil, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := g.do(t, "POST", "/v1/chat/completions", body, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.status == 401 {
				var e struct {
					Error struct{ Message, Type string }
				}
				if json.Unmarshal(b, &e) != nil || e.Error.Type != "authentication_error" && e.Error.Type != "invalid_request_error" {
					t.Fatalf("401 body is not OpenAI error JSON: %s", b)
				}
				if strings.Contains(string(b), "nope") {
					t.Fatalf("error echoes the key: %s", b)
				}
			}
		})
	}
	t.Run("health endpoints open, others closed", func(t *testing.T) {
		for path, want := range map[string]int{"/health/liveliness": 200, "/health/liveness": 200, "/health/readiness": 200, "/health": 401, "/v1/models": 401} {
			resp, _ := g.do(t, "GET", path, "", "Authorization", "")
			if resp.StatusCode != want {
				t.Errorf("%s without key: %d, want %d", path, resp.StatusCode, want)
			}
		}
		resp, _ := g.do(t, "HEAD", "/v1", "", "Authorization", "")
		if resp.StatusCode != 200 {
			t.Errorf("HEAD /v1: %d", resp.StatusCode)
		}
	})
	if strings.Contains(g.logs.String(), masterKey) {
		t.Fatal("the master key appears in the log")
	}
}

const ollamaGroups = `
model_list:
  - model_name: local-chat
    litellm_params:
      model: ollama_chat/qwen2.5:7b
      api_base: {{OLL}}
  - model_name: local-gen
    litellm_params:
      model: ollama/qwen2.5:7b
      api_base: {{OLL}}
  - model_name: "ollama/*"
    litellm_params:
      model: "ollama/*"
      api_base: {{OLL}}
router_settings:
  model_group_alias:
    gpt-4: local-chat
general_settings:
  master_key: sk-test-master
`

func weatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("weather for a city"),
		Parameters: shared.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required":   []string{"city"},
		},
	})
}

func TestOpenAIClientToOllama(t *testing.T) {
	up := fakeup.New(fakeup.Ollama)
	defer up.Close()
	up.Script = func(n int, r fakeup.Request) fakeup.Reply {
		if strings.Contains(string(r.Body), "weather") {
			return fakeup.Reply{ToolCall: "get_weather", ToolArgs: `{"city":"Paris"}`}
		}
		return fakeup.Reply{}
	}
	g := startGateway(t, ollamaGroups, map[string]string{"OLL": up.URL})
	c := oaClient(g)
	ctx := context.Background()
	for _, model := range []string{"local-chat", "local-gen", "gpt-4", "ollama/llama3.1:8b"} {
		t.Run(model, func(t *testing.T) {
			resp, err := c.Chat.Completions.New(ctx, params(model))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Choices[0].Message.Content != "Hello from the fake upstream." || resp.Choices[0].FinishReason != "stop" {
				t.Fatalf("reply %+v", resp.Choices[0])
			}
			if resp.Usage.PromptTokens != 11 || resp.Usage.CompletionTokens != 7 {
				t.Fatalf("usage %+v", resp.Usage)
			}
			last := up.Last()
			if last.Path != "/api/chat" {
				t.Fatalf("path %q", last.Path)
			}
			wantModel := "qwen2.5:7b"
			if model == "ollama/llama3.1:8b" {
				wantModel = "llama3.1:8b"
			}
			if got := last.JSON()["model"]; got != wantModel {
				t.Fatalf("upstream model %v, want %s", got, wantModel)
			}
			if last.JSON()["stream"] != false {
				t.Fatalf("stream not set false explicitly: %s", last.Body)
			}
		})
	}
	for _, model := range []string{"local-chat", "local-gen"} {
		t.Run(model+" tools, streaming", func(t *testing.T) {
			p := params(model)
			p.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage("what is the weather in Paris?")}
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
			stream := c.Chat.Completions.NewStreaming(ctx, p)
			acc := openai.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			tools, _ := up.Last().JSON()["tools"].([]any)
			if len(tools) != 1 {
				t.Fatalf("tools not sent to Ollama for %s: %s", model, up.Last().Body)
			}
			calls := acc.Choices[0].Message.ToolCalls
			if len(calls) != 1 || calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments != `{"city":"Paris"}` || calls[0].ID == "" {
				t.Fatalf("tool calls %+v", calls)
			}
			if acc.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("finish %q", acc.Choices[0].FinishReason)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	dead := fakeup.New(fakeup.Ollama)
	deadURL := dead.URL
	dead.Close()
	g := startGateway(t, `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: {{UP}}/v1
  - model_name: local
    litellm_params:
      model: ollama/qwen2.5:7b
      api_base: {{DEAD}}
  - model_name: slow
    litellm_params:
      model: openai/slow
      api_base: {{UP}}/v1
      timeout: 0.3
  - model_name: slowstart
    litellm_params:
      model: openai/slowstart
      api_base: {{UP}}/v1
      stream_timeout: 0.3
general_settings:
  master_key: sk-test-master
`, map[string]string{"UP": up.URL, "DEAD": deadURL})
	up.Script = func(n int, r fakeup.Request) fakeup.Reply {
		switch r.JSON()["model"] {
		case "slow", "slowstart":
			return fakeup.Reply{Hang: true}
		}
		if strings.Contains(string(r.Body), "fail-400") {
			return fakeup.Reply{Status: 400}
		}
		return fakeup.Reply{}
	}
	c := oaClient(g)
	ctx := context.Background()
	check := func(t *testing.T, err error, status int, contains ...string) {
		t.Helper()
		var ae *openai.Error
		if !errors.As(err, &ae) {
			t.Fatalf("error %v is not an API error", err)
		}
		if ae.StatusCode != status {
			t.Fatalf("status %d, want %d: %s", ae.StatusCode, status, ae.RawJSON())
		}
		for _, s := range contains {
			if !strings.Contains(ae.Message, s) {
				t.Fatalf("message %q lacks %q", ae.Message, s)
			}
		}
	}
	t.Run("unknown model is 404 naming the available ones", func(t *testing.T) {
		_, err := c.Chat.Completions.New(ctx, params("nope"))
		check(t, err, 404, "nope", "gpt-4o", "local")
	})
	t.Run("Ollama down is 503 saying how to start it", func(t *testing.T) {
		_, err := c.Chat.Completions.New(ctx, params("local"))
		check(t, err, 503, "cannot reach Ollama at "+deadURL, "ollama serve")
	})
	t.Run("timeout bounds the whole call", func(t *testing.T) {
		start := time.Now()
		_, err := c.Chat.Completions.New(ctx, params("slow"))
		check(t, err, 504)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("stream_timeout bounds the first byte", func(t *testing.T) {
		stream := c.Chat.Completions.NewStreaming(ctx, params("slowstart"))
		for stream.Next() {
		}
		check(t, stream.Err(), 504, "stream_timeout")
	})
	t.Run("upstream 400 is relayed as is", func(t *testing.T) {
		p := params("gpt-4o")
		p.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage("fail-400")}
		_, err := c.Chat.Completions.New(ctx, p)
		check(t, err, 400, "fake upstream says 400")
	})
	t.Run("bad JSON is 400", func(t *testing.T) {
		resp, b := g.do(t, "POST", "/v1/chat/completions", `{"model":`)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "JSON") {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
	t.Run("missing model is 400 naming the field", func(t *testing.T) {
		resp, b := g.do(t, "POST", "/v1/chat/completions", `{"messages":[]}`)
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"param":"model"`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
}

func TestResetMidStream(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	up.Script = func(n int, r fakeup.Request) fakeup.Reply {
		return fakeup.Reply{Text: "a long answer that will be cut", Chunks: 6, ResetAfterEvents: 3}
	}
	g := startGateway(t, oneOpenAI, map[string]string{"UP": up.URL})
	c := oaClient(g)
	stream := c.Chat.Completions.NewStreaming(context.Background(), params("gpt-4o"))
	n := 0
	for stream.Next() {
		n++
	}
	if stream.Err() == nil {
		t.Fatalf("a stream cut by the upstream after %d chunks ended without an error: silent truncation", n)
	}
	if n == 0 {
		t.Fatalf("no chunk arrived before the cut")
	}
}

// TestStreamEndReachesClientWhileUpstreamLingers: the end of a relayed
// stream is flushed with the response's end (one write) when the upstream
// body ends right after its [DONE], and on its own, promptly, when the
// upstream keeps the body open.
func TestStreamEndReachesClientWhileUpstreamLingers(t *testing.T) {
	for _, hold := range []time.Duration{0, 3 * time.Second} {
		t.Run(fmt.Sprint("hold ", hold), func(t *testing.T) {
			up := fakeup.New(fakeup.OpenAI)
			defer up.Close()
			up.Script = func(int, fakeup.Request) fakeup.Reply {
				return fakeup.Reply{Text: "one two three", Chunks: 3, HoldAfterEnd: hold}
			}
			g := startGateway(t, oneOpenAI, map[string]string{"UP": up.URL})
			c := oaClient(g)
			began := time.Now()
			stream := c.Chat.Completions.NewStreaming(context.Background(), params("gpt-4o"))
			var text strings.Builder
			for stream.Next() {
				if ch := stream.Current(); len(ch.Choices) > 0 {
					text.WriteString(ch.Choices[0].Delta.Content)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if text.String() != "one two three" {
				t.Fatalf("text %q", text.String())
			}
			if d := time.Since(began); d > time.Second {
				t.Fatalf("the stream's end reached the client after %s", d)
			}
		})
	}
}

func TestRetryOnOtherDeployment(t *testing.T) {
	bad := fakeup.New(fakeup.OpenAI)
	defer bad.Close()
	bad.Script = func(int, fakeup.Request) fakeup.Reply { return fakeup.Reply{Status: 500} }
	good := fakeup.New(fakeup.OpenAI)
	defer good.Close()
	g := startGateway(t, `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{BAD}}/v1"}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{GOOD}}/v1"}
litellm_settings:
  num_retries: 2
general_settings:
  master_key: sk-test-master
`, map[string]string{"BAD": bad.URL, "GOOD": good.URL})
	c := oaClient(g)
	chatN(t, c, "gpt-4o", 10)
	if good.ChatCount() != 10 {
		t.Fatalf("good deployment served %d of 10", good.ChatCount())
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	up.Script = func(int, fakeup.Request) fakeup.Reply {
		return fakeup.Reply{Text: strings.Repeat("word ", 200), Chunks: 200, EventDelay: 20 * time.Millisecond}
	}
	g := startGateway(t, oneOpenAI, map[string]string{"UP": up.URL})
	ctx, cancel := context.WithCancel(context.Background())
	client := oaClient(g)
	stream := client.Chat.Completions.NewStreaming(ctx, params("gpt-4o"))
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	cancel()
	for stream.Next() {
	}
	// The upstream handler returns once its client (the gateway) is gone;
	// closing the fake then does not block on a 4-second stream.
	done := make(chan struct{})
	go func() { up.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream call went on after the client left")
	}
}

func TestModelsAndHealth(t *testing.T) {
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	dead := fakeup.New(fakeup.Ollama)
	deadURL := dead.URL
	dead.Close()
	g := startGateway(t, `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "{{UP}}/v1"}
  - model_name: local
    litellm_params: {model: ollama/qwen2.5:7b, api_base: "{{DEAD}}"}
  - model_name: "claude-*"
    litellm_params: {model: openai/gpt-4o, api_base: "{{UP}}/v1"}
router_settings:
  model_group_alias: {gpt-4: gpt-4o}
general_settings:
  master_key: sk-test-master
`, map[string]string{"UP": up.URL, "DEAD": deadURL})
	client := oaClient(g)
	models, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "gpt-4o,local,gpt-4" {
		t.Fatalf("models %v", ids)
	}
	resp, b := g.do(t, "GET", "/models?limit=1", "")
	var list struct {
		Data    []struct{ ID string }
		HasMore bool `json:"has_more"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &list) != nil || len(list.Data) != 1 || !list.HasMore {
		t.Fatalf("limit: %d %s", resp.StatusCode, b)
	}
	resp, b = g.do(t, "GET", "/health", "")
	var h struct {
		Healthy   []struct{ Model string }        `json:"healthy_endpoints"`
		Unhealthy []struct{ Model, Error string } `json:"unhealthy_endpoints"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &h) != nil {
		t.Fatalf("health %d %s", resp.StatusCode, b)
	}
	if len(h.Healthy) != 2 || len(h.Unhealthy) != 1 || h.Unhealthy[0].Model != "local" || !strings.Contains(h.Unhealthy[0].Error, "Ollama") {
		t.Fatalf("health %s", b)
	}
	// A wildcard group serves Claude names.
	if _, err := client.Chat.Completions.New(context.Background(), params("claude-haiku-4-5-20251001")); err != nil {
		t.Fatalf("wildcard: %v", err)
	}
}

func TestEmbeddings(t *testing.T) {
	oa := fakeup.New(fakeup.OpenAI)
	defer oa.Close()
	oll := fakeup.New(fakeup.Ollama)
	defer oll.Close()
	g := startGateway(t, `
model_list:
  - model_name: text-embedding-3-small
    litellm_params: {model: openai/text-embedding-3-small, api_base: "{{OA}}/v1"}
  - model_name: local-embed
    litellm_params: {model: ollama/nomic-embed-text, api_base: "{{OLL}}"}
  - model_name: claude
    litellm_params: {model: anthropic/claude-haiku-4-5, api_base: "{{OA}}", api_key: x}
general_settings:
  master_key: sk-test-master
`, map[string]string{"OA": oa.URL, "OLL": oll.URL})
	c := oaClient(g)
	ctx := context.Background()
	res, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 1 || len(res.Data[0].Embedding) != 3 || oa.Last().JSON()["model"] != "text-embedding-3-small" {
		t.Fatalf("openai embeddings %+v", res)
	}
	res, err = c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "local-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 2 || res.Data[1].Embedding[2] != 0.6 || res.Usage.PromptTokens != 6 || oll.Last().Path != "/api/embed" {
		t.Fatalf("ollama embeddings %+v (upstream %s)", res, oll.Last().Path)
	}
	_, err = c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "claude",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("embeddings on an Anthropic deployment: %v", err)
	}
}

func TestOllamaNumCtxAndTruncationGuard(t *testing.T) {
	oll := fakeup.New(fakeup.Ollama)
	defer oll.Close()
	big := fakeup.New(fakeup.OpenAI)
	defer big.Close()
	g := startGateway(t, `
model_list:
  - model_name: small
    litellm_params: {model: ollama_chat/tiny, api_base: "{{OLL}}"}
    model_info: {max_input_tokens: 1000}
  - model_name: fixed
    litellm_params: {model: ollama_chat/tiny, api_base: "{{OLL}}", num_ctx: 2048}
  - model_name: small-with-fallback
    litellm_params: {model: ollama_chat/tiny, api_base: "{{OLL}}", num_ctx: 1000}
  - model_name: big
    litellm_params: {model: openai/big, api_base: "{{BIG}}/v1"}
router_settings:
  context_window_fallbacks: [{"small-with-fallback": ["big"]}]
general_settings:
  master_key: sk-test-master
`, map[string]string{"OLL": oll.URL, "BIG": big.URL})
	short := `{"model":"%s","messages":[{"role":"user","content":"hi"}]}`
	long := `{"model":"%s","messages":[{"role":"user","content":"` + strings.Repeat("many words of a long prompt ", 1000) + `"}]}`
	numCtx := func() any {
		opts, _ := oll.Last().JSON()["options"].(map[string]any)
		return opts["num_ctx"]
	}
	if resp, b := g.do(t, "POST", "/v1/chat/completions", fmt.Sprintf(short, "small")); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if n := numCtx(); n != float64(1000) {
		t.Fatalf("derived num_ctx %v, want 1000 (max_input_tokens caps the model's 131072)", n)
	}
	if resp, b := g.do(t, "POST", "/v1/chat/completions", fmt.Sprintf(short, "fixed")); resp.StatusCode != 200 || numCtx() != float64(2048) {
		t.Fatalf("num_ctx from litellm_params: %d %s %v", resp.StatusCode, b, numCtx())
	}
	calls := oll.ChatCount()
	resp, b := g.do(t, "POST", "/v1/chat/completions", fmt.Sprintf(long, "small"))
	if resp.StatusCode != 400 || !strings.Contains(string(b), "context_length_exceeded") || oll.ChatCount() != calls {
		t.Fatalf("a prompt over max_input_tokens: %d %s (upstream called: %v)", resp.StatusCode, b, oll.ChatCount() != calls)
	}
	resp, b = g.do(t, "POST", "/v1/chat/completions", fmt.Sprintf(long, "fixed"))
	if resp.StatusCode != 400 || !strings.Contains(string(b), "context window (num_ctx)") || oll.ChatCount() != calls {
		t.Fatalf("a prompt over num_ctx: %d %s (upstream called: %v)", resp.StatusCode, b, oll.ChatCount() != calls)
	}
	resp, b = g.do(t, "POST", "/v1/chat/completions", fmt.Sprintf(long, "small-with-fallback"))
	if resp.StatusCode != 200 || resp.Header.Get("X-Litellm-Model-Group") != "big" || big.ChatCount() != 1 {
		t.Fatalf("context_window_fallbacks: %d %s group %q", resp.StatusCode, b, resp.Header.Get("X-Litellm-Model-Group"))
	}
}

func TestWarmupPreloadsOllamaModel(t *testing.T) {
	oll := fakeup.New(fakeup.Ollama)
	defer oll.Close()
	startGateway(t, `
model_list:
  - model_name: warm
    litellm_params: {model: ollama_chat/qwen2.5:7b, api_base: "{{OLL}}", warmup: true, keep_alive: 30m}
  - model_name: cold
    litellm_params: {model: ollama_chat/llama3.1:8b, api_base: "{{OLL}}"}
`, map[string]string{"OLL": oll.URL})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range oll.Requests() {
			if r.Path == "/api/generate" {
				m := r.JSON()
				if m["model"] != "qwen2.5:7b" || m["keep_alive"] != "30m" || m["prompt"] != nil {
					t.Fatalf("warm-up request %s", r.Body)
				}
				for _, r := range oll.Requests() {
					if r.Path == "/api/generate" && strings.Contains(string(r.Body), "llama3.1") {
						t.Fatal("a deployment without warmup was preloaded")
					}
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no warm-up request reached Ollama before any client request")
}

func TestBareWildcardChoosesProviderPerRequest(t *testing.T) {
	oa := fakeup.New(fakeup.OpenAI)
	defer oa.Close()
	an := fakeup.New(fakeup.Anthropic)
	defer an.Close()
	oll := fakeup.New(fakeup.Ollama)
	defer oll.Close()
	t.Setenv("OPENAI_API_BASE", oa.URL+"/v1")
	t.Setenv("OPENAI_API_KEY", "sk-oa-env")
	t.Setenv("ANTHROPIC_API_BASE", an.URL)
	t.Setenv("ANTHROPIC_API_KEY", "sk-an-env")
	t.Setenv("OLLAMA_API_BASE", oll.URL)
	g := startGateway(t, `
model_list:
  - model_name: "*"
    litellm_params: {model: "*"}
general_settings:
  master_key: sk-test-master
`, nil)
	c := oaClient(g)
	ctx := context.Background()
	for _, tc := range []struct {
		model string
		up    *fakeup.Server
		want  string
		key   string
	}{
		{"gpt-4o-mini", oa, "gpt-4o-mini", "Bearer sk-oa-env"},
		{"claude-haiku-4-5", an, "claude-haiku-4-5", "sk-an-env"},
		{"ollama/llama3.1:8b", oll, "llama3.1:8b", ""},
	} {
		if _, err := c.Chat.Completions.New(ctx, params(tc.model)); err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		last := tc.up.Last()
		if last.JSON()["model"] != tc.want {
			t.Fatalf("%s went to %s with model %v", tc.model, last.Path, last.JSON()["model"])
		}
		if tc.key != "" && last.Header.Get("Authorization") != tc.key && last.Header.Get("X-Api-Key") != tc.key {
			t.Fatalf("%s: upstream key headers %v", tc.model, last.Header)
		}
	}
	_, err := c.Chat.Completions.New(ctx, params("mystery-model"))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 || !strings.Contains(ae.Message, "provider/model") {
		t.Fatalf("unknown provider: %v", err)
	}
}
