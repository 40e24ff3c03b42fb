package config

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

func parse(t *testing.T, src string, env map[string]string) (*Config, error) {
	t.Helper()
	return Parse("test.yaml", []byte(src), MapEnv(env))
}

func mustParse(t *testing.T, src string, env map[string]string) *Config {
	t.Helper()
	c, err := parse(t, src, env)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

const oneModel = `model_list:
  - model_name: m
    litellm_params:
      model: ollama/qwen2.5:7b
`

func TestExpand(t *testing.T) {
	env := MapEnv(map[string]string{"A": "alpha", "EMPTY": "", "B": "b"})
	tests := []struct {
		in, want string
		missing  []string
	}{
		{"plain", "plain", nil},
		{"${A}", "alpha", nil},
		{"x-${A}-${B}-y", "x-alpha-b-y", nil},
		{"${NOPE}", "", []string{"NOPE"}},
		{"a${NOPE}b${NOPE2}", "ab", []string{"NOPE", "NOPE2"}},
		{"${NOPE:-dflt}", "dflt", nil},
		{"${EMPTY:-dflt}", "dflt", nil},
		{"${A:-dflt}", "alpha", nil},
		{"${EMPTY}", "", nil},
		{"os.environ/A", "alpha", nil},
		{" os.environ/A ", "alpha", nil},
		{"os.environ/NOPE", "", []string{"NOPE"}},
		{"$${A}", "${A}", nil},
		{"pa$$word", "pa$$word", nil},
		{"${not a var}", "${not a var}", nil},
		{"${A", "${A", nil},
		{"${}", "${}", nil},
		{"x/os.environ/A", "x/os.environ/A", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, missing := expand(tt.in, env)
			if got != tt.want || strings.Join(missing, ",") != strings.Join(tt.missing, ",") {
				t.Errorf("expand(%q) = %q, %v; want %q, %v", tt.in, got, missing, tt.want, tt.missing)
			}
		})
	}
}

func TestEnvironmentVariablesFirst(t *testing.T) {
	src := `model_list:
  - model_name: m
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/MY_KEY
      api_base: ${BASE}/v1
environment_variables:
  BASE: http://${HOST:-localhost}:8000
  MY_KEY: from-file
  PORT: 6379
`
	c := mustParse(t, src, map[string]string{"MY_KEY": "from-process"})
	d := c.Deployments[0]
	if d.APIKey != "from-file" || d.APIBase != "http://localhost:8000/v1" {
		t.Errorf("key %q base %q", d.APIKey, d.APIBase)
	}
	if c.Environment["PORT"] != "6379" || c.Environment["BASE"] != "http://localhost:8000" {
		t.Errorf("Environment = %v", c.Environment)
	}
}

