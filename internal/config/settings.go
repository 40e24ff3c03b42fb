package config

import (
	"fmt"
	"net/netip"
	"strings"
)

func (d *decoder) litellmFields(cfg *Config) fields {
	s := &cfg.LiteLLM
	return fields{
		"drop_params":           func(v *node, k string) { s.DropParams = d.boolean(v, k) },
		"num_retries":           func(v *node, k string) { s.NumRetries = d.countPtr(v, k) },
		"request_timeout":       func(v *node, k string) { s.RequestTimeout = d.duration(v, k) },
		"max_parallel_requests": func(v *node, k string) { s.MaxParallelRequests, _ = d.count(v, k) },
		"cache":                 func(v *node, k string) { s.Cache = d.boolean(v, k) },
		"cache_params": func(v *node, k string) {
			d.section(v, "litellm_settings.cache_params", k, d.cacheFields(&s.CacheParams), nil)
		},
		"success_callback":    func(v *node, k string) { s.SuccessCallback = d.strList(v, k) },
		"failure_callback":    func(v *node, k string) { s.FailureCallback = d.strList(v, k) },
		"callbacks":           func(v *node, k string) { s.Callbacks = d.strList(v, k) },
		"langfuse_public_key": func(v *node, k string) { s.LangfusePublicKey = d.str(v, k) },
		"langfuse_secret_key": func(v *node, k string) { s.LangfuseSecretKey = d.str(v, k) },
		"langfuse_host":       func(v *node, k string) { s.LangfuseHost = d.url(v, k) },
		"set_verbose":         func(v *node, k string) { s.SetVerbose = d.boolean(v, k) },
		"json_logs":           func(v *node, k string) { s.JSONLogs = d.boolean(v, k) },
		"fallbacks": func(v *node, k string) {
			var auto bool
			s.Fallbacks, auto = d.fallbacks(v, k, true)
			if auto {
				cfg.Router.FallbacksAuto = true
			}
		},
		"context_window_fallbacks": func(v *node, k string) { s.ContextWindowFallbacks, _ = d.fallbacks(v, k, false) },
		"content_policy_fallbacks": func(v *node, k string) { s.ContentPolicyFallbacks, _ = d.fallbacks(v, k, false) },
		"default_fallbacks":        func(v *node, k string) { s.DefaultFallbacks = d.strList(v, k) },
		"allowed_fails":            func(v *node, k string) { s.AllowedFails = d.countPtr(v, k) },
		"cooldown_time":            func(v *node, k string) { s.CooldownTime = d.duration(v, k) },
		"disable_cooldowns":        func(v *node, k string) { s.DisableCooldowns = d.boolean(v, k) },
		"store_prompts_in_spend_logs": func(v *node, k string) {
			s.StorePromptsInSpendLogs = d.boolean(v, k)
		},
	}
}

// Cache types LiteLLM knows that Switchyard replaces with the in-memory cache.
var cacheTypesReplaced = map[string]bool{
	"redis-semantic": true, "qdrant-semantic": true, "s3": true, "gcs": true,
	"disk": true, "azure-blob": true, "redis_semantic": true,
}

func (d *decoder) cacheFields(c *CacheParams) fields {
	return fields{
		"type": func(v *node, k string) {
			t := strings.ToLower(strings.TrimSpace(d.str(v, k)))
			switch {
			case t == "local" || t == "redis":
				c.Type = t
			case t == "in-memory" || t == "memory":
				c.Type = "local"
			case cacheTypesReplaced[t]:
				c.Type = "local"
				d.warn(v, k, "cache type %s is not supported; using the in-memory (local) cache", t)
			case t == "":
			default:
				d.fail(v, "use local or redis", "%s: unknown cache type %q", k, t)
			}
		},
		"host":                 func(v *node, k string) { c.Host = d.str(v, k) },
		"port":                 func(v *node, k string) { c.Port = d.port(v, k) },
		"password":             func(v *node, k string) { c.Password = d.str(v, k) },
		"ttl":                  func(v *node, k string) { c.TTL = d.duration(v, k) },
		"namespace":            func(v *node, k string) { c.Namespace = d.str(v, k) },
		"supported_call_types": func(v *node, k string) { c.SupportedCallTypes = d.strList(v, k) },
	}
}

func (d *decoder) port(v *node, k string) int {
	p, ok := d.count(v, k)
	if ok && (p < 1 || p > 65535) {
		d.fail(v, "", "%s: port %d out of range 1-65535", k, p)
		return 0
	}
	return p
}

