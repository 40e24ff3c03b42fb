// Package gateway wires a loaded config into a running gateway: upstreams,
// router, server and the background work around them. main and the
// integration tests both build the gateway through here.
package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/callbacks"
	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/metrics"
	"github.com/switchyard/switchyard/internal/pricing"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/record"
	"github.com/switchyard/switchyard/internal/router"
	"github.com/switchyard/switchyard/internal/server"
	"github.com/switchyard/switchyard/internal/spend"
)

// Options are what the caller adds to the config.
type Options struct {
	Logger *slog.Logger
	// Transport overrides the upstream HTTP transport (tests).
	Transport http.RoundTripper
	// PingInterval overrides the keep-alive interval on streams (tests).
	PingInterval time.Duration
	// DataDir holds the spend journal when the database is not a SQLite
	// file (default: $SWITCHYARD_DATA_DIR, else the user cache directory).
	DataDir string
	// Spend overrides the spend writer options (tests).
	Spend spend.WriterOptions
	// DefaultDatabase replaces sqlite:///switchyard.db as the spend database
	// when database_url is unset (tests).
	DefaultDatabase string
	// Env reads environment variables for callbacks (default os.Getenv).
	Env func(string) string
	// Dial opens upstream connections instead of TCP (benchmarks).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Gateway is a configured, runnable gateway.
type Gateway struct {
	cfg       *config.Config
	log       *slog.Logger
	router    *router.Router
	server    *server.Server
	metrics   *metrics.Metrics
	callbacks *callbacks.Dispatcher
	store     spend.Store
	writer    *spend.Writer
	deps      []*router.Deployment
	client    *http.Client
	pool      *provider.Pool
	prices    priceCache
}

// New builds the gateway for cfg.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	// Upstream calls go over the fast client's pool, and through net/http
	// when it cannot serve them (a proxy) or a test injects a transport.
	var rt http.RoundTripper = provider.NewTransport()
	var pool *provider.Pool
	if opts.Transport != nil {
		rt = opts.Transport
	} else {
		pool = provider.NewPool()
		pool.Dial = opts.Dial
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
				Pool:    pool,
			},
		})
	}
	numRetries := 0
	if cfg.Router.NumRetries != nil {
		numRetries = *cfg.Router.NumRetries
	} else if cfg.LiteLLM.NumRetries != nil {
		numRetries = *cfg.LiteLLM.NumRetries
	}
	g := &Gateway{cfg: cfg, log: log, deps: deps, client: client, pool: pool}
	g.metrics = metrics.New(metrics.Options{})
	ropts := routerOptions(cfg, numRetries, log)
	ropts.Price = routerPrice
	ropts.OnCooldown = func(d *router.Deployment, group string, _ time.Time) { g.metrics.CooledDown(d.ID(), group) }
	ropts.OnState = func(d *router.Deployment, state int) {
		g.metrics.SetDeploymentState(d.ID(), d.Cfg.ModelName, d.Cfg.APIBase, state)
	}
	for _, d := range deps {
		g.metrics.SetDeploymentState(d.ID(), d.Cfg.ModelName, d.Cfg.APIBase, metrics.StateHealthy)
	}
	g.router = router.New(deps, cfg.Router.ModelGroupAlias, ropts)

	cbs := callbacks.FromConfig(cfg.LiteLLM)
	if opts.Env != nil {
		cbs.Getenv = opts.Env
	}
	cb, err := callbacks.New(cbs, g.metrics, log)
	if err != nil {
		return nil, err
	}
	g.callbacks = cb
	sinks := record.Sinks{g.metrics, cb}
	if err := g.openSpend(opts); err != nil {
		g.Close()
		return nil, err
	}
	if g.writer != nil {
		sinks = append(record.Sinks{durable{g.writer}}, sinks...)
	}
	sopts := server.Options{
		MasterKey:      cfg.General.MasterKey,
		RequestTimeout: cfg.LiteLLM.RequestTimeout,
		StreamTimeout:  cfg.Router.StreamTimeout,
		DropParams:     cfg.LiteLLM.DropParams,
		AllowedIPs:     cfg.General.AllowedIPs,
		PingInterval:   opts.PingInterval,
		Logger:         log,
		Sink:           sinks,
		Price:          g.prices.price,
		StorePrompts:   cfg.LiteLLM.StorePromptsInSpendLogs || cfg.General.StorePromptsInSpendLogs,
		InFlight:       g.metrics.InFlight,
		Metrics:        g.metrics.Handler(),
		MaxBodyBytes:   maxBodyBytes,
		Ready:          g.ready,
	}
	if g.store != nil {
		sopts.Spend = g.store
	}
	g.server = server.New(g.router, sopts)
	return g, nil
}

