package config

import (
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// ProviderSpec describes an upstream provider as named by the prefix of
// litellm_params.model.
type ProviderSpec struct {
	Name    string
	Dialect llm.Dialect
	// DefaultAPIBase is used when the deployment has no api_base; empty
	// means api_base is required.
	DefaultAPIBase string
	// APIBaseEnv and APIKeyEnv are read (as LiteLLM does) when the
	// deployment sets no api_base / api_key.
	APIBaseEnv string
	APIKeyEnv  string
	// NeedsKey says the upstream refuses calls without a key.
	NeedsKey bool
}

var providers = map[string]ProviderSpec{}

func init() {
	add := func(p ProviderSpec) { providers[p.Name] = p }
	add(ProviderSpec{Name: "openai", Dialect: llm.DialectOpenAI, DefaultAPIBase: "https://api.openai.com/v1", APIBaseEnv: "OPENAI_API_BASE", APIKeyEnv: "OPENAI_API_KEY", NeedsKey: true})
	add(ProviderSpec{Name: "anthropic", Dialect: llm.DialectAnthropic, DefaultAPIBase: "https://api.anthropic.com", APIBaseEnv: "ANTHROPIC_API_BASE", APIKeyEnv: "ANTHROPIC_API_KEY", NeedsKey: true})
	add(ProviderSpec{Name: "ollama", Dialect: llm.DialectOllama, DefaultAPIBase: "http://localhost:11434", APIBaseEnv: "OLLAMA_API_BASE"})
	add(ProviderSpec{Name: "ollama_chat", Dialect: llm.DialectOllama, DefaultAPIBase: "http://localhost:11434", APIBaseEnv: "OLLAMA_API_BASE"})
	// OpenAI-compatible servers that must be told where they are.
	add(ProviderSpec{Name: "hosted_vllm", Dialect: llm.DialectOpenAI, APIBaseEnv: "HOSTED_VLLM_API_BASE", APIKeyEnv: "HOSTED_VLLM_API_KEY"})
	add(ProviderSpec{Name: "vllm", Dialect: llm.DialectOpenAI})
	add(ProviderSpec{Name: "lm_studio", Dialect: llm.DialectOpenAI, APIBaseEnv: "LM_STUDIO_API_BASE", APIKeyEnv: "LM_STUDIO_API_KEY"})
	add(ProviderSpec{Name: "llamafile", Dialect: llm.DialectOpenAI, APIBaseEnv: "LLAMAFILE_API_BASE"})
	add(ProviderSpec{Name: "openai_like", Dialect: llm.DialectOpenAI})
	add(ProviderSpec{Name: "custom_openai", Dialect: llm.DialectOpenAI})
	add(ProviderSpec{Name: "litellm_proxy", Dialect: llm.DialectOpenAI, APIBaseEnv: "LITELLM_PROXY_API_BASE", APIKeyEnv: "LITELLM_PROXY_API_KEY"})
	// OpenAI-compatible clouds with a well-known address.
	cloud := func(name, base, keyEnv string) {
		add(ProviderSpec{Name: name, Dialect: llm.DialectOpenAI, DefaultAPIBase: base, APIKeyEnv: keyEnv, NeedsKey: true})
	}
	cloud("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY")
	cloud("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY")
	cloud("together_ai", "https://api.together.xyz/v1", "TOGETHERAI_API_KEY")
	cloud("fireworks_ai", "https://api.fireworks.ai/inference/v1", "FIREWORKS_AI_API_KEY")
	cloud("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY")
	cloud("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY")
	cloud("perplexity", "https://api.perplexity.ai", "PERPLEXITYAI_API_KEY")
	cloud("deepinfra", "https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY")
	cloud("xai", "https://api.x.ai/v1", "XAI_API_KEY")
	cloud("cerebras", "https://api.cerebras.ai/v1", "CEREBRAS_API_KEY")
	cloud("nvidia_nim", "https://integrate.api.nvidia.com/v1", "NVIDIA_NIM_API_KEY")
	cloud("sambanova", "https://api.sambanova.ai/v1", "SAMBANOVA_API_KEY")
}

// knownUnsupported are LiteLLM providers Switchyard cannot talk to.
var knownUnsupported = map[string]bool{
	"azure": true, "azure_ai": true, "azure_text": true, "bedrock": true, "sagemaker": true,
	"vertex_ai": true, "vertex_ai_beta": true, "gemini": true, "palm": true, "cohere": true,
	"cohere_chat": true, "huggingface": true, "replicate": true, "watsonx": true, "ai21": true,
	"cloudflare": true, "databricks": true, "text-completion-openai": true,
	"text-completion-codestral": true, "codestral": true, "voyage": true, "predibase": true,
	"triton": true, "clarifai": true, "nlp_cloud": true, "aleph_alpha": true, "petals": true,
	"baseten": true, "oobabooga": true, "maritalk": true, "friendliai": true, "anyscale": true, "github": true, "dashscope": true, "moonshot": true,
}

// LookupProvider returns the spec of a provider name (case-insensitive).
func LookupProvider(name string) (ProviderSpec, bool) {
	p, ok := providers[strings.ToLower(strings.TrimSpace(name))]
	return p, ok
}

// InferProvider guesses the provider of a model name written without a
// prefix, the way LiteLLM does for well-known names: gpt-*, o1/o3/o4*,
// chatgpt-*, text-embedding-* → openai; claude-* → anthropic. The router
// uses it for a bare "*" deployment, whose provider depends on the request.
func InferProvider(model string) (string, bool) {
	m := strings.ToLower(model)
	switch {
	case strings.HasPrefix(m, "gpt-"), strings.HasPrefix(m, "chatgpt-"),
		strings.HasPrefix(m, "text-embedding-"), strings.HasPrefix(m, "davinci-"),
		strings.HasPrefix(m, "babbage-"), strings.HasPrefix(m, "omni-moderation"),
		strings.HasPrefix(m, "text-moderation"):
		return "openai", true
	case isOSeries(m):
		return "openai", true
	case strings.HasPrefix(m, "claude-"):
		return "anthropic", true
	}
	return "", false
}

// isOSeries matches o1, o3, o4-mini, o1-preview-2024-09-12, ...
func isOSeries(m string) bool {
	if len(m) < 2 || m[0] != 'o' || m[1] < '1' || m[1] > '9' {
		return false
	}
	rest := m[2:]
	return rest == "" || rest[0] == '-'
}
