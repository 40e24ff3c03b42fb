package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestDeploymentsIndependent: each model_list entry is decoded on its own,
// though the handlers are built once per config: nothing of one entry
// shows in the next, and a later entry does not change an earlier one.
func TestDeploymentsIndependent(t *testing.T) {
	c := mustParse(t, `model_list:
  - model_name: a
    litellm_params:
      model: openai/gpt-4o
      api_base: http://127.0.0.1:9/v1
      api_key: sk-a
      rpm: 60
      temperature: 0.2
      extra_headers: {X-Team: red}
      input_cost_per_token: 0.000001
      timeout: 30
    model_info:
      id: dep-a
      custom_field: 7
  - model_name: b
    litellm_params:
      model: ollama/qwen2.5:7b
  - model_name: c
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:9/v1
      extra_headers: {X-Team: blue}
      temperature: 0.9
    model_info:
      custom_field: 8
`, nil)
	if len(c.Deployments) != 3 {
		t.Fatalf("%d deployments, want 3", len(c.Deployments))
	}
	a, b, cc := c.Deployments[0], c.Deployments[1], c.Deployments[2]
	if a.ModelName != "a" || a.APIKey != "sk-a" || a.RPM != 60 || a.Headers["X-Team"] != "red" ||
		string(a.Params["temperature"]) != "0.2" || a.InputCostPerToken == nil || *a.InputCostPerToken != 0.000001 ||
		a.Info.ID != "dep-a" || string(a.Info.Extra["custom_field"]) != "7" || a.Timeout.Seconds() != 30 {
		t.Errorf("first entry: %+v", a)
	}
	if b.ModelName != "b" || b.APIKey != "" || b.APIBase == a.APIBase || b.RPM != 0 || len(b.Headers) != 0 ||
		len(b.Params) != 0 || b.InputCostPerToken != nil || len(b.Info.Extra) != 0 || b.Info.ID == "dep-a" ||
		b.Timeout == a.Timeout {
		t.Errorf("second entry kept something of the first: %+v", b)
	}
	if cc.Headers["X-Team"] != "blue" || string(cc.Params["temperature"]) != "0.9" || string(cc.Info.Extra["custom_field"]) != "8" {
		t.Errorf("third entry: %+v", cc)
	}
	if a.Headers["X-Team"] != "red" || string(a.Params["temperature"]) != "0.2" || string(a.Info.Extra["custom_field"]) != "7" {
		t.Errorf("the third entry changed the first: %+v", a)
	}
}

// BenchmarkParseDeployments parses a config of 200 deployments, as the
// benchmark's start-up scenario loads (cmd/switchyard-bench).
func BenchmarkParseDeployments(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("model_list:\n")
	models := []string{"openai/bench-upstream", "anthropic/claude-bench-upstream", "ollama_chat/qwen2.5:7b", "openai/bench-upstream"}
	bases := []string{"http://127.0.0.1:35521/v1", "http://127.0.0.1:41667", "http://127.0.0.1:37633", "http://127.0.0.1:35521/v1"}
	for i := range 200 {
		fmt.Fprintf(&sb, "  - model_name: group-%03d\n    litellm_params:\n      model: %s\n      api_base: %s\n      api_key: sk-upstream-%d\n      rpm: 6000\n",
			i/4, models[i%4], bases[i%4], i)
	}
	sb.WriteString("general_settings:\n  master_key: sk-bench-master\n")
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench.yaml", data, MapEnv(nil)); err != nil {
			b.Fatal(err)
		}
	}
}
