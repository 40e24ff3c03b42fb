package router

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
)

// Deployment is one upstream of a group, with its live state.
type Deployment struct {
	// health is the last state told to OnState.
	health   atomic.Int32
	Cfg      config.Deployment
	Upstream *provider.Upstream
	inFlight atomic.Int64
	// Which state the router keeps for d, set by New: only what a limit,
	// the strategy or a cooldown rule reads (requests for rpm and
	// usage-based routing, tokens for tpm and usage-based routing, the
	// in-flight slot for max_parallel_requests and least-busy, successes
	// for the rule of a group's only deployment). Failures and cooldowns
	// are always kept.
	keepRequests, keepTokens, keepInFlight, keepSuccesses bool
}

// ID is the deployment's stable id.
func (d *Deployment) ID() string { return d.Cfg.ID }

// Dialect is what the upstream speaks.
func (d *Deployment) Dialect() llm.Dialect { return d.Cfg.Dialect }

// InFlight is the number of requests running on d now.
func (d *Deployment) InFlight() int64 { return d.inFlight.Load() }

// UpstreamModel is the model name to send upstream for a request that matched
// the group with wildcard part star.
func (d *Deployment) UpstreamModel(star string) string {
	m := d.Cfg.Model
	if strings.Contains(m, "*") {
		return strings.Replace(m, "*", star, 1)
	}
	return m
}

// Group is the deployments sharing one model_name.
type Group struct {
	Name        string
	Deployments []*Deployment
	// ids are the Deployments' IDs, made once by New for state reads.
	ids []string
	// prefix and suffix around the '*' of a wildcard name.
	wildcard       bool
	prefix, suffix string
}

func (g *Group) setIDs() {
	g.ids = make([]string, len(g.Deployments))
	for i, d := range g.Deployments {
		g.ids[i] = d.ID()
	}
}

func (g *Group) match(model string) (star string, ok bool) {
	if !g.wildcard {
		return "", false
	}
	if len(model) < len(g.prefix)+len(g.suffix) || !strings.HasPrefix(model, g.prefix) || !strings.HasSuffix(model, g.suffix) {
		return "", false
	}
	return model[len(g.prefix) : len(model)-len(g.suffix)], true
}

// Route is a resolved request: the group and what the client asked for.
type Route struct {
	Group     *Group
	Requested string
	// Star is the part of the requested name a wildcard group matched.
	Star string
}

// Options are the router's settings; the zero value of each field means
// LiteLLM's default.
type Options struct {
	// Strategy is a routing_strategy, normalized to LiteLLM's name
	// (config.Strategy*); empty means simple-shuffle.
	Strategy string
	// NumRetries applies when a request does not set its own.
	NumRetries int
	// RetryBase is the first backoff; it doubles per retry, with jitter.
	// RetryMax caps every wait, an upstream retry-after included; RetryMin
	// (router_settings.retry_after) is the least wait. A retry that goes to
	// another deployment does not wait.
	RetryBase time.Duration
	RetryMax  time.Duration
	RetryMin  time.Duration
	// AllowedFails is how many failures a deployment may have within a
	// minute; the next one cools it down. nil: 3, and a group with a single
	// deployment is then not cooled down by failure counts (LiteLLM's rule).
	AllowedFails *int
	// CooldownTime is how long a cooldown lasts (default 5 s).
	CooldownTime     time.Duration
	DisableCooldowns bool
	// Fallbacks map a group to the groups tried, in order, when it fails;
	// the key "*" applies to every group. ContextWindowFallbacks and
	// ContentPolicyFallbacks apply to those failures only.
	Fallbacks              map[string][]string
	ContextWindowFallbacks map[string][]string
	ContentPolicyFallbacks map[string][]string
	// DefaultFallbacks apply to a group without fallbacks of its own.
	DefaultFallbacks []string
	// FallbacksAuto is the seed guide's `fallbacks: true`: after a failure
	// the request may go to every other deployment of its group, cheapest
	// first (at least len(group)-1 retries).
	FallbacksAuto bool
	// MaxParallelRequests bounds the calls Admit lets in at once (0: no bound).
	MaxParallelRequests int
	// LatencyBuffer: latency-based routing picks at random among the
	// deployments whose mean latency is within this fraction of the best
	// (default 0.1; LiteLLM's lowest_latency_buffer). LatencyTTL drops
	// older samples (default 1 h); LatencySamples is how many are kept (10).
	LatencyBuffer  float64
	LatencyTTL     time.Duration
	LatencySamples int
	// Price returns a deployment's price per input and output token when
	// its config has none (cost-based routing); ok false means unknown.
	Price func(d config.Deployment) (in, out float64, ok bool)
	// OnCooldown is told when a deployment starts (or extends) a cooldown;
	// OnState when a deployment's health changes (0 healthy, 1 failing, 2
	// cooling down), for the litellm_deployment_* metrics. Both may be nil
	// and must not block.
	OnCooldown func(d *Deployment, group string, until time.Time)
	OnState    func(d *Deployment, state int)
	// State holds the shared state; nil means a new MemoryState.
	State State
	// StateTimeout bounds each call to a State that can block (default
	// 100 ms); after a failure the state is left alone for StatePause (1 s)
	// and routing goes on without it.
	StateTimeout time.Duration
	StatePause   time.Duration
	Logger       *slog.Logger
	// Seed seeds the router's random choices (0: random). Tests only.
	Seed uint64
	// Now is the clock (default time.Now). Tests only.
	Now func() time.Time
}

