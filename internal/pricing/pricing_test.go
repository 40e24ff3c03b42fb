package pricing

import (
	"math"
	"testing"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
)

func mt(in, out, cr, cw float64) Price {
	return mtok{Input: in, Output: out, CacheRead: cr, CacheWrite: cw}.perToken()
}

func TestLookup(t *testing.T) {
	sonnet := mt(3, 15, 0.30, 3.75)
	tests := []struct {
		model string
		want  Price
		ok    bool
	}{
		{"claude-sonnet-4-5", sonnet, true},
		{"claude-sonnet-4-5-20250929", sonnet, true},
		{"anthropic/claude-sonnet-4-5-20250929", sonnet, true},
		{"Claude-Sonnet-4-5", sonnet, true},
		{"claude-sonnet-4-5[1m]", sonnet, true},
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", sonnet, true},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", sonnet, true},
		{"claude-sonnet-4-20250514", sonnet, true},
		{"claude-sonnet-4-0", sonnet, true},
		{"claude-3-5-sonnet-latest", sonnet, true},
		{"claude-3-7-sonnet-20250219", sonnet, true},
		{"claude-haiku-4-5@20251001", mt(1, 5, 0.10, 1.25), true},
		{"claude-haiku-4-5-20251001", mt(1, 5, 0.10, 1.25), true},
		{"claude-3-5-haiku-20241022", mt(0.80, 4, 0.08, 1), true},
		{"claude-opus-4-5-20251101", mt(5, 25, 0.50, 6.25), true},
		{"claude-opus-4-1-20250805", mt(15, 75, 1.50, 18.75), true},
		{"claude-opus-4-20250514", mt(15, 75, 1.50, 18.75), true},
		{"gpt-4o", mt(2.50, 10, 1.25, 2.50), true},
		{"gpt-4o-2024-08-06", mt(2.50, 10, 1.25, 2.50), true},
		{"openai/gpt-4o-mini", mt(0.15, 0.60, 0.075, 0.15), true},
		{"gpt-4o-mini-2024-07-18", mt(0.15, 0.60, 0.075, 0.15), true},
		{"gpt-4.1-2025-04-14", mt(2, 8, 0.50, 2), true},
		{"gpt-4.1-mini", mt(0.40, 1.60, 0.10, 0.40), true},
		{"gpt-4.1-nano", mt(0.10, 0.40, 0.025, 0.10), true},
		{"o3", mt(2, 8, 0.50, 2), true},
		{"o4-mini-2025-04-16", mt(1.10, 4.40, 0.275, 1.10), true},
		{"gpt-5", mt(1.25, 10, 0.125, 1.25), true},
		{"gpt-5-mini-2025-08-07", mt(0.25, 2, 0.025, 0.25), true},
		{"openrouter/openai/gpt-5-nano", mt(0.05, 0.40, 0.005, 0.05), true},
		{"llama3.2", Price{}, false},
		{"gpt-4o-audio-preview", Price{}, false},
		{"claude-sonnet", Price{}, false},
		{"", Price{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			got, ok := Lookup(tt.model)
			if ok != tt.ok || !near(got, tt.want) {
				t.Errorf("Lookup(%q) = %+v, %v; want %+v, %v", tt.model, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func near(a, b Price) bool {
	eq := func(x, y float64) bool { return math.Abs(x-y) <= 1e-15 }
	return eq(a.Input, b.Input) && eq(a.Output, b.Output) && eq(a.CacheRead, b.CacheRead) && eq(a.CacheWrite, b.CacheWrite)
}

func TestTableSane(t *testing.T) {
	for name, p := range table {
		if p.Input <= 0 || p.Output < 0 || p.CacheRead <= 0 || p.CacheWrite <= 0 {
			t.Errorf("%s: non-positive price %+v", name, p)
		}
		if p.CacheRead > p.Input {
			t.Errorf("%s: cache read dearer than input", name)
		}
		if canonical(name) != name {
			t.Errorf("%s: key is not canonical (%q)", name, canonical(name))
		}
	}
	for a, k := range aliases {
		if _, ok := table[k]; !ok {
			t.Errorf("alias %s → %s: not in table", a, k)
		}
	}
}

func TestCost(t *testing.T) {
	sonnet, _ := Lookup("claude-sonnet-4-5")
	tests := []struct {
		name string
		p    Price
		u    llm.Usage
		want float64
	}{
		{"zero", sonnet, llm.Usage{}, 0},
		{"input+output", sonnet, llm.Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}, 18},
		// Anthropic convention: cache tokens are not part of InputTokens.
		{"cache", sonnet, llm.Usage{InputTokens: 100, CacheReadTokens: 1_000_000, CacheWriteTokens: 1_000_000, OutputTokens: 0}, 0.30 + 3.75 + 100*3e-6},
		{"reasoning not billed twice", sonnet, llm.Usage{OutputTokens: 1000, ReasoningTokens: 800}, 1000 * 15e-6},
		{"free", Price{}, llm.Usage{InputTokens: 5, OutputTokens: 5}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Cost(tt.p, tt.u); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Cost = %v, want %v", got, tt.want)
			}
		})
	}
}

func ptr(f float64) *float64 { return &f }

func TestForDeployment(t *testing.T) {
	gpt4o, _ := Lookup("gpt-4o")
	haiku, _ := Lookup("claude-haiku-4-5")
	tests := []struct {
		name     string
		d        config.Deployment
		upstream string
		want     Price
	}{
		{"table", config.Deployment{Provider: "openai", Model: "gpt-4o"}, "gpt-4o", gpt4o},
		{"openai default base", config.Deployment{Provider: "openai", Model: "gpt-4o", APIBase: "https://api.openai.com/v1"}, "", gpt4o},
		{"wildcard uses upstream", config.Deployment{Provider: "anthropic", Model: "*"}, "claude-haiku-4-5-20251001", haiku},
		{"ollama free", config.Deployment{Provider: "ollama", Model: "llama3.2"}, "llama3.2", Price{}},
		{"ollama named like gpt still free", config.Deployment{Provider: "ollama_chat", Model: "gpt-4o"}, "gpt-4o", Price{}},
		{"vllm free", config.Deployment{Provider: "hosted_vllm", Model: "qwen", APIBase: "http://gpu:8000/v1"}, "qwen", Price{}},
		{"openai-compatible local base free", config.Deployment{Provider: "openai", Model: "gpt-4o", APIBase: "http://localhost:8000/v1"}, "gpt-4o", Price{}},
		{"local with cost set", config.Deployment{Provider: "ollama", Model: "llama3.2", InputCostPerToken: ptr(1e-6), OutputCostPerToken: ptr(2e-6)}, "",
			Price{Input: 1e-6, Output: 2e-6, CacheRead: 1e-6, CacheWrite: 1e-6}},
		{"override wins", config.Deployment{Provider: "openai", Model: "gpt-4o", InputCostPerToken: ptr(1e-6)}, "gpt-4o",
			Price{Input: 1e-6, Output: gpt4o.Output, CacheRead: gpt4o.CacheRead, CacheWrite: gpt4o.CacheWrite}},
		{"all overrides", config.Deployment{Provider: "anthropic", Model: "claude-haiku-4-5", InputCostPerToken: ptr(1), OutputCostPerToken: ptr(2), CacheReadCostPerToken: ptr(3), CacheWriteCostPerToken: ptr(4)}, "",
			Price{Input: 1, Output: 2, CacheRead: 3, CacheWrite: 4}},
		{"base_model", config.Deployment{Provider: "openai", Model: "my-ft", APIBase: "https://proxy.example/v1", Info: config.ModelInfo{BaseModel: "gpt-4o"}}, "my-ft", gpt4o},
		{"unknown cloud model", config.Deployment{Provider: "groq", Model: "llama-3.3-70b"}, "", Price{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ForDeployment(tt.d, tt.upstream); !near(got, tt.want) {
				t.Errorf("ForDeployment = %+v, want %+v", got, tt.want)
			}
		})
	}
}