func TestMissingEnv(t *testing.T) {
	t.Run("api_key warns", func(t *testing.T) {
		c := mustParse(t, `model_list:
  - model_name: m
    litellm_params:
      model: anthropic/claude-3-5-sonnet-20241022
      api_key: ${ANTHROPIC_API_KEY}
general_settings:
  master_key: sk-1
`, nil)
		if len(c.Deployments) != 1 || c.Deployments[0].APIKey != "" {
			t.Fatalf("deployment not loaded with empty key: %+v", c.Deployments)
		}
		if len(c.Warnings) != 1 {
			t.Fatalf("warnings = %v", c.Warnings)
		}
		w := c.Warnings[0].String()
		for _, want := range []string{"test.yaml:5:", "model_list[0].litellm_params.api_key", "ANTHROPIC_API_KEY", "refused by the upstream"} {
			if !strings.Contains(w, want) {
				t.Errorf("warning %q lacks %q", w, want)
			}
		}
	})
	t.Run("master_key errors", func(t *testing.T) {
		_, err := parse(t, oneModel+"general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n", nil)
		assertError(t, err, 6, 15, "LITELLM_MASTER_KEY is not set", "refuses to start")
	})
	t.Run("master_key from LITELLM_MASTER_KEY when absent", func(t *testing.T) {
		c := mustParse(t, oneModel, map[string]string{"LITELLM_MASTER_KEY": "sk-env"})
		if c.General.MasterKey != "sk-env" || len(c.Warnings) != 0 {
			t.Errorf("master key %q warnings %v", c.General.MasterKey, c.Warnings)
		}
	})
	t.Run("no master key warns", func(t *testing.T) {
		c := mustParse(t, oneModel, nil)
		if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Message, "without authentication") {
			t.Errorf("warnings %v", c.Warnings)
		}
	})
	t.Run("implicit provider key", func(t *testing.T) {
		c := mustParse(t, "model_list:\n  - model_name: g\n    litellm_params:\n      model: gpt-4o\n", map[string]string{"LITELLM_MASTER_KEY": "k"})
		if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].String(), "OPENAI_API_KEY is not set") {
			t.Errorf("warnings %v", c.Warnings)
		}
		c = mustParse(t, "model_list:\n  - model_name: g\n    litellm_params:\n      model: gpt-4o\n", map[string]string{"LITELLM_MASTER_KEY": "k", "OPENAI_API_KEY": "sk-o"})
		if c.Deployments[0].APIKey != "sk-o" || len(c.Warnings) != 0 {
			t.Errorf("key %q warnings %v", c.Deployments[0].APIKey, c.Warnings)
		}
	})
}

func assertError(t *testing.T, err error, line, col int, msg, hint string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *Error", err, err)
	}
	if e.Line != line || (col > 0 && e.Column != col) {
		t.Errorf("position %d:%d, want %d:%d (%v)", e.Line, e.Column, line, col, e)
	}
	if !strings.Contains(e.Message, msg) {
		t.Errorf("message %q lacks %q", e.Message, msg)
	}
	if !strings.Contains(e.Hint, hint) {
		t.Errorf("hint %q lacks %q", e.Hint, hint)
	}
	if !strings.HasPrefix(e.Error(), e.File+":") || (e.Hint != "" && !strings.Contains(e.Error(), "\n  hint: ")) {
		t.Errorf("Error() = %q", e.Error())
	}
}