// Defaults, as LiteLLM's.
const (
	DefaultAllowedFails  = 3
	DefaultCooldownTime  = 5 * time.Second
	DefaultLatencyBuffer = 0.1
	// MaxFallbacks bounds the fallback groups one request may try.
	MaxFallbacks = 5
	// SingleDeploymentFailureThreshold: a group's only deployment is cooled
	// down, when allowed_fails is not set, only after this many failures and
	// no success within a minute (LiteLLM's SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD).
	SingleDeploymentFailureThreshold = 1000
	// maxCooldown caps a cooldown taken from an upstream retry-after.
	maxCooldown = 10 * time.Minute
)

// Router resolves names and runs attempts.
type Router struct {
	groups   map[string]*Group
	ordered  []*Group
	patterns []*Group
	// aliasGroups are groups made for aliases that name deployments.
	aliasGroups map[string]*Group
	// exact are the routes of the names that resolve without a pattern
	// (groups and alias groups), made once; Resolve hands them out shared.
	exact    map[string]*Route
	aliases  map[string]config.Alias
	opts     Options
	strategy strategy
	// keepSamples: the strategy ranks by latency, so latency samples are
	// recorded (no other strategy reads them).
	keepSamples bool
	state       *guard
	log         *slog.Logger
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error

	// rnd is safe for concurrent use: see source.
	rnd *rand.Rand

	admitted atomic.Int64
}

