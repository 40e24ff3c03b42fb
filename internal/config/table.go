package config

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes the resolved model table for `switchyard check`: one row
// per deployment, then the aliases and the router settings. API keys are
// never printed, only whether they are set.
func (c *Config) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "config: %s\n", c.File)
	fmt.Fprintf(w, "deployments: %d\n\n", len(c.Deployments))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tID\tPROVIDER\tMODEL\tAPI_BASE\tKEY\tRPM\tTPM\tPARALLEL\tTIMEOUT\tSTREAM_TIMEOUT")
	for _, d := range c.Deployments {
		prov := d.Provider
		if prov == "" {
			prov = "(per request)"
		}
		base := d.APIBase
		if base == "" {
			base = "-"
		}
		key := "unset"
		if d.APIKey != "" {
			key = "set"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ModelName, d.ID, prov, d.Model, base, key,
			limit(d.RPM), limit(d.TPM), limit(d.MaxParallelRequests), dur(d.Timeout), dur(d.StreamTimeout))
	}
	tw.Flush()

	r := c.Router
	fmt.Fprintln(w)
	fmt.Fprintln(w, "aliases:")
	if len(r.ModelGroupAlias) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	names := make([]string, 0, len(r.ModelGroupAlias))
	for n := range r.ModelGroupAlias {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := r.ModelGroupAlias[n]
		line := fmt.Sprintf("  %s -> %s", n, a.Model)
		if len(a.Deployments) > 0 {
			line += " (deployments " + strings.Join(a.Deployments, ", ") + ")"
		}
		if a.Hidden {
			line += " [hidden]"
		}
		fmt.Fprintln(w, line)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "router:")
	strategy := r.RoutingStrategy
	if r.RoutingStrategyWritten != "" && r.RoutingStrategyWritten != strategy {
		strategy += " (written " + r.RoutingStrategyWritten + ")"
	}
	fmt.Fprintf(w, "  routing_strategy: %s\n", strategy)
	retries := r.NumRetries
	if retries == nil {
		retries = c.LiteLLM.NumRetries
	}
	fmt.Fprintf(w, "  num_retries: %s\n", optInt(retries))
	fails := r.AllowedFails
	if fails == nil {
		fails = c.LiteLLM.AllowedFails
	}
	fmt.Fprintf(w, "  allowed_fails: %s\n", optInt(fails))
	fmt.Fprintf(w, "  cooldown_time: %s\n", dur(firstNonZero(r.CooldownTime, c.LiteLLM.CooldownTime)))
	var fb []string
	if r.FallbacksAuto {
		fb = append(fb, "auto (other deployments of the same group, cheapest first)")
	}
	for _, f := range append(append([]Fallback(nil), r.Fallbacks...), c.LiteLLM.Fallbacks...) {
		fb = append(fb, f.Group+" -> "+strings.Join(f.To, ", "))
	}
	if len(fb) == 0 {
		fb = []string{"none"}
	}
	fmt.Fprintf(w, "  fallbacks: %s\n", strings.Join(fb, "; "))
}

func limit(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.String()
}

func optInt(p *int) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(*p)
}