// routingStrategies maps the accepted spellings to LiteLLM's names; the seed
// guide uses the short names.
var routingStrategies = map[string]string{
	"simple-shuffle":         StrategySimpleShuffle,
	"shuffle":                StrategySimpleShuffle,
	"round-robin":            StrategySimpleShuffle,
	"least-busy":             StrategyLeastBusy,
	"cost-based":             StrategyCostBased,
	"cost-based-routing":     StrategyCostBased,
	"latency-based":          StrategyLatencyBased,
	"latency-based-routing":  StrategyLatencyBased,
	"usage-based":            StrategyUsageBased,
	"usage-based-routing":    StrategyUsageBased,
	"usage-based-routing-v2": StrategyUsageBasedV2,
}

// NormalizeRoutingStrategy returns LiteLLM's name for a routing strategy
// written in any accepted spelling.
func NormalizeRoutingStrategy(s string) (string, bool) {
	n, ok := routingStrategies[strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-")]
	return n, ok
}

func (d *decoder) routerFields(cfg *Config) fields {
	r := &cfg.Router
	return fields{
		"routing_strategy": func(v *node, k string) {
			w := d.str(v, k)
			n, ok := NormalizeRoutingStrategy(w)
			if !ok {
				d.fail(v, "use one of simple-shuffle, least-busy, cost-based-routing, latency-based-routing, usage-based-routing, usage-based-routing-v2",
					"%s: unknown routing strategy %q", k, w)
				return
			}
			r.RoutingStrategy, r.RoutingStrategyWritten = n, w
		},
		"model_group_alias": func(v *node, k string) { r.ModelGroupAlias = d.aliases(v, k) },
		"num_retries":       func(v *node, k string) { r.NumRetries = d.countPtr(v, k) },
		"retry_after":       func(v *node, k string) { r.RetryAfter = d.duration(v, k) },
		"timeout":           func(v *node, k string) { r.Timeout = d.duration(v, k) },
		"stream_timeout":    func(v *node, k string) { r.StreamTimeout = d.duration(v, k) },
		"allowed_fails":     func(v *node, k string) { r.AllowedFails = d.countPtr(v, k) },
		"cooldown_time":     func(v *node, k string) { r.CooldownTime = d.duration(v, k) },
		"disable_cooldowns": func(v *node, k string) { r.DisableCooldowns = d.boolean(v, k) },
		"fallbacks": func(v *node, k string) {
			var auto bool
			r.Fallbacks, auto = d.fallbacks(v, k, true)
			r.FallbacksAuto = r.FallbacksAuto || auto
		},
		"context_window_fallbacks": func(v *node, k string) { r.ContextWindowFallbacks, _ = d.fallbacks(v, k, false) },
		"content_policy_fallbacks": func(v *node, k string) { r.ContentPolicyFallbacks, _ = d.fallbacks(v, k, false) },
		"default_fallbacks":        func(v *node, k string) { r.DefaultFallbacks = d.strList(v, k) },
		"max_parallel_requests":    func(v *node, k string) { r.MaxParallelRequests, _ = d.count(v, k) },
		"redis_host":               func(v *node, k string) { r.RedisHost = d.str(v, k) },
		"redis_port":               func(v *node, k string) { r.RedisPort = d.port(v, k) },
		"redis_password":           func(v *node, k string) { r.RedisPassword = d.str(v, k) },
		"enable_pre_call_checks":   func(v *node, k string) { r.EnablePreCallChecks = d.boolean(v, k) },
	}
}

// fallbacks reads [{group: [fallback, ...]}, ...] (a single mapping is
// accepted too). With allowBool, `true` is the seed guide's automatic
// fallback: auto is returned true and explained in a warning.
func (d *decoder) fallbacks(v *node, k string, allowBool bool) (list []Fallback, auto bool) {
	switch v.kind {
	case kindNull:
		return nil, false
	case kindBool:
		if !allowBool {
			d.typeErr(v, k, "a list of {group: [fallback groups]}")
			return nil, false
		}
		if v.b {
			d.warn(v, k, "`fallbacks: true` is not LiteLLM syntax; Switchyard reads it as: when a deployment fails, "+
				"try the other deployments of the same model group, cheapest first, before returning the error; "+
				"for fallbacks to other groups write [{group: [other-group]}]")
		}
		return nil, v.b
	case kindMap:
		return d.fallbackMap(v, k), false
	case kindSeq:
		for i, it := range v.items {
			ik := fmt.Sprintf("%s[%d]", k, i)
			if it.kind != kindMap {
				d.typeErr(it, ik, "a mapping {group: [fallback groups]}")
				return nil, false
			}
			list = append(list, d.fallbackMap(it, ik)...)
		}
		return list, false
	}
	d.typeErr(v, k, "a list of {group: [fallback groups]}")
	return nil, false
}

func (d *decoder) fallbackMap(m *node, k string) []Fallback {
	var out []Fallback
	for _, p := range m.pairs {
		to := d.strList(p.val, k+"."+p.key)
		out = append(out, Fallback{Group: p.key, To: to, Line: p.kpos.line, key: k + "." + p.key, col: p.kpos.col})
	}
	return out
}

// aliases reads model_group_alias: alias: group, or alias: {model: group, hidden: bool}.
func (d *decoder) aliases(v *node, k string) map[string]Alias {
	if v.kind == kindNull {
		return nil
	}
	if v.kind != kindMap {
		d.typeErr(v, k, "a mapping of alias: model group")
		return nil
	}
	out := make(map[string]Alias, len(v.pairs))
	for _, p := range v.pairs {
		ak := k + "." + p.key
		a := Alias{Line: p.kpos.line}
		switch p.val.kind {
		case kindMap:
			for _, q := range p.val.pairs {
				switch q.key {
				case "model":
					a.Model = d.str(q.val, ak+".model")
				case "hidden":
					a.Hidden = d.boolean(q.val, ak+".hidden")
				default:
					d.warn(q.kpos, ak+"."+q.key, "unknown key %s, ignored", q.key)
				}
			}
		case kindSeq, kindNull:
			d.typeErr(p.val, ak, "a model group name or {model: group, hidden: bool}")
		default:
			a.Model = d.str(p.val, ak)
		}
		if a.Model == "" && d.err == nil {
			d.fail(p.kpos, "write alias: model-group-name", "%s: missing the target model group", ak)
		}
		out[p.key] = a
	}
	return out
}

func (d *decoder) generalFields(g *GeneralSettings) fields {
	return fields{
		"master_key":   func(v *node, k string) { g.MasterKey = d.str(v, k) },
		"database_url": func(v *node, k string) { g.DatabaseURL = d.str(v, k) },
		"rpm":          func(v *node, k string) { g.RPM, _ = d.count(v, k) },
		"tpm":          func(v *node, k string) { g.TPM, _ = d.count(v, k) },
		"allowed_ips":  func(v *node, k string) { g.AllowedIPs = d.allowedIPs(v, k) },
		"disable_spend_logs": func(v *node, k string) {
			g.DisableSpendLogs = d.boolean(v, k)
		},
		"maximum_spend_logs_retention_period": func(v *node, k string) {
			g.MaximumSpendLogsRetentionPeriod = d.duration(v, k)
		},
		"global_max_parallel_requests": func(v *node, k string) { g.GlobalMaxParallelRequests, _ = d.count(v, k) },
		"max_parallel_requests":        func(v *node, k string) { g.MaxParallelRequests, _ = d.count(v, k) },
		"store_prompts_in_spend_logs": func(v *node, k string) {
			g.StorePromptsInSpendLogs = d.boolean(v, k)
		},
		"proxy_batch_write_at":     func(v *node, k string) { g.ProxyBatchWriteAt = d.duration(v, k) },
		"background_health_checks": func(v *node, k string) { g.BackgroundHealthChecks = d.boolean(v, k) },
		"health_check_interval":    func(v *node, k string) { g.HealthCheckInterval = d.duration(v, k) },
	}
}

func (d *decoder) allowedIPs(v *node, k string) []netip.Prefix {
	var items []*node
	switch v.kind {
	case kindNull:
		return nil
	case kindSeq:
		items = v.items
	default:
		items = []*node{v}
	}
	var out []netip.Prefix
	for i, it := range items {
		ik := fmt.Sprintf("%s[%d]", k, i)
		s := strings.TrimSpace(d.str(it, ik))
		if s == "" {
			continue
		}
		p, err := parseIPOrCIDR(s)
		if err != nil {
			d.fail(it, "write an address (127.0.0.1, ::1) or a CIDR range (192.168.1.0/24)", "%s: invalid IP address or CIDR %q", ik, s)
			return nil
		}
		out = append(out, p)
	}
	return out
}

func parseIPOrCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