// durable makes the spend writer's Record wait until the record is in the
// journal: the server records right before a response's last byte, so a
// crash cannot lose the record of a response a client saw.
type durable struct{ w *spend.Writer }

func (d durable) Record(r *record.Record) { d.w.RecordDurable(r) }

// priceCache keeps each deployment's price per upstream model: working it
// out parses the api_base and normalizes the name, twice per call. Bounded:
// a wildcard deployment sees model names chosen by clients.
type priceCache struct {
	m sync.Map // priceKey -> pricing.Price
	n atomic.Int64
}

type priceKey struct {
	d     *router.Deployment
	model string
}

const maxCachedPrices = 4096

// price is what a call cost: the deployment's configured prices, else the
// price table; local deployments cost 0 unless configured.
func (c *priceCache) price(d *router.Deployment, upstreamModel string, u llm.Usage) float64 {
	return pricing.Cost(c.get(d, upstreamModel), u)
}

func (c *priceCache) get(d *router.Deployment, upstreamModel string) pricing.Price {
	k := priceKey{d, upstreamModel}
	if p, ok := c.m.Load(k); ok {
		return p.(pricing.Price)
	}
	p := pricing.ForDeployment(d.Cfg, upstreamModel)
	if c.n.Load() < maxCachedPrices {
		if _, loaded := c.m.LoadOrStore(k, p); !loaded {
			c.n.Add(1)
		}
	}
	return p
}

// routerPrice feeds cost-based routing.
func routerPrice(d config.Deployment) (in, out float64, ok bool) {
	p := pricing.ForDeployment(d, d.Model)
	if p.IsZero() && !pricing.IsLocal(d) {
		return 0, 0, false
	}
	return p.Input, p.Output, true
}

// defaultDatabase is where spend logs go when database_url is unset.
const defaultDatabase = "sqlite:///switchyard.db"

// openSpend opens the spend log database and its journal, unless
// disable_spend_logs.
func (g *Gateway) openSpend(opts Options) error {
	if g.cfg.General.DisableSpendLogs {
		g.log.Info("spend logs are off (general_settings.disable_spend_logs)")
		return nil
	}
	url := g.cfg.General.DatabaseURL
	if url == "" {
		url = defaultDatabase
		if opts.DefaultDatabase != "" {
			url = opts.DefaultDatabase
		}
		g.log.Info("no general_settings.database_url: spend logs go to a SQLite file", "database", url)
	}
	// A SQLite store opens (and migrates) while the gateway starts serving:
	// records wait in the journal meanwhile.
	store, err := spend.OpenBackground(url, g.log)
	if err != nil {
		return fmt.Errorf("general_settings.database_url: %w", err)
	}
	g.store = store
	dir, err := journalDir(url, opts.DataDir)
	if err != nil {
		return err
	}
	wo := opts.Spend
	wo.Logger = g.log
	if v := os.Getenv("SWITCHYARD_FAULT_JOURNAL_DELAY"); v != "" {
		// Fault injection for the crash test; never set in production.
		if d, err := time.ParseDuration(v); err == nil {
			wo.AppendDelay = d
			g.log.Warn("fault injection: spend journal appends delayed", "delay", d)
		}
	}
	w, err := spend.NewWriter(store, dir, wo)
	if err != nil {
		return fmt.Errorf("spend journal in %s: %w", dir, err)
	}
	g.writer = w
	return nil
}

