// Command switchyard-bench measures Switchyard against the physical floor
// of an LLM gateway on this machine.
//
// It starts, all on loopback and as subprocesses so that each one's CPU
// time can be read from /proc/PID/stat on its own:
//
//   - a fake OpenAI/Anthropic upstream (fasthttp, fixed replies),
//   - a bare forwarder on fasthttp (the floor) and one on net/http,
//   - the real switchyard binary with a realistic config (master key,
//     Prometheus metrics, SQLite spend log, groups of two deployments),
//
// then drives each target in turn, interleaved over several rounds, with a
// closed loop at 1 and at N connections (fasthttp client) and an open loop
// at a fixed rate (vegeta), for each scenario: OpenAI non-streaming
// pass-through, a 10-event stream pass-through, a Claude Code request
// (~80 KB) passed through to an Anthropic upstream and translated to an
// OpenAI upstream, 1,000 concurrent slow streams, and the start-up time of a
// 200-deployment config. It prints ratios against the floor measured in the
// same run and writes a JSON result file. See docs/benchmarks.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role, os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	rounds      int
	duration    time.Duration
	slice       time.Duration
	warmup      time.Duration
	conns       int
	rate        int
	scenarios   []string
	modes       []string
	targets     []string
	events      int
	slowStreams int
	slowDelay   time.Duration
	latency     time.Duration
	startupDeps int
	startupRuns int
	switchyard  string
	baseline    string
	claudeBody  string
	out         string
	quick       bool
	maxRequests int
	pprofDir    string
	soak        time.Duration
	keep        bool
	settleQuiet time.Duration
	settleMax   time.Duration
	// The ollama scenario: run when asked (-scenarios) or, with the default
	// scenario list, when the Ollama at ollamaURL answers.
	ollamaURL       string
	ollamaRequests  int
	ollamaMaxTokens int
}

// Scenario names.
const (
	scJSON       = "json"
	scStream     = "stream"
	scClaude     = "claude"
	scTranslated = "translated"
	scSlow       = "slow"
	scStartup    = "startup"
)

// Target names.
const (
	tgDirect     = "direct"
	tgFast       = "fasthttp"
	tgStd        = "nethttp"
	tgHTTPD      = "httpd"
	tgSwitchyard = "switchyard"
	tgBaseline   = "baseline" // another switchyard build (-baseline), for A/B
)

// Mode names.
const (
	modeC1      = "c1"
	modeCN      = "cN"
	modeOpen    = "open"
	modeStreams = "streams"
)

var (
	allScenarios = []string{scJSON, scStream, scClaude, scTranslated, scSlow, scStartup}
	// defaultTargets run unless -targets says otherwise; baseline needs
	// -baseline.
	defaultTargets = []string{tgDirect, tgFast, tgStd, tgHTTPD, tgSwitchyard}
	allTargets     = []string{tgDirect, tgFast, tgStd, tgHTTPD, tgSwitchyard, tgBaseline}
	allModes       = []string{modeC1, modeCN, modeOpen}
	// knownScenarios adds the opt-in ones to the default list.
	knownScenarios = append(append([]string{}, allScenarios...), scOllama)
)

