package router

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
)

func TestRetries(t *testing.T) {
	t.Run("retryable failure goes to another deployment", func(t *testing.T) {
		r, _ := testRouter(t, []*Deployment{dep("g", "a", order(1)), dep("g", "b", order(2))}, Options{NumRetries: 2})
		s := newScript(map[string]behaviour{"a": fail(llm.KindUpstream)})
		res, err := run(t, r, "g", s)
		if err != nil || res.Deployment.ID() != "b" || res.Retries != 1 || res.Attempts != 2 {
			t.Fatalf("res %+v err %v", res, err)
		}
	})
	t.Run("request's fault is returned at once", func(t *testing.T) {
		for _, k := range []llm.ErrorKind{llm.KindInvalidRequest, llm.KindAuth, llm.KindPermission, llm.KindInternal} {
			r, _ := testRouter(t, []*Deployment{dep("g", "a"), dep("g", "b")}, Options{NumRetries: 3})
			s := newScript(map[string]behaviour{"a": fail(k), "b": fail(k)})
			res, err := run(t, r, "g", s)
			if kindOf(err) != k || res.Attempts != 1 {
				t.Fatalf("%s: attempts %d err %v", k, res.Attempts, err)
			}
		}
	})
	t.Run("never after the first byte", func(t *testing.T) {
		r, _ := testRouter(t, []*Deployment{dep("g", "a"), dep("g", "b")}, Options{NumRetries: 3})
		committed := func(context.Context, *Try) (bool, error) {
			return true, &llm.Error{Kind: llm.KindUnavailable, Message: "reset mid-stream"}
		}
		s := newScript(map[string]behaviour{"a": committed, "b": committed})
		res, err := run(t, r, "g", s)
		if err == nil || res.Attempts != 1 {
			t.Fatalf("attempts %d err %v", res.Attempts, err)
		}
	})
	t.Run("client gone is no failure of the deployment", func(t *testing.T) {
		r, _ := testRouter(t, []*Deployment{dep("g", "a"), dep("g", "b")}, Options{NumRetries: 3, AllowedFails: intp(0)})
		s := newScript(map[string]behaviour{"a": fail(llm.KindClientGone), "b": fail(llm.KindClientGone)})
		res, err := run(t, r, "g", s)
		if kindOf(err) != llm.KindClientGone || res.Attempts != 1 {
			t.Fatalf("attempts %d err %v", res.Attempts, err)
		}
		snap, _ := r.opts.State.Read(context.Background(), []string{res.Deployment.ID()}, time.Now().Unix()/60)
		if snap[0].Counters[CounterFailures] != 0 || !snap[0].CooldownUntil.IsZero() {
			t.Fatalf("client gone counted against the deployment: %+v", snap[0])
		}
	})
	t.Run("per-request num_retries", func(t *testing.T) {
		r, _ := testRouter(t, []*Deployment{dep("g", "a"), dep("g", "b")}, Options{NumRetries: 3})
		s := newScript(map[string]behaviour{"a": fail(llm.KindUpstream), "b": fail(llm.KindUpstream)})
		res, err := run(t, r, "g", s, func(q *Request) { q.NumRetries = 0 })
		if err == nil || res.Attempts != 1 {
			t.Fatalf("attempts %d", res.Attempts)
		}
	})
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One deployment (never cooled down): the retry waits for its
		// retry-after, capped at RetryMax.
		for _, tc := range []struct{ after, want time.Duration }{{2 * time.Second, 2 * time.Second}, {time.Hour, 5 * time.Second}} {
			r, _ := testRouter(t, []*Deployment{dep("g", "a")}, Options{NumRetries: 1})
			n := 0
			s := newScript(map[string]behaviour{"a": func(ctx context.Context, tr *Try) (bool, error) {
				n++
				if n == 1 {
					return fail429(tc.after)(ctx, tr)
				}
				return false, nil
			}})
			start := time.Now()
			if _, err := run(t, r, "g", s); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start); got != tc.want {
				t.Fatalf("retry-after %s: waited %s, want %s", tc.after, got, tc.want)
			}
		}
	})
}

func TestBackoffExponentialWithJitter(t *testing.T) {
	r, _ := testRouter(t, nil, Options{RetryBase: 100 * time.Millisecond, RetryMax: 5 * time.Second})
	for attempt, hi := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: 5 * time.Second} {
		for range 100 {
			if d := r.backoff(attempt, 0); d < hi/2 || d > hi {
				t.Fatalf("attempt %d: %s not in [%s, %s]", attempt, d, hi/2, hi)
			}
		}
	}
}

func TestNoWaitPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := testRouter(t, []*Deployment{dep("g", "a")}, Options{NumRetries: 3})
		s := newScript(map[string]behaviour{"a": fail429(4 * time.Second)})
		rt, _ := r.Resolve("g")
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := r.Run(ctx, Request{Route: rt, NumRetries: -1}, s.attempt)
		if kindOf(err) != llm.KindRateLimit || time.Since(start) != 0 {
			t.Fatalf("err %v after %s", err, time.Since(start))
		}
	})
}

func TestHardLimits(t *testing.T) {
	t.Run("rpm", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, _ := testRouter(t, []*Deployment{dep("g", "a", rpm(2)), dep("g", "b", rpm(1))}, Options{})
			s := newScript(map[string]behaviour{})
			time.Sleep(15 * time.Second) // 00:00:15
			for i := range 3 {
				if _, err := run(t, r, "g", s); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			_, err := run(t, r, "g", s)
			e := llm.AsError(err)
			if e.Kind != llm.KindRateLimit || e.RetryAfter != 45*time.Second {
				t.Fatalf("full group: %v retry-after %s, want 429 retry-after 45s", err, e.RetryAfter)
			}
			time.Sleep(e.RetryAfter)
			if _, err := run(t, r, "g", s); err != nil {
				t.Fatalf("next minute: %v", err)
			}
		})
	})
	t.Run("tpm", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			used := func(_ context.Context, tr *Try) (bool, error) { tr.Tokens(90); return false, nil }
			r, _ := testRouter(t, []*Deployment{dep("g", "a", tpm(100), order(1)), dep("g", "b", order(2))}, Options{})
			s := newScript(map[string]behaviour{"a": used})
			withTokens := func(q *Request) { q.InputTokens = 20 }
			_, _ = run(t, r, "g", s, withTokens)
			res, err := run(t, r, "g", s, withTokens)
			if err != nil || res.Deployment.ID() != "b" {
				t.Fatalf("a is at its tpm; got %v %v", res.Deployment.ID(), err)
			}
		})
	})
	t.Run("max_parallel_requests", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, _ := testRouter(t, []*Deployment{dep("g", "a", parallel(1)), dep("g", "b", parallel(1))}, Options{})
			release := make(chan struct{})
			hold := func(context.Context, *Try) (bool, error) { <-release; return false, nil }
			s := newScript(map[string]behaviour{"a": hold, "b": hold})
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					if _, err := run(t, r, "g", s); err != nil {
						t.Error(err)
					}
				})
				synctest.Wait()
			}
			_, err := run(t, r, "g", s)
			if e := llm.AsError(err); e.Kind != llm.KindRateLimit || e.RetryAfter != time.Second {
				t.Fatalf("third call: %v, want 429 retry-after 1s", err)
			}
			close(release)
			wg.Wait()
			if s.count("a") != 1 || s.count("b") != 1 {
				t.Fatalf("calls %v", s.calls)
			}
		})
	})
}

func TestAdmit(t *testing.T) {
	r, _ := testRouter(t, nil, Options{MaxParallelRequests: 2})
	rel1, err1 := r.Admit(context.Background())
	rel2, err2 := r.Admit(context.Background())
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	_, err := r.Admit(context.Background())
	if e := llm.AsError(err); e.Kind != llm.KindRateLimit || e.RetryAfter <= 0 {
		t.Fatalf("past the bound: %v", err)
	}
	rel1()
	rel1() // idempotent
	if _, err := r.Admit(context.Background()); err != nil {
		t.Fatal(err)
	}
	rel2()
	if r.InFlightTotal() != 1 {
		t.Fatalf("in flight %d", r.InFlightTotal())
	}
}

