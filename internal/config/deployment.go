package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// url reads a base URL: http or https with a host. Empty stays empty.
func (d *decoder) url(v *node, k string) string {
	s := strings.TrimSpace(d.str(v, k))
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.fail(v, "write a full URL such as http://localhost:8000/v1", "%s: invalid URL %q", k, s)
		return ""
	}
	return strings.TrimRight(s, "/")
}

func (d *decoder) models(n *node, cfg *Config) {
	if n == nil || n.kind == kindNull {
		return
	}
	if n.kind != kindSeq {
		d.typeErr(n, "model_list", "a list of deployments")
		return
	}
	for i, it := range n.items {
		dep, ok := d.deployment(it, i)
		if d.err != nil {
			return
		}
		if ok {
			cfg.Deployments = append(cfg.Deployments, dep)
		}
	}
}

// entry collects the keys of a model_list entry.
type entry struct {
	litellmParams, modelInfo, modelName *node
	rpm, tpm                            *int
}

func (d *decoder) entryFields(dep *Deployment, e *entry) fields {
	return fields{
		"model_name": func(v *node, k string) {
			e.modelName = v
			dep.ModelName = strings.TrimSpace(d.str(v, k))
		},
		"litellm_params": func(v *node, _ string) { e.litellmParams = v },
		"model_info":     func(v *node, _ string) { e.modelInfo = v },
		"rpm":            func(v *node, k string) { e.rpm = d.countPtr(v, k) },
		"tpm":            func(v *node, k string) { e.tpm = d.countPtr(v, k) },
	}
}

// params collects litellm_params before they are resolved.
type params struct {
	model, provider       string
	modelNode             *node
	apiBase, apiKey       string
	apiBaseNode           *node
	apiBaseSet, apiKeySet bool
}

// deploymentScratch is where deployment decodes one model_list entry: the
// handlers of its sections write here, so they are built once per decoder
// instead of once per entry (a config has hundreds of entries, each
// section some forty handlers).
type deploymentScratch struct {
	dep   Deployment
	e     entry
	p     params
	costs [4]*float64

	entry, params, info fields
}

// depScratch returns the decoder's scratch, zeroed.
func (d *decoder) depScratch() *deploymentScratch {
	s := d.scratch
	if s == nil {
		s = &deploymentScratch{}
		s.entry = d.entryFields(&s.dep, &s.e)
		s.params = d.paramFields(&s.dep, &s.p)
		s.info = d.infoFields(&s.dep.Info, &s.costs)
		d.scratch = s
	}
	s.dep, s.e, s.p, s.costs = Deployment{}, entry{}, params{}, [4]*float64{}
	return s
}

func (d *decoder) deployment(n *node, idx int) (Deployment, bool) {
	key := fmt.Sprintf("model_list[%d]", idx)
	s := d.depScratch()
	dep, e, p := &s.dep, &s.e, &s.p
	dep.Line = n.line
	if n.kind != kindMap {
		d.fail(n, "each entry is a mapping with model_name and litellm_params", "%s: expected a mapping, got %s", key, n.kind)
		return *dep, false
	}
	d.section(n, "model_list", key, s.entry, nil)
	if d.err != nil {
		return *dep, false
	}
	lp, mi, modelNameNode, rpm, tpm := e.litellmParams, e.modelInfo, e.modelName, e.rpm, e.tpm
	if dep.ModelName == "" {
		at := n
		if modelNameNode != nil {
			at = modelNameNode
		}
		d.fail(at, "model_name is the name clients ask for, e.g. model_name: claude-3-5-sonnet-20241022", "%s: missing model_name", key)
		return *dep, false
	}
	lpKey := key + ".litellm_params"
	if lp == nil || lp.kind == kindNull {
		d.fail(n, "add litellm_params: {model: provider/model-name}", "%s: missing litellm_params", key)
		return *dep, false
	}
	d.section(lp, "model_list.litellm_params", lpKey, s.params, nil)
	infoCosts := &s.costs
	d.section(mi, "model_list.model_info", key+".model_info", s.info, func(q pair, k string) bool {
		if dep.Info.Extra == nil {
			dep.Info.Extra = map[string]json.RawMessage{}
		}
		dep.Info.Extra[q.key] = d.raw(q.val, k)
		return true
	})
	if d.err != nil {
		return *dep, false
	}
	if rpm != nil && dep.RPM == 0 {
		dep.RPM = *rpm
	}
	if tpm != nil && dep.TPM == 0 {
		dep.TPM = *tpm
	}
	if p.model == "" {
		at := lp
		if p.modelNode != nil {
			at = p.modelNode
		}
		d.fail(at, "write the upstream model as provider/name, e.g. model: ollama/qwen2.5:7b", "%s: missing model", lpKey)
		return *dep, false
	}
	d.resolveProvider(dep, p, lpKey)
	if d.err != nil {
		return *dep, false
	}
	d.resolveEndpoint(dep, p, lpKey)
	// Costs in litellm_params win over model_info.
	for i, c := range []**float64{&dep.InputCostPerToken, &dep.OutputCostPerToken, &dep.CacheReadCostPerToken, &dep.CacheWriteCostPerToken} {
		if *c == nil {
			*c = infoCosts[i]
		}
	}
	dep.ID = dep.Info.ID
	return *dep, d.err == nil
}

