package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// Request is one call to route.
type Request struct {
	Route *Route
	// NumRetries is the request's own num_retries; < 0 means the configured one.
	NumRetries int
	// Fallbacks, ContextWindowFallbacks and ContentPolicyFallbacks, when not
	// nil, replace the configured lists for this request (the body's fields
	// of the same names).
	Fallbacks              []string
	ContextWindowFallbacks []string
	ContentPolicyFallbacks []string
	// InputTokens is the estimated prompt size (0: unknown). A deployment
	// whose model_info.max_input_tokens is smaller is skipped; when every
	// deployment of a group is too small the group fails with
	// KindContextWindow, so context_window_fallbacks apply. A deployment
	// whose tokens this minute plus the estimate pass its tpm is skipped.
	InputTokens int
	// Stream makes latency-based routing rank by time to first byte.
	Stream bool
	// Scratch, when not nil, is the Run's working memory: a caller whose
	// request state is pooled keeps one there and spares Run a pool round
	// trip. One Run at a time may use it. Nil: Run takes one from a pool.
	Scratch *Scratch
}

// Try is one attempt on one deployment. The attempt reports what it learns
// through FirstByte and Tokens; the router records it when the attempt returns.
type Try struct {
	Deployment    *Deployment
	UpstreamModel string
	// Group is the model group being served: the requested one, or the
	// fallback group now tried (x-litellm-model-group).
	Group string
	// Retries counts the attempts so far, this one included, that were
	// retries (x-litellm-attempted-retries): every attempt but the first of
	// each group. Fallbacks counts the fallback groups entered so far
	// (x-litellm-attempted-fallbacks).
	Retries   int
	Fallbacks int

	start  time.Time
	now    func() time.Time
	ttft   atomic.Int64
	tokens atomic.Int64
}

// FirstByte records that the upstream's first byte (the first stream event)
// arrived now. Only the first call counts.
func (t *Try) FirstByte() {
	t.ttft.CompareAndSwap(0, max(1, int64(t.now().Sub(t.start))))
}

// Tokens records the tokens the call used (input + output), for tpm.
func (t *Try) Tokens(n int) { t.tokens.Store(int64(n)) }

// AttemptFunc runs one call on t.Deployment. committed reports whether any
// byte reached the client; after that nothing is retried.
type AttemptFunc func(ctx context.Context, t *Try) (committed bool, err error)

// Scratch is one Run's working memory, reused by the next Run: the state
// read, the candidate lists, the deployments tried, and the Try an attempt
// is given (valid until the attempt returns). The zero value is ready.
type Scratch struct {
	snaps []Snapshot
	cands []cand
	tried []*Deployment
	try   Try
}

var runScratches = sync.Pool{New: func() any { return new(Scratch) }}

// newTry is the scratch's Try, reset for an attempt.
func (sc *Scratch) newTry() *Try {
	t := &sc.try
	t.Deployment, t.UpstreamModel, t.Group = nil, "", ""
	t.Retries, t.Fallbacks = 0, 0
	t.ttft.Store(0)
	t.tokens.Store(0)
	return t
}

// reset drops the deployments the scratch points to (its snapshots are
// overwritten by the next read).
func (sc *Scratch) reset() {
	clear(sc.cands[:cap(sc.cands)])
	clear(sc.tried[:cap(sc.tried)])
	sc.newTry()
}

// release resets a scratch of the pool and returns it there.
func (sc *Scratch) release() {
	sc.reset()
	runScratches.Put(sc)
}

// Result tells what the attempts did.
type Result struct {
	// Deployment served the request, or was the last one tried.
	Deployment *Deployment
	// Group is the model group of Deployment.
	Group string
	// Retries and Fallbacks are as in Try, after the last attempt.
	Retries   int
	Fallbacks int
	// Attempts is the number of calls made.
	Attempts int
}

// Attempt is the older attempt signature, kept for Do.
type Attempt func(ctx context.Context, d *Deployment, upstreamModel string) (committed bool, err error)

// Do runs try on route with numRetries (< 0: the configured number). Prefer
// Run, which also takes fallbacks and the token estimate and lets the
// attempt report its time to first byte and token use.
func (r *Router) Do(ctx context.Context, route *Route, numRetries int, try Attempt) (Result, error) {
	return r.Run(ctx, Request{Route: route, NumRetries: numRetries}, func(ctx context.Context, t *Try) (bool, error) {
		return try(ctx, t.Deployment, t.UpstreamModel)
	})
}

