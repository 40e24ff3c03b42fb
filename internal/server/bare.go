package server

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/router"
)

// bareDeployments caches the per-provider deployments made for a bare
// `model: "*"` deployment, by deployment id and provider.
type bareDeployments struct{ m sync.Map }

// resolveBare picks the provider of a bare `model: "*"` deployment from the
// requested name, as LiteLLM does: a known provider prefix
// ("anthropic/claude-…", "ollama/llama3"), else a well-known model name
// (gpt-*, o1/o3/o4*, claude-*). The deployment's api_base and api_key win;
// else the provider's environment variables and default address.
func (s *Server) resolveBare(d *router.Deployment, model string) (*router.Deployment, string, error) {
	prov, name := "", model
	if i := strings.IndexByte(model, '/'); i > 0 {
		if _, ok := config.LookupProvider(model[:i]); ok {
			prov, name = strings.ToLower(model[:i]), model[i+1:]
		}
	}
	if prov == "" {
		p, ok := config.InferProvider(model)
		if !ok {
			return nil, "", &llm.Error{Kind: llm.KindNotFound, Param: "model", Message: fmt.Sprintf(
				"deployment %s passes any model to its provider, but the provider of %q is unknown: ask for provider/model (for example openai/%s or ollama/%s)",
				d.Upstream.Name, model, model, model)}
		}
		prov = p
	}
	key := d.ID() + "\x00" + prov
	if v, ok := s.bare.m.Load(key); ok {
		return v.(*router.Deployment), name, nil
	}
	spec, _ := config.LookupProvider(prov)
	base, apiKey := d.Cfg.APIBase, d.Cfg.APIKey
	if base == "" && spec.APIBaseEnv != "" {
		base = os.Getenv(spec.APIBaseEnv)
	}
	if base == "" {
		base = spec.DefaultAPIBase
	}
	if apiKey == "" && spec.APIKeyEnv != "" {
		apiKey = os.Getenv(spec.APIKeyEnv)
	}
	if base == "" {
		return nil, "", &llm.Error{Kind: llm.KindInvalidRequest, Param: "model", Message: fmt.Sprintf(
			"provider %s needs an api_base: set it on deployment %s", prov, d.Upstream.Name)}
	}
	cfg := d.Cfg
	cfg.Provider, cfg.Dialect, cfg.APIBase, cfg.APIKey = spec.Name, spec.Dialect, base, apiKey
	nd := &router.Deployment{Cfg: cfg, Upstream: &provider.Upstream{
		Name:    d.Upstream.Name + "/" + prov,
		Dialect: spec.Dialect,
		BaseURL: provider.NormalizeBase(spec.Dialect, base),
		APIKey:  apiKey,
		Headers: d.Cfg.Headers,
		Client:  d.Upstream.Client,
		Pool:    d.Upstream.Pool,
	}}
	v, _ := s.bare.m.LoadOrStore(key, nd)
	return v.(*router.Deployment), name, nil
}
