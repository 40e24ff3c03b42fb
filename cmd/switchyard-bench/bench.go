package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/sjson"

	"github.com/switchyard/switchyard/cmd/switchyard-bench/internal/load"
	"github.com/switchyard/switchyard/cmd/switchyard-bench/internal/procstat"
	"github.com/switchyard/switchyard/cmd/switchyard-bench/internal/upstream"
)

const masterKey = "sk-bench-master"

// scenario is one kind of request and the targets that can serve it.
type scenario struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	BodyBytes   int      `json:"body_bytes"`
	Targets     []string `json:"targets"`
	Rate        int      `json:"open_loop_rate"`
	// upstream mode the direct target and the floors are sent to.
	mode   string
	path   string
	body   []byte
	header [][2]string
	expect []byte
}

// sample is one measurement of one target.
type sample struct {
	Round    int     `json:"round"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Error    string  `json:"first_error,omitempty"`
	Seconds  float64 `json:"seconds"`
	// Slices: the turns the load took on this target (-slice), 0 when
	// it ran in one piece.
	Slices    int     `json:"slices,omitempty"`
	RPS       float64 `json:"rps"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p999_us"`
	CPUus     float64 `json:"cpu_us_per_req"`
	PeakRSSKB int64   `json:"peak_rss_kb"`
	// UpstreamCPUus and LoadCPUus are the fake upstream's and the load
	// generator's CPU per request in the same window (context, not scored).
	UpstreamCPUus float64 `json:"upstream_cpu_us_per_req"`
	LoadCPUus     float64 `json:"loadgen_cpu_us_per_req"`
	// StealPct is the share of the machine's CPU time the hypervisor gave
	// other guests during the measurement: high, and every number moves.
	StealPct float64 `json:"steal_pct"`
}

// cell is one (scenario, target, mode) over all rounds: medians of the
// rounds, the largest peak RSS, summed counts.
type cell struct {
	Scenario string   `json:"scenario"`
	Target   string   `json:"target"`
	Mode     string   `json:"mode"`
	Conns    int      `json:"conns,omitempty"`
	Rate     int      `json:"rate,omitempty"`
	Samples  []sample `json:"samples"`

	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	RPS       float64 `json:"rps"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p999_us"`
	CPUus     float64 `json:"cpu_us_per_req"`
	PeakRSSKB int64   `json:"peak_rss_kb"`
	// AddedUs is p50 minus the direct target's p50 in the same round (c1).
	AddedUs float64 `json:"added_latency_us,omitempty"`
	// CPUxFloor and AddedxFloor are against the fasthttp floor.
	CPUxFloor   float64 `json:"cpu_x_floor,omitempty"`
	RPSxFloor   float64 `json:"rps_x_floor,omitempty"`
	AddedxFloor float64 `json:"added_latency_x_floor,omitempty"`
	CPUxStd     float64 `json:"cpu_x_nethttp,omitempty"`
	CPUxHTTPD   float64 `json:"cpu_x_httpd,omitempty"`
	// CPUxBaseline (switchyard only, with -baseline): the median over
	// rounds of switchyard's CPU per request over the baseline build's in
	// the same round.
	CPUxBaseline float64 `json:"cpu_x_baseline,omitempty"`
}

type startupResult struct {
	Deployments int       `json:"deployments"`
	Millis      []float64 `json:"ms"`
	MedianMs    float64   `json:"median_ms"`
	RSSKB       []int64   `json:"rss_at_ready_kb"`
}

type soakResult struct {
	Duration string  `json:"duration"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RSSKB    []int64 `json:"rss_kb_samples"`
	Interval string  `json:"interval"`
}

type check struct {
	Target string  `json:"target"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit"`
	Met    bool    `json:"met"`
	Note   string  `json:"note,omitempty"`
}

// results is the JSON result file.
type results struct {
	Started    time.Time `json:"started"`
	Switchyard string    `json:"switchyard_binary"`
	Tree       string    `json:"source_tree,omitempty"`
	Command    string    `json:"command"`
	Go         string    `json:"go"`
	CPUs       int       `json:"cpus"`
	LoadAvg    string    `json:"loadavg_at_start"`
	// StealPct is the machine's stolen CPU time over the rounds, in percent.
	StealPct    float64            `json:"steal_pct_rounds"`
	Options     map[string]any     `json:"options"`
	Scenarios   []scenario         `json:"scenarios"`
	IdleRSSKB   map[string]int64   `json:"idle_rss_kb"`
	Cells       []*cell            `json:"results"`
	Startup     *startupResult     `json:"startup,omitempty"`
	Soak        *soakResult        `json:"soak,omitempty"`
	Ollama      *ollamaResult      `json:"ollama,omitempty"`
	Checks      []check            `json:"targets_from_issue"`
	Profiles    map[string]string  `json:"profiles,omitempty"`
	TotalErrors int                `json:"total_errors"`
	Seconds     float64            `json:"seconds"`
	Floors      map[string]float64 `json:"-"`
}

