package router

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
)

// chiSquare checks observed counts against expected proportions; the
// critical values are for p = 0.001.
func chiSquare(t *testing.T, observed []int, weights []float64) {
	t.Helper()
	chiSquareAt(t, observed, weights, map[int]float64{1: 10.83, 2: 13.82, 3: 16.27}[len(observed)-1])
}

// chiSquareAt fails when observed departs from weights beyond critical.
func chiSquareAt(t *testing.T, observed []int, weights []float64, critical float64) {
	t.Helper()
	var n, total float64
	for i := range observed {
		n += float64(observed[i])
		total += weights[i]
	}
	var x2 float64
	for i, o := range observed {
		e := n * weights[i] / total
		x2 += (float64(o) - e) * (float64(o) - e) / e
	}
	if x2 > critical {
		t.Fatalf("observed %v for weights %v: chi-square %.2f > %.2f", observed, weights, x2, critical)
	}
}

func TestSimpleShuffleDistribution(t *testing.T) {
	for _, tc := range []struct {
		name    string
		deps    []*Deployment
		weights []float64
	}{
		{"weight", []*Deployment{dep("g", "a", weight(1)), dep("g", "b", weight(2)), dep("g", "c", weight(7))}, []float64{1, 2, 7}},
		{"rpm", []*Deployment{dep("g", "a", rpm(100000)), dep("g", "b", rpm(300000))}, []float64{1, 3}},
		{"tpm", []*Deployment{dep("g", "a", tpm(1000)), dep("g", "b", tpm(1000)), dep("g", "c", tpm(2000))}, []float64{1, 1, 2}},
		{"equal", []*Deployment{dep("g", "a"), dep("g", "b"), dep("g", "c"), dep("g", "d")}, []float64{1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := testRouter(t, tc.deps, Options{})
			s := newScript(map[string]behaviour{})
			const n = 20000
			for range n {
				if _, err := run(t, r, "g", s); err != nil {
					t.Fatal(err)
				}
			}
			obs := make([]int, len(tc.deps))
			for i, d := range tc.deps {
				obs[i] = s.count(d.ID())
			}
			chiSquare(t, obs, tc.weights)
		})
	}
}

// TestSimpleShuffleUnseeded: without Options.Seed the choices come from
// the global generator, still weighted (critical value at p ≈ 1e-6, so a
// run that is not reproducible does not flake).
func TestSimpleShuffleUnseeded(t *testing.T) {
	deps := []*Deployment{dep("g", "a", weight(1)), dep("g", "b", weight(2)), dep("g", "c", weight(7))}
	if _, ok := source(0).(globalSource); !ok {
		t.Fatal("an unseeded router has its own locked generator")
	}
	r := New(deps, nil, Options{Logger: slog.New(slog.DiscardHandler)})
	s := newScript(map[string]behaviour{})
	const n = 20000
	for range n {
		if _, err := run(t, r, "g", s); err != nil {
			t.Fatal(err)
		}
	}
	obs := make([]int, len(deps))
	for i, d := range deps {
		obs[i] = s.count(d.ID())
	}
	chiSquareAt(t, obs, []float64{1, 2, 7}, 27.6)
}

func TestLeastBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deps := []*Deployment{dep("g", "a"), dep("g", "b"), dep("g", "c")}
		r, _ := testRouter(t, deps, Options{Strategy: config.StrategyLeastBusy})
		release := make(chan struct{})
		hold := func(ctx context.Context, _ *Try) (bool, error) { <-release; return false, nil }
		s := newScript(map[string]behaviour{"a": hold, "b": hold, "c": hold})
		var wg sync.WaitGroup
		for range 9 {
			wg.Go(func() { _, _ = run(t, r, "g", s) })
			synctest.Wait()
		}
		for _, d := range deps {
			if got := d.InFlight(); got != 3 {
				t.Errorf("%s has %d in flight, want 3 (least-busy spreads the load)", d.ID(), got)
			}
		}
		close(release)
		wg.Wait()
	})
}

func TestLeastBusyUnderConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// b answers in 1 s, a and c in 10 s: b frees up first and so takes
		// most of a steady stream of requests.
		deps := []*Deployment{dep("g", "a"), dep("g", "b"), dep("g", "c")}
		r, _ := testRouter(t, deps, Options{Strategy: config.StrategyLeastBusy})
		s := newScript(map[string]behaviour{"a": slow(10 * time.Second), "b": slow(time.Second), "c": slow(10 * time.Second)})
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() { _, _ = run(t, r, "g", s) })
			time.Sleep(100 * time.Millisecond)
		}
		wg.Wait()
		if a, b, c := s.count("a"), s.count("b"), s.count("c"); b < 2*(a+c) {
			t.Fatalf("a=%d b=%d c=%d: the fast deployment should take most requests", a, b, c)
		}
	})
}

func TestLatencyBasedMovesAwayFromSlowedDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deps := []*Deployment{dep("g", "a"), dep("g", "b")}
		r, _ := testRouter(t, deps, Options{Strategy: config.StrategyLatencyBased})
		s := newScript(map[string]behaviour{"a": slow(100 * time.Millisecond), "b": slow(100 * time.Millisecond)})
		for range 100 {
			if _, err := run(t, r, "g", s); err != nil {
				t.Fatal(err)
			}
		}
		if a, b := s.count("a"), s.count("b"); a < 30 || b < 30 {
			t.Fatalf("equal latencies: a=%d b=%d, want both to share the load (buffer)", a, b)
		}
		s.set("a", slow(2*time.Second))
		s.reset()
		for range 100 {
			if _, err := run(t, r, "g", s); err != nil {
				t.Fatal(err)
			}
		}
		if a := s.count("a"); a > 2 {
			t.Fatalf("slowed deployment still got %d of 100 requests", a)
		}
	})
}