// Run routes req: it picks a deployment of the group, runs fn, retries on
// retryable failures (preferring deployments not tried yet), and when the
// group fails, tries the fallback groups in order. Nothing is retried once
// fn reports that something reached the client.
func (r *Router) Run(ctx context.Context, req Request, fn AttemptFunc) (Result, error) {
	var res Result
	route := req.Route
	sc := req.Scratch
	if sc == nil {
		sc = runScratches.Get().(*Scratch)
		defer sc.release()
	} else {
		defer sc.reset()
	}
	committed, err := r.runGroup(ctx, req, route, &res, sc, fn)
	if err == nil || committed || ctx.Err() != nil {
		return res, err
	}
	return res, r.runFallbacks(ctx, req, &res, sc, fn, err)
}

// runFallbacks runs the fallback groups of req after its group failed with
// first. (Its own function: the common path, which waits for a stream
// with Run on its stack, holds none of its locals.)
func (r *Router) runFallbacks(ctx context.Context, req Request, res *Result, sc *Scratch, fn AttemptFunc, first error) error {
	route := req.Route
	chain := r.fallbackChain(route.Group.Name, llm.AsError(first).Kind, req)
	seen := map[*Group]bool{route.Group: true}
	for _, name := range chain {
		if res.Fallbacks >= MaxFallbacks {
			break
		}
		rt, rerr := r.Resolve(name)
		if rerr != nil {
			r.log.Warn("fallback names no model group", "group", route.Group.Name, "fallback", name)
			continue
		}
		if seen[rt.Group] {
			continue
		}
		seen[rt.Group] = true
		res.Fallbacks++
		committed, err := r.runGroup(ctx, req, rt, res, sc, fn)
		if err == nil || committed || ctx.Err() != nil {
			return err
		}
		if !fallbackable(llm.AsError(err).Kind) {
			return err
		}
	}
	return first
}

// fallbackable kinds move a request to a fallback group.
func fallbackable(k llm.ErrorKind) bool {
	return k.Retryable() || k == llm.KindContextWindow || k == llm.KindContentPolicy || k == llm.KindNotFound
}

// fallbackChain lists the groups to try after group failed with kind:
// context_window_fallbacks / content_policy_fallbacks for those kinds, else
// (or when those have no entry) the request's fallbacks, the group's
// fallbacks, the "*" entry, then default_fallbacks.
func (r *Router) fallbackChain(group string, kind llm.ErrorKind, req Request) []string {
	switch kind {
	case llm.KindContextWindow:
		if req.ContextWindowFallbacks != nil {
			return req.ContextWindowFallbacks
		}
		if l := lookupFallbacks(r.opts.ContextWindowFallbacks, group); l != nil {
			return l
		}
	case llm.KindContentPolicy:
		if req.ContentPolicyFallbacks != nil {
			return req.ContentPolicyFallbacks
		}
		if l := lookupFallbacks(r.opts.ContentPolicyFallbacks, group); l != nil {
			return l
		}
	}
	if !fallbackable(kind) {
		return nil
	}
	if req.Fallbacks != nil {
		return req.Fallbacks
	}
	if l := lookupFallbacks(r.opts.Fallbacks, group); l != nil {
		return l
	}
	return r.opts.DefaultFallbacks
}

func lookupFallbacks(m map[string][]string, group string) []string {
	if l, ok := m[group]; ok {
		return l
	}
	return m["*"]
}

