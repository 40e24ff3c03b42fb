package router

import (
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/config"
)

// strategy returns the index of the candidate to try (cands is never empty).
type strategy func(r *Router, cands []cand, stream bool) int

// cand is a deployment that may take the next attempt, with its state.
type cand struct {
	d    *Deployment
	snap Snapshot
}

func strategyFor(name string) strategy {
	switch name {
	case config.StrategyLeastBusy:
		return pickLeastBusy
	case config.StrategyLatencyBased:
		return pickLowestLatency
	case config.StrategyCostBased:
		return pickCheapest
	case config.StrategyUsageBased, config.StrategyUsageBasedV2:
		return pickLeastUsed
	}
	return pickShuffle
}

// pickShuffle is LiteLLM's simple-shuffle: random, weighted by weight, else
// rpm, else tpm, else equal.
func pickShuffle(r *Router, cands []cand, _ bool) int {
	if len(cands) == 1 {
		return 0
	}
	var total float64
	weights := make([]float64, len(cands))
	for i, c := range cands {
		w := shuffleWeight(c.d.Cfg)
		weights[i] = w
		total += w
	}
	x := r.rnd.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(cands) - 1
}

func shuffleWeight(d config.Deployment) float64 {
	switch {
	case d.Weight > 0:
		return d.Weight
	case d.RPM > 0:
		return float64(d.RPM)
	case d.TPM > 0:
		return float64(d.TPM)
	}
	return 1
}

// pickMin returns a random one of the candidates with the lowest score.
func (r *Router) pickMin(cands []cand, score func(c *cand) float64) int {
	best := math.Inf(1)
	var ties []int
	for i := range cands {
		s := score(&cands[i])
		switch {
		case s < best:
			best, ties = s, append(ties[:0], i)
		case s == best:
			ties = append(ties, i)
		}
	}
	if len(ties) == 0 { // every score is +Inf
		return r.rnd.IntN(len(cands))
	}
	return ties[r.rnd.IntN(len(ties))]
}

// pickLeastBusy takes the deployment with the fewest calls in flight.
func pickLeastBusy(r *Router, cands []cand, _ bool) int {
	return r.pickMin(cands, func(c *cand) float64 { return float64(c.snap.InFlight) })
}

// pickLeastUsed is usage-based-routing (v1 and v2): the deployment with the
// fewest tokens used this minute, then the fewest requests.
func pickLeastUsed(r *Router, cands []cand, _ bool) int {
	return r.pickMin(cands, func(c *cand) float64 {
		return float64(c.snap.Counters[CounterTokens])*1e6 + float64(c.snap.Counters[CounterRequests])
	})
}

// pickCheapest is cost-based-routing: the lowest input+output price per
// token; a local deployment with no configured cost is free; a remote one
// whose price is unknown comes last.
func pickCheapest(r *Router, cands []cand, _ bool) int {
	return r.pickMin(cands, func(c *cand) float64 { return r.price(c.d) })
}

// price is d's input plus output price per token, +Inf when unknown.
func (r *Router) price(d *Deployment) float64 {
	cfg := d.Cfg
	if cfg.InputCostPerToken != nil || cfg.OutputCostPerToken != nil {
		var p float64
		if cfg.InputCostPerToken != nil {
			p += *cfg.InputCostPerToken
		}
		if cfg.OutputCostPerToken != nil {
			p += *cfg.OutputCostPerToken
		}
		return p
	}
	if IsLocal(cfg) {
		return 0
	}
	if r.opts.Price != nil {
		if in, out, ok := r.opts.Price(cfg); ok {
			return in + out
		}
	}
	return math.Inf(1)
}

// IsLocal reports whether d runs on this machine or network: a self-hosted
// provider (Ollama, vLLM, LM Studio, llamafile) or an api_base on a loopback
// or private address.
func IsLocal(d config.Deployment) bool {
	switch d.Provider {
	case "ollama", "ollama_chat", "hosted_vllm", "vllm", "lm_studio", "llamafile":
		return true
	}
	u, err := url.Parse(d.APIBase)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "host.docker.internal" || strings.HasSuffix(host, ".local") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast())
}

// pickLowestLatency is latency-based-routing: the lowest mean of the recent
// samples (time to first byte for streams), choosing at random among the
// deployments within LatencyBuffer of the best so near-equal ones share the
// load. A deployment with no recent sample counts as fastest, so it is tried.
func pickLowestLatency(r *Router, cands []cand, stream bool) int {
	now := r.now()
	means := make([]float64, len(cands))
	best := math.Inf(1)
	for i := range cands {
		means[i] = r.meanLatency(&cands[i].snap, stream, now)
		best = min(best, means[i])
	}
	limit := best * (1 + r.opts.LatencyBuffer)
	var near []int
	for i, m := range means {
		if m <= limit {
			near = append(near, i)
		}
	}
	return near[r.rnd.IntN(len(near))]
}

// meanLatency is the mean of the fresh samples, preferring the series that
// matches the call (TTFT for streams) and falling back to the other.
func (r *Router) meanLatency(s *Snapshot, stream bool, now time.Time) float64 {
	kinds := []SampleKind{SampleLatency, SampleTTFT}
	if stream {
		kinds[0], kinds[1] = SampleTTFT, SampleLatency
	}
	for _, k := range kinds {
		var sum float64
		n := 0
		for _, x := range s.Samples[k] {
			if now.Sub(x.At) <= r.opts.LatencyTTL {
				sum += float64(x.D)
				n++
			}
		}
		if n > 0 {
			return sum / float64(n)
		}
	}
	return 0
}