// env is what is running.
type env struct {
	o     options
	dir   string
	bin   string
	self  string
	up    *proc
	ups   map[string][]string // mode -> addrs
	procs map[string]*proc    // target -> process (direct: the upstream)
	addrs map[string]string   // target -> address (direct: per scenario)
	out   io.Writer
}

func (e *env) stopAll() {
	for _, t := range []string{tgSwitchyard, tgBaseline, tgStd, tgHTTPD, tgFast} {
		e.procs[t].stop()
	}
	e.up.stop()
}

func runBench(o options, stdout, stderr io.Writer) (*results, error) {
	started := time.Now()
	res := &results{Started: started, Command: "switchyard-bench " + strings.Join(os.Args[1:], " "), Go: runtime.Version(),
		CPUs: runtime.NumCPU(), IdleRSSKB: map[string]int64{}, Profiles: map[string]string{}}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAvg = strings.TrimSpace(string(la))
	}
	res.Options = map[string]any{"rounds": o.rounds, "duration": o.duration.String(), "warmup": o.warmup.String(),
		"conns": o.conns, "modes": o.modes, "targets": o.targets, "events": o.events, "slow_streams": o.slowStreams,
		"slow_event_delay": o.slowDelay.String(), "upstream_latency": o.latency.String(), "quick": o.quick,
		"startup_deployments": o.startupDeps, "scenarios": o.scenarios, "ollama_url": o.ollamaURL,
		"ollama_requests": o.ollamaRequests, "ollama_max_tokens": o.ollamaMaxTokens}
	dir, err := os.MkdirTemp("", "switchyard-bench-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintln(stdout, "temp dir:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	bin := o.switchyard
	if bin == "" {
		bin = filepath.Join(dir, "switchyard")
		fmt.Fprintln(stdout, "building switchyard…")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/switchyard/switchyard/cmd/switchyard")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/switchyard: %v\n%s", err, out)
		}
	}
	res.Switchyard = describeBinary(bin)
	res.Tree = describeTree()
	claude, err := claudeBody(o.claudeBody)
	if err != nil {
		return nil, err
	}
	e := &env{o: o, dir: dir, bin: bin, self: self, procs: map[string]*proc{}, addrs: map[string]string{}, out: stdout}
	defer e.stopAll()
	if err := e.start(); err != nil {
		return nil, err
	}
	scens := e.scenarios(claude)
	for _, s := range scens {
		res.Scenarios = append(res.Scenarios, *s)
	}

	// Idle memory, before any load.
	time.Sleep(min(time.Second, 3*o.duration))
	for _, t := range allTargets {
		if p := e.procs[t]; p != nil {
			if m, err := procstat.Mem(p.pid()); err == nil {
				res.IdleRSSKB[t] = m.RSS
			}
		}
	}

	cells := map[string]*cell{}
	get := func(sc, tg, mode string) *cell {
		k := sc + "/" + tg + "/" + mode
		c := cells[k]
		if c == nil {
			c = &cell{Scenario: sc, Target: tg, Mode: mode}
			cells[k] = c
			res.Cells = append(res.Cells, c)
		}
		return c
	}

	// Warm-up: every target serves every scenario once, unmeasured.
	for _, s := range scens {
		if s.Name == scSlow {
			continue
		}
		for _, t := range s.Targets {
			if _, err := load.Closed(e.target(s, t), min(o.conns, 8), o.warmup, o.maxRequests); err != nil {
				return nil, err
			}
		}
	}

	// The throughput scenarios first, all rounds; then the memory
	// scenario, all rounds (memory the Go runtime keeps after 1,000 streams
	// would otherwise sit in the other scenarios' peak RSS); then start-up.
	var fast, slow []*scenario
	for _, s := range scens {
		if s.Name == scSlow {
			slow = append(slow, s)
		} else {
			fast = append(fast, s)
		}
	}
	m0, _ := procstat.ReadMachine()
	for _, phase := range [][]*scenario{fast, slow} {
		for r := 1; r <= o.rounds && len(phase) > 0; r++ {
			fmt.Fprintf(stdout, "round %d/%d\n", r, o.rounds)
			if err := e.round(r, phase, get); err != nil {
				return nil, err
			}
		}
	}
	m1, _ := procstat.ReadMachine()
	res.StealPct = m0.StealPct(m1)
	var st *startupResult
	for r := 1; r <= o.rounds; r++ {
		if slices.Contains(o.scenarios, scStartup) {
			if st == nil {
				st = &startupResult{Deployments: o.startupDeps}
			}
			for i := 0; i < o.startupRuns; i++ {
				ms, rss, err := e.startup(r*100 + i)
				if err != nil {
					return nil, fmt.Errorf("startup: %w", err)
				}
				st.Millis = append(st.Millis, ms)
				st.RSSKB = append(st.RSSKB, rss)
				fmt.Fprintf(stdout, "  startup    %d deployments: ready in %.1f ms, RSS %.1f MB\n", o.startupDeps, ms, float64(rss)/1024)
			}
		}
	}
	if st != nil {
		st.MedianMs = median(st.Millis)
		res.Startup = st
	}
	if slices.Contains(o.scenarios, scOllama) {
		if res.Ollama, err = e.runOllama(); err != nil {
			return nil, err
		}
	}
	aggregate(res)
	if o.soak > 0 {
		sk, err := e.soakRun(scens)
		if err != nil {
			return nil, fmt.Errorf("soak: %w", err)
		}
		res.Soak = sk
	}
	res.Checks = checks(res)
	for _, c := range res.Cells {
		res.TotalErrors += c.Errors
	}
	if res.Ollama != nil {
		for _, t := range res.Ollama.Targets {
			res.TotalErrors += t.Errors
		}
	}
	res.Seconds = time.Since(started).Seconds()
	printReport(stdout, res)
	if o.pprofDir != "" {
		if err := e.profile(scens, res); err != nil {
			return nil, fmt.Errorf("pprof: %w", err)
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "results written to %s (%.0f s)\n", o.out, res.Seconds)
	return res, nil
}