func TestCooldowns(t *testing.T) {
	two := func(opts ...func(*Deployment)) []*Deployment {
		return []*Deployment{dep("g", "a", order(1)), dep("g", "b", order(2))}
	}
	t.Run("allowed_fails then cooldown, applied at once, lifted on expiry", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, logs := testRouter(t, two(), Options{NumRetries: 0, AllowedFails: intp(2), CooldownTime: 30 * time.Second})
			s := newScript(map[string]behaviour{"a": fail(llm.KindUpstream)})
			for i := range 3 {
				_, _ = run(t, r, "g", s)
				if got := cooling(t, r, "a"); (i < 2) != got.IsZero() {
					t.Fatalf("after failure %d cooling until %v", i+1, got)
				}
			}
			// No clock moved: the very next request avoids a.
			res, err := run(t, r, "g", s)
			if err != nil || res.Deployment.ID() != "b" {
				t.Fatalf("next request went to %s (%v)", res.Deployment.ID(), err)
			}
			if !strings.Contains(logs.String(), "deployment cooling down") {
				t.Fatal("cooldown not logged")
			}
			time.Sleep(30 * time.Second)
			s.set("a", ok())
			if res, _ := run(t, r, "g", s); res.Deployment.ID() != "a" {
				t.Fatalf("cooldown not lifted: %s", res.Deployment.ID())
			}
		})
	})
	t.Run("429 and upstream auth cool down at once, for retry-after if longer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, _ := testRouter(t, two(), Options{NumRetries: 0})
			s := newScript(map[string]behaviour{"a": fail429(20 * time.Second)})
			_, _ = run(t, r, "g", s)
			if got := cooling(t, r, "a"); time.Until(got) != 20*time.Second {
				t.Fatalf("429 cooldown until %v", got)
			}
			r, _ = testRouter(t, two(), Options{NumRetries: 0})
			s = newScript(map[string]behaviour{"a": fail(llm.KindUpstreamAuth)})
			_, _ = run(t, r, "g", s)
			if got := cooling(t, r, "a"); time.Until(got) != DefaultCooldownTime {
				t.Fatalf("auth cooldown until %v", got)
			}
		})
	})
	t.Run("a new failure extends the cooldown", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, _ := testRouter(t, two(), Options{NumRetries: 0, CooldownTime: 5 * time.Second})
			release := make(chan struct{})
			late := func(context.Context, *Try) (bool, error) {
				<-release
				return false, &llm.Error{Kind: llm.KindUpstream, Message: "late 500"}
			}
			s := newScript(map[string]behaviour{"a": late})
			done := make(chan struct{})
			go func() { _, _ = run(t, r, "g", s); close(done) }()
			synctest.Wait()
			s.set("a", fail429(0))
			_, _ = run(t, r, "g", s) // a cools down until +5s
			time.Sleep(3 * time.Second)
			close(release) // the earlier call fails at +3s
			<-done
			if got := time.Until(cooling(t, r, "a")); got != 5*time.Second {
				t.Fatalf("cooldown left %s, want extended to 5s from the new failure", got)
			}
		})
	})
	t.Run("cooldown end survives a restart or another replica", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			st := NewMemoryState()
			r1, _ := testRouter(t, two(), Options{NumRetries: 0, State: st, CooldownTime: 60 * time.Second})
			s := newScript(map[string]behaviour{"a": fail429(0)})
			_, _ = run(t, r1, "g", s)
			time.Sleep(20 * time.Second)
			r2, _ := testRouter(t, two(), Options{NumRetries: 0, State: st, CooldownTime: 5 * time.Second})
			if left := time.Until(cooling(t, r2, "a")); left != 40*time.Second {
				t.Fatalf("restored cooldown has %s left, want 40s", left)
			}
			// A shorter cooldown set later does not cut the longer one.
			_, _ = st.SetCooldown(context.Background(), "a", time.Now().Add(time.Second))
			if left := time.Until(cooling(t, r2, "a")); left != 40*time.Second {
				t.Fatalf("cooldown shortened to %s", left)
			}
			s.set("a", ok())
			if res, _ := run(t, r2, "g", s); res.Deployment.ID() != "b" {
				t.Fatal("second router ignored the shared cooldown")
			}
		})
	})
	t.Run("single-deployment group", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			one := []*Deployment{dep("solo", "x")}
			r, _ := testRouter(t, one, Options{NumRetries: 0})
			s := newScript(map[string]behaviour{"x": fail429(0)})
			for range 50 {
				_, _ = run(t, r, "solo", s)
			}
			if s.count("x") != 50 || !cooling(t, r, "x").IsZero() {
				t.Fatalf("only deployment cooled down: %d calls", s.count("x"))
			}
			// Every call of at least 1000 in a minute failed: cooled down.
			for range SingleDeploymentFailureThreshold {
				_, _ = run(t, r, "solo", s)
			}
			if cooling(t, r, "x").IsZero() {
				t.Fatal("a group's only deployment failing every one of 1000 calls was not cooled down")
			}

			// allowed_fails set explicitly applies to it.
			r, _ = testRouter(t, []*Deployment{dep("solo", "y")}, Options{NumRetries: 0, AllowedFails: intp(1)})
			s = newScript(map[string]behaviour{"y": fail(llm.KindUpstream)})
			_, _ = run(t, r, "solo", s)
			if !cooling(t, r, "y").IsZero() {
				t.Fatal("cooled after 1 failure with allowed_fails 1")
			}
			_, _ = run(t, r, "solo", s)
			if cooling(t, r, "y").IsZero() {
				t.Fatal("not cooled after 2 failures with allowed_fails 1")
			}
		})
	})
	t.Run("disable_cooldowns", func(t *testing.T) {
		r, _ := testRouter(t, two(), Options{NumRetries: 0, DisableCooldowns: true})
		s := newScript(map[string]behaviour{"a": fail429(0)})
		for range 10 {
			_, _ = run(t, r, "g", s)
		}
		if s.count("a") != 10 {
			t.Fatalf("a called %d times", s.count("a"))
		}
	})
	t.Run("whole group cooling: 429 with the remaining cooldown", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, _ := testRouter(t, two(), Options{NumRetries: 1, CooldownTime: 10 * time.Second})
			s := newScript(map[string]behaviour{"a": fail429(0), "b": fail429(0)})
			_, _ = run(t, r, "g", s)
			time.Sleep(2500 * time.Millisecond)
			_, err := run(t, r, "g", s)
			e := llm.AsError(err)
			if e.Kind != llm.KindRateLimit || e.RetryAfter != 8*time.Second || s.count("a")+s.count("b") != 2 {
				t.Fatalf("%v retry-after %s calls %v", err, e.RetryAfter, s.calls)
			}
		})
	})
}

