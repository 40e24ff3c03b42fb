package gateway

import (
	"net/http"
	"testing"

	"github.com/switchyard/switchyard/internal/config"
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