// round measures every scenario of scens on each of its targets (in an
// order rotated by round) in every mode.
func (e *env) round(r int, scens []*scenario, get func(sc, tg, mode string) *cell) error {
	for _, s := range scens {
		modes := e.o.modes
		if s.Name == scSlow {
			modes = []string{modeStreams}
		}
		for _, mode := range modes {
			tgs := rotate(s.Targets, r-1)
			var smps []sample
			conns, rate := 0, 0
			if e.inTurns(mode) {
				var err error
				if smps, conns, err = e.measureTurns(s, tgs, mode); err != nil {
					return fmt.Errorf("%s/%s: %w", s.Name, mode, err)
				}
			} else {
				for _, t := range tgs {
					smp, c, rt, err := e.measure(s, t, mode)
					if err != nil {
						return fmt.Errorf("%s/%s/%s: %w", s.Name, t, mode, err)
					}
					smps, conns, rate = append(smps, smp), c, rt
				}
			}
			for i, t := range tgs {
				smp := smps[i]
				smp.Round = r
				c := get(s.Name, t, mode)
				c.Conns, c.Rate = conns, rate
				c.Samples = append(c.Samples, smp)
				fmt.Fprintf(e.out, "  %-10s %-10s %-7s %9.0f req/s  p50 %8.0fµs  p99 %8.0fµs  cpu %7.1fµs/req  rss %6.1f MB  errors %d  steal %.0f%%\n",
					s.Name, t, modeLabel(mode, conns, rate), smp.RPS, smp.P50us, smp.P99us, smp.CPUus, float64(smp.PeakRSSKB)/1024, smp.Errors, smp.StealPct)
				if smp.Error != "" {
					fmt.Fprintf(e.out, "    first error: %s\n", smp.Error)
				}
			}
		}
	}
	return nil
}

func rotate(s []string, n int) []string {
	if len(s) == 0 {
		return s
	}
	n %= len(s)
	return append(append([]string{}, s[n:]...), s[:n]...)
}

func modeLabel(mode string, conns, rate int) string {
	switch mode {
	case modeOpen:
		return fmt.Sprintf("@%d/s", rate)
	default:
		return fmt.Sprintf("c%d", conns)
	}
}