// errorCases are configs that must fail, with the position and the words
// the error must carry. FuzzParse is seeded with them.
var errorCases = []struct {
	name      string
	src       string
	line, col int
	msg, hint string
}{
	{"bad yaml", "model_list:\n  - model_name: m\n   litellm_params: {\n", 3, 0, "invalid YAML", "indentation"},
	{"duplicate key", "general_settings:\n  rpm: 1\n  rpm: 2\n", 3, 3, "already defined", ""},
	{"not a mapping", "- a\n- b\n", 1, 1, "must be a mapping", "model_list"},
	{"model_list not list", "model_list: {a: 1}\n", 1, 13, "model_list: expected a list", ""},
	{"missing model_name", "model_list:\n  - litellm_params:\n      model: ollama/x\n", 2, 5, "missing model_name", "model_name"},
	{"missing model", "model_list:\n  - model_name: m\n    litellm_params:\n      api_base: http://x\n", 4, 7, "missing model", "provider/name"},
	{"missing litellm_params", "model_list:\n  - model_name: m\n", 2, 5, "missing litellm_params", "litellm_params"},
	{"unknown provider", "model_list:\n  - model_name: m\n    litellm_params:\n      model: mistralai/mistral-7b\n", 4, 14, `unknown provider for "mistralai"`, "openai/NAME with api_base"},
	{"bare unknown", "model_list:\n  - model_name: m\n    litellm_params:\n      model: qwen2.5\n", 4, 14, "unknown provider", "openai/NAME"},
	{"unsupported provider", "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/claude\n", 4, 14, `provider "bedrock" is not supported`, "OpenAI-compatible"},
	{"unknown custom provider", "model_list:\n  - model_name: m\n    litellm_params:\n      model: x\n      custom_llm_provider: nope\n", 4, 14, `unknown provider "nope"`, ""},
	{"vllm needs base", "model_list:\n  - model_name: m\n    litellm_params:\n      model: hosted_vllm/llama\n", 4, 14, "needs api_base", "api_base: http://localhost:8000/v1"},
	{"vllm base from missing env", "model_list:\n  - model_name: m\n    litellm_params:\n      model: hosted_vllm/llama\n      api_base: ${VLLM}\n", 5, 17, "needs api_base", "environment variable"},
	{"bad url", "model_list:\n  - model_name: m\n    litellm_params:\n      model: ollama/x\n      api_base: localhost:11434\n", 5, 17, "invalid URL", "http://localhost:8000/v1"},
	{"negative rpm", "model_list:\n  - model_name: m\n    litellm_params:\n      model: ollama/x\n      rpm: -5\n", 5, 12, "must not be negative", "no limit"},
	{"rpm wrong type", "model_list:\n  - model_name: m\n    litellm_params:\n      model: ollama/x\n      rpm: [1]\n", 5, 12, "expected a number, got a list", ""},
	{"rpm not whole", "general_settings:\n  rpm: 1.5\n", 2, 8, "whole number", ""},
	{"rpm bad string", "general_settings:\n  rpm: lots\n", 2, 8, `expected a number, got "lots"`, ""},
	{"bad strategy", "router_settings:\n  routing_strategy: fastest\n", 2, 21, `unknown routing strategy "fastest"`, "least-busy"},
	{"bad cidr", "general_settings:\n  allowed_ips: [\"127.0.0.1\", \"192.168.1.0/33\"]\n", 2, 30, "invalid IP address or CIDR", "CIDR range"},
	{"bad ip", "general_settings:\n  allowed_ips:\n    - 10.0.0.256\n", 3, 7, "invalid IP", ""},
	{"bad duration", "router_settings:\n  timeout: soon\n", 2, 12, "invalid duration", "7d"},
	{"negative duration", "router_settings:\n  cooldown_time: -3\n", 2, 18, "must not be negative", ""},
	{"bad bool", "litellm_settings:\n  cache: maybe\n", 2, 10, "expected a boolean", "true or false"},
	{"section not map", "litellm_settings: [1]\n", 1, 19, "litellm_settings: expected a mapping", ""},
	{"include refused", "include:\n  - other.yaml\n", 1, 1, "include is not supported", "copy the included"},
	{"bad port", "litellm_settings:\n  cache_params:\n    port: 70000\n", 3, 11, "out of range", ""},
	{"bad cache type", "litellm_settings:\n  cache_params:\n    type: memcached\n", 3, 11, "unknown cache type", "local or redis"},
	{"duplicate id", oneModel + "    model_info: {id: a}\n  - model_name: n\n    litellm_params: {model: ollama/y}\n    model_info: {id: a}\n", 6, 0, `duplicate model_info.id "a"`, "unique"},
	{"alias empty", "router_settings:\n  model_group_alias:\n    a: {hidden: true}\n", 3, 5, "missing the target", ""},
	{"unknown alias", "a: *x\n", 1, 0, "", ""},
	{"two documents", "a: 1\n---\nb: 2\n", 3, 1, "more than one YAML document", "one document"},
	{"env var name", "environment_variables:\n  1BAD: x\n", 2, 3, "invalid variable name", ""},
	{"missing model after prefix", "model_list:\n  - model_name: m\n    litellm_params:\n      model: ollama/\n", 4, 14, "missing the model name", ""},
}

func TestErrors(t *testing.T) {
	tests := errorCases
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.src, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.line == 1 && tt.msg == "" {
				var e *Error
				if !errors.As(err, &e) || e.Line < 1 {
					t.Fatalf("error %v not *Error with a line", err)
				}
				return
			}
			assertError(t, err, tt.line, tt.col, tt.msg, tt.hint)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", nil)
	var e *Error
	if !errors.As(err, &e) || e.Line != 0 || !strings.Contains(e.Error(), "does-not-exist.yaml: cannot read config") {
		t.Fatalf("err = %v", err)
	}
}

