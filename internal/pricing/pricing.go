// Package pricing prices a call: an embedded table of list prices per model,
// deployment overrides from the config, and the cost of a Usage.
package pricing

import (
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
)

// Price is what one token costs, in USD.
type Price struct {
	Input      float64 // uncached input token
	Output     float64 // output token (reasoning tokens included)
	CacheRead  float64 // input token read from the prompt cache
	CacheWrite float64 // input token written to the prompt cache
}

// IsZero reports whether every price is zero.
func (p Price) IsZero() bool { return p == Price{} }

// mtok is a price per million tokens, as vendors publish them.
type mtok struct{ Input, Output, CacheRead, CacheWrite float64 }

func (m mtok) perToken() Price {
	return Price{Input: m.Input / 1e6, Output: m.Output / 1e6,
		CacheRead: m.CacheRead / 1e6, CacheWrite: m.CacheWrite / 1e6}
}

// Lookup returns the list price of a model. It accepts the exact name
// ("claude-sonnet-4-5"), dated variants ("claude-sonnet-4-5-20250929",
// "gpt-4o-2024-08-06"), "-latest" aliases, provider prefixes
// ("anthropic/claude-haiku-4-5", "openai/gpt-4.1"), Bedrock and Vertex
// spellings ("anthropic.claude-sonnet-4-5-20250929-v1:0",
// "claude-haiku-4-5@20251001") and the "[1m]" context suffix. Matching is
// case-insensitive. Unknown models return false: no guessing by prefix, so a
// new model is unpriced rather than mispriced.
func Lookup(model string) (Price, bool) {
	m := canonical(model)
	if m == "" {
		return Price{}, false
	}
	if p, ok := table[m]; ok {
		return p.perToken(), true
	}
	if a, ok := aliases[m]; ok {
		if p, ok := table[a]; ok {
			return p.perToken(), true
		}
	}
	return Price{}, false
}

// canonical strips everything that does not change the price.
func canonical(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	m = strings.TrimSuffix(m, "[1m]")
	if i := strings.IndexByte(m, '@'); i >= 0 { // Vertex: claude-haiku-4-5@20251001
		m = m[:i]
	}
	// Bedrock: [us.|eu.|global.]anthropic.claude-...-v1:0
	if i := strings.Index(m, "anthropic."); i >= 0 && i <= len("global.") {
		m = m[i+len("anthropic."):]
		if j := strings.LastIndex(m, "-v"); j >= 0 && strings.Contains(m[j:], ":") {
			m = m[:j]
		}
	}
	m = strings.TrimSuffix(m, "-latest")
	return stripDate(m)
}

// stripDate removes a trailing -YYYYMMDD (Anthropic) or -YYYY-MM-DD (OpenAI).
func stripDate(m string) string {
	if n := len(m); n > 9 && m[n-9] == '-' && allDigits(m[n-8:]) {
		return m[:n-9]
	}
	if n := len(m); n > 11 && m[n-11] == '-' && allDigits(m[n-10:n-6]) && m[n-6] == '-' &&
		allDigits(m[n-5:n-3]) && m[n-3] == '-' && allDigits(m[n-2:]) {
		return m[:n-11]
	}
	return m
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Cost is the price of a call's usage in USD. It follows the hub
// convention: Usage.InputTokens excludes cache reads and writes, which are
// priced at their own rates; OutputTokens includes reasoning tokens, so
// ReasoningTokens is not billed again.
func Cost(p Price, u llm.Usage) float64 {
	return float64(u.InputTokens)*p.Input +
		float64(u.OutputTokens)*p.Output +
		float64(u.CacheReadTokens)*p.CacheRead +
		float64(u.CacheWriteTokens)*p.CacheWrite
}

// localProviders run on the operator's own hardware.
var localProviders = map[string]bool{
	"ollama": true, "ollama_chat": true, "hosted_vllm": true, "vllm": true,
	"lm_studio": true, "llamafile": true, "openai_like": true, "custom_openai": true,
}

// IsLocal reports whether a deployment is served by the operator's own
// server rather than a paid API: the local providers, and "openai" pointed
// at an api_base that is not api.openai.com.
func IsLocal(d config.Deployment) bool {
	p := strings.ToLower(d.Provider)
	if localProviders[p] {
		return true
	}
	if p == "openai" && d.APIBase != "" {
		u, err := url.Parse(d.APIBase)
		if err != nil || !strings.EqualFold(u.Hostname(), "api.openai.com") {
			return true
		}
	}
	return false
}

// ForDeployment is the price of a call to deployment d that sent
// upstreamModel upstream (the resolved name, which matters for wildcard
// deployments; d.Model is used when it is empty). In order:
//   - the list price: model_info.base_model if set, else the upstream model,
//     looked up in the table; none for local deployments (IsLocal), which
//     cost 0 unless configured;
//   - each configured per-token cost (input_cost_per_token, ...) replaces
//     its field;
//   - when there is no list price, unset cache prices default to the
//     configured input price (LiteLLM's behaviour).
func ForDeployment(d config.Deployment, upstreamModel string) Price {
	var p Price
	var listed bool
	switch {
	case d.Info.BaseModel != "":
		p, listed = Lookup(d.Info.BaseModel)
	case !IsLocal(d):
		m := upstreamModel
		if m == "" {
			m = d.Model
		}
		p, listed = Lookup(m)
	}
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.Input, d.InputCostPerToken)
	set(&p.Output, d.OutputCostPerToken)
	set(&p.CacheRead, d.CacheReadCostPerToken)
	set(&p.CacheWrite, d.CacheWriteCostPerToken)
	if !listed {
		if d.CacheReadCostPerToken == nil {
			p.CacheRead = p.Input
		}
		if d.CacheWriteCostPerToken == nil {
			p.CacheWrite = p.Input
		}
	}
	return p
}
