package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// aggregate fills each cell's medians and the ratios against the floors.
func aggregate(res *results) {
	find := func(sc, tg, mode string) *cell {
		for _, c := range res.Cells {
			if c.Scenario == sc && c.Target == tg && c.Mode == mode {
				return c
			}
		}
		return nil
	}
	for _, c := range res.Cells {
		var rps, p50, p99, p999, cpu []float64
		c.Requests, c.Errors, c.PeakRSSKB = 0, 0, 0
		for _, s := range c.Samples {
			c.Requests += s.Requests
			c.Errors += s.Errors
			rps = append(rps, s.RPS)
			p50 = append(p50, s.P50us)
			p99 = append(p99, s.P99us)
			p999 = append(p999, s.P999us)
			cpu = append(cpu, s.CPUus)
			c.PeakRSSKB = max(c.PeakRSSKB, s.PeakRSSKB)
		}
		c.RPS, c.P50us, c.P99us, c.P999us, c.CPUus = median(rps), median(p50), median(p99), median(p999), median(cpu)
	}
	// Added latency at one connection: against the direct target, round by round.
	for _, c := range res.Cells {
		if c.Mode != modeC1 || c.Target == tgDirect {
			continue
		}
		d := find(c.Scenario, tgDirect, modeC1)
		if d == nil {
			continue
		}
		var added []float64
		for _, s := range c.Samples {
			for _, ds := range d.Samples {
				if ds.Round == s.Round {
					added = append(added, s.P50us-ds.P50us)
				}
			}
		}
		c.AddedUs = median(added)
	}
	for _, c := range res.Cells {
		sc := c.Scenario
		if sc == scTranslated {
			// Its floor is the floor's pass-through of the same body.
			sc = scClaude
		}
		if f := find(sc, tgFast, c.Mode); f != nil {
			c.CPUxFloor = ratio(c.CPUus, f.CPUus)
			c.RPSxFloor = ratio(c.RPS, f.RPS)
			if c.Mode == modeC1 && c.Target != tgDirect && c.Scenario != scTranslated {
				c.AddedxFloor = ratio(c.AddedUs, f.AddedUs)
			}
		}
		if s := find(sc, tgStd, c.Mode); s != nil {
			c.CPUxStd = ratio(c.CPUus, s.CPUus)
		}
		if h := find(sc, tgHTTPD, c.Mode); h != nil {
			c.CPUxHTTPD = ratio(c.CPUus, h.CPUus)
		}
		if b := find(c.Scenario, tgBaseline, c.Mode); b != nil && c.Target == tgSwitchyard {
			var rs []float64
			for _, s := range c.Samples {
				for _, bs := range b.Samples {
					if bs.Round == s.Round && bs.CPUus > 0 {
						rs = append(rs, s.CPUus/bs.CPUus)
					}
				}
			}
			if len(rs) > 0 {
				c.CPUxBaseline = math.Round(median(rs)*1000) / 1000
			}
		}
	}
}

func ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return math.Round(a/b*100) / 100
}

