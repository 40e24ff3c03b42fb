package config

import (
	"encoding/json"
	"net/netip"
	"os"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// Config is a loaded, resolved and validated config file.
type Config struct {
	// File is the name the config was loaded under, used in messages.
	File        string
	Deployments []Deployment
	LiteLLM     LiteLLMSettings // litellm_settings
	Router      RouterSettings  // router_settings
	General     GeneralSettings // general_settings
	// Environment holds environment_variables, resolved. main exports them
	// (os.Setenv) so that libraries reading the environment see them too.
	Environment map[string]string
	// Warnings lists everything ignored, unknown or interpreted, in file order.
	Warnings []Warning
}

// Deployment is one model_list entry: one upstream that serves a model group.
type Deployment struct {
	// ModelName is the group name clients ask for; it may be a wildcard
	// such as "*", "claude-*" or "ollama/*".
	ModelName string
	// Provider is the normalized prefix of litellm_params.model ("openai",
	// "hosted_vllm", "ollama", "ollama_chat", "anthropic", ...), or
	// custom_llm_provider. It is empty only for a bare model "*", whose
	// provider is inferred per request (InferProvider).
	Provider string
	// Dialect is what the upstream speaks.
	Dialect llm.Dialect
	// Model is the upstream model name without the provider prefix. "*"
	// passes the requested name through; a trailing "/*" or "-*" keeps the
	// requested suffix.
	Model string
	// APIBase is the resolved base URL, without a trailing slash.
	APIBase string
	// APIKey is the resolved key; empty when none is configured.
	APIKey string
	// RPM and TPM limit requests and tokens per minute; 0 means no limit.
	RPM, TPM int
	// MaxParallelRequests limits in-flight requests; 0 means no limit.
	MaxParallelRequests int
	// Weight biases simple-shuffle; 0 means unset (equal weights).
	Weight float64
	// Order: lower orders are tried first; 0 means unset.
	Order int
	// Timeout is the request timeout: litellm_params.timeout, else
	// router_settings.timeout, else litellm_settings.request_timeout, else
	// DefaultTimeout. StreamTimeout is litellm_params.stream_timeout, else
	// router_settings.stream_timeout, else Timeout.
	Timeout, StreamTimeout time.Duration
	// MaxRetries is litellm_params.max_retries; nil when unset.
	MaxRetries *int
	// Costs per token in USD, from litellm_params or else model_info; nil
	// when unset (the price table decides).
	InputCostPerToken, OutputCostPerToken, CacheReadCostPerToken, CacheWriteCostPerToken *float64
	// NumCtx is Ollama's context size (litellm_params.num_ctx); 0 if unset.
	NumCtx int
	// KeepAlive is Ollama's keep_alive as written ("5m", "-1", ...).
	KeepAlive string
	// Warmup (Switchyard extension, litellm_params.warmup) preloads the
	// model at start-up.
	Warmup bool
	// Headers are sent on every upstream call (extra_headers / headers).
	Headers map[string]string
	// Params are the litellm_params forwarded as request parameters (the
	// Forwarded keys of the key table), as JSON, environment resolved.
	Params map[string]json.RawMessage
	Info   ModelInfo
	// ID is model_info.id, or a short hex hash of (model_name, provider,
	// model, api_base), stable across restarts; duplicates get "-2", "-3".
	ID string
	// Line is the line of the entry in the file.
	Line int
}

// ModelInfo is model_info.
type ModelInfo struct {
	ID              string
	Mode            string // "chat", "embedding", "completion", ...
	BaseModel       string
	MaxTokens       int
	MaxInputTokens  int
	MaxOutputTokens int
	// Extra holds every other model_info key as JSON (supports_vision, ...).
	Extra map[string]json.RawMessage
}

// DefaultTimeout applies when no timeout is configured anywhere.
const DefaultTimeout = 600 * time.Second

// Fallback is one entry of a fallbacks list: when Group fails, try To in order.
type Fallback struct {
	Group string
	To    []string
	Line  int

	key string // for messages
	col int
}

// CacheParams is litellm_settings.cache_params.
type CacheParams struct {
	// Type is "local" (in memory) or "redis"; other LiteLLM types are
	// replaced by "local" with a warning.
	Type     string
	Host     string
	Port     int
	Password string
	// TTL is 0 when unset.
	TTL       time.Duration
	Namespace string
	// SupportedCallTypes as written ("completion", "acompletion", "embedding", ...).
	SupportedCallTypes []string
}

// LiteLLMSettings is litellm_settings.
type LiteLLMSettings struct {
	DropParams bool
	// NumRetries is nil when unset.
	NumRetries          *int
	RequestTimeout      time.Duration
	MaxParallelRequests int
	Cache               bool
	CacheParams         CacheParams
	SuccessCallback     []string
	FailureCallback     []string
	Callbacks           []string
	LangfusePublicKey   string
	LangfuseSecretKey   string
	LangfuseHost        string
	SetVerbose          bool
	JSONLogs            bool
	Fallbacks           []Fallback
	// ContextWindowFallbacks and ContentPolicyFallbacks apply to those error kinds only.
	ContextWindowFallbacks []Fallback
	ContentPolicyFallbacks []Fallback
	// DefaultFallbacks apply to every group without its own fallbacks.
	DefaultFallbacks []string
	// AllowedFails is nil when unset.
	AllowedFails            *int
	CooldownTime            time.Duration
	DisableCooldowns        bool
	StorePromptsInSpendLogs bool
}

// Routing strategies, as LiteLLM names them.
const (
	StrategySimpleShuffle  = "simple-shuffle"
	StrategyLeastBusy      = "least-busy"
	StrategyCostBased      = "cost-based-routing"
	StrategyLatencyBased   = "latency-based-routing"
	StrategyUsageBased     = "usage-based-routing"
	StrategyUsageBasedV2   = "usage-based-routing-v2"
	DefaultRoutingStrategy = StrategySimpleShuffle
)

// Alias is one model_group_alias entry: requests for the alias go to Model.
type Alias struct {
	// Model is the target model group as written.
	Model string
	// Hidden aliases are not listed by /v1/models.
	Hidden bool
	// Deployments is set when Model is not a model_name but the
	// provider/model of deployments (as in the seed guide): it lists their IDs.
	Deployments []string
	Line        int
}

// RouterSettings is router_settings.
type RouterSettings struct {
	// RoutingStrategy is normalized to LiteLLM's name; DefaultRoutingStrategy
	// when unset.
	RoutingStrategy string
	// RoutingStrategyWritten is the strategy as written (e.g. "cost-based").
	RoutingStrategyWritten string
	ModelGroupAlias        map[string]Alias
	NumRetries             *int
	RetryAfter             time.Duration
	Timeout                time.Duration
	StreamTimeout          time.Duration
	AllowedFails           *int
	CooldownTime           time.Duration
	DisableCooldowns       bool
	Fallbacks              []Fallback
	// FallbacksAuto is the seed guide's `fallbacks: true` (not LiteLLM
	// syntax). Meaning in Switchyard: when a deployment fails, the other
	// deployments of the same group are tried, cheapest first, before the
	// error reaches the client (as if num_retries covered the group).
	FallbacksAuto          bool
	ContextWindowFallbacks []Fallback
	ContentPolicyFallbacks []Fallback
	DefaultFallbacks       []string
	MaxParallelRequests    int
	RedisHost              string
	RedisPort              int
	RedisPassword          string
	EnablePreCallChecks    bool
}

// GeneralSettings is general_settings.
type GeneralSettings struct {
	// MasterKey is general_settings.master_key, else $LITELLM_MASTER_KEY;
	// empty means no authentication (a warning says so).
	MasterKey   string
	DatabaseURL string
	// RPM and TPM are global limits per key; 0 means none.
	RPM, TPM int
	// AllowedIPs: single addresses become /32 or /128 prefixes. Empty means any.
	AllowedIPs                      []netip.Prefix
	DisableSpendLogs                bool
	MaximumSpendLogsRetentionPeriod time.Duration
	GlobalMaxParallelRequests       int
	MaxParallelRequests             int
	StorePromptsInSpendLogs         bool
	ProxyBatchWriteAt               time.Duration
	BackgroundHealthChecks          bool
	HealthCheckInterval             time.Duration
}

// Load reads and parses the file at path. Errors are *Error.
func Load(path string, env Env) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Message: "cannot read config: " + err.Error(),
			Hint: "pass the LiteLLM config file with --config"}
	}
	return Parse(path, data, env)
}

// Parse parses data as the config file called name. Errors are *Error.
func Parse(name string, data []byte, env Env) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	root, perr := parseYAML(name, data)
	if perr != nil {
		return nil, perr
	}
	d := &decoder{file: name, procEnv: env, fileEnv: map[string]string{}}
	cfg := d.decode(root)
	if d.err != nil {
		return nil, d.err
	}
	return cfg, nil
}
