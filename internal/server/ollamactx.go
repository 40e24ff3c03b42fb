package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/dialect/ollama"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/router"
	"github.com/switchyard/switchyard/internal/tokens"
)

// DefaultNumCtxCap bounds the num_ctx Switchyard derives from a model's
// trained context length when neither litellm_params.num_ctx nor
// model_info.max_input_tokens says: a 128k context would reserve gigabytes
// of KV cache on a small machine.
const DefaultNumCtxCap = 32768

// numCtxRetry is how long an unknown context length is remembered before
// /api/show is asked again.
const numCtxRetry = 30 * time.Second

// Ollama silently cuts a prompt to its num_ctx (2048 or 4096 tokens by
// default) and answers as if nothing happened: Claude Code's 20k-token
// prompts lose most of their text. So Switchyard always sends num_ctx, and
// refuses a prompt that does not fit instead of letting it be truncated.
type numCtxCache struct {
	mu sync.Mutex
	m  map[string]numCtxEntry
}

type numCtxEntry struct {
	n  int
	at time.Time
}

// ollamaNumCtx is the num_ctx for model on d: litellm_params.num_ctx, else
// the model's context length from /api/show, capped by max_input_tokens or
// DefaultNumCtxCap; 0 when unknown (Ollama then uses its own default).
func (s *Server) ollamaNumCtx(ctx context.Context, d *router.Deployment, model string) int {
	if d.Cfg.NumCtx > 0 {
		return d.Cfg.NumCtx
	}
	key := d.ID() + "\x00" + model
	s.numCtx.mu.Lock()
	e, ok := s.numCtx.m[key]
	s.numCtx.mu.Unlock()
	if ok && (e.n > 0 || time.Since(e.at) < numCtxRetry) {
		return e.n
	}
	n := 0
	body, _ := json.Marshal(map[string]string{"model": model})
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if resp, err := d.Upstream.Do(sctx, provider.EndpointShow, body, nil); err == nil {
		var b []byte
		b, err = readLimited(resp.Body, 4<<20)
		resp.Body.Close()
		if err == nil && resp.StatusCode == 200 {
			if info, err := ollama.ParseShow(b); err == nil && info.ContextLength > 0 {
				n = info.ContextLength
				limit := d.Cfg.Info.MaxInputTokens
				if limit <= 0 {
					limit = DefaultNumCtxCap
				}
				n = min(n, limit)
			}
		}
	}
	s.numCtx.mu.Lock()
	if s.numCtx.m == nil {
		s.numCtx.m = map[string]numCtxEntry{}
	}
	s.numCtx.m[key] = numCtxEntry{n: n, at: time.Now()}
	s.numCtx.mu.Unlock()
	if n > 0 {
		s.log.Debug("ollama context window", "deployment", d.ID(), "model", model, "num_ctx", n)
	}
	return n
}

// ollamaParams adds num_ctx to an Ollama deployment's params and refuses a
// prompt that the context window cannot hold (KindContextWindow: a 400, or
// context_window_fallbacks when configured).
func (c *call) ollamaParams(ctx context.Context, d *router.Deployment, model string, hub *llm.Request) (map[string]json.RawMessage, error) {
	n := c.s.ollamaNumCtx(ctx, d, model)
	if n <= 0 {
		return d.Cfg.Params, nil
	}
	if c.promptTokens == 0 {
		c.promptTokens = tokens.CountRequest(hub)
	}
	if c.promptTokens > n {
		return nil, &llm.Error{Kind: llm.KindContextWindow, Param: "messages",
			Message: fmt.Sprintf("the prompt is about %d tokens, more than the %d-token context window (num_ctx) of %s on deployment %s: Ollama would silently cut it; raise litellm_params.num_ctx or configure context_window_fallbacks",
				c.promptTokens, n, model, d.Upstream.Name)}
	}
	c.numCtxSent = n
	if _, set := d.Cfg.Params["num_ctx"]; set {
		return d.Cfg.Params, nil
	}
	p := make(map[string]json.RawMessage, len(d.Cfg.Params)+1)
	for k, v := range d.Cfg.Params {
		p[k] = v
	}
	p["num_ctx"] = json.RawMessage(strconv.Itoa(n))
	return p, nil
}

// truncated reports, after the fact, a prompt Ollama cut to num_ctx: our
// estimate can be far off for a model whose tokenizer splits text finely,
// but Ollama's prompt_eval_count then equals the num_ctx we sent.
func (c *call) truncated(d *router.Deployment, u *llm.Usage) *llm.Error {
	if c.numCtxSent <= 0 || u == nil || u.InputTokens < c.numCtxSent {
		return nil
	}
	return &llm.Error{Kind: llm.KindContextWindow, Param: "messages",
		Message: fmt.Sprintf("Ollama evaluated %d prompt tokens, the whole %d-token context window (num_ctx) of deployment %s: the prompt was cut; raise litellm_params.num_ctx or configure context_window_fallbacks",
			u.InputTokens, c.numCtxSent, d.Upstream.Name)}
}
