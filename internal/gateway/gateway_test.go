package gateway

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/pricing"
	"github.com/switchyard/switchyard/internal/router"
)

// TestUpstreamClient: a gateway sends upstream calls over the fast client's
// pool, unless a test injects a transport, which then serves every call.
func TestUpstreamClient(t *testing.T) {
	cfg, err := config.Parse("test.yaml", []byte(`
model_list:
  - model_name: m
    litellm_params: {model: openai/m, api_base: "http://127.0.0.1:9/v1"}
general_settings:
  disable_spend_logs: true
`), config.MapEnv(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		rt       http.RoundTripper
		wantPool bool
	}{{"default", nil, true}, {"injected transport", http.DefaultTransport, false}} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(cfg, Options{Transport: tc.rt})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			for _, d := range g.deps {
				if (d.Upstream.Pool != nil) != tc.wantPool || d.Upstream.Client == nil {
					t.Fatalf("%s: pool %v client %v", d.ID(), d.Upstream.Pool != nil, d.Upstream.Client != nil)
				}
				if tc.rt != nil && d.Upstream.Client.Transport != tc.rt {
					t.Fatalf("%s: the injected transport is not used", d.ID())
				}
			}
		})
	}
}

// TestPriceCache: a cached price is the price, and a wildcard deployment's
// client-chosen names cannot grow the cache without bound.
func TestPriceCache(t *testing.T) {
	d := &router.Deployment{Cfg: config.Deployment{ModelName: "*", Model: "anthropic/*", Provider: "anthropic"}}
	u := llm.Usage{InputTokens: 1000, OutputTokens: 500, CacheReadTokens: 200}
	var prices priceCache
	for _, m := range []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-sonnet-4-5", "no-such-model"} {
		want := pricing.Cost(pricing.ForDeployment(d.Cfg, m), u)
		for range 2 {
			if got := prices.price(d, m, u); got != want {
				t.Fatalf("%s: cached price %g, want %g", m, got, want)
			}
		}
	}
	if prices.price(d, "claude-sonnet-4-5", u) <= 0 {
		t.Fatal("a listed model priced 0")
	}
	var c priceCache
	for i := range maxCachedPrices + 100 {
		c.get(d, fmt.Sprintf("model-%d", i))
	}
	if n := c.n.Load(); n != maxCachedPrices {
		t.Fatalf("cache holds %d prices, bound %d", n, maxCachedPrices)
	}
}