// New builds a router over deployments.
func New(deps []*Deployment, aliases map[string]config.Alias, opts Options) *Router {
	if opts.RetryBase == 0 {
		opts.RetryBase = 100 * time.Millisecond
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 5 * time.Second
	}
	if opts.CooldownTime <= 0 {
		opts.CooldownTime = DefaultCooldownTime
	}
	if opts.LatencyBuffer == 0 {
		opts.LatencyBuffer = DefaultLatencyBuffer
	}
	if opts.LatencyTTL <= 0 {
		opts.LatencyTTL = time.Hour
	}
	if opts.LatencySamples <= 0 {
		opts.LatencySamples = 10
	}
	if opts.StateTimeout <= 0 {
		opts.StateTimeout = 100 * time.Millisecond
	}
	if opts.StatePause <= 0 {
		opts.StatePause = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.State == nil {
		opts.State = NewMemoryState()
	}
	r := &Router{groups: map[string]*Group{}, aliasGroups: map[string]*Group{}, aliases: aliases, opts: opts,
		strategy: strategyFor(opts.Strategy), keepSamples: opts.Strategy == config.StrategyLatencyBased, log: opts.Logger, now: opts.Now, sleep: sleepCtx,
		rnd: rand.New(source(opts.Seed))}
	r.state = newGuard(opts.State, opts.StateTimeout, opts.StatePause, opts.Now, opts.Logger)
	for _, d := range deps {
		g := r.groups[d.Cfg.ModelName]
		if g == nil {
			g = &Group{Name: d.Cfg.ModelName}
			if i := strings.IndexByte(g.Name, '*'); i >= 0 {
				g.wildcard, g.prefix, g.suffix = true, g.Name[:i], g.Name[i+1:]
				r.patterns = append(r.patterns, g)
			}
			r.groups[g.Name] = g
			r.ordered = append(r.ordered, g)
		}
		g.Deployments = append(g.Deployments, d)
	}
	// An alias that names deployments (model_group_alias: {gpt-4:
	// ollama/qwen2.5:7b}, as in the seed guide) gets a group of its own.
	byID := map[string]*Deployment{}
	for _, d := range deps {
		byID[d.Cfg.ID] = d
	}
	for name, a := range aliases {
		if len(a.Deployments) == 0 {
			continue
		}
		if _, taken := r.groups[name]; taken {
			continue
		}
		g := &Group{Name: name}
		for _, id := range a.Deployments {
			if d := byID[id]; d != nil {
				g.Deployments = append(g.Deployments, d)
			}
		}
		if len(g.Deployments) > 0 {
			r.aliasGroups[name] = g
		}
	}
	for _, g := range r.groups {
		g.setIDs()
	}
	for _, g := range r.aliasGroups {
		g.setIDs()
	}
	r.exact = map[string]*Route{}
	for name, g := range r.aliasGroups {
		r.exact[name] = &Route{Group: g, Requested: name}
	}
	for name, g := range r.groups {
		if !g.wildcard {
			r.exact[name] = &Route{Group: g, Requested: name}
		}
	}
	usage := opts.Strategy == config.StrategyUsageBased || opts.Strategy == config.StrategyUsageBasedV2
	for _, d := range deps {
		d.keepRequests = usage || d.Cfg.RPM > 0
		d.keepTokens = usage || d.Cfg.TPM > 0
		d.keepInFlight = opts.Strategy == config.StrategyLeastBusy || d.Cfg.MaxParallelRequests > 0
	}
	for _, gs := range []map[string]*Group{r.groups, r.aliasGroups} {
		for _, g := range gs {
			if len(g.Deployments) == 1 && !opts.DisableCooldowns {
				g.Deployments[0].keepSuccesses = true
			}
		}
	}
	// The most specific pattern wins: longest literal part first; "*" last.
	sort.SliceStable(r.patterns, func(i, j int) bool {
		return len(r.patterns[i].prefix)+len(r.patterns[i].suffix) > len(r.patterns[j].prefix)+len(r.patterns[j].suffix)
	})
	return r
}

// source is where a router's random choices come from, safe for
// concurrent use: math/rand/v2's global generator, which takes no lock;
// or, when a test sets Options.Seed, a generator of that seed under a lock
// (the same choices every run).
func source(seed uint64) rand.Source {
	if seed == 0 {
		return globalSource{}
	}
	return &lockedSource{src: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}
}

type globalSource struct{}

func (globalSource) Uint64() uint64 { return rand.Uint64() }

type lockedSource struct {
	mu  sync.Mutex
	src *rand.PCG
}

func (l *lockedSource) Uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.src.Uint64()
}

// Groups lists the groups in config order.
func (r *Router) Groups() []*Group { return r.ordered }

// Aliases returns the model_group_alias table.
func (r *Router) Aliases() map[string]config.Alias { return r.aliases }

// Resolve maps a requested model name to a group: exact name, then alias,
// then the most specific wildcard. An unknown name is KindNotFound listing
// what is available. The Route may be shared: callers do not change it.
func (r *Router) Resolve(model string) (*Route, error) {
	if rt, ok := r.exact[model]; ok {
		return rt, nil
	}
	if a, ok := r.aliases[model]; ok {
		target := a.Model
		if g, ok := r.groups[target]; ok && !g.wildcard {
			return &Route{Group: g, Requested: model}, nil
		}
		for _, g := range r.patterns {
			if star, ok := g.match(target); ok {
				return &Route{Group: g, Requested: model, Star: star}, nil
			}
		}
	}
	for _, g := range r.patterns {
		if star, ok := g.match(model); ok {
			return &Route{Group: g, Requested: model, Star: star}, nil
		}
	}
	return nil, &llm.Error{Kind: llm.KindNotFound, Param: "model",
		Message: fmt.Sprintf("model %q is not served here; available models: %s", model, strings.Join(r.Names(), ", "))}
}

// Names lists the model names a client may ask for: groups and aliases.
func (r *Router) Names() []string {
	var names []string
	for _, g := range r.ordered {
		names = append(names, g.Name)
	}
	for name, a := range r.aliases {
		if _, dup := r.groups[name]; !dup && !a.Hidden {
			names = append(names, name)
		}
	}
	sort.Strings(names[len(r.ordered):])
	return names
}
