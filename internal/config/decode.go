package config

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// decoder walks the tree, filling a Config. The first error wins; decoding
// goes on with zero values after it, which is harmless.
type decoder struct {
	file    string
	procEnv Env
	fileEnv map[string]string
	warns   []Warning
	err     *Error
	scratch *deploymentScratch // see depScratch
}

func (d *decoder) lookup(name string) (string, bool) {
	if v, ok := d.fileEnv[name]; ok {
		return v, true
	}
	return d.procEnv(name)
}

func (d *decoder) fail(n *node, hint, format string, args ...any) {
	if d.err != nil {
		return
	}
	e := &Error{File: d.file, Line: 1, Column: 1, Message: fmt.Sprintf(format, args...), Hint: hint}
	if n != nil && n.line > 0 {
		e.Line, e.Column = n.line, max(n.col, 1)
	}
	d.err = e
}

func (d *decoder) warn(n *node, key, format string, args ...any) {
	w := Warning{File: d.file, Key: key, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		w.Line, w.Column = n.line, n.col
	}
	d.warns = append(d.warns, w)
}

func (d *decoder) typeErr(n *node, key, want string) {
	d.fail(n, "", "%s: expected %s, got %s", key, want, n.kind)
}

// ---- scalars ----

// str reads a scalar as a string, resolving environment references.
func (d *decoder) str(n *node, key string) string {
	if !n.isScalar() {
		d.typeErr(n, key, "a string")
		return ""
	}
	if n.kind != kindString {
		return n.scalarText()
	}
	v, missing := expand(n.str, d.lookup)
	for _, name := range missing {
		d.missingVar(n, key, name)
	}
	return v
}

// missingVar applies the missing-variable policy (see the package comment).
func (d *decoder) missingVar(n *node, key, name string) {
	if key == "general_settings.master_key" {
		d.fail(n, "export "+name+"=sk-... before starting; Switchyard refuses to start without the master key the file asks for",
			"%s: environment variable %s is not set", key, name)
		return
	}
	msg := fmt.Sprintf("environment variable %s is not set; the value is empty", name)
	if strings.HasSuffix(key, ".api_key") {
		msg += "; the deployment is loaded but calls to it will be refused by the upstream"
	}
	d.warn(n, key, "%s", msg)
}

// number reads an integer or a number, also from a string (after env expansion).
// ok is false when the value is empty or invalid (an error is recorded if invalid).
func (d *decoder) number(n *node, key string) (f float64, isInt bool, ok bool) {
	switch n.kind {
	case kindNull:
		return 0, false, false
	case kindInt:
		return n.f, true, true
	case kindFloat:
		if math.IsNaN(n.f) || math.IsInf(n.f, 0) {
			d.fail(n, "", "%s: expected a finite number, got %s", key, n.str)
			return 0, false, false
		}
		return n.f, n.f == math.Trunc(n.f), true
	case kindString:
		s := strings.TrimSpace(d.str(n, key))
		if s == "" {
			return 0, false, false
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return float64(i), true, true
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			d.fail(n, "", "%s: expected a number, got %q", key, s)
			return 0, false, false
		}
		return v, v == math.Trunc(v), true
	}
	d.typeErr(n, key, "a number")
	return 0, false, false
}

// count reads a non-negative integer (limits, retries, ports).
func (d *decoder) count(n *node, key string) (int, bool) {
	f, isInt, ok := d.number(n, key)
	if !ok {
		return 0, false
	}
	if !isInt {
		d.fail(n, "", "%s: expected a whole number, got %s", key, numText(n, f))
		return 0, false
	}
	if f > 1<<53 {
		d.fail(n, "", "%s: %s is too large", key, numText(n, f))
		return 0, false
	}
	if f < 0 {
		d.fail(n, "use 0 or leave the key out for no limit", "%s: must not be negative, got %s", key, numText(n, f))
		return 0, false
	}
	return int(f), true
}

func (d *decoder) countPtr(n *node, key string) *int {
	if v, ok := d.count(n, key); ok {
		return &v
	}
	return nil
}

// nonNegFloat reads a non-negative number (costs, weights).
func (d *decoder) nonNegFloat(n *node, key string) *float64 {
	f, _, ok := d.number(n, key)
	if !ok {
		return nil
	}
	if f < 0 {
		d.fail(n, "", "%s: must not be negative, got %s", key, numText(n, f))
		return nil
	}
	return &f
}