// checks judges the targets of the issue on this run.
func checks(res *results) []check {
	find := func(sc, tg, mode string) *cell {
		for _, c := range res.Cells {
			if c.Scenario == sc && c.Target == tg && c.Mode == mode {
				return c
			}
		}
		return nil
	}
	var out []check
	add := func(name string, value, limit float64, unit string, ok bool, note string) {
		out = append(out, check{Target: name, Value: math.Round(value*100) / 100, Limit: limit, Unit: unit, Met: ok, Note: note})
	}
	missing := func(name, why string) {
		out = append(out, check{Target: name, Note: "not measured: " + why})
	}
	if c := find(scJSON, tgSwitchyard, modeCN); c != nil && c.CPUxFloor > 0 {
		add(fmt.Sprintf("pass-through non-streaming, %d conns: CPU/request ≤ 1.5× floor", c.Conns), c.CPUxFloor, 1.5, "× floor", c.CPUxFloor <= 1.5,
			fmt.Sprintf("%.1f µs vs floor %.1f µs", c.CPUus, c.CPUus/c.CPUxFloor))
		// Bifrost: 250 µs/request; twice its throughput on the same cores is
		// at most 125 µs of CPU per request.
		add("pass-through non-streaming: throughput ≥ 2× Bifrost's (≤ 125 µs CPU/request)", c.CPUus, 125, "µs/request", c.CPUus <= 125,
			fmt.Sprintf("implies %.0f req/s on %d cores; measured %.0f req/s with load generator and upstream on the same cores",
				float64(res.CPUs)*1e6/c.CPUus, res.CPUs, c.RPS))
	} else {
		missing("pass-through non-streaming: CPU/request ≤ 1.5× floor", "needs json, cN, fasthttp and switchyard")
	}
	if c := find(scStream, tgSwitchyard, modeCN); c != nil && c.CPUxFloor > 0 {
		add("10-event stream pass-through: CPU/stream ≤ 1.5× floor", c.CPUxFloor, 1.5, "× floor", c.CPUxFloor <= 1.5,
			fmt.Sprintf("%.1f µs vs floor %.1f µs", c.CPUus, c.CPUus/c.CPUxFloor))
	} else {
		missing("10-event stream pass-through: CPU/stream ≤ 1.5× floor", "needs stream, cN, fasthttp and switchyard")
	}
	tr, pass := find(scTranslated, tgSwitchyard, modeCN), find(scClaude, tgSwitchyard, modeCN)
	if tr != nil && pass != nil && pass.CPUus > 0 {
		r := tr.CPUus / pass.CPUus
		add("translated Claude Code stream: CPU ≤ 3× pass-through of the same body", r, 3, "× pass-through", r <= 3,
			fmt.Sprintf("%.1f µs vs %.1f µs", tr.CPUus, pass.CPUus))
	} else {
		missing("translated Claude Code stream: CPU ≤ 3× pass-through", "needs claude, translated, cN and switchyard")
	}
	if c := find(scJSON, tgSwitchyard, modeC1); c != nil && c.AddedxFloor > 0 {
		add("added latency at one connection ≤ 1.3× floor's (non-streaming)", c.AddedxFloor, 1.3, "× floor", c.AddedxFloor <= 1.3,
			fmt.Sprintf("+%.0f µs vs floor +%.0f µs (p50 over direct)", c.AddedUs, c.AddedUs/c.AddedxFloor))
	} else {
		missing("added latency at one connection ≤ 1.3× floor's", "needs json, c1, direct, fasthttp and switchyard")
	}
	if v, ok := res.IdleRSSKB[tgSwitchyard]; ok {
		mb := float64(v) / 1024
		add("idle RSS ≤ 30 MB", mb, 30, "MB", mb <= 30, "")
	}
	if c := find(scSlow, tgSwitchyard, modeStreams); c != nil && c.Conns >= 1000 {
		mb := float64(c.PeakRSSKB) / 1024
		add(fmt.Sprintf("%d concurrent streams: peak RSS ≤ 150 MB", c.Conns), mb, 150, "MB", mb <= 150, "")
	} else if c != nil {
		missing("1,000 concurrent streams ≤ 150 MB", fmt.Sprintf("ran %d streams (peak RSS %.1f MB); use -slow-streams 1000", c.Conns, float64(c.PeakRSSKB)/1024))
	} else {
		missing("1,000 concurrent streams ≤ 150 MB", "needs slow and switchyard")
	}
	if res.Soak != nil && len(res.Soak.RSSKB) >= 4 {
		s := res.Soak.RSSKB
		// Flat: the last quarter's largest sample is within 10% of the
		// second quarter's largest (the first quarter is warm-up).
		q := len(s) / 4
		a, b := maxOf(s[q:2*q]), maxOf(s[len(s)-q:])
		r := float64(b) / float64(max(a, 1))
		add("memory flat over the soak ("+res.Soak.Duration+")", r, 1.1, "× (last quarter / second quarter peak RSS)", r <= 1.1, "")
	} else {
		missing("memory flat over a 10-minute run", "run with -soak 10m")
	}
	if res.Startup != nil {
		add(fmt.Sprintf("start-up to ready with %d deployments ≤ 100 ms", res.Startup.Deployments), res.Startup.MedianMs, 100, "ms",
			res.Startup.MedianMs <= 100 && res.Startup.Deployments >= 200, "")
	} else {
		missing("start-up with 200 deployments ≤ 100 ms", "needs startup")
	}
	return out
}

