package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/cmd/switchyard-bench/internal/forward"
	"github.com/switchyard/switchyard/cmd/switchyard-bench/internal/load"
	"github.com/switchyard/switchyard/cmd/switchyard-bench/internal/upstream"
	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/logging"
)

// roleEnv, when set, makes the binary (or the test binary) serve one of the
// benchmark's subprocess roles instead of running the benchmark.
const roleEnv = "SWITCHYARD_BENCH_ROLE"

// Roles.
const (
	roleUpstream = "upstream"
	roleFast     = "fwd-fast"
	roleStd      = "fwd-std"
	roleHTTPD    = "fwd-httpd"
	roleGateway  = "gateway"
)

// ready is the one JSON line a role prints on stdout once it serves.
type ready struct {
	Listeners []upstream.Listener `json:"listeners,omitempty"`
	Addr      string              `json:"addr,omitempty"`
}

// runRole serves role until SIGTERM/SIGINT or until its parent goes away.
func runRole(role string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "json:2", "upstream: mode:count,...")
	events := fs.Int("events", 10, "upstream: data events per stream")
	latency := fs.Duration("latency", 0, "upstream: delay before each reply")
	eventDelay := fs.Duration("event-delay", 100*time.Millisecond, "upstream: delay between events in slow mode")
	routes := fs.String("routes", "", "forwarders: model=host:port,...")
	cfgPath := fs.String("config", "", "gateway: config file")
	addr := fs.String("addr", "127.0.0.1:0", "forwarders and gateway: listen address (loopback)")
	pprofAddr := fs.String("pprof", "", "gateway: serve net/http/pprof on this loopback address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: %v\n", role, err)
		return 1
	}
	say := func(r ready) {
		b, _ := json.Marshal(r)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	if role != roleUpstream {
		if err := load.CheckLoopback(*addr); err != nil {
			return fail(err)
		}
	}
	switch role {
	case roleUpstream:
		counts, order, err := upstream.ParseCounts(*listen)
		if err != nil {
			return fail(err)
		}
		ls, err := upstream.Serve(counts, order, upstream.Options{Events: *events, Latency: *latency, EventDelay: *eventDelay})
		if err != nil {
			return fail(err)
		}
		say(ready{Listeners: ls})
	case roleFast, roleStd, roleHTTPD:
		rt, err := forward.ParseRoutes(*routes)
		if err != nil {
			return fail(err)
		}
		for _, a := range rt {
			if err := load.CheckLoopback(a); err != nil {
				return fail(err)
			}
		}
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return fail(err)
		}
		serve := forward.ServeFast
		switch role {
		case roleStd:
			serve = forward.ServeStd
		case roleHTTPD:
			serve = forward.ServeHTTPD
		}
		go func() {
			if err := serve(ln, rt); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", role, err)
			}
		}()
		say(ready{Addr: ln.Addr().String()})
	case roleGateway:
		if err := serveGateway(ctx, *cfgPath, *addr, *pprofAddr, stdout, stderr); err != nil {
			return fail(err)
		}
		return 0
	default:
		return fail(fmt.Errorf("unknown role %q", role))
	}
	<-ctx.Done()
	return 0
}

// serveGateway runs the gateway as cmd/switchyard does (same wiring, same
// http.Server settings), plus a pprof listener: the profiling stand-in for
// the real binary, which has no pprof endpoint.
func serveGateway(ctx context.Context, cfgPath, addr, pprofAddr string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(cfgPath, os.LookupEnv)
	if err != nil {
		return err
	}
	log, logw := logging.New(stderr, false, false)
	defer func() { _ = logw.Close() }()
	gw, err := gateway.New(cfg, gateway.Options{Logger: log})
	if err != nil {
		return err
	}
	defer gw.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	gw.Start(ctx)
	srv := gw.NewServer()
	go func() { _ = srv.Serve(ln) }()
	if pprofAddr != "" {
		if err := load.CheckLoopback(pprofAddr); err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pl, err := net.Listen("tcp", pprofAddr)
		if err != nil {
			return err
		}
		go func() { _ = http.Serve(pl, mux) }()
		b, _ := json.Marshal(ready{Addr: pl.Addr().String()})
		fmt.Fprintf(stdout, "%s\n", b)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}