func TestProviders(t *testing.T) {
	tests := []struct {
		model, custom, base string
		provider, upstream  string
		dialect             llm.Dialect
		wantBase            string
	}{
		{"ollama/qwen2.5:7b", "", "", "ollama", "qwen2.5:7b", llm.DialectOllama, "http://localhost:11434"},
		{"ollama_chat/llama3.1:8b", "", "http://gpu:11434/", "ollama_chat", "llama3.1:8b", llm.DialectOllama, "http://gpu:11434"},
		{"anthropic/claude-3-5-sonnet-20241022", "", "", "anthropic", "claude-3-5-sonnet-20241022", llm.DialectAnthropic, "https://api.anthropic.com"},
		{"claude-3-opus-20240229", "", "", "anthropic", "claude-3-opus-20240229", llm.DialectAnthropic, "https://api.anthropic.com"},
		{"gpt-4o", "", "", "openai", "gpt-4o", llm.DialectOpenAI, "https://api.openai.com/v1"},
		{"o3-mini", "", "", "openai", "o3-mini", llm.DialectOpenAI, "https://api.openai.com/v1"},
		{"text-embedding-3-small", "", "", "openai", "text-embedding-3-small", llm.DialectOpenAI, "https://api.openai.com/v1"},
		{"OpenAI/gpt-4o", "", "", "openai", "gpt-4o", llm.DialectOpenAI, "https://api.openai.com/v1"},
		{"hosted_vllm/meta-llama/Llama-3.1-8B", "", "http://vllm:8000/v1", "hosted_vllm", "meta-llama/Llama-3.1-8B", llm.DialectOpenAI, "http://vllm:8000/v1"},
		{"lm_studio/qwen", "", "http://localhost:1234/v1", "lm_studio", "qwen", llm.DialectOpenAI, "http://localhost:1234/v1"},
		{"groq/llama3-70b", "", "", "groq", "llama3-70b", llm.DialectOpenAI, "https://api.groq.com/openai/v1"},
		{"deepseek/deepseek-chat", "", "", "deepseek", "deepseek-chat", llm.DialectOpenAI, "https://api.deepseek.com/v1"},
		{"my-model", "openai", "http://x:1/v1", "openai", "my-model", llm.DialectOpenAI, "http://x:1/v1"},
		{"openai/my-model", "openai", "http://x:1/v1", "openai", "my-model", llm.DialectOpenAI, "http://x:1/v1"},
		{"anthropic/*", "", "", "anthropic", "*", llm.DialectAnthropic, "https://api.anthropic.com"},
		{"*", "", "", "", "*", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			src := "model_list:\n  - model_name: g\n    litellm_params:\n      model: \"" + tt.model + "\"\n      api_key: k\n"
			if tt.custom != "" {
				src += "      custom_llm_provider: " + tt.custom + "\n"
			}
			if tt.base != "" {
				src += "      api_base: " + tt.base + "\n"
			}
			d := mustParse(t, src, nil).Deployments[0]
			if d.Provider != tt.provider || d.Model != tt.upstream || d.Dialect != tt.dialect || d.APIBase != tt.wantBase {
				t.Errorf("got provider %q model %q dialect %q base %q", d.Provider, d.Model, d.Dialect, d.APIBase)
			}
		})
	}
}

func TestRoutingStrategies(t *testing.T) {
	for in, want := range map[string]string{
		"least-busy": StrategyLeastBusy, "simple-shuffle": StrategySimpleShuffle,
		"cost-based": StrategyCostBased, "cost-based-routing": StrategyCostBased,
		"latency-based": StrategyLatencyBased, "latency-based-routing": StrategyLatencyBased,
		"usage-based-routing": StrategyUsageBased, "usage-based-routing-v2": StrategyUsageBasedV2,
		"Least_Busy": StrategyLeastBusy,
	} {
		c := mustParse(t, "router_settings:\n  routing_strategy: "+in+"\n", nil)
		if c.Router.RoutingStrategy != want {
			t.Errorf("%s: got %q, want %q", in, c.Router.RoutingStrategy, want)
		}
	}
	if c := mustParse(t, oneModel, nil); c.Router.RoutingStrategy != DefaultRoutingStrategy {
		t.Errorf("default strategy %q", c.Router.RoutingStrategy)
	}
}