// journalDir puts the spend journal beside a SQLite file, else in the data
// directory, one folder per database.
func journalDir(url, dataDir string) (string, error) {
	if p, ok := strings.CutPrefix(url, "sqlite:///"); ok && !strings.Contains(p, ":memory:") && dataDir == "" {
		return p + ".journal", nil
	}
	if dataDir == "" {
		dataDir = os.Getenv("SWITCHYARD_DATA_DIR")
	}
	if dataDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dataDir = filepath.Join(base, "switchyard")
	}
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(dataDir, "spend-journal-"+hex.EncodeToString(sum[:6])), nil
}

// ready reports what degrades the gateway: the spend log database being down.
func (g *Gateway) ready(ctx context.Context) error {
	if g.writer != nil {
		return g.writer.Healthy()
	}
	return nil
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
func (g *Gateway) Handler() httpd.Handler { return g.server }

// NewServer is the HTTP server for the gateway's handler, with the
// settings cmd/switchyard serves it with.
func (g *Gateway) NewServer() *httpd.Server {
	return &httpd.Server{
		Handler:           g.server,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxBodyBytes:      maxBodyBytes,
		Logger:            g.log,
	}
}

// maxBodyBytes bounds a request body (a Claude Code request with a long
// conversation and images stays far below it).
const maxBodyBytes = 64 << 20

// Router is the gateway's router.
func (g *Gateway) Router() *router.Router { return g.router }

// Start runs the background work (spend retention, warm-up) until ctx ends.
func (g *Gateway) Start(ctx context.Context) {
	if p := g.cfg.General.MaximumSpendLogsRetentionPeriod; p > 0 && g.store != nil {
		go spend.RunRetention(ctx, g.store, p, time.Hour)
	}
	for _, d := range g.deps {
		if d.Cfg.Warmup {
			go g.warmup(ctx, d)
		}
	}
}

// warmup preloads an Ollama deployment's model (litellm_params.warmup:
// true), so the first request does not wait for the model to load: the
// guide's advice, done for the user. Ollama loads a model on a generate
// request without a prompt.
func (g *Gateway) warmup(ctx context.Context, d *router.Deployment) {
	if d.Dialect() != llm.DialectOllama || strings.Contains(d.Cfg.Model, "*") {
		g.log.Warn("warmup applies to Ollama deployments with a fixed model; ignored", "deployment", d.ID(), "model", d.Cfg.Model)
		return
	}
	body := map[string]any{"model": d.Cfg.Model}
	if d.Cfg.KeepAlive != "" {
		body["keep_alive"] = d.Cfg.KeepAlive
	}
	b, _ := json.Marshal(body)
	start := time.Now()
	for attempt := 0; attempt < 5; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		resp, err := d.Upstream.Do(wctx, provider.EndpointGenerate, b, nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("ollama answered %s", resp.Status())
			}
		}
		cancel()
		if err == nil {
			g.log.Info("warmed up", "deployment", d.ID(), "model", d.Cfg.Model, "took", time.Since(start).Round(time.Millisecond))
			return
		}
		g.log.Warn("warm-up failed; retrying", "deployment", d.ID(), "model", d.Cfg.Model, "err", llm.AsError(err).Message)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(attempt+1) * 2 * time.Second):
		}
	}
}

// Drain makes readiness fail while in-flight work finishes.
func (g *Gateway) Drain() { g.server.Drain() }

// Close flushes the spend journal and the callback queues (for at most 10
// seconds) and releases what the gateway holds.
func (g *Gateway) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if g.writer != nil {
		errs = append(errs, g.writer.Close(ctx))
	}
	if g.callbacks != nil {
		errs = append(errs, g.callbacks.Close(ctx))
	}
	if g.store != nil {
		errs = append(errs, g.store.Close())
	}
	if g.pool != nil {
		g.pool.CloseIdleConnections()
	}
	if g.client != nil {
		g.client.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// Metrics is the gateway's metrics registry.
func (g *Gateway) Metrics() *metrics.Metrics { return g.metrics }
