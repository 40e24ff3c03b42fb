package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// renderMarkdown prints a result file as the Markdown tables of
// docs/benchmarks.md, so the document shows exactly what a run measured.
func renderMarkdown(path string, w io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	writeMarkdown(w, &res)
	return nil
}

func writeMarkdown(w io.Writer, res *results) {
	fmt.Fprintf(w, "Command: `%s`", res.Command)
	if res.Tree != "" {
		fmt.Fprintf(w, " — switchyard built from commit `%s`", res.Tree)
	}
	fmt.Fprintf(w, "; %s, %s, %d CPUs, load average at start %s, CPU time stolen by the hypervisor during the rounds %.1f%%, %.0f s.\n",
		res.Started.UTC().Format("2006-01-02"), res.Go, res.CPUs, firstFields(res.LoadAvg, 3), res.StealPct, res.Seconds)
	fmt.Fprintln(w, "Medians over rounds; ×floor: against the fasthttp floor of the same run; ×httpd: against the floor of Switchyard's server (internal/httpd) before fasthttp's client.")
	for _, s := range res.Scenarios {
		rows := 0
		for _, c := range res.Cells {
			if c.Scenario == s.Name {
				rows++
			}
		}
		if rows == 0 {
			continue
		}
		fmt.Fprintf(w, "\n**%s** — %s (body %d B)\n\n", s.Name, s.Description, s.BodyBytes)
		fmt.Fprintln(w, "| load | target | req/s | p50 µs | p99 µs | p99.9 µs | added µs (c1) | CPU µs/req | CPU ×floor | CPU ×net/http | CPU ×httpd | peak RSS MB | errors |")
		fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, c := range res.Cells {
			if c.Scenario != s.Name {
				continue
			}
			added := ""
			if c.Mode == modeC1 && c.Target != tgDirect && c.Scenario != scTranslated {
				added = fmt.Sprintf("%+.0f (%s)", c.AddedUs, x(c.AddedxFloor))
			}
			name := targetLabel(c.Target)
			if c.Target == tgSwitchyard {
				name = "**switchyard**"
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %.1f | %s | %s | %s | %.1f | %d |\n",
				modeLabel(c.Mode, c.Conns, c.Rate), name, c.RPS, c.P50us, c.P99us, c.P999us, added,
				c.CPUus, x(c.CPUxFloor), x(c.CPUxStd), x(c.CPUxHTTPD), float64(c.PeakRSSKB)/1024, c.Errors)
		}
	}
	if len(res.IdleRSSKB) > 0 {
		var parts []string
		for _, t := range allTargets {
			if v, ok := res.IdleRSSKB[t]; ok {
				parts = append(parts, fmt.Sprintf("%s %.1f MB", targetLabel(t), float64(v)/1024))
			}
		}
		fmt.Fprintf(w, "\nIdle RSS: %s.\n", strings.Join(parts, ", "))
	}
	if st := res.Startup; st != nil {
		fmt.Fprintf(w, "Start-up to ready with %d deployments: median %.1f ms (runs: %s).\n", st.Deployments, st.MedianMs, floats(st.Millis))
	}
	fmt.Fprintln(w, "\n| target from the issue | measured | verdict |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, c := range res.Checks {
		verdict, val := "missed", fmt.Sprintf("%.2f %s (limit %.4g)", c.Value, c.Unit, c.Limit)
		switch {
		case strings.HasPrefix(c.Note, "not measured"):
			verdict, val = "not measured in this run", ""
		case c.Met:
			verdict = "**met**"
		}
		if c.Note != "" && !strings.HasPrefix(c.Note, "not measured") {
			val += "; " + c.Note
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", c.Target, val, verdict)
	}
}

func firstFields(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}