// start launches the upstream, the floors and switchyard.
func (e *env) start() error {
	o := e.o
	roleEnvFor := func(role string) []string { return []string{roleEnv + "=" + role} }
	up, r, err := startProc(e.dir, "upstream", e.self, []string{
		"-listen", "json:2,sse:2,anthropic:2,slow:2",
		"-events", itoa(o.events), "-latency", o.latency.String(), "-event-delay", o.slowDelay.String(),
	}, roleEnvFor(roleUpstream), true, 15*time.Second)
	if err != nil {
		return err
	}
	e.up = up
	e.procs[tgDirect] = up
	e.ups = map[string][]string{}
	for _, l := range r.Listeners {
		e.ups[l.Mode] = append(e.ups[l.Mode], l.Addr)
	}
	routes := strings.Join([]string{
		"bench-json=" + e.ups[upstream.ModeJSON][0],
		"bench-stream=" + e.ups[upstream.ModeSSE][0],
		"claude-pass=" + e.ups[upstream.ModeAnthropic][0],
		"claude-xlate=" + e.ups[upstream.ModeSSE][0],
		"bench-slow=" + e.ups[upstream.ModeSlow][0],
	}, ",")
	for _, t := range []struct{ name, role string }{{tgFast, roleFast}, {tgStd, roleStd}, {tgHTTPD, roleHTTPD}} {
		if !slices.Contains(o.targets, t.name) {
			continue
		}
		p, r, err := startProc(e.dir, t.name, e.self, []string{"-routes", routes, "-addr", "127.0.0.1:0"},
			roleEnvFor(t.role), true, 15*time.Second)
		if err != nil {
			return err
		}
		e.procs[t.name], e.addrs[t.name] = p, r.Addr
	}
	if slices.Contains(o.targets, tgSwitchyard) {
		p, addr, err := e.startSwitchyard("switchyard", e.bin, gatewayConfig(e.ups, filepath.Join(e.dir, "spend.db")))
		if err != nil {
			return err
		}
		e.procs[tgSwitchyard], e.addrs[tgSwitchyard] = p, addr
	}
	if slices.Contains(o.targets, tgBaseline) {
		p, addr, err := e.startSwitchyard("baseline", o.baseline, gatewayConfig(e.ups, filepath.Join(e.dir, "spend-baseline.db")))
		if err != nil {
			return err
		}
		e.procs[tgBaseline], e.addrs[tgBaseline] = p, addr
	}
	return nil
}

// startSwitchyard writes cfg and runs the switchyard binary bin until
// /health/readiness answers.
func (e *env) startSwitchyard(name, bin, cfg string) (*proc, string, error) {
	path := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, "", err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + itoa(port)
	args := []string{"--config", path, "--host", "127.0.0.1", "--port", itoa(port)}
	p, _, err := startProc(e.dir, name, bin, args, nil, false, 0)
	if err != nil {
		return nil, "", err
	}
	if _, err := waitReady(context.Background(), p, "http://"+addr+"/health/readiness", 5*time.Millisecond, 30*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// gatewayConfig is a realistic config: master key, Prometheus callback,
// SQLite spend log, and each model group served by two deployments (one
// per upstream listener of its mode).
func gatewayConfig(ups map[string][]string, db string) string {
	var b strings.Builder
	b.WriteString("model_list:\n")
	dep := func(group, model, base string) {
		fmt.Fprintf(&b, "  - model_name: %s\n    litellm_params:\n      model: %s\n      api_base: %s\n      api_key: sk-upstream-key\n", group, model, base)
	}
	for i := 0; i < 2; i++ {
		dep("bench-json", "openai/bench-upstream", "http://"+ups[upstream.ModeJSON][i]+"/v1")
		dep("bench-stream", "openai/bench-upstream", "http://"+ups[upstream.ModeSSE][i]+"/v1")
		dep("claude-pass", "anthropic/claude-bench-upstream", "http://"+ups[upstream.ModeAnthropic][i])
		dep("claude-xlate", "openai/bench-upstream", "http://"+ups[upstream.ModeSSE][i]+"/v1")
		dep("bench-slow", "openai/bench-upstream", "http://"+ups[upstream.ModeSlow][i]+"/v1")
	}
	fmt.Fprintf(&b, "litellm_settings:\n  callbacks: [\"prometheus\"]\n")
	fmt.Fprintf(&b, "general_settings:\n  master_key: %s\n  database_url: \"sqlite:///%s\"\n", masterKey, db)
	return b.String()
}

// startupConfig has n deployments in groups of four, of every upstream
// dialect.
func startupConfig(ups map[string][]string, db string, n int) string {
	var b strings.Builder
	b.WriteString("model_list:\n")
	for i := 0; i < n; i++ {
		group := fmt.Sprintf("group-%03d", i/4)
		var model, base string
		switch i % 3 {
		case 0:
			model, base = "openai/bench-upstream", "http://"+ups[upstream.ModeJSON][0]+"/v1"
		case 1:
			model, base = "anthropic/claude-bench-upstream", "http://"+ups[upstream.ModeAnthropic][0]
		default:
			model, base = "ollama_chat/qwen2.5:7b", "http://"+ups[upstream.ModeJSON][1]
		}
		fmt.Fprintf(&b, "  - model_name: %s\n    litellm_params:\n      model: %s\n      api_base: %s\n      api_key: sk-upstream-%d\n      rpm: 6000\n",
			group, model, base, i)
	}
	fmt.Fprintf(&b, "litellm_settings:\n  callbacks: [\"prometheus\"]\n")
	fmt.Fprintf(&b, "general_settings:\n  master_key: %s\n  database_url: \"sqlite:///%s\"\n", masterKey, db)
	return b.String()
}

// claudeBody loads the Claude Code fixture, compacted as Claude Code sends it.
func claudeBody(path string) ([]byte, error) {
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(root, "testdata", "claude-code", "01_plain_prompt_default_model.request.json")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c.Bytes(), nil
}

func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/switchyard/switchyard\n")) {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("run inside the switchyard module, or pass -claude-body and -switchyard")
		}
		d = p
	}
}

