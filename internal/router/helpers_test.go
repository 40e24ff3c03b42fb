package router

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/llm"
)

// dep makes a deployment of group with id; opts tune its config.
func dep(group, id string, opts ...func(*config.Deployment)) *Deployment {
	c := config.Deployment{ModelName: group, ID: id, Provider: "openai", Model: id, APIBase: "https://api.example.com/v1"}
	for _, o := range opts {
		o(&c)
	}
	return &Deployment{Cfg: c}
}

func weight(w float64) func(*config.Deployment) { return func(c *config.Deployment) { c.Weight = w } }
func rpm(n int) func(*config.Deployment)        { return func(c *config.Deployment) { c.RPM = n } }
func tpm(n int) func(*config.Deployment)        { return func(c *config.Deployment) { c.TPM = n } }
func parallel(n int) func(*config.Deployment) {
	return func(c *config.Deployment) { c.MaxParallelRequests = n }
}
func order(n int) func(*config.Deployment) { return func(c *config.Deployment) { c.Order = n } }
func maxInput(n int) func(*config.Deployment) {
	return func(c *config.Deployment) { c.Info.MaxInputTokens = n }
}
func isLocalDep() func(*config.Deployment) {
	return func(c *config.Deployment) { c.Provider, c.APIBase = "ollama", "http://localhost:11434" }
}
func cost(in, out float64) func(*config.Deployment) {
	return func(c *config.Deployment) { c.InputCostPerToken, c.OutputCostPerToken = &in, &out }
}

func intp(n int) *int { return &n }

// testRouter builds a router with a fixed seed and a log buffer.
func testRouter(t *testing.T, deps []*Deployment, opts Options) (*Router, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, nil))
	}
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	return New(deps, nil, opts), &logs
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// behaviour scripts what an attempt on each deployment does.
type behaviour func(ctx context.Context, t *Try) (bool, error)

func ok() behaviour { return func(context.Context, *Try) (bool, error) { return false, nil } }

func fail(kind llm.ErrorKind) behaviour {
	return func(context.Context, *Try) (bool, error) {
		return false, &llm.Error{Kind: kind, Message: "scripted " + kind.String()}
	}
}

func fail429(retryAfter time.Duration) behaviour {
	return func(context.Context, *Try) (bool, error) {
		return false, &llm.Error{Kind: llm.KindRateLimit, Status: 429, RetryAfter: retryAfter, Message: "slow down"}
	}
}

func slow(d time.Duration) behaviour {
	return func(ctx context.Context, _ *Try) (bool, error) {
		select {
		case <-time.After(d):
			return false, nil
		case <-ctx.Done():
			return false, &llm.Error{Kind: llm.KindClientGone, Err: ctx.Err()}
		}
	}
}

// script routes attempts to behaviours by deployment id and counts them.
type script struct {
	mu    sync.Mutex
	by    map[string]behaviour
	calls map[string]int
	seq   []string
}

func newScript(by map[string]behaviour) *script {
	return &script{by: by, calls: map[string]int{}}
}

func (s *script) set(id string, b behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.by[id] = b
}

func (s *script) attempt(ctx context.Context, t *Try) (bool, error) {
	s.mu.Lock()
	id := t.Deployment.ID()
	s.calls[id]++
	s.seq = append(s.seq, id)
	b := s.by[id]
	s.mu.Unlock()
	if b == nil {
		return false, nil
	}
	return b(ctx, t)
}

func (s *script) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (s *script) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.seq = map[string]int{}, nil
}

func run(t *testing.T, r *Router, group string, s *script, mod ...func(*Request)) (Result, error) {
	t.Helper()
	rt, err := r.Resolve(group)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Route: rt, NumRetries: -1}
	for _, m := range mod {
		m(&req)
	}
	return r.Run(context.Background(), req, s.attempt)
}

func kindOf(err error) llm.ErrorKind {
	var e *llm.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return llm.KindInternal
}

func cooling(t *testing.T, r *Router, id string) time.Time {
	t.Helper()
	s, err := r.opts.State.Read(context.Background(), []string{id}, time.Now().Unix()/60)
	if err != nil {
		t.Fatal(err)
	}
	if s[0].CooldownUntil.After(time.Now()) {
		return s[0].CooldownUntil
	}
	return time.Time{}
}