func TestLatencyBasedStreamsUseTTFT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// a: first byte after 50 ms but a long stream; b: first byte after 1 s.
		stream := func(ttft, total time.Duration) behaviour {
			return func(ctx context.Context, tr *Try) (bool, error) {
				time.Sleep(ttft)
				tr.FirstByte()
				time.Sleep(total - ttft)
				return true, nil
			}
		}
		deps := []*Deployment{dep("g", "a"), dep("g", "b")}
		r, _ := testRouter(t, deps, Options{Strategy: config.StrategyLatencyBased})
		s := newScript(map[string]behaviour{"a": stream(50*time.Millisecond, 20*time.Second), "b": stream(time.Second, 2*time.Second)})
		streaming := func(q *Request) { q.Stream = true }
		for range 50 {
			if _, err := run(t, r, "g", s, streaming); err != nil {
				t.Fatal(err)
			}
		}
		if a, b := s.count("a"), s.count("b"); a < 45 {
			t.Fatalf("a=%d b=%d: streams should go to the lowest time to first token", a, b)
		}
	})
}

func TestCostBasedPrefersLocal(t *testing.T) {
	deps := []*Deployment{
		dep("g", "cloud-priced", cost(3e-6, 15e-6)),
		dep("g", "cloud-unknown", func(c *config.Deployment) { c.Provider = "anthropic"; c.APIBase = "https://api.anthropic.com" }),
		dep("g", "ollama-1", isLocalDep()),
		dep("g", "ollama-2", isLocalDep()),
	}
	r, _ := testRouter(t, deps, Options{Strategy: config.StrategyCostBased})
	s := newScript(map[string]behaviour{})
	for range 200 {
		if _, err := run(t, r, "g", s); err != nil {
			t.Fatal(err)
		}
	}
	if s.count("cloud-priced")+s.count("cloud-unknown") != 0 {
		t.Fatalf("cloud deployments got traffic: %v", s.calls)
	}
	if a, b := s.count("ollama-1"), s.count("ollama-2"); a < 60 || b < 60 {
		t.Fatalf("equal-cost local deployments should share: %d / %d", a, b)
	}

	t.Run("price lookup orders remote deployments", func(t *testing.T) {
		deps := []*Deployment{dep("g", "dear", cost(1e-5, 1e-5)), dep("g", "looked-up")}
		r, _ := testRouter(t, deps, Options{Strategy: config.StrategyCostBased,
			Price: func(d config.Deployment) (float64, float64, bool) { return 1e-7, 1e-7, d.ID == "looked-up" }})
		s := newScript(map[string]behaviour{})
		for range 20 {
			_, _ = run(t, r, "g", s)
		}
		if s.count("looked-up") != 20 {
			t.Fatalf("calls %v", s.calls)
		}
	})
}

func TestUsageBasedPicksLeastUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, strat := range []string{config.StrategyUsageBased, config.StrategyUsageBasedV2} {
			deps := []*Deployment{dep("g", "a", tpm(100000)), dep("g", "b", tpm(100000))}
			r, _ := testRouter(t, deps, Options{Strategy: strat})
			tokens := func(n int) behaviour {
				return func(_ context.Context, tr *Try) (bool, error) { tr.Tokens(n); return false, nil }
			}
			s := newScript(map[string]behaviour{"a": tokens(1000), "b": tokens(10)})
			for range 50 {
				if _, err := run(t, r, "g", s); err != nil {
					t.Fatal(err)
				}
			}
			// a costs 100x b's tokens per call: b must take almost every call.
			if a := s.count("a"); a > 2 {
				t.Fatalf("%s: a (heavy) got %d of 50", strat, a)
			}
		}
	})
}

func TestOrderTriesLowestFirst(t *testing.T) {
	deps := []*Deployment{dep("g", "backup", order(2)), dep("g", "primary", order(1)), dep("g", "unordered")}
	r, _ := testRouter(t, deps, Options{NumRetries: 2})
	s := newScript(map[string]behaviour{"primary": fail(llm.KindUnavailable)})
	res, err := run(t, r, "g", s)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(s.seq) != "[primary backup]" || res.Deployment.ID() != "backup" {
		t.Fatalf("sequence %v", s.seq)
	}
}

func TestIsLocal(t *testing.T) {
	for base, want := range map[string]bool{
		"http://localhost:8000/v1": true, "http://127.0.0.1:1234": true, "http://192.168.1.5:8000": true,
		"http://host.docker.internal:11434": true, "https://api.openai.com/v1": false, "http://10.0.0.3": true,
	} {
		if got := IsLocal(config.Deployment{Provider: "openai", APIBase: base}); got != want {
			t.Errorf("%s: %v", base, got)
		}
	}
	if math.IsInf(New(nil, nil, Options{}).price(dep("g", "x", isLocalDep())), 1) {
		t.Fatal("local deployment has no price")
	}
}