func (e *env) scenarios(claude []byte) []*scenario {
	o := e.o
	oaHdr := [][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer " + masterKey}}
	antHdr := [][2]string{{"Content-Type", "application/json"}, {"X-Api-Key", masterKey},
		{"Anthropic-Version", "2023-06-01"},
		{"Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"},
		{"User-Agent", "claude-cli/2.1.197 (external, sdk-cli)"}}
	chat := func(model string, stream bool) []byte {
		s := ""
		if stream {
			s = `,"stream":true`
		}
		return []byte(`{"model":"` + model + `","messages":[{"role":"system","content":"You are a helpful assistant."},` +
			`{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64,"temperature":0.2` + s + `}`)
	}
	withModel := func(model string) []byte {
		b, _ := sjson.SetBytes(claude, "model", model)
		return b
	}
	rate := func(def int) int {
		if o.rate > 0 {
			return o.rate
		}
		if o.quick {
			return max(def/5, 20)
		}
		return def
	}
	all := []*scenario{
		{Name: scJSON, Description: "OpenAI client → OpenAI upstream, non-streaming pass-through",
			mode: upstream.ModeJSON, path: "/v1/chat/completions", body: chat("bench-json", false), header: oaHdr,
			expect: []byte(`"usage"`), Rate: rate(1000)},
		{Name: scStream, Description: fmt.Sprintf("OpenAI client → OpenAI upstream, %d-event stream pass-through", o.events),
			mode: upstream.ModeSSE, path: "/v1/chat/completions", body: chat("bench-stream", true), header: oaHdr,
			expect: []byte("[DONE]"), Rate: rate(500)},
		{Name: scClaude, Description: fmt.Sprintf("Claude Code request → Anthropic upstream, %d-event stream pass-through", o.events),
			mode: upstream.ModeAnthropic, path: "/v1/messages?beta=true", body: withModel("claude-pass"), header: antHdr,
			expect: []byte("message_stop"), Rate: rate(200)},
		{Name: scTranslated, Description: fmt.Sprintf("Claude Code request (Anthropic client) → OpenAI upstream, %d-event stream, translated", o.events),
			mode: upstream.ModeSSE, path: "/v1/messages?beta=true", body: withModel("claude-xlate"), header: antHdr,
			expect: []byte("message_stop"), Rate: rate(100)},
		{Name: scSlow, Description: fmt.Sprintf("%d concurrent slow streams (%d events, %s apart): memory", o.slowStreams, o.events, o.slowDelay),
			mode: upstream.ModeSlow, path: "/v1/chat/completions", body: chat("bench-slow", true), header: oaHdr,
			expect: []byte("[DONE]")},
	}
	var out []*scenario
	for _, s := range all {
		if !slices.Contains(o.scenarios, s.Name) {
			continue
		}
		s.BodyBytes = len(s.body)
		for _, t := range allTargets {
			if !slices.Contains(o.targets, t) {
				continue
			}
			// The translated scenario exists only in a gateway; its
			// reference is switchyard's own pass-through of the same body.
			if s.Name == scTranslated && t != tgSwitchyard && t != tgBaseline {
				continue
			}
			s.Targets = append(s.Targets, t)
		}
		out = append(out, s)
	}
	return out
}

// target is the load.Target for target t in scenario s.
func (e *env) target(s *scenario, t string) load.Target {
	addr := e.addrs[t]
	if t == tgDirect {
		addr = e.ups[s.mode][0]
	}
	return load.Target{Addr: addr, Path: s.path, Body: s.body, Header: s.header, Expect: s.expect, Timeout: 60 * time.Second}
}

// measure runs one load against one target and reads its process's CPU and
// peak RSS around it.
func (e *env) measure(s *scenario, t, mode string) (sample, int, int, error) {
	o := e.o
	p, err := e.running(t)
	if err != nil {
		return sample{}, 0, 0, err
	}
	pid := p.pid()
	upPid := e.up.pid()
	_ = procstat.ResetPeak(pid)
	cpu0, err := procstat.CPU(pid)
	if err != nil {
		return sample{}, 0, 0, err
	}
	up0, _ := procstat.CPU(upPid)
	self0, _ := procstat.CPU(os.Getpid())
	m0, _ := procstat.ReadMachine()
	tg := e.target(s, t)
	var (
		r           load.Result
		conns, rate int
	)
	switch mode {
	case modeC1:
		conns = 1
		r, err = load.Closed(tg, 1, o.duration, o.maxRequests)
	case modeCN:
		conns = o.conns
		r, err = load.Closed(tg, o.conns, o.duration, o.maxRequests)
	case modeOpen:
		rate = s.Rate
		r, err = load.Open(tg, rate, o.duration, 1024)
	case modeStreams:
		conns = o.slowStreams
		// Long enough for every connection to finish a few streams.
		d := max(o.duration, 3*time.Duration(o.events)*o.slowDelay)
		r, err = load.Closed(tg, o.slowStreams, d, o.maxRequests)
	}
	if err != nil {
		return sample{}, 0, 0, err
	}
	mem, _ := procstat.Mem(pid)
	cpu1, err := procstat.Settle(pid, o.settleQuiet, o.settleMax)
	if err != nil {
		return sample{}, 0, 0, err
	}
	up1, _ := procstat.CPU(upPid)
	self1, _ := procstat.CPU(os.Getpid())
	m1, _ := procstat.ReadMachine()
	return newSample(t, r, cpu1-cpu0, up1-up0, self1-self0, mem.Peak, m0, m1), conns, rate, nil
}

// running is target t's process, if it is still running.
func (e *env) running(t string) (*proc, error) {
	p := e.procs[t]
	if p == nil {
		return nil, fmt.Errorf("target %s is not running", t)
	}
	if p.exited() {
		return nil, fmt.Errorf("%s exited (log %s: %s)", t, p.log, tail(p.log))
	}
	return p, nil
}

// inTurns reports whether mode's measurements run in turns (measureTurns).
func (e *env) inTurns(mode string) bool {
	return e.o.slice > 0 && (mode == modeC1 || mode == modeCN)
}

// measureTurns measures the targets tgs in a closed-loop mode in turns:
// the measurement is cut into slices of about -slice, and in each slice
// every target takes its load once (the order rotated slice by slice). A
// shared virtual machine changes speed from one second to the next; in
// turns, such a change meets every target alike, where in one piece per
// target it would fall on whichever target ran at the time. A target's
// CPU is read from before the first slice to after its last one settled,
// so the work it defers past a slice (a spend batch committed after the
// load stopped) counts wherever it ran, and so does what it spends idle
// while the others take their turns (a little against it). The direct
// target's process is the upstream, which serves every target's turn:
// its CPU is the sum of its own turns'.
func (e *env) measureTurns(s *scenario, tgs []string, mode string) ([]sample, int, error) {
	o := e.o
	conns := 1
	if mode == modeCN {
		conns = o.conns
	}
	n := max(1, int((o.duration+o.slice-1)/o.slice))
	per := o.duration / time.Duration(n)
	type turns struct {
		pid      int
		cpu0     time.Duration
		r        load.Result
		up, self time.Duration
	}
	ts := make([]turns, len(tgs))
	for i, t := range tgs {
		p, err := e.running(t)
		if err != nil {
			return nil, 0, err
		}
		ts[i].pid = p.pid()
		_ = procstat.ResetPeak(ts[i].pid)
		if ts[i].cpu0, err = procstat.CPU(ts[i].pid); err != nil {
			return nil, 0, err
		}
	}
	upPid := e.up.pid()
	m0, _ := procstat.ReadMachine()
	for k := 0; k < n; k++ {
		for j := range tgs {
			i := (j + k) % len(tgs)
			a := &ts[i]
			up0, _ := procstat.CPU(upPid)
			self0, _ := procstat.CPU(os.Getpid())
			r, err := load.Closed(e.target(s, tgs[i]), conns, per, max(1, o.maxRequests/n))
			if err != nil {
				return nil, 0, err
			}
			// Quiet before the next target's turn.
			if _, err := procstat.Settle(a.pid, o.settleQuiet, o.settleMax); err != nil {
				return nil, 0, err
			}
			up1, _ := procstat.CPU(upPid)
			self1, _ := procstat.CPU(os.Getpid())
			a.up += up1 - up0
			a.self += self1 - self0
			a.r.Requests += r.Requests
			a.r.Errors += r.Errors
			a.r.Elapsed += r.Elapsed
			a.r.Latencies = append(a.r.Latencies, r.Latencies...)
			if a.r.FirstError == "" {
				a.r.FirstError = r.FirstError
			}
		}
	}
	m1, _ := procstat.ReadMachine()
	out := make([]sample, len(tgs))
	for i, t := range tgs {
		a := &ts[i]
		mem, _ := procstat.Mem(a.pid)
		cpu1, err := procstat.CPU(a.pid)
		if err != nil {
			return nil, 0, err
		}
		cpu := cpu1 - a.cpu0
		if t == tgDirect {
			// The upstream is every target's: only its own turns count.
			cpu = a.up
		}
		out[i] = newSample(t, a.r, cpu, a.up, a.self, mem.Peak, m0, m1)
		out[i].Slices = n
	}
	return out, conns, nil
}

// newSample is the sample of load r on target t, whose process took cpu
// (the upstream up, the load generator self) and peaked at peakKB, while
// the machine went from m0 to m1.
func newSample(t string, r load.Result, cpu, up, self time.Duration, peakKB int64, m0, m1 procstat.Machine) sample {
	smp := sample{StealPct: m0.StealPct(m1), Requests: r.Requests, Errors: r.Errors, Error: r.FirstError, Seconds: r.Elapsed.Seconds(), PeakRSSKB: peakKB}
	if r.Elapsed > 0 {
		smp.RPS = float64(r.Requests) / r.Elapsed.Seconds()
	}
	q := load.Quantiles(r.Latencies, 0.5, 0.99, 0.999)
	smp.P50us, smp.P99us, smp.P999us = us(q[0]), us(q[1]), us(q[2])
	if n := r.Requests + r.Errors; n > 0 {
		smp.CPUus = us(cpu) / float64(n)
		smp.UpstreamCPUus = us(up) / float64(n)
		smp.LoadCPUus = us(self) / float64(n)
		if t == tgDirect {
			smp.UpstreamCPUus = smp.CPUus
		}
	}
	return smp
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// startup times one start of the real binary with a config of
// startupDeps deployments and a fresh spend database, from exec to the
// first 200 of /health/readiness.
func (e *env) startup(n int) (float64, int64, error) {
	d := filepath.Join(e.dir, fmt.Sprintf("startup-%d", n))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return 0, 0, err
	}
	cfg := filepath.Join(d, "config.yaml")
	if err := os.WriteFile(cfg, []byte(startupConfig(e.ups, filepath.Join(d, "spend.db"), e.o.startupDeps)), 0o600); err != nil {
		return 0, 0, err
	}
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	p, _, err := startProc(d, "switchyard", e.bin, []string{"--config", cfg, "--host", "127.0.0.1", "--port", itoa(port)}, nil, false, 0)
	if err != nil {
		return 0, 0, err
	}
	defer p.stop()
	t1, err := waitReady(context.Background(), p, fmt.Sprintf("http://127.0.0.1:%d/health/readiness", port), time.Millisecond, 30*time.Second)
	if err != nil {
		return 0, 0, err
	}
	m, _ := procstat.Mem(p.pid())
	return float64(t1.Sub(t0)) / float64(time.Millisecond), m.RSS, nil
}

// soakRun drives the stream scenario against switchyard for o.soak,
// sampling its RSS.
func (e *env) soakRun(scens []*scenario) (*soakResult, error) {
	var s *scenario
	for _, x := range scens {
		if x.Name == scStream {
			s = x
		}
	}
	p := e.procs[tgSwitchyard]
	if s == nil || p == nil {
		return nil, errors.New("-soak needs the stream scenario and the switchyard target")
	}
	interval := max(e.o.soak/60, time.Second)
	sk := &soakResult{Duration: e.o.soak.String(), Interval: interval.String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, err := load.Closed(e.target(s, tgSwitchyard), e.o.conns, e.o.soak, 1<<40)
		if err == nil {
			sk.Requests, sk.Errors = r.Requests, r.Errors
		}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			m, _ := procstat.Mem(p.pid())
			sk.RSSKB = append(sk.RSSKB, m.RSS)
			fmt.Fprintf(e.out, "soak: %d requests, %d errors, RSS samples (KiB): %v\n", sk.Requests, sk.Errors, sk.RSSKB)
			return sk, nil
		case <-tick.C:
			m, _ := procstat.Mem(p.pid())
			sk.RSSKB = append(sk.RSSKB, m.RSS)
		}
	}
}

