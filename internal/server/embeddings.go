package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/internal/dialect/ollama"
	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/router"
)

// handleEmbeddings serves OpenAI's POST /v1/embeddings: passed through to
// OpenAI-compatible deployments, translated to Ollama's /api/embed.
func (s *Server) handleEmbeddings(w *httpd.Response, r *httpd.Request, info *reqInfo) error {
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	if !llm.ValidJSON(body) {
		return &llm.Error{Kind: llm.KindInvalidRequest, Message: "request body is not valid JSON"}
	}
	m := gjson.GetBytes(body, "model")
	if m.Type != gjson.String || m.Str == "" {
		return &llm.Error{Kind: llm.KindInvalidRequest, Param: "model", Message: "`model` is required and must be a string"}
	}
	if !gjson.GetBytes(body, "input").Exists() {
		return &llm.Error{Kind: llm.KindInvalidRequest, Param: "input", Message: "`input` is required"}
	}
	info.model, info.body, info.client, info.route = m.Str, body, llm.DialectOpenAI, "embeddings"
	rt, err := s.router.Resolve(m.Str)
	if err != nil {
		return err
	}
	info.group = rt.Group.Name
	release, err := s.router.Admit(r.Context())
	if err != nil {
		return err
	}
	defer release()
	c := &call{s: s, w: w, r: r, client: llm.DialectOpenAI, body: body, model: m.Str, info: info, start: info.start}
	res, err := s.router.Run(r.Context(), router.Request{Route: rt, NumRetries: -1, Scratch: info.scratch()}, c.embedAttempt)
	info.retries, info.fallbacks = res.Retries, res.Fallbacks
	return err
}

func (c *call) embedAttempt(ctx context.Context, t *router.Try) (bool, error) {
	d := t.Deployment
	c.try = t
	c.info.dep, c.info.deployment, c.info.group, c.info.upstreamModel = d, d.ID(), t.Group, t.UpstreamModel
	timeout := d.Cfg.Timeout
	if timeout <= 0 {
		timeout = c.s.opts.RequestTimeout
	}
	began := time.Now()
	c.deadline = provider.Deadline(began, timeout)
	defer func() { c.info.upstreamTime += time.Since(began) }()
	switch d.Dialect() {
	case llm.DialectOpenAI:
		b, err := sjson.SetBytes(c.body, "model", t.UpstreamModel)
		if err != nil {
			return false, err
		}
		resp, err := c.send(ctx, d, provider.EndpointEmbeddings, b)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody))
		if err != nil {
			return false, d.Upstream.Classify(ctx, err)
		}
		if n := gjson.GetBytes(out, "usage.prompt_tokens"); n.Exists() {
			c.setUsage(llm.Usage{InputTokens: int(n.Int())}, true)
		}
		return c.writeEmbeddings(d, out)
	case llm.DialectOllama:
		if f := gjson.GetBytes(c.body, "encoding_format").Str; f != "" && f != "float" && !c.s.opts.DropParams {
			return false, &llm.Error{Kind: llm.KindInvalidRequest, Param: "encoding_format",
				Message: "Ollama returns float embeddings only; drop encoding_format or set litellm_settings.drop_params: true"}
		}
		b, err := ollama.EncodeEmbed(t.UpstreamModel, json.RawMessage(gjson.GetBytes(c.body, "input").Raw), llm.EncodeOptions{Params: d.Cfg.Params})
		if err != nil {
			return false, err
		}
		resp, err := c.send(ctx, d, provider.EndpointEmbeddings, b)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody))
		if err != nil {
			return false, d.Upstream.Classify(ctx, err)
		}
		emb, err := ollama.DecodeEmbed(raw)
		if err != nil {
			return false, err
		}
		c.setUsage(emb.Usage, true)
		type item struct {
			Object    string    `json:"object"`
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		}
		data := make([]item, len(emb.Vectors))
		for i, v := range emb.Vectors {
			data[i] = item{"embedding", i, v}
		}
		out, err := json.Marshal(map[string]any{"object": "list", "data": data, "model": c.model,
			"usage": map[string]int{"prompt_tokens": emb.Usage.InputTokens, "total_tokens": emb.Usage.InputTokens}})
		if err != nil {
			return false, err
		}
		return c.writeEmbeddings(d, out)
	}
	return false, &llm.Error{Kind: llm.KindInvalidRequest, Param: "model",
		Message: "deployment " + d.Upstream.Name + " (" + string(d.Dialect()) + ") serves no embeddings"}
}

func (c *call) writeEmbeddings(d *router.Deployment, out []byte) (bool, error) {
	c.keepResponse(nil)
	c.commit(d, "application/json", http.StatusOK)
	c.recordNow()
	_, err := c.w.Write(out)
	return true, err
}