func maxOf(v []int64) int64 {
	m := int64(0)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func printReport(w io.Writer, res *results) {
	fmt.Fprintf(w, "\nSwitchyard benchmark — %s, %d CPUs, load %s\n", res.Go, res.CPUs, res.LoadAvg)
	fmt.Fprintf(w, "medians over rounds; ×floor is against the fasthttp bare forwarder of the same run\n")
	fmt.Fprintf(w, "CPU time stolen by the hypervisor during the rounds: %.1f%% (a busy host: every ratio moves)\n", res.StealPct)
	for _, s := range res.Scenarios {
		fmt.Fprintf(w, "\n== %s: %s (request body %d B) ==\n", s.Name, s.Description, s.BodyBytes)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "load\ttarget\treq/s\tp50 µs\tp99 µs\tp99.9 µs\t+lat µs\t+lat ×floor\tCPU µs/req\tCPU ×floor\tCPU ×net/http\tCPU ×httpd\tpeak RSS MB\terrors\t")
		for _, c := range res.Cells {
			if c.Scenario != s.Name {
				continue
			}
			added, addedX := "", ""
			if c.Mode == modeC1 && c.Target != tgDirect && c.Scenario != scTranslated {
				added = fmt.Sprintf("%+.0f", c.AddedUs)
				addedX = x(c.AddedxFloor)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%.1f\t%s\t%s\t%s\t%.1f\t%d\t\n",
				modeLabel(c.Mode, c.Conns, c.Rate), targetLabel(c.Target), c.RPS, c.P50us, c.P99us, c.P999us, added, addedX,
				c.CPUus, x(c.CPUxFloor), x(c.CPUxStd), x(c.CPUxHTTPD), float64(c.PeakRSSKB)/1024, c.Errors)
		}
		tw.Flush()
		for _, c := range res.Cells {
			if c.Scenario == s.Name && c.CPUxBaseline > 0 {
				fmt.Fprintf(w, "  %s: switchyard CPU/request ÷ baseline's, median of the rounds' ratios: %.3f×\n",
					modeLabel(c.Mode, c.Conns, c.Rate), c.CPUxBaseline)
			}
		}
	}
	if res.Ollama != nil {
		printOllama(w, res.Ollama)
	}
	if len(res.IdleRSSKB) > 0 {
		fmt.Fprintf(w, "\nidle RSS:")
		for _, t := range allTargets {
			if v, ok := res.IdleRSSKB[t]; ok {
				fmt.Fprintf(w, "  %s %.1f MB", targetLabel(t), float64(v)/1024)
			}
		}
		fmt.Fprintln(w)
	}
	if st := res.Startup; st != nil {
		fmt.Fprintf(w, "start-up to /health/readiness with %d deployments: median %.1f ms (runs: %s)\n", st.Deployments, st.MedianMs, floats(st.Millis))
	}
	fmt.Fprintf(w, "\ntargets from the issue:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range res.Checks {
		verdict := "MISSED"
		switch {
		case strings.HasPrefix(c.Note, "not measured"):
			verdict = "—"
		case c.Met:
			verdict = "met"
		}
		val := ""
		if !strings.HasPrefix(c.Note, "not measured") {
			val = fmt.Sprintf("%.2f %s (limit %.4g)", c.Value, c.Unit, c.Limit)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", verdict, c.Target, val, c.Note)
	}
	tw.Flush()
}

func x(v float64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", v)
}

func floats(v []float64) string {
	var s []string
	for _, f := range v {
		s = append(s, fmt.Sprintf("%.1f", f))
	}
	return strings.Join(s, ", ")
}

func targetLabel(t string) string {
	switch t {
	case tgDirect:
		return "direct (upstream)"
	case tgFast:
		return "floor fasthttp"
	case tgStd:
		return "floor net/http"
	case tgHTTPD:
		return "floor httpd+fasthttp client"
	}
	return t
}