func (d *decoder) paramFields(dep *Deployment, p *params) fields {
	fs := fields{
		"model": func(v *node, k string) {
			p.modelNode = v
			p.model = strings.TrimSpace(d.str(v, k))
		},
		"custom_llm_provider": func(v *node, k string) { p.provider = strings.ToLower(strings.TrimSpace(d.str(v, k))) },
		"api_base": func(v *node, k string) {
			p.apiBaseSet, p.apiBaseNode = true, v
			p.apiBase = d.url(v, k)
		},
		"api_key": func(v *node, k string) {
			p.apiKeySet = true
			p.apiKey = strings.TrimSpace(d.str(v, k))
		},
		"rpm":                   func(v *node, k string) { dep.RPM, _ = d.count(v, k) },
		"tpm":                   func(v *node, k string) { dep.TPM, _ = d.count(v, k) },
		"max_parallel_requests": func(v *node, k string) { dep.MaxParallelRequests, _ = d.count(v, k) },
		"weight": func(v *node, k string) {
			if w := d.nonNegFloat(v, k); w != nil {
				dep.Weight = *w
			}
		},
		"order":                           func(v *node, k string) { dep.Order, _ = d.count(v, k) },
		"timeout":                         func(v *node, k string) { dep.Timeout = d.duration(v, k) },
		"stream_timeout":                  func(v *node, k string) { dep.StreamTimeout = d.duration(v, k) },
		"max_retries":                     func(v *node, k string) { dep.MaxRetries = d.countPtr(v, k) },
		"input_cost_per_token":            func(v *node, k string) { dep.InputCostPerToken = d.nonNegFloat(v, k) },
		"output_cost_per_token":           func(v *node, k string) { dep.OutputCostPerToken = d.nonNegFloat(v, k) },
		"cache_read_input_token_cost":     func(v *node, k string) { dep.CacheReadCostPerToken = d.nonNegFloat(v, k) },
		"cache_creation_input_token_cost": func(v *node, k string) { dep.CacheWriteCostPerToken = d.nonNegFloat(v, k) },
		"num_ctx":                         func(v *node, k string) { dep.NumCtx, _ = d.count(v, k) },
		"keep_alive":                      func(v *node, k string) { dep.KeepAlive = strings.TrimSpace(d.str(v, k)) },
		"warmup":                          func(v *node, k string) { dep.Warmup = d.boolean(v, k) },
		"extra_headers":                   func(v *node, k string) { d.headers(dep, v, k) },
		"headers":                         func(v *node, k string) { d.headers(dep, v, k) },
	}
	fs["base_url"] = fs["api_base"]
	forward := func(v *node, k string) {
		if dep.Params == nil {
			dep.Params = map[string]json.RawMessage{}
		}
		dep.Params[k[strings.LastIndexByte(k, '.')+1:]] = d.raw(v, k)
	}
	for _, name := range forwardedParams() {
		fs[name] = forward
	}
	return fs
}

// ForwardedParams lists the litellm_params keys passed to the upstream as
// request parameters, sorted.
func ForwardedParams() []string { return slices.Clone(forwardedParams()) }

// forwardedParams is ForwardedParams made once (every deployment asks).
var forwardedParams = sync.OnceValue(func() []string {
	var out []string
	for k, info := range keyTable {
		if name, ok := strings.CutPrefix(k, "model_list.litellm_params."); ok && info.Status == Forwarded {
			out = append(out, name)
		}
	}
	sortStrings(out)
	return out
})

func (d *decoder) headers(dep *Deployment, v *node, k string) {
	for name, val := range d.strMap(v, k) {
		if dep.Headers == nil {
			dep.Headers = map[string]string{}
		}
		dep.Headers[name] = val
	}
}