// defaultOllamaURL is $SWITCHYARD_OLLAMA_URL or scripts/ollama.sh's port.
func defaultOllamaURL() string {
	if u := os.Getenv("SWITCHYARD_OLLAMA_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:11435"
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("switchyard-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; targets are interleaved within each round")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of one measurement")
	fs.DurationVar(&o.slice, "slice", time.Second, "closed-loop modes (c1, cN): the targets take turns in slices of about this length within each measurement; 0: each target's measurement in one piece")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up per scenario and target before the first round")
	fs.IntVar(&o.conns, "conns", 64, "connections of the closed loop (mode cN)")
	fs.IntVar(&o.rate, "rate", 0, "open-loop rate in requests/s for every scenario (0: per scenario: json 1000, stream 500, claude 200, translated 100)")
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "scenarios to run: "+strings.Join(knownScenarios, ",")+
		" (default: all but ollama, plus ollama when -ollama-url answers)")
	modes := fs.String("modes", strings.Join(allModes, ","), "load modes: c1 (closed, 1 connection), cN (closed, -conns), open (vegeta at a fixed rate)")
	targets := fs.String("targets", strings.Join(defaultTargets, ","), "targets: "+strings.Join(allTargets, ",")+" (baseline: added by -baseline)")
	fs.IntVar(&o.events, "events", 10, "data events per upstream stream")
	fs.IntVar(&o.slowStreams, "slow-streams", 1000, "concurrent streams of the slow scenario")
	fs.DurationVar(&o.slowDelay, "slow-event-delay", 100*time.Millisecond, "delay between events of the slow scenario's streams")
	fs.DurationVar(&o.latency, "upstream-latency", 0, "delay of the fake upstream before each reply")
	fs.IntVar(&o.startupDeps, "startup-deployments", 200, "deployments in the start-up scenario's config")
	fs.IntVar(&o.startupRuns, "startup-runs", 3, "starts per round in the start-up scenario")
	fs.StringVar(&o.switchyard, "switchyard", "", "switchyard binary (default: go build ./cmd/switchyard into a temp dir)")
	fs.StringVar(&o.baseline, "baseline", "", "another switchyard binary, run as target \"baseline\" with the same config, interleaved with switchyard: an A/B of two builds in one run")
	fs.StringVar(&o.claudeBody, "claude-body", "", "Claude Code request body (default: testdata/claude-code/01_plain_prompt_default_model.request.json)")
	fs.StringVar(&o.out, "out", "bench-results.json", "JSON result file")
	fs.BoolVar(&o.quick, "quick", false, "a few seconds in all: 1 round, short measurements, 8 connections, 50 slow streams")
	fs.IntVar(&o.maxRequests, "max-requests", 2_000_000, "bound on requests per measurement")
	fs.StringVar(&o.pprofDir, "pprof", "", "after the rounds, profile a gateway built from the same packages (with a pprof listener) under the json, stream, claude and translated loads; write the CPU profiles here")
	fs.DurationVar(&o.soak, "soak", 0, "after the rounds, run the stream scenario against switchyard for this long, sampling its RSS (memory flat over time)")
	fs.StringVar(&o.ollamaURL, "ollama-url", defaultOllamaURL(), "ollama scenario: the real Ollama (loopback; scripts/ollama.sh up); empty: never run it")
	fs.IntVar(&o.ollamaRequests, "ollama-requests", 20, "ollama scenario: streaming requests per target")
	fs.IntVar(&o.ollamaMaxTokens, "ollama-max-tokens", 64, "ollama scenario: max_tokens of each request (tiny-endless never stops by itself)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (logs, configs, spend database)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.scenarios, o.modes, o.targets = list(*scen), list(*modes), list(*targets)
	if !set["scenarios"] && o.ollamaURL != "" {
		// Opt-in: runOllama skips it with a line when no Ollama answers.
		o.scenarios = append(o.scenarios, scOllama)
	}
	o.settleQuiet, o.settleMax = 100*time.Millisecond, 3*time.Second
	if o.quick {
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("rounds", func() { o.rounds = 1 })
		def("duration", func() { o.duration = 300 * time.Millisecond })
		def("warmup", func() { o.warmup = 100 * time.Millisecond })
		def("conns", func() { o.conns = 8 })
		def("slow-streams", func() { o.slowStreams = 50 })
		def("slow-event-delay", func() { o.slowDelay = 20 * time.Millisecond })
		def("startup-runs", func() { o.startupRuns = 1 })
		def("ollama-requests", func() { o.ollamaRequests = 5 })
		o.settleQuiet, o.settleMax = 30*time.Millisecond, 300*time.Millisecond
	}
	if err := checkNames("scenario", o.scenarios, knownScenarios); err != nil {
		return o, err
	}
	if err := checkNames("mode", o.modes, allModes); err != nil {
		return o, err
	}
	if err := checkNames("target", o.targets, allTargets); err != nil {
		return o, err
	}
	if o.baseline != "" && !slices.Contains(o.targets, tgBaseline) {
		o.targets = append(o.targets, tgBaseline)
	}
	if o.baseline == "" && slices.Contains(o.targets, tgBaseline) {
		return o, fmt.Errorf("target %q needs -baseline BINARY", tgBaseline)
	}
	switch {
	case o.rounds < 1 || o.rounds > 100:
		return o, fmt.Errorf("-rounds must be 1..100")
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return o, fmt.Errorf("-duration must be in (0, 10m]")
	case o.slice < 0:
		return o, fmt.Errorf("-slice must not be negative")
	case o.conns < 1 || o.conns > 4096:
		return o, fmt.Errorf("-conns must be 1..4096")
	case o.slowStreams < 1 || o.slowStreams > 10000:
		return o, fmt.Errorf("-slow-streams must be 1..10000")
	case o.events < 5 || o.events > 10000:
		return o, fmt.Errorf("-events must be 5..10000")
	case o.soak < 0 || o.soak > 2*time.Hour:
		return o, fmt.Errorf("-soak must be at most 2h")
	case o.ollamaRequests < 1 || o.ollamaRequests > 10000:
		return o, fmt.Errorf("-ollama-requests must be 1..10000")
	case o.ollamaMaxTokens < 2 || o.ollamaMaxTokens > 4096:
		return o, fmt.Errorf("-ollama-max-tokens must be 2..4096")
	case o.maxRequests < 1:
		return o, fmt.Errorf("-max-requests must be positive")
	}
	return o, nil
}

func checkNames(kind string, got, known []string) error {
	for _, g := range got {
		ok := false
		for _, k := range known {
			ok = ok || g == k
		}
		if !ok {
			return fmt.Errorf("unknown %s %q (known: %s)", kind, g, strings.Join(known, ", "))
		}
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 2 && (args[0] == "-markdown" || args[0] == "--markdown") {
		// Render a result file as the tables of docs/benchmarks.md.
		if err := renderMarkdown(args[1], stdout); err != nil {
			fmt.Fprintln(stderr, "switchyard-bench:", err)
			return 1
		}
		return 0
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "switchyard-bench:", err)
		return 2
	}
	res, err := runBench(o, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "switchyard-bench:", err)
		return 1
	}
	if res.TotalErrors > 0 {
		fmt.Fprintf(stderr, "switchyard-bench: %d requests failed (see %s)\n", res.TotalErrors, o.out)
		return 1
	}
	return 0
}