func TestFallbacks(t *testing.T) {
	deps := func() []*Deployment {
		return []*Deployment{dep("g1", "g1a"), dep("g1", "g1b"), dep("g2", "g2a"), dep("g3", "g3a"),
			dep("big", "biga", maxInput(100000)), dep("small", "smalla", maxInput(1000)), dep("safe", "safea")}
	}
	t.Run("fallbacks in order", func(t *testing.T) {
		r, _ := testRouter(t, deps(), Options{NumRetries: 1, Fallbacks: map[string][]string{"g1": {"g2", "g3"}}})
		var seen []string
		s := newScript(map[string]behaviour{"g1a": fail(llm.KindUpstream), "g1b": fail(llm.KindUpstream), "g2a": fail(llm.KindTimeout),
			"g3a": func(_ context.Context, tr *Try) (bool, error) {
				seen = append(seen, fmt.Sprintf("%s/%d/%d", tr.Group, tr.Retries, tr.Fallbacks))
				return false, nil
			}})
		res, err := run(t, r, "g1", s)
		if err != nil || res.Group != "g3" || res.Fallbacks != 2 || res.Attempts != 5 {
			t.Fatalf("res %+v err %v", res, err)
		}
		if fmt.Sprint(seen) != "[g3/2/2]" {
			t.Fatalf("try seen %v", seen)
		}
	})
	t.Run("all fail: the first error", func(t *testing.T) {
		r, _ := testRouter(t, deps(), Options{Fallbacks: map[string][]string{"g1": {"g2"}}})
		s := newScript(map[string]behaviour{"g1a": fail(llm.KindUpstream), "g1b": fail(llm.KindUpstream), "g2a": fail(llm.KindTimeout)})
		_, err := run(t, r, "g1", s)
		if kindOf(err) != llm.KindUpstream {
			t.Fatal(err)
		}
	})
	t.Run("context window from upstream", func(t *testing.T) {
		r, _ := testRouter(t, deps(), Options{ContextWindowFallbacks: map[string][]string{"g2": {"big"}}, Fallbacks: map[string][]string{"g2": {"g3"}}})
		s := newScript(map[string]behaviour{"g2a": fail(llm.KindContextWindow)})
		res, err := run(t, r, "g2", s)
		if err != nil || res.Group != "big" || res.Attempts != 2 {
			t.Fatalf("res %+v err %v", res, err)
		}
	})
	t.Run("context window pre-check skips the small group", func(t *testing.T) {
		r, _ := testRouter(t, deps(), Options{ContextWindowFallbacks: map[string][]string{"small": {"big"}}})
		s := newScript(map[string]behaviour{})
		res, err := run(t, r, "small", s, func(q *Request) { q.InputTokens = 5000 })
		if err != nil || res.Group != "big" || s.count("smalla") != 0 {
			t.Fatalf("res %+v err %v calls %v", res, err, s.calls)
		}
		_, err = run(t, r, "big", s, func(q *Request) { q.InputTokens = 500000 })
		if kindOf(err) != llm.KindContextWindow {
			t.Fatalf("too big for every group: %v", err)
		}
	})
	t.Run("content policy", func(t *testing.T) {
		r, _ := testRouter(t, deps(), Options{ContentPolicyFallbacks: map[string][]string{"g2": {"safe"}}})
		s := newScript(map[string]behaviour{"g2a": fail(llm.KindContentPolicy)})
		if res, err := run(t, r, "g2", s); err != nil || res.Group != "safe" {
			t.Fatalf("res %+v err %v", res, err)
		}
	})
	t.Run("default, wildcard key and per-request", func(t *testing.T) {
		s := newScript(map[string]behaviour{"g2a": fail(llm.KindUnavailable)})
		r, _ := testRouter(t, deps(), Options{DefaultFallbacks: []string{"g3"}})
		if res, err := run(t, r, "g2", s); err != nil || res.Group != "g3" {
			t.Fatalf("default: %+v %v", res, err)
		}
		r, _ = testRouter(t, deps(), Options{Fallbacks: map[string][]string{"*": {"safe"}}, DefaultFallbacks: []string{"g3"}})
		if res, err := run(t, r, "g2", s); err != nil || res.Group != "safe" {
			t.Fatalf("*: %+v %v", res, err)
		}
		if res, err := run(t, r, "g2", s, func(q *Request) { q.Fallbacks = []string{"big"} }); err != nil || res.Group != "big" {
			t.Fatalf("per request: %+v %v", res, err)
		}
	})
	t.Run("no fallback for the request's own fault; no loops", func(t *testing.T) {
		r, _ := testRouter(t, deps(), Options{Fallbacks: map[string][]string{"g2": {"g3", "g2"}, "g3": {"g2"}}})
		s := newScript(map[string]behaviour{"g2a": fail(llm.KindInvalidRequest)})
		if res, err := run(t, r, "g2", s); kindOf(err) != llm.KindInvalidRequest || res.Attempts != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		s = newScript(map[string]behaviour{"g2a": fail(llm.KindUpstream), "g3a": fail(llm.KindUpstream)})
		if res, _ := run(t, r, "g2", s); res.Attempts != 2 {
			t.Fatalf("attempts %d", res.Attempts)
		}
	})
	t.Run("a cooling group falls back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, _ := testRouter(t, deps(), Options{NumRetries: 0, Fallbacks: map[string][]string{"g1": {"g2"}}})
			s := newScript(map[string]behaviour{"g1a": fail429(0), "g1b": fail429(0)})
			_, _ = run(t, r, "g1", s)
			_, _ = run(t, r, "g1", s)
			s.reset()
			res, err := run(t, r, "g1", s)
			if err != nil || res.Group != "g2" || s.count("g1a")+s.count("g1b") != 0 {
				t.Fatalf("%+v %v %v", res, err, s.calls)
			}
		})
	})
}