func (d *decoder) infoFields(mi *ModelInfo, costs *[4]*float64) fields {
	cost := func(i int) func(v *node, k string) {
		return func(v *node, k string) { costs[i] = d.nonNegFloat(v, k) }
	}
	return fields{
		"id":                              func(v *node, k string) { mi.ID = strings.TrimSpace(d.str(v, k)) },
		"mode":                            func(v *node, k string) { mi.Mode = d.str(v, k) },
		"base_model":                      func(v *node, k string) { mi.BaseModel = d.str(v, k) },
		"max_tokens":                      func(v *node, k string) { mi.MaxTokens, _ = d.count(v, k) },
		"max_input_tokens":                func(v *node, k string) { mi.MaxInputTokens, _ = d.count(v, k) },
		"max_output_tokens":               func(v *node, k string) { mi.MaxOutputTokens, _ = d.count(v, k) },
		"input_cost_per_token":            cost(0),
		"output_cost_per_token":           cost(1),
		"cache_read_input_token_cost":     cost(2),
		"cache_creation_input_token_cost": cost(3),
	}
}

// resolveProvider splits litellm_params.model into provider and model.
func (d *decoder) resolveProvider(dep *Deployment, p *params, lpKey string) {
	at := p.modelNode
	hint := "write provider/model, e.g. openai/NAME with api_base for an OpenAI-compatible server, ollama/NAME, anthropic/NAME"
	prov, model := p.provider, p.model
	if prov != "" {
		model = strings.TrimPrefix(model, prov+"/")
	} else if before, after, ok := strings.Cut(model, "/"); ok {
		if _, known := LookupProvider(before); known || knownUnsupported[strings.ToLower(before)] {
			prov, model = strings.ToLower(before), after
		}
	}
	if prov == "" {
		if model == "*" {
			// Provider chosen per request from the requested name.
			dep.Model = "*"
			return
		}
		inferred, ok := InferProvider(model)
		if !ok {
			name := model
			if before, _, found := strings.Cut(model, "/"); found {
				name = before
			}
			d.fail(at, hint, "%s.model: unknown provider for %q", lpKey, name)
			return
		}
		prov = inferred
	}
	spec, ok := LookupProvider(prov)
	if !ok {
		if knownUnsupported[prov] {
			d.fail(at, "Switchyard talks to OpenAI-compatible servers, Anthropic and Ollama; if this provider has an OpenAI-compatible endpoint, write openai/MODEL with its api_base",
				"%s.model: provider %q is not supported", lpKey, prov)
			return
		}
		d.fail(at, hint, "%s.model: unknown provider %q", lpKey, prov)
		return
	}
	if model == "" {
		d.fail(at, "write the model after the provider, e.g. "+prov+"/NAME", "%s.model: missing the model name after %q", lpKey, prov+"/")
		return
	}
	dep.Provider, dep.Dialect, dep.Model = spec.Name, spec.Dialect, model
}

// resolveEndpoint fills APIBase and APIKey from the entry, the provider's
// usual variables and its defaults.
func (d *decoder) resolveEndpoint(dep *Deployment, p *params, lpKey string) {
	dep.APIBase, dep.APIKey = p.apiBase, p.apiKey
	if dep.Provider == "" {
		return
	}
	spec, _ := LookupProvider(dep.Provider)
	if dep.APIBase == "" && spec.APIBaseEnv != "" {
		if v, ok := d.lookup(spec.APIBaseEnv); ok && strings.TrimSpace(v) != "" {
			dep.APIBase = d.url(&node{kind: kindString, str: v, line: p.modelNode.line, col: p.modelNode.col}, "$"+spec.APIBaseEnv)
		}
	}
	if dep.APIBase == "" {
		dep.APIBase = spec.DefaultAPIBase
	}
	if dep.APIBase == "" {
		at := p.modelNode
		hint := "add api_base with the server's URL, e.g. api_base: http://localhost:8000/v1"
		if p.apiBaseSet {
			at = p.apiBaseNode
			hint = "api_base is empty (is its environment variable set?); " + hint
		}
		d.fail(at, hint, "%s: provider %s needs api_base", lpKey, dep.Provider)
		return
	}
	if !p.apiKeySet && spec.APIKeyEnv != "" {
		if v, ok := d.lookup(spec.APIKeyEnv); ok {
			dep.APIKey = strings.TrimSpace(v)
		} else if spec.NeedsKey {
			d.warn(p.modelNode, lpKey+".api_key", "no api_key and %s is not set; the deployment is loaded but calls to it will be refused by the upstream", spec.APIKeyEnv)
		}
	}
}

// deploymentID derives a stable short ID.
func deploymentID(dep *Deployment) string {
	h := sha256.Sum256([]byte(dep.ModelName + "\x00" + dep.Provider + "\x00" + dep.Model + "\x00" + dep.APIBase))
	return hex.EncodeToString(h[:6])
}