// runGroup runs the retry loop on one group. It returns the error and
// whether something reached the client.
func (r *Router) runGroup(ctx context.Context, req Request, route *Route, res *Result, sc *Scratch, fn AttemptFunc) (committed bool, err error) {
	g := route.Group
	if len(g.Deployments) == 0 {
		return false, &llm.Error{Kind: llm.KindUnavailable, Message: fmt.Sprintf("model group %q has no deployments", g.Name), Err: ErrNoDeployment}
	}
	retries := req.NumRetries
	if retries < 0 {
		retries = r.opts.NumRetries
	}
	auto := r.opts.FallbacksAuto
	if auto {
		retries = max(retries, len(g.Deployments)-1)
	}
	sc.tried = sc.tried[:0]
	var lastErr error
	var lastRetryAfter time.Duration
	for attempt := 0; attempt <= retries; attempt++ {
		strat := r.strategy
		if auto && attempt > 0 {
			strat = pickCheapest
		}
		now := r.now()
		cands, fresh, cerr := r.candidates(ctx, g, req, sc, now)
		if cerr == nil && attempt > 0 && !fresh {
			// Only deployments that already failed are left: wait before
			// asking one again, as it (or its retry-after) asked.
			wait := r.backoff(attempt, lastRetryAfter)
			if dl, ok := ctx.Deadline(); ok && now.Add(wait).After(dl) {
				return false, lastErr
			}
			if r.sleep(ctx, wait) != nil {
				return false, lastErr
			}
			now = r.now()
			cands, _, cerr = r.candidates(ctx, g, req, sc, now)
		}
		var d *Deployment
		var held bool
		if cerr == nil {
			d, held, cerr = r.choose(ctx, cands, strat, req, now)
		}
		if cerr != nil {
			if lastErr != nil {
				// Nothing left to try: the upstream's own error says more.
				return false, lastErr
			}
			return false, cerr
		}
		t := sc.newTry()
		t.Deployment, t.UpstreamModel, t.Group = d, d.UpstreamModel(route.Star), g.Name
		t.Retries, t.Fallbacks, t.start, t.now = res.Attempts-res.Fallbacks, res.Fallbacks, now, r.now
		res.Deployment, res.Group, res.Attempts = d, g.Name, res.Attempts+1
		res.Retries, res.Fallbacks = t.Retries, t.Fallbacks
		d.inFlight.Add(1)
		committed, err = fn(ctx, t)
		d.inFlight.Add(-1)
		r.settle(ctx, g, d, t, held, err)
		if err == nil || committed {
			return committed, err
		}
		e := llm.AsError(err)
		if ctx.Err() != nil || e.Kind == llm.KindClientGone || !e.Kind.Retryable() {
			return false, err
		}
		lastErr, lastRetryAfter = err, e.RetryAfter
		sc.tried = append(sc.tried, d)
	}
	return false, lastErr
}

// backoff is the wait before asking a deployment that failed again: the
// upstream's retry-after if it sent one, else exponential from RetryBase
// with full jitter in the upper half; both capped at RetryMax.
func (r *Router) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(max(retryAfter, r.opts.RetryMin), r.opts.RetryMax)
	}
	d := r.opts.RetryBase << min(attempt-1, 20)
	if d <= 0 || d > r.opts.RetryMax {
		d = r.opts.RetryMax
	}
	j := time.Duration(r.rnd.Int64N(int64(d/2) + 1))
	return max(d/2+j, min(r.opts.RetryMin, r.opts.RetryMax))
}

// read returns the snapshots of g's deployments; when the state backend
// fails it returns what this process knows (in-flight counts only).
func (r *Router) read(ctx context.Context, g *Group, minute int64, sc *Scratch) []Snapshot {
	ids := g.ids
	var snaps []Snapshot
	var err error
	if ms, ok := r.opts.State.(*MemoryState); ok {
		// In memory: no guard, no closure, into the run's buffer.
		snaps = ms.readInto(sc.snaps, ids, minute)
		sc.snaps = snaps
	} else if r.state.direct {
		snaps, err = r.opts.State.Read(ctx, ids, minute)
	} else {
		snaps, err = r.guardedRead(ctx, ids, minute)
	}
	if err == nil && len(snaps) != len(ids) {
		err = fmt.Errorf("state returned %d snapshots for %d deployments", len(snaps), len(ids))
	}
	if err != nil {
		snaps = make([]Snapshot, len(ids))
		for i, d := range g.Deployments {
			snaps[i].InFlight = d.inFlight.Load()
		}
	}
	return snaps
}

// guardedRead reads a shared state through the guard.
func (r *Router) guardedRead(ctx context.Context, ids []string, minute int64) ([]Snapshot, error) {
	var snaps []Snapshot
	err := r.state.do(ctx, "read", func(ctx context.Context) error {
		var err error
		snaps, err = r.opts.State.Read(ctx, ids, minute)
		return err
	})
	return snaps, err
}