func TestFallbacksAuto(t *testing.T) {
	// The guide's routing_and_fallback.yaml: cost-based, fallbacks: true,
	// two local models and the cloud under one name.
	deps := []*Deployment{
		dep("claude", "cloud-unknown"),
		dep("claude", "cloud", cost(3e-6, 15e-6)),
		dep("claude", "qwen", isLocalDep()),
		dep("claude", "deepseek", isLocalDep()),
	}
	for _, strat := range []string{config.StrategyCostBased, config.StrategySimpleShuffle} {
		r, _ := testRouter(t, deps, Options{Strategy: strat, FallbacksAuto: true, NumRetries: 0})
		s := newScript(map[string]behaviour{"qwen": fail(llm.KindUnavailable), "deepseek": fail(llm.KindUnavailable),
			"cloud-unknown": fail(llm.KindUnavailable)})
		res, err := run(t, r, "claude", s)
		if err != nil || res.Deployment.ID() != "cloud" {
			t.Fatalf("%s: %+v %v seq %v", strat, res, err, s.seq)
		}
		if strat == config.StrategyCostBased && (len(s.seq) != 3 || s.count("qwen") != 1 || s.count("deepseek") != 1) {
			t.Fatalf("cheapest first: sequence %v", s.seq)
		}
	}
}

// hangingState never answers until the test ends.
type hangingState struct {
	stop chan struct{}
}