func TestDeploymentFields(t *testing.T) {
	src := `model_list:
  - model_name: claude-*
    litellm_params:
      model: anthropic/claude-*
      api_key: os.environ/K
      rpm: "60"
      tpm: 100000
      max_parallel_requests: 4
      weight: 2.5
      order: 1
      timeout: 30
      stream_timeout: 1m
      max_retries: 0
      input_cost_per_token: 0.000003
      temperature: 0.2
      reasoning_effort: ${EFFORT:-low}
      stop: ["a", "b"]
      extra_headers:
        X-Team: ${TEAM}
    model_info:
      id: my-id
      max_input_tokens: 200000
      output_cost_per_token: 1.5e-5
      input_cost_per_token: 9
      supports_vision: true
  - model_name: local
    litellm_params:
      model: ollama/qwen2.5:7b
      num_ctx: 8192
      keep_alive: 10m
      warmup: true
    tpm: 500
router_settings:
  timeout: 45
  stream_timeout: 20s
`
	c := mustParse(t, src, map[string]string{"K": "sk-ant", "TEAM": "blue"})
	d := c.Deployments[0]
	if d.ModelName != "claude-*" || d.Model != "claude-*" || d.APIKey != "sk-ant" || d.RPM != 60 || d.TPM != 100000 ||
		d.MaxParallelRequests != 4 || d.Weight != 2.5 || d.Order != 1 || d.Timeout != 30*time.Second ||
		d.StreamTimeout != time.Minute || d.MaxRetries == nil || *d.MaxRetries != 0 || d.ID != "my-id" ||
		d.Info.MaxInputTokens != 200000 || d.Headers["X-Team"] != "blue" || d.Line != 2 {
		t.Errorf("deployment 0 = %+v", d)
	}
	if d.InputCostPerToken == nil || *d.InputCostPerToken != 0.000003 || d.OutputCostPerToken == nil || *d.OutputCostPerToken != 1.5e-5 {
		t.Errorf("costs %v %v", d.InputCostPerToken, d.OutputCostPerToken)
	}
	params, _ := json.Marshal(d.Params)
	if string(params) != `{"reasoning_effort":"low","stop":["a","b"],"temperature":0.2}` {
		t.Errorf("params %s", params)
	}
	if string(d.Info.Extra["supports_vision"]) != "true" {
		t.Errorf("extra %v", d.Info.Extra)
	}
	l := c.Deployments[1]
	if l.NumCtx != 8192 || l.KeepAlive != "10m" || !l.Warmup || l.TPM != 500 || l.Timeout != 45*time.Second || l.StreamTimeout != 20*time.Second {
		t.Errorf("deployment 1 = %+v", l)
	}
	if len(l.ID) != 12 {
		t.Errorf("derived id %q", l.ID)
	}
	again := mustParse(t, src, map[string]string{"K": "other"})
	if again.Deployments[1].ID != l.ID {
		t.Errorf("id not stable: %q vs %q", again.Deployments[1].ID, l.ID)
	}
}

func TestDuplicateDeploymentsGetDistinctIDs(t *testing.T) {
	c := mustParse(t, oneModel+"  - model_name: m\n    litellm_params:\n      model: ollama/qwen2.5:7b\n", nil)
	if a, b := c.Deployments[0].ID, c.Deployments[1].ID; a == b || b != a+"-2" {
		t.Errorf("ids %q %q", a, b)
	}
}

