// Package e2e drives a whole in-process gateway with real clients (the
// official OpenAI and Anthropic Go SDKs) against fake upstreams that speak
// each vendor's wire format and inject faults.
package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/gateway"
)

const masterKey = "sk-test-master"

// gw is a running gateway under test, served as cmd/switchyard serves it.
type gw struct {
	// URL is the gateway's base URL, http://127.0.0.1:port.
	URL  string
	logs *logBuffer
}

// startGateway loads yaml (with {{NAME}} replaced by vars) and serves it.
func startGateway(t *testing.T, yaml string, vars map[string]string) *gw {
	t.Helper()
	return startGatewayOpts(t, yaml, vars, gateway.Options{})
}

// startGatewayOpts is startGateway with gateway options (the logger is set here).
func startGatewayOpts(t *testing.T, yaml string, vars map[string]string, opts gateway.Options) *gw {
	t.Helper()
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.MapEnv(map[string]string{}))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Logger = log
	if opts.DefaultDatabase == "" {
		opts.DefaultDatabase = "sqlite:///" + filepath.Join(t.TempDir(), "spend.db")
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	g, err := gateway.New(cfg, opts)
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.Start(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := g.NewServer()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		_ = g.Close()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	return &gw{URL: "http://" + ln.Addr().String(), logs: logs}
}

// do sends a raw request with the master key.
func (g *gw) do(t *testing.T, method, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+masterKey)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}