// candidates lists the deployments of g that may take the request now:
// not cooling down, under their rpm/tpm/parallel limits, large enough for
// the prompt; those not tried yet if any (fresh), and of these the lowest
// `order`. With none, the error says why, with a retry-after.
func (r *Router) candidates(ctx context.Context, g *Group, req Request, sc *Scratch, now time.Time) ([]cand, bool, error) {
	minute := now.Unix() / 60
	snaps := r.read(ctx, g, minute, sc)
	n := len(g.Deployments)
	sc.cands = slices.Grow(sc.cands[:0], 2*n) // both lists
	avail, fresh := sc.cands[:0:n], sc.cands[n:n:2*n]
	var cooling, full, small int
	var wait time.Duration
	soon := func(d time.Duration) {
		if wait == 0 || d < wait {
			wait = d
		}
	}
	nextMinute := time.Unix((minute+1)*60, 0).Sub(now)
	for i, d := range g.Deployments {
		s, c := &snaps[i], &d.Cfg // not copies: a deployment's config is large
		switch {
		case req.InputTokens > 0 && c.Info.MaxInputTokens > 0 && req.InputTokens > c.Info.MaxInputTokens:
			small++
			continue
		case !r.opts.DisableCooldowns && s.CooldownUntil.After(now):
			cooling++
			soon(s.CooldownUntil.Sub(now))
			continue
		case c.RPM > 0 && s.Counters[CounterRequests] >= int64(c.RPM),
			c.TPM > 0 && (s.Counters[CounterTokens] >= int64(c.TPM) ||
				s.Counters[CounterTokens] > 0 && s.Counters[CounterTokens]+int64(req.InputTokens) > int64(c.TPM)):
			full++
			soon(nextMinute)
			continue
		case c.MaxParallelRequests > 0 && s.InFlight >= int64(c.MaxParallelRequests):
			full++
			soon(time.Second)
			continue
		}
		avail = append(avail, cand{d: d, snap: *s})
		if !slices.Contains(sc.tried, d) {
			fresh = append(fresh, cand{d: d, snap: *s})
		}
	}
	if len(avail) == 0 {
		return nil, false, r.noneAvailable(g, req, cooling, full, small, wait)
	}
	isFresh := len(fresh) > 0
	if isFresh {
		avail = fresh
	}
	return byOrder(avail), isFresh, nil
}

// byOrder keeps the candidates of the lowest `order`; deployments without
// an order come after every deployment that has one (as in LiteLLM).
func byOrder(cands []cand) []cand {
	lowest := 0
	for _, c := range cands {
		if o := c.d.Cfg.Order; o > 0 && (lowest == 0 || o < lowest) {
			lowest = o
		}
	}
	if lowest == 0 {
		return cands
	}
	return slices.DeleteFunc(cands, func(c cand) bool { return c.d.Cfg.Order != lowest })
}

func (r *Router) noneAvailable(g *Group, req Request, cooling, full, small int, wait time.Duration) error {
	if cooling == 0 && full == 0 && small > 0 {
		return &llm.Error{Kind: llm.KindContextWindow, Param: "messages",
			Message: fmt.Sprintf("the request's estimated %d input tokens exceed the max_input_tokens of every deployment of %q", req.InputTokens, g.Name)}
	}
	wait = max(time.Second, (wait + time.Second - 1).Truncate(time.Second))
	return &llm.Error{Kind: llm.KindRateLimit, RetryAfter: wait,
		Message: fmt.Sprintf("no deployment of %q can take the request now (%d cooling down after failures, %d at their rpm/tpm/parallel limit); try again in %s",
			g.Name, cooling, full, wait)}
}

// choose picks with strat and reserves the pick: an in-flight slot (its
// max_parallel_requests) and one request of its rpm, both atomic in the
// state. A deployment that fills up meanwhile is dropped and another picked.
func (r *Router) choose(ctx context.Context, cands []cand, strat strategy, req Request, now time.Time) (*Deployment, bool, error) {
	minute := now.Unix() / 60
	for len(cands) > 0 {
		i := strat(r, cands, req.Stream)
		d := cands[i].d
		held, ok := false, true
		if d.keepInFlight {
			held, ok = r.acquire(ctx, d)
		}
		if ok && (!d.keepRequests || r.countRequest(ctx, d, minute)) {
			return d, held, nil
		}
		if ok && held {
			r.release(ctx, d)
		}
		cands = slices.Delete(cands, i, i+1)
	}
	return nil, false, &llm.Error{Kind: llm.KindRateLimit, RetryAfter: time.Second,
		Message: "every deployment of the model group is at its rpm/tpm/parallel limit; try again in 1s"}
}