// profile runs a gateway from the same packages as cmd/switchyard, with a
// pprof listener, under the closed-loop load of each scenario, and saves
// a CPU profile per scenario.
func (e *env) profile(scens []*scenario, res *results) error {
	if err := os.MkdirAll(e.o.pprofDir, 0o755); err != nil {
		return err
	}
	pp, err := freePort()
	if err != nil {
		return err
	}
	cfg := gatewayConfig(e.ups, filepath.Join(e.dir, "spend-pprof.db"))
	path := filepath.Join(e.dir, "gateway-pprof.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + itoa(port)
	pprofAddr := "127.0.0.1:" + itoa(pp)
	p, _, err := startProc(e.dir, "gateway-pprof", e.self, []string{"-config", path, "-addr", addr, "-pprof", pprofAddr},
		[]string{roleEnv + "=" + roleGateway}, true, 30*time.Second)
	if err != nil {
		return err
	}
	defer p.stop()
	if _, err := waitReady(context.Background(), p, "http://"+addr+"/health/readiness", 5*time.Millisecond, 30*time.Second); err != nil {
		return err
	}
	secs := max(int(e.o.duration/time.Second), 2)
	for _, s := range scens {
		if s.Name == scSlow {
			continue
		}
		tg := e.target(s, tgSwitchyard)
		tg.Addr = addr
		if _, err := load.Closed(tg, min(e.o.conns, 8), e.o.warmup, e.o.maxRequests); err != nil {
			return err
		}
		type got struct {
			b   []byte
			err error
		}
		ch := make(chan got, 1)
		go func() {
			c := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
			resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs))
			if err != nil {
				ch <- got{nil, err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			ch <- got{b, err}
		}()
		r, err := load.Closed(tg, e.o.conns, time.Duration(secs)*time.Second+500*time.Millisecond, e.o.maxRequests)
		if err != nil {
			return err
		}
		g := <-ch
		if g.err != nil {
			return g.err
		}
		out := filepath.Join(e.o.pprofDir, "gateway-"+s.Name+".pprof")
		if err := os.WriteFile(out, g.b, 0o644); err != nil {
			return err
		}
		res.Profiles[s.Name] = out
		fmt.Fprintf(e.out, "profile %-10s %d requests (%d errors) → %s  (go tool pprof -top %s)\n", s.Name, r.Requests, r.Errors, out, out)
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// describeBinary is the binary's path, size and `version` line.
func describeBinary(bin string) string {
	out, _ := exec.Command(bin, "version").Output()
	d := bin
	if fi, err := os.Stat(bin); err == nil {
		d += fmt.Sprintf(" (%d bytes, %s)", fi.Size(), fi.ModTime().UTC().Format(time.RFC3339))
	}
	return d + ": " + strings.TrimSpace(string(out))
}

// describeTree is the git commit of the working tree the command runs in,
// with "+dirty" when it has changes (the bench binary and a switchyard
// built here come from it).
func describeTree() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	d := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		d += "+dirty"
	}
	return d
}
