package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

func sortStrings(s []string) { sort.Strings(s) }

// finish applies defaults and the checks that need the whole file.
func (d *decoder) finish(cfg *Config) {
	r := &cfg.Router
	if r.RoutingStrategy == "" {
		r.RoutingStrategy = DefaultRoutingStrategy
	}
	d.finishDeployments(cfg)
	if d.err != nil {
		return
	}
	groups := map[string]bool{}
	for _, dep := range cfg.Deployments {
		groups[dep.ModelName] = true
	}
	if len(cfg.Deployments) == 0 {
		d.warn(&node{line: 1, col: 1}, "model_list", "no deployments: every model request will fail")
	}
	d.resolveAliases(cfg, groups)
	for _, fl := range [][]Fallback{r.Fallbacks, r.ContextWindowFallbacks, r.ContentPolicyFallbacks,
		cfg.LiteLLM.Fallbacks, cfg.LiteLLM.ContextWindowFallbacks, cfg.LiteLLM.ContentPolicyFallbacks} {
		for _, f := range fl {
			for _, name := range append([]string{f.Group}, f.To...) {
				if !hasGroup(groups, name) {
					d.warn(&node{line: f.Line, col: f.col}, f.key, "model group %q is not in model_list; this fallback can never be used", name)
				}
			}
		}
	}
	for _, name := range append(slices.Clone(r.DefaultFallbacks), cfg.LiteLLM.DefaultFallbacks...) {
		if !hasGroup(groups, name) {
			d.warn(nil, "default_fallbacks", "model group %q is not in model_list; this fallback can never be used", name)
		}
	}
	g := &cfg.General
	if g.MasterKey == "" {
		if v, ok := d.lookup("LITELLM_MASTER_KEY"); ok && v != "" {
			g.MasterKey = v
		} else {
			d.warn(nil, "general_settings.master_key", "no master_key: every client is accepted without authentication")
		}
	}
}

func (d *decoder) finishDeployments(cfg *Config) {
	r, l := &cfg.Router, &cfg.LiteLLM
	explicit := map[string]int{}
	seen := map[string]int{}
	for i := range cfg.Deployments {
		dep := &cfg.Deployments[i]
		if dep.Timeout == 0 {
			dep.Timeout = firstNonZero(r.Timeout, l.RequestTimeout, DefaultTimeout)
		}
		if dep.StreamTimeout == 0 {
			dep.StreamTimeout = firstNonZero(r.StreamTimeout, dep.Timeout)
		}
		if dep.ID != "" {
			if line, dup := explicit[dep.ID]; dup {
				d.fail(&node{line: dep.Line, col: 1}, fmt.Sprintf("the same id is used by the entry at line %d; ids must be unique", line),
					"model_list: duplicate model_info.id %q", dep.ID)
				return
			}
			explicit[dep.ID] = dep.Line
			continue
		}
	}
	for i := range cfg.Deployments {
		dep := &cfg.Deployments[i]
		if dep.ID != "" {
			continue
		}
		id := deploymentID(dep)
		seen[id]++
		if n := seen[id]; n > 1 {
			id = fmt.Sprintf("%s-%d", id, n)
		}
		for explicit[id] != 0 { // an explicit id that looks derived: unlikely, keep unique
			id += "x"
		}
		dep.ID = id
	}
}

func firstNonZero[T comparable](vs ...T) T {
	var zero T
	for _, v := range vs {
		if v != zero {
			return v
		}
	}
	return zero
}

// hasGroup reports whether a request for name would find a deployment:
// a model_name equal to it or a wildcard model_name matching it.
func hasGroup(groups map[string]bool, name string) bool {
	if groups[name] {
		return true
	}
	for g := range groups {
		if strings.Contains(g, "*") && MatchWildcard(g, name) {
			return true
		}
	}
	return false
}

// MatchWildcard reports whether name matches a model_name pattern in which
// each * stands for any run of characters ("*", "claude-*", "ollama/*").
func MatchWildcard(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

// resolveAliases checks model_group_alias targets. A target that is no
// model_name but the provider/model of deployments (as the seed guide
// writes them) is routed to those deployments, with a warning.
func (d *decoder) resolveAliases(cfg *Config, groups map[string]bool) {
	names := make([]string, 0, len(cfg.Router.ModelGroupAlias))
	for name := range cfg.Router.ModelGroupAlias {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := cfg.Router.ModelGroupAlias[name]
		at := &node{line: a.Line}
		key := "router_settings.model_group_alias." + name
		if hasGroup(groups, a.Model) {
			continue
		}
		for _, dep := range cfg.Deployments {
			if dep.Provider+"/"+dep.Model == a.Model || (dep.Provider == "" && dep.Model == a.Model) {
				a.Deployments = append(a.Deployments, dep.ID)
			}
		}
		if len(a.Deployments) > 0 {
			d.warn(at, key, "%q is not a model_name; routing %s to the deployments whose litellm_params.model is %q (%s)",
				a.Model, name, a.Model, strings.Join(a.Deployments, ", "))
		} else {
			d.warn(at, key, "%q is neither a model_name nor the model of any deployment; requests for %s will fail with model not found",
				a.Model, name)
		}
		cfg.Router.ModelGroupAlias[name] = a
	}
}