func (h *hangingState) wait() error {
	<-h.stop
	return context.DeadlineExceeded
}
func (h *hangingState) Read(context.Context, []string, int64) ([]Snapshot, error) {
	return nil, h.wait()
}
func (h *hangingState) SetCooldown(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, h.wait()
}
func (h *hangingState) Add(context.Context, string, Counter, int64, int64) (int64, error) {
	return 0, h.wait()
}
func (h *hangingState) AddUpTo(context.Context, string, Counter, int64, int64, int64) (int64, bool, error) {
	return 0, false, h.wait()
}
func (h *hangingState) Acquire(context.Context, string, int64) (bool, error) { return false, h.wait() }
func (h *hangingState) Release(context.Context, string) error                { return h.wait() }
func (h *hangingState) Observe(context.Context, string, SampleKind, Sample, int) error {
	return h.wait()
}

var _ State = (*hangingState)(nil)

func TestStateOutageDoesNotHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &hangingState{stop: make(chan struct{})}
		defer close(st.stop)
		r, logs := testRouter(t, []*Deployment{dep("g", "a", rpm(1), parallel(1)), dep("g", "b")},
			Options{State: st, StateTimeout: 50 * time.Millisecond, StatePause: time.Second, NumRetries: 1})
		s := newScript(map[string]behaviour{"a": fail429(0)})
		start := time.Now()
		_, err := run(t, r, "g", s)
		if err != nil {
			t.Fatalf("fail open: %v", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("first request took %s with the state backend down", d)
		}
		if !strings.Contains(logs.String(), "router state backend failed") {
			t.Fatal("no warning logged")
		}
		// During the pause no call waits at all.
		start = time.Now()
		for range 20 {
			if _, err := run(t, r, "g", s); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("20 requests took %s while the backend is paused", d)
		}
	})
}

func TestStateErrorsFailOpen(t *testing.T) {
	r, _ := testRouter(t, []*Deployment{dep("g", "a")}, Options{State: errState{}})
	s := newScript(map[string]behaviour{})
	if _, err := run(t, r, "g", s); err != nil {
		t.Fatal(err)
	}
}

type errState struct{}

var errDown = fmt.Errorf("connection refused")

func (errState) Read(context.Context, []string, int64) ([]Snapshot, error) { return nil, errDown }
func (errState) SetCooldown(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, errDown
}
func (errState) Add(context.Context, string, Counter, int64, int64) (int64, error) { return 0, errDown }
func (errState) AddUpTo(context.Context, string, Counter, int64, int64, int64) (int64, bool, error) {
	return 0, false, errDown
}
func (errState) Acquire(context.Context, string, int64) (bool, error)           { return false, errDown }
func (errState) Release(context.Context, string) error                          { return errDown }
func (errState) Observe(context.Context, string, SampleKind, Sample, int) error { return errDown }

// A Run given a Scratch works in it: the attempts get its Try, a retry
// goes on in it, and it is left reset, pointing to no deployment.
func TestRunCallerScratch(t *testing.T) {
	r, _ := testRouter(t, []*Deployment{dep("g", "a", order(1)), dep("g", "b", order(2))}, Options{NumRetries: 2})
	rt, err := r.Resolve("g")
	if err != nil {
		t.Fatal(err)
	}
	var sc Scratch
	attempts := 0
	res, err := r.Run(context.Background(), Request{Route: rt, NumRetries: -1, Scratch: &sc}, func(_ context.Context, try *Try) (bool, error) {
		attempts++
		if try != &sc.try {
			t.Error("the attempt's Try is not the caller's scratch's")
		}
		if try.Deployment.ID() == "a" {
			return false, &llm.Error{Kind: llm.KindUpstream, Message: "down"}
		}
		return false, nil
	})
	if err != nil || res.Deployment.ID() != "b" || attempts != 2 {
		t.Fatalf("res %+v err %v attempts %d", res, err, attempts)
	}
	if cap(sc.cands) == 0 || cap(sc.tried) == 0 {
		t.Fatal("the Run did not work in the caller's scratch")
	}
	for _, c := range sc.cands[:cap(sc.cands)] {
		if c.d != nil {
			t.Fatal("a candidate kept after Run")
		}
	}
	for _, d := range sc.tried[:cap(sc.tried)] {
		if d != nil {
			t.Fatal("a tried deployment kept after Run")
		}
	}
	if sc.try.Deployment != nil {
		t.Fatal("the Try kept its deployment after Run")
	}
}