func TestSettings(t *testing.T) {
	src := oneModel + `litellm_settings:
  drop_params: True
  num_retries: 3
  request_timeout: 600
  cache: true
  cache_params:
    type: redis
    host: localhost
    port: "6379"
    ttl: 3600
    supported_call_types: ["completion", "embedding"]
  success_callback: langfuse
  fallbacks: [{m: [n]}]
  context_window_fallbacks:
    - m: n
  cooldown_time: 1.5
router_settings:
  routing_strategy: usage-based-routing-v2
  model_group_alias:
    big: m
    hidden-one: {model: m, hidden: true}
  fallbacks: true
  retry_after: 5
  redis_port: 6380
general_settings:
  master_key: sk-1
  allowed_ips: ["127.0.0.1", "192.168.1.7/24", "::1"]
  maximum_spend_logs_retention_period: 7d
  health_check_interval: 300
  proxy_batch_write_at: 1m30s
`
	c := mustParse(t, src, nil)
	l, r, g := c.LiteLLM, c.Router, c.General
	if !l.DropParams || *l.NumRetries != 3 || l.RequestTimeout != 10*time.Minute || !l.Cache ||
		l.CacheParams.Port != 6379 || l.CacheParams.TTL != time.Hour || len(l.CacheParams.SupportedCallTypes) != 2 ||
		strings.Join(l.SuccessCallback, ",") != "langfuse" || l.CooldownTime != 1500*time.Millisecond {
		t.Errorf("litellm %+v", l)
	}
	if len(l.Fallbacks) != 1 || l.Fallbacks[0].Group != "m" || l.Fallbacks[0].To[0] != "n" || len(l.ContextWindowFallbacks) != 1 {
		t.Errorf("fallbacks %+v %+v", l.Fallbacks, l.ContextWindowFallbacks)
	}
	if !r.FallbacksAuto || r.RetryAfter != 5*time.Second || r.RedisPort != 6380 ||
		r.ModelGroupAlias["big"].Model != "m" || !r.ModelGroupAlias["hidden-one"].Hidden {
		t.Errorf("router %+v", r)
	}
	wantIPs := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("::1/128")}
	if len(g.AllowedIPs) != 3 || g.AllowedIPs[0] != wantIPs[0] || g.AllowedIPs[1] != wantIPs[1] || g.AllowedIPs[2] != wantIPs[2] {
		t.Errorf("allowed ips %v", g.AllowedIPs)
	}
	if g.MaximumSpendLogsRetentionPeriod != 7*24*time.Hour || g.HealthCheckInterval != 5*time.Minute || g.ProxyBatchWriteAt != 90*time.Second {
		t.Errorf("general %+v", g)
	}
	// n is not a group: the fallbacks point nowhere (twice), and fallbacks: true is explained.
	var msgs []string
	for _, w := range c.Warnings {
		msgs = append(msgs, w.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{`"n" is not in model_list`, "`fallbacks: true` is not LiteLLM syntax"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

func TestWarnings(t *testing.T) {
	src := oneModel + `    model_info:
      supports_vision: true
    litellm_params_typo: 1
litellm_settings:
  batch_size: 5
  request_timout: 10
  cache_params:
    type: redis-semantic
    similarity_threshold: 0.8
router_settings:
  redis_url: redis://x
general_settings:
  master_key: sk-1
  user_api_key_auth: true
  mystery: 1
`
	c := mustParse(t, src, nil)
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"test.yaml:7: model_list[0].litellm_params_typo: unknown key litellm_params_typo, ignored",
		"test.yaml:9: litellm_settings.batch_size: ignored: Switchyard does not batch upstream requests; each request is sent as it arrives",
		"test.yaml:10: litellm_settings.request_timout: unknown key request_timout, ignored (did you mean request_timeout?)",
		"test.yaml:12: litellm_settings.cache_params.type: cache type redis-semantic is not supported; using the in-memory (local) cache",
		"test.yaml:13: litellm_settings.cache_params.similarity_threshold: ignored: Switchyard caches exact requests only, in memory or Redis",
		"test.yaml:15: router_settings.redis_url: ignored: use redis_host, redis_port and redis_password",
		"test.yaml:18: general_settings.user_api_key_auth: ignored: Switchyard always authenticates with master_key and virtual keys",
		"test.yaml:19: general_settings.mystery: unknown key mystery, ignored",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	src := `x-common: &common
  api_base: http://gpu:11434
  num_ctx: 4096
model_list:
  - model_name: a
    litellm_params:
      <<: *common
      model: ollama/a
  - model_name: b
    litellm_params:
      <<: *common
      model: ollama/b
      num_ctx: 2048
`
	c := mustParse(t, src, nil)
	if c.Deployments[0].APIBase != "http://gpu:11434" || c.Deployments[0].NumCtx != 4096 || c.Deployments[1].NumCtx != 2048 {
		t.Errorf("%+v", c.Deployments)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, err := parse(t, b.String(), nil)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "too large") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyConfig(t *testing.T) {
	c := mustParse(t, "# nothing\n", nil)
	if len(c.Deployments) != 0 || len(c.Warnings) != 2 {
		t.Errorf("warnings %v", c.Warnings)
	}
}

// TestKeyTableHandlers keeps keys.go and the decoders in step: every
// supported or forwarded key has a handler, and every handler a table entry.
func TestKeyTableHandlers(t *testing.T) {
	d := &decoder{procEnv: MapEnv(nil), fileEnv: map[string]string{}}
	cfg := &Config{}
	var models *node
	sections := map[string]fields{
		"":                              d.topFields(cfg, &models),
		"litellm_settings":              d.litellmFields(cfg),
		"litellm_settings.cache_params": d.cacheFields(&cfg.LiteLLM.CacheParams),
		"router_settings":               d.routerFields(cfg),
		"general_settings":              d.generalFields(&cfg.General),
		"model_list":                    d.entryFields(&Deployment{}, &entry{}),
		"model_list.litellm_params":     d.paramFields(&Deployment{}, &params{}),
		"model_list.model_info":         d.infoFields(&ModelInfo{}, &[4]*float64{}),
	}
	for key, info := range keyTable {
		if info.Status == Unsupported && !strings.HasPrefix(info.Note, "ignored: ") {
			t.Errorf("%s: note %q must start with 'ignored: '", key, info.Note)
		}
		if info.Status != Supported && info.Status != Forwarded {
			continue
		}
		prefix, name := "", key
		if i := strings.LastIndexByte(key, '.'); i >= 0 {
			prefix, name = key[:i], key[i+1:]
		}
		fs, ok := sections[prefix]
		if !ok {
			t.Errorf("%s: no section %q", key, prefix)
			continue
		}
		if fs[name] == nil {
			t.Errorf("%s is %s but has no handler", key, info.Status)
		}
	}
	for prefix, fs := range sections {
		for name := range fs {
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			if info, ok := keyTable[key]; !ok || (info.Status != Supported && info.Status != Forwarded) {
				t.Errorf("handler for %s but the table says %v", key, info.Status)
			}
		}
	}
}

func TestWriteTableHidesKeys(t *testing.T) {
	c := mustParse(t, "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-secret-value\n", nil)
	var b strings.Builder
	c.WriteTable(&b)
	if strings.Contains(b.String(), "sk-secret-value") || !strings.Contains(b.String(), " set ") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestMatchWildcard(t *testing.T) {
	for _, tt := range []struct {
		p, n string
		want bool
	}{
		{"*", "anything/at-all", true}, {"claude-*", "claude-3-opus", true}, {"claude-*", "gpt-4", false},
		{"ollama/*", "ollama/qwen2.5:7b", true}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "acb", false},
		{"ab*ba", "aba", false}, {"exact", "exact", true},
	} {
		if got := MatchWildcard(tt.p, tt.n); got != tt.want {
			t.Errorf("MatchWildcard(%q, %q) = %v", tt.p, tt.n, got)
		}
	}
}
