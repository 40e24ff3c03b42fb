// Command switchyard is an LLM gateway: the OpenAI and Anthropic APIs in
// front of Ollama, vLLM and any OpenAI-compatible server, the OpenAI API and
// the Anthropic API, configured with LiteLLM's litellm_config.yaml.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/logging"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type flags struct {
	config        string
	port          int
	host          string
	numWorkers    int
	model         string
	detailedDebug bool
	debug         bool
	jsonLogs      bool
	drain         time.Duration
}

func newFlagSet(name string, stderr io.Writer, f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "path to a LiteLLM-format config file (litellm_config.yaml)")
	fs.IntVar(&f.port, "port", 4000, "port to listen on")
	fs.StringVar(&f.host, "host", "0.0.0.0", "address to listen on")
	fs.IntVar(&f.numWorkers, "num_workers", 0, "accepted for LiteLLM compatibility and ignored: one Switchyard process already\nserves on every CPU core (Go schedules goroutines on all of them); run more replicas\nbehind a load balancer to use more machines")
	fs.StringVar(&f.model, "model", "", "serve this one model without a config file, e.g. ollama/qwen2.5:7b")
	fs.BoolVar(&f.detailedDebug, "detailed_debug", false, "log at debug level (upstream URLs, retries, timings; still no keys or prompts)")
	fs.BoolVar(&f.debug, "debug", false, "same as --detailed_debug")
	fs.BoolVar(&f.jsonLogs, "json_logs", false, "write logs as JSON lines")
	fs.DurationVar(&f.drain, "drain_timeout", 30*time.Second, "on SIGTERM/SIGINT, how long in-flight requests and streams may run before they are cut")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Switchyard %s: an LLM gateway that reads LiteLLM's config.

Usage:
  switchyard [flags]                     serve (default port 4000)
  switchyard check --config FILE         validate a config and print the resolved model table
  switchyard version

With neither --config nor --model, Switchyard uses ./switchyard.yaml or
./litellm_config.yaml if present, else serves the models of a local Ollama
at 127.0.0.1:11434 under their own names.

Flags:
`, version)
		fs.PrintDefaults()
	}
	return fs
}

// run serves until ctx ends (SIGTERM/SIGINT in main), then drains.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runCheck(args[1:], stdout, stderr)
		case "version", "--version", "-version":
			fmt.Fprintln(stdout, "switchyard", version)
			return 0
		}
	}
	var f flags
	fs := newFlagSet("switchyard", stderr, &f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchyard: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	log, logw := logging.New(stderr, f.jsonLogs, f.detailedDebug || f.debug)
	defer func() { _ = logw.Close() }()
	cfg, source, err := loadConfig(f, log)
	if err != nil {
		_ = logw.Flush()
		return reportConfigError(stderr, err)
	}
	if cfg.LiteLLM.JSONLogs && !f.jsonLogs {
		_ = logw.Close()
		log, logw = logging.New(stderr, true, f.detailedDebug || f.debug)
	}
	if f.numWorkers > 1 {
		log.Info("--num_workers is accepted for LiteLLM compatibility and ignored: this one process serves on every CPU core", "num_workers", f.numWorkers)
	}
	for k, v := range cfg.Environment {
		_ = os.Setenv(k, v)
	}
	for _, w := range cfg.Warnings {
		log.Warn("config: " + w.String())
	}
	gw, err := gateway.New(cfg, gateway.Options{Logger: log})
	if err != nil {
		return reportConfigError(stderr, err)
	}
	defer gw.Close()
	addr := net.JoinHostPort(f.host, strconv.Itoa(f.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "switchyard: cannot listen on %s: %v\n", addr, err)
		return 1
	}
	log.Info("switchyard listening", "addr", ln.Addr().String(), "config", source,
		"groups", len(gw.Router().Groups()), "deployments", len(cfg.Deployments), "auth", cfg.General.MasterKey != "")
	if cfg.General.MasterKey == "" {
		log.Warn("no master_key is set: anyone who can reach this port can use the gateway; set general_settings.master_key or LITELLM_MASTER_KEY")
	}
	gw.Start(ctx)
	srv := gw.NewServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		log.Error("server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: no new connections; waiting for in-flight requests", "bound", f.drain)
	gw.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), f.drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests cut at the drain bound", "err", err)
		_ = srv.Close()
	}
	log.Info("stopped")
	return 0
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	var f flags
	fs := newFlagSet("switchyard check", stderr, &f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.config == "" && f.model == "" {
		fmt.Fprintln(stderr, "switchyard check: --config FILE is required")
		return 2
	}
	cfg, _, err := loadConfig(f, slog.New(slog.DiscardHandler))
	if err != nil {
		return reportConfigError(stderr, err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning:", w.String())
	}
	cfg.WriteTable(stdout)
	fmt.Fprintf(stdout, "ok: %d deployments\n", len(cfg.Deployments))
	return 0
}

func reportConfigError(stderr io.Writer, err error) int {
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintln(stderr, "switchyard: config error:", ce.Error())
		return 2
	}
	fmt.Fprintln(stderr, "switchyard:", err)
	return 2
}