// acquire takes an in-flight slot: ok false means d is full; held says a
// slot was taken (false when the state failed open).
func (r *Router) acquire(ctx context.Context, d *Deployment) (held, ok bool) {
	var got bool
	var err error
	if r.state.direct {
		got, err = r.opts.State.Acquire(ctx, d.ID(), int64(d.Cfg.MaxParallelRequests))
	} else {
		err = r.state.do(ctx, "acquire", func(ctx context.Context) error {
			var err error
			got, err = r.opts.State.Acquire(ctx, d.ID(), int64(d.Cfg.MaxParallelRequests))
			return err
		})
	}
	if err != nil {
		return false, true
	}
	return got, got
}

func (r *Router) release(ctx context.Context, d *Deployment) {
	if r.state.direct {
		_ = r.opts.State.Release(ctx, d.ID())
		return
	}
	_ = r.state.do(context.WithoutCancel(ctx), "release", func(ctx context.Context) error {
		return r.opts.State.Release(ctx, d.ID())
	})
}

// countRequest counts one request against d's rpm; false when it is full.
func (r *Router) countRequest(ctx context.Context, d *Deployment, minute int64) bool {
	ok := true
	var err error
	if r.state.direct {
		_, ok, err = r.opts.State.AddUpTo(ctx, d.ID(), CounterRequests, minute, 1, int64(d.Cfg.RPM))
	} else {
		err = r.state.do(ctx, "count request", func(ctx context.Context) error {
			var err error
			_, ok, err = r.opts.State.AddUpTo(ctx, d.ID(), CounterRequests, minute, 1, int64(d.Cfg.RPM))
			return err
		})
	}
	return err != nil || ok
}

func (r *Router) add(ctx context.Context, d *Deployment, c Counter, minute, delta int64) (int64, error) {
	if r.state.direct {
		return r.opts.State.Add(ctx, d.ID(), c, minute, delta)
	}
	var n int64
	err := r.state.do(ctx, c.op(), func(ctx context.Context) error {
		var err error
		n, err = r.opts.State.Add(ctx, d.ID(), c, minute, delta)
		return err
	})
	return n, err
}

func (r *Router) observe(ctx context.Context, d *Deployment, k SampleKind, s Sample) {
	if !r.keepSamples {
		return
	}
	if r.state.direct {
		_ = r.opts.State.Observe(ctx, d.ID(), k, s, r.opts.LatencySamples)
		return
	}
	_ = r.state.do(ctx, "observe", func(ctx context.Context) error {
		return r.opts.State.Observe(ctx, d.ID(), k, s, r.opts.LatencySamples)
	})
}

// countsAgainst reports whether a failure of this kind is the deployment's.
func countsAgainst(k llm.ErrorKind) bool {
	switch k {
	case llm.KindRateLimit, llm.KindTimeout, llm.KindUnavailable, llm.KindUpstream, llm.KindOverloaded,
		llm.KindUpstreamAuth, llm.KindNotFound:
		return true
	}
	return false
}

// settle records an attempt's outcome: slot, tokens, latency, success or
// failure, and the cooldown a failure may bring, applied at once so the very
// next pick sees it.
func (r *Router) settle(ctx context.Context, g *Group, d *Deployment, t *Try, held bool, err error) {
	gone := ctx.Err() != nil
	if !r.state.direct {
		ctx = context.WithoutCancel(ctx) // the outcome is recorded even when the client left
	}
	if held {
		r.release(ctx, d)
	}
	now := r.now()
	minute := now.Unix() / 60
	if n := t.tokens.Load(); n > 0 && d.keepTokens {
		_, _ = r.add(ctx, d, CounterTokens, minute, n)
	}
	elapsed := now.Sub(t.start)
	if err == nil {
		r.setHealth(d, 0)
		if d.keepSuccesses {
			_, _ = r.add(ctx, d, CounterSuccesses, minute, 1)
		}
		if ttft := t.ttft.Load(); ttft > 0 {
			r.observe(ctx, d, SampleTTFT, Sample{At: now, D: time.Duration(ttft)})
		} else {
			r.observe(ctx, d, SampleLatency, Sample{At: now, D: elapsed})
		}
		return
	}
	e := llm.AsError(err)
	if gone || !countsAgainst(e.Kind) {
		// A client that went away, or a request at fault: no mark against d.
		return
	}
	if e.Kind == llm.KindTimeout && t.ttft.Load() == 0 {
		// A timeout is the slowest answer there is.
		r.observe(ctx, d, SampleLatency, Sample{At: now, D: elapsed})
		r.observe(ctx, d, SampleTTFT, Sample{At: now, D: elapsed})
	}
	fails, ferr := r.add(ctx, d, CounterFailures, minute, 1)
	if ferr != nil {
		return
	}
	reason, ok := r.shouldCool(ctx, g, d, e, fails, minute)
	if !ok {
		r.setHealth(d, 1)
		return
	}
	dur := r.opts.CooldownTime
	if e.Kind == llm.KindRateLimit && e.RetryAfter > dur {
		dur = min(e.RetryAfter, maxCooldown)
	}
	var until time.Time
	serr := r.state.do(ctx, "set cooldown", func(ctx context.Context) error {
		var err error
		until, err = r.opts.State.SetCooldown(ctx, d.ID(), now.Add(dur))
		return err
	})
	if serr == nil {
		r.setHealth(d, 2)
		if r.opts.OnCooldown != nil {
			r.opts.OnCooldown(d, g.Name, until)
		}
		r.log.Info("deployment cooling down", "group", g.Name, "deployment", d.ID(), "reason", reason,
			"kind", e.Kind.String(), "failures_this_minute", fails, "until", until.UTC().Format(time.RFC3339Nano))
	}
}