func numText(n *node, f float64) string {
	if n.str != "" {
		return n.str
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func (d *decoder) boolean(n *node, key string) bool {
	switch n.kind {
	case kindNull:
		return false
	case kindBool:
		return n.b
	case kindString:
		s := strings.ToLower(strings.TrimSpace(d.str(n, key)))
		switch s {
		case "true", "yes", "on", "1":
			return true
		case "false", "no", "off", "0", "":
			return false
		}
		d.fail(n, "write true or false", "%s: expected a boolean, got %q", key, s)
		return false
	}
	d.typeErr(n, key, "a boolean")
	return false
}

// duration reads seconds as a number, or a duration string: Go's ("1h30m",
// "500ms"), LiteLLM's ("7d", "24h", "60m", "3600s") or plain seconds ("600").
func (d *decoder) duration(n *node, key string) time.Duration {
	var secs float64
	switch n.kind {
	case kindNull:
		return 0
	case kindInt, kindFloat:
		f, _, ok := d.number(n, key)
		if !ok {
			return 0
		}
		secs = f
	case kindString:
		s := strings.TrimSpace(d.str(n, key))
		if s == "" {
			return 0
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.fail(n, `write seconds (600) or a duration such as "30s", "5m", "1h", "7d"`, "%s: invalid duration %q", key, s)
			return 0
		}
		if dur < 0 {
			d.fail(n, "", "%s: must not be negative, got %q", key, s)
			return 0
		}
		return dur
	default:
		d.typeErr(n, key, "a duration")
		return 0
	}
	if secs < 0 {
		d.fail(n, "", "%s: must not be negative, got %s", key, n.str)
		return 0
	}
	if secs > maxDurationSeconds {
		d.fail(n, "", "%s: duration too long", key)
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

const maxDurationSeconds = 100 * 365 * 24 * 3600

func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxDurationSeconds {
			return 0, fmt.Errorf("invalid duration")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f)*float64(u.unit/time.Second) > maxDurationSeconds {
				return 0, fmt.Errorf("invalid duration")
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return time.ParseDuration(s)
}

// strList reads a list of strings; a single string is a list of one.
func (d *decoder) strList(n *node, key string) []string {
	switch n.kind {
	case kindNull:
		return nil
	case kindSeq:
		out := make([]string, 0, len(n.items))
		for i, it := range n.items {
			if s := d.str(it, fmt.Sprintf("%s[%d]", key, i)); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if s := d.str(n, key); s != "" {
		return []string{s}
	}
	return nil
}

func (d *decoder) strMap(n *node, key string) map[string]string {
	if n.kind == kindNull {
		return nil
	}
	if n.kind != kindMap {
		d.typeErr(n, key, "a mapping")
		return nil
	}
	out := make(map[string]string, len(n.pairs))
	for _, p := range n.pairs {
		out[p.key] = d.str(p.val, key+"."+p.key)
	}
	return out
}

// raw converts a value to JSON, resolving environment references in strings.
func (d *decoder) raw(n *node, key string) json.RawMessage {
	b, err := json.Marshal(d.toAny(n, key))
	if err != nil {
		d.fail(n, "", "%s: cannot convert to JSON: %v", key, err)
		return nil
	}
	return b
}

func (d *decoder) toAny(n *node, key string) any {
	switch n.kind {
	case kindNull:
		return nil
	case kindString:
		return d.str(n, key)
	case kindInt:
		return n.i
	case kindFloat:
		if math.IsNaN(n.f) || math.IsInf(n.f, 0) {
			d.fail(n, "", "%s: %s cannot be sent as JSON", key, n.str)
			return nil
		}
		return n.f
	case kindBool:
		return n.b
	case kindSeq:
		out := make([]any, len(n.items))
		for i, it := range n.items {
			out[i] = d.toAny(it, fmt.Sprintf("%s[%d]", key, i))
		}
		return out
	case kindMap:
		out := make(map[string]any, len(n.pairs))
		for _, p := range n.pairs {
			out[p.key] = d.toAny(p.val, key+"."+p.key)
		}
		return out
	}
	return nil
}

// ---- sections ----

// fields maps the keys of one section to their handlers; each handler gets
// the value and the display key (e.g. "model_list[2].litellm_params.rpm").
type fields map[string]func(v *node, key string)

// section checks every key of the mapping n against the key table and runs
// the handler of each supported or forwarded key. tablePrefix names the
// section in the key table, displayPrefix in messages. other, when not nil,
// takes keys that are not in the table (returning true if it used them).
func (d *decoder) section(n *node, tablePrefix, displayPrefix string, fs fields, other func(p pair, key string) bool) {
	if n == nil || n.kind == kindNull {
		return
	}
	if n.kind != kindMap {
		d.typeErr(n, displayPrefix, "a mapping")
		return
	}
	for _, p := range n.pairs {
		tk, dk := p.key, p.key
		if tablePrefix != "" {
			tk, dk = tablePrefix+"."+p.key, displayPrefix+"."+p.key
		}
		info, known := keyTable[tk]
		if !known {
			if other != nil && other(p, dk) {
				continue
			}
			msg := fmt.Sprintf("unknown key %s, ignored", p.key)
			if s := suggest(tablePrefix, p.key); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			d.warn(p.kpos, dk, "%s", msg)
			continue
		}
		switch info.Status {
		case Supported, Forwarded:
			h := fs[p.key]
			if h == nil {
				if other != nil && other(p, dk) {
					continue
				}
				d.warn(p.kpos, dk, "ignored: not implemented yet")
				continue
			}
			h(p.val, dk)
		case Unsupported:
			d.warn(p.kpos, dk, "%s", info.Note)
		case Refused:
			d.fail(p.kpos, info.Note, "%s is not supported", dk)
		}
	}
}

// suggest returns a known key of the same section close to key, if any.
func suggest(prefix, key string) string {
	best, bestDist := "", 3
	for k := range keyTable {
		name := k
		if prefix != "" {
			var ok bool
			if name, ok = strings.CutPrefix(k, prefix+"."); !ok {
				continue
			}
		}
		if strings.Contains(name, ".") {
			continue
		}
		if dist := editDistance(strings.ToLower(key), name); dist < bestDist || (dist == bestDist && best != "" && name < best) {
			best, bestDist = name, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (d *decoder) decode(root *node) *Config {
	cfg := &Config{File: d.file, Environment: map[string]string{}}
	var models *node
	switch root.kind {
	case kindNull:
	case kindMap:
		// environment_variables first: they are visible to every other key.
		if ev := root.lookup("environment_variables"); ev != nil {
			d.environment(ev, cfg)
		}
		d.section(root, "", "", d.topFields(cfg, &models), nil)
	default:
		d.fail(root, "a LiteLLM config is a mapping with model_list, litellm_settings, router_settings and general_settings",
			"the config must be a mapping, got %s", root.kind)
	}
	if d.err != nil {
		return nil
	}
	d.models(models, cfg)
	if d.err != nil {
		return nil
	}
	d.finish(cfg)
	if d.err != nil {
		return nil
	}
	// File order; warnings about the file as a whole (no line) last.
	sort.SliceStable(d.warns, func(i, j int) bool {
		li, lj := d.warns[i].Line, d.warns[j].Line
		if (li == 0) != (lj == 0) {
			return lj == 0
		}
		if li != lj {
			return d.warns[i].Line < d.warns[j].Line
		}
		return d.warns[i].Column < d.warns[j].Column
	})
	cfg.Warnings = d.warns
	return cfg
}

func (d *decoder) topFields(cfg *Config, models **node) fields {
	return fields{
		"model_list":            func(v *node, _ string) { *models = v },
		"environment_variables": func(*node, string) {}, // done first
		"litellm_settings": func(v *node, key string) {
			d.section(v, key, key, d.litellmFields(cfg), nil)
		},
		"router_settings": func(v *node, key string) {
			d.section(v, key, key, d.routerFields(cfg), nil)
		},
		"general_settings": func(v *node, key string) {
			d.section(v, key, key, d.generalFields(&cfg.General), nil)
		},
	}
}

func (d *decoder) environment(n *node, cfg *Config) {
	if n.kind == kindNull {
		return
	}
	if n.kind != kindMap {
		d.typeErr(n, "environment_variables", "a mapping")
		return
	}
	for _, p := range n.pairs {
		if !validVarName(p.key) {
			d.fail(p.kpos, "variable names are letters, digits and _", "environment_variables: invalid variable name %q", p.key)
			return
		}
		v := d.str(p.val, "environment_variables."+p.key)
		d.fileEnv[p.key] = v
		cfg.Environment[p.key] = v
	}
}
