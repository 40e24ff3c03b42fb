package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary serve the benchmark's subprocess roles, as
// the command does: the quick run below re-executes this binary.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role, os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runTool runs the tool with args and a result file in a temp dir, fails
// the test unless it exits 0, and returns the results and what it printed.
func runTool(t *testing.T, args ...string) (*results, *bytes.Buffer) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr bytes.Buffer
	if code := run(append(args, "-out", out), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res, &stdout
}

// TestQuick runs the whole benchmark in quick mode with tiny durations and
// checks the result file: every scenario measured on every target that can
// serve it, in every load mode, with no failed request.
func TestQuick(t *testing.T) {
	// -ollama-url "": hermetic, whether or not a real Ollama runs here
	// (TestOllama covers that scenario).
	res, stdout := runTool(t, "-quick", "-duration", "150ms", "-warmup", "50ms", "-ollama-url", "")
	if len(res.Scenarios) != len(allScenarios)-1 { // startup is not a load scenario
		t.Fatalf("scenarios %d, want %d", len(res.Scenarios), len(allScenarios)-1)
	}
	seen := map[string]*cell{}
	for _, c := range res.Cells {
		seen[c.Scenario+"/"+c.Target+"/"+c.Mode] = c
	}
	for _, s := range res.Scenarios {
		want := defaultTargets
		if s.Name == scTranslated {
			want = []string{tgSwitchyard}
		}
		if strings.Join(s.Targets, ",") != strings.Join(want, ",") {
			t.Errorf("%s: targets %v, want %v", s.Name, s.Targets, want)
		}
		modes := allModes
		if s.Name == scSlow {
			modes = []string{modeStreams}
		}
		for _, tg := range want {
			for _, m := range modes {
				c := seen[s.Name+"/"+tg+"/"+m]
				switch {
				case c == nil:
					t.Errorf("%s/%s/%s: not measured", s.Name, tg, m)
				case c.Errors != 0:
					t.Errorf("%s/%s/%s: %d errors: %s", s.Name, tg, m, c.Errors, c.Samples[0].Error)
				case c.Requests == 0 || c.RPS <= 0:
					t.Errorf("%s/%s/%s: no requests", s.Name, tg, m)
				case c.PeakRSSKB <= 0:
					t.Errorf("%s/%s/%s: no peak RSS", s.Name, tg, m)
				}
			}
		}
	}
	if res.Startup == nil || len(res.Startup.Millis) == 0 || res.Startup.MedianMs <= 0 {
		t.Errorf("start-up not measured: %+v", res.Startup)
	}
	if res.IdleRSSKB[tgSwitchyard] <= 0 {
		t.Errorf("idle RSS of switchyard not measured: %v", res.IdleRSSKB)
	}
	if len(res.Checks) == 0 {
		t.Error("no targets judged")
	}
	if res.TotalErrors != 0 {
		t.Errorf("total errors %d", res.TotalErrors)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout.String())
	}
}

// TestTurns runs closed-loop measurements in slices: each target's sample
// adds up all its slices, and every target is measured.
func TestTurns(t *testing.T) {
	res, _ := runTool(t, "-quick", "-scenarios", "json", "-modes", "c1,cN", "-targets", "fasthttp,switchyard",
		"-duration", "400ms", "-slice", "100ms", "-warmup", "50ms", "-ollama-url", "")
	n := 0
	for _, c := range res.Cells {
		n++
		if len(c.Samples) != 1 {
			t.Fatalf("%s/%s/%s: %d samples, want 1", c.Scenario, c.Target, c.Mode, len(c.Samples))
		}
		smp := c.Samples[0]
		// Four slices of 100 ms: the sample holds them all.
		if smp.Slices != 4 {
			t.Errorf("%s/%s: %d slices, want 4", c.Target, c.Mode, smp.Slices)
		}
		if smp.Seconds < 0.35 || smp.Seconds > 1.5 {
			t.Errorf("%s/%s: %.3f s of load, want the four slices' 0.4 s", c.Target, c.Mode, smp.Seconds)
		}
		if smp.Requests == 0 || smp.Errors != 0 || smp.CPUus <= 0 || smp.P50us <= 0 || smp.PeakRSSKB <= 0 {
			t.Errorf("%s/%s: incomplete sample %+v", c.Target, c.Mode, smp)
		}
	}
	if n != 4 {
		t.Errorf("%d cells, want 4 (2 targets × 2 modes)", n)
	}
}

// TestOllama runs the ollama scenario briefly against the real Ollama of
// scripts/ollama.sh when one answers, and checks that without one it is
// skipped with a line, not failed.
func TestOllama(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "results.json")
	url := defaultOllamaURL()
	if err := ollamaProbe(url); err != nil {
		// A closed loopback port: the scenario must be skipped.
		var stdout, stderr bytes.Buffer
		code := run([]string{"-quick", "-scenarios", "ollama", "-targets", "direct", "-ollama-url", "http://127.0.0.1:1", "-out", out}, &stdout, &stderr)
		if code != 0 || !strings.Contains(stdout.String(), "ollama: skipped") {
			t.Fatalf("exit %d, want a skip line\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		}
		t.Skipf("no Ollama with %s at %s: %v (bash scripts/ollama.sh up)", ollamaModel, url, err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"-quick", "-scenarios", "ollama", "-targets", "direct,switchyard", "-ollama-url", url,
		"-ollama-requests", "3", "-ollama-max-tokens", "16", "-out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Ollama == nil || len(res.Ollama.Targets) != 3 {
		t.Fatalf("ollama result %+v", res.Ollama)
	}
	for _, tg := range res.Ollama.Targets {
		if tg.Requests != 3 || tg.Errors != 0 || tg.MedianTTFTms <= 0 || tg.MedianTokPerS <= 0 || tg.MedianChunks < 2 {
			t.Errorf("%s: %+v", tg.Target, tg)
		}
		if tg.Target != tgOllamaDirect && tg.TokRatio <= 0 {
			t.Errorf("%s: no ratio against direct", tg.Target)
		}
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-scenarios", "json,nope"},
		{"-targets", "elsewhere"},
		{"-rounds", "0"},
		{"-conns", "0"},
		{"-ollama-requests", "0"},
		{"-slice", "-1s"},
		{"extra"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func TestBaselineTarget(t *testing.T) {
	o, err := parseFlags([]string{"-baseline", "/bin/old-switchyard", "-targets", "fasthttp,switchyard"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.targets, ",") != "fasthttp,switchyard,baseline" {
		t.Errorf("targets %v: -baseline must add the baseline target", o.targets)
	}
	if _, err := parseFlags([]string{"-targets", "switchyard,baseline"}, &bytes.Buffer{}); err == nil {
		t.Error("target baseline without -baseline accepted")
	}
	// The A/B ratio pairs the rounds: drift between rounds cancels.
	res := &results{Cells: []*cell{
		{Scenario: scJSON, Target: tgSwitchyard, Mode: modeCN, Samples: []sample{{Round: 1, CPUus: 50}, {Round: 2, CPUus: 100}, {Round: 3, CPUus: 66}}},
		{Scenario: scJSON, Target: tgBaseline, Mode: modeCN, Samples: []sample{{Round: 1, CPUus: 55}, {Round: 2, CPUus: 110}, {Round: 3, CPUus: 60}}},
	}}
	aggregate(res)
	if got := res.Cells[0].CPUxBaseline; got != 0.909 {
		t.Errorf("switchyard ÷ baseline %v, want 0.909 (median of 0.909, 0.909, 1.1)", got)
	}
	if res.Cells[1].CPUxBaseline != 0 {
		t.Error("the baseline has a ratio to itself")
	}
}