// shouldCool applies the cooldown rules to a deployment that just failed
// for the fails-th time this minute.
func (r *Router) shouldCool(ctx context.Context, g *Group, d *Deployment, e *llm.Error, fails, minute int64) (string, bool) {
	if r.opts.DisableCooldowns {
		return "", false
	}
	var cur []Snapshot
	if r.state.do(ctx, "read cooldown", func(ctx context.Context) error {
		var err error
		cur, err = r.opts.State.Read(ctx, []string{d.ID()}, minute)
		return err
	}) == nil && len(cur) == 1 && cur[0].CooldownUntil.After(r.now()) {
		// A call that started before the cooldown failed too: extend it.
		return "failed again while cooling down", true
	}
	if len(g.Deployments) == 1 {
		// LiteLLM's rule: the only deployment of a group is not taken out
		// of rotation (that would turn every request into an error) unless
		// allowed_fails is set explicitly, or it failed every one of at
		// least SingleDeploymentFailureThreshold calls this minute.
		if r.opts.AllowedFails != nil {
			return "allowed_fails exceeded", fails > int64(*r.opts.AllowedFails)
		}
		if fails < SingleDeploymentFailureThreshold {
			return "", false
		}
		ok, err := r.add(ctx, d, CounterSuccesses, minute, 0)
		return "every call failed this minute", err == nil && ok == 0
	}
	switch e.Kind {
	case llm.KindRateLimit:
		return "rate limited by the upstream", true
	case llm.KindUpstreamAuth:
		return "the upstream refused the deployment's key", true
	}
	allowed := int64(DefaultAllowedFails)
	if r.opts.AllowedFails != nil {
		allowed = int64(*r.opts.AllowedFails)
	}
	return "allowed_fails exceeded", fails > allowed
}

// Admit lets one request in under the global max_parallel_requests bound.
// Past the bound it refuses at once with KindRateLimit and a retry-after:
// requests never queue. release must be called when the request ends; it
// may be called more than once.
func (r *Router) Admit(ctx context.Context) (release func(), err error) {
	limit := int64(r.opts.MaxParallelRequests)
	if limit <= 0 {
		return func() {}, nil
	}
	if r.admitted.Add(1) > limit {
		r.admitted.Add(-1)
		return nil, &llm.Error{Kind: llm.KindRateLimit, RetryAfter: time.Second,
			Message: fmt.Sprintf("the gateway is already serving its max_parallel_requests (%d); try again in 1s", limit)}
	}
	var once sync.Once
	return func() { once.Do(func() { r.admitted.Add(-1) }) }, nil
}

// InFlightTotal is the number of requests Admit let in that are still running.
func (r *Router) InFlightTotal() int64 { return r.admitted.Load() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrNoDeployment is wrapped by the error for a group with no deployments.
var ErrNoDeployment = errors.New("router: group has no deployments")

// setHealth tells OnState when d's health changes.
func (r *Router) setHealth(d *Deployment, state int32) {
	if r.opts.OnState != nil && d.health.Swap(state) != state {
		r.opts.OnState(d, int(state))
	}
}
