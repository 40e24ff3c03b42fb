//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchyard/switchyard/internal/fakeup"
)

// ccTimeout bounds one Claude Code run. Claude Code retries a failing
// gateway for about three minutes, so a broken gateway ends here.
const ccTimeout = 90 * time.Second

// ccBinary finds the Claude Code CLI: $SWITCHYARD_CLAUDE, else the path
// scripts/claude-code.sh installs to. Missing, it fails under CI=true and
// skips elsewhere.
func ccBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("SWITCHYARD_CLAUDE")
	if bin == "" {
		cache := os.Getenv("SWITCHYARD_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "switchyard")
		}
		bin = filepath.Join(cache, "claude-code", "node_modules", ".bin", "claude")
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		msg := fmt.Sprintf("Claude Code CLI not found at %s: install it with `bash scripts/claude-code.sh` (or set SWITCHYARD_CLAUDE)", bin)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

func ccToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tok" + hex.EncodeToString(b[:])
}

// ccExchange is one request Claude Code made to the gateway, as seen by the
// recording proxy between them.
type ccExchange struct {
	At       time.Time
	Method   string
	URI      string
	ReqHdr   http.Header
	ReqBody  []byte
	Status   int
	RespHdr  http.Header
	Done     time.Time
	respBody bytes.Buffer
	mu       sync.Mutex
}

func (e *ccExchange) body() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.respBody.String()
}

const ccMaxCapture = 32 << 10

type ccTee struct {
	io.ReadCloser
	e *ccExchange
}

func (c *ccTee) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.e.mu.Lock()
	if room := ccMaxCapture - c.e.respBody.Len(); room > 0 {
		c.e.respBody.Write(p[:min(n, room)])
	}
	if err != nil && c.e.Done.IsZero() {
		c.e.Done = time.Now()
	}
	c.e.mu.Unlock()
	return n, err
}

func (c *ccTee) Close() error {
	c.e.mu.Lock()
	if c.e.Done.IsZero() {
		c.e.Done = time.Now()
	}
	c.e.mu.Unlock()
	return c.ReadCloser.Close()
}

// ccProxy is a transparent recording reverse proxy in front of the gateway,
// so that a failure shows what the gateway received and answered.
type ccProxy struct {
	*httptest.Server
	mu  sync.Mutex
	log []*ccExchange
}

func newCCProxy(t *testing.T, target string) *ccProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &ccProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath
		},
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			e, _ := resp.Request.Context().Value(ccExKey{}).(*ccExchange)
			if e != nil {
				e.mu.Lock()
				e.Status, e.RespHdr = resp.StatusCode, resp.Header.Clone()
				e.mu.Unlock()
				resp.Body = &ccTee{ReadCloser: resp.Body, e: e}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if e, _ := r.Context().Value(ccExKey{}).(*ccExchange); e != nil {
				e.mu.Lock()
				e.Status = -1
				e.respBody.WriteString("proxy: " + err.Error())
				e.mu.Unlock()
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		e := &ccExchange{At: time.Now(), Method: r.Method, URI: r.URL.RequestURI(), ReqHdr: r.Header.Clone(), ReqBody: body}
		p.mu.Lock()
		p.log = append(p.log, e)
		p.mu.Unlock()
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ccExKey{}, e)))
	}))
	t.Cleanup(p.Close)
	return p
}

type ccExKey struct{}

// exchanges returns the recorded exchanges, optionally only those whose
// path contains sub.
func (p *ccProxy) exchanges(sub string) []*ccExchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*ccExchange
	for _, e := range p.log {
		if strings.Contains(e.URI, sub) {
			out = append(out, e)
		}
	}
	return out
}

// dump renders the exchanges for a failure report.
func (p *ccProxy) dump() string {
	var b strings.Builder
	for i, e := range p.exchanges("") {
		e.mu.Lock()
		fmt.Fprintf(&b, "#%d %s %s %s -> %d", i, e.At.Format("15:04:05.000"), e.Method, e.URI, e.Status)
		if len(e.ReqBody) > 0 {
			fmt.Fprintf(&b, " [req %d B, model=%s stream=%s msgs=%d auth=%q x-api-key=%q]", len(e.ReqBody),
				gjson.GetBytes(e.ReqBody, "model").Str, gjson.GetBytes(e.ReqBody, "stream").Raw,
				len(gjson.GetBytes(e.ReqBody, "messages").Array()), redact(e.ReqHdr.Get("Authorization")), redact(e.ReqHdr.Get("X-Api-Key")))
		}
		for _, h := range []string{"Content-Type", "Retry-After", "Request-Id"} {
			if v := e.RespHdr.Get(h); v != "" {
				fmt.Fprintf(&b, " %s=%s", h, v)
			}
		}
		if !e.Done.IsZero() {
			fmt.Fprintf(&b, " (%.2fs)", e.Done.Sub(e.At).Seconds())
		}
		body := e.respBody.String()
		e.mu.Unlock()
		if len(body) > 3000 {
			body = body[:3000] + "…"
		}
		if body != "" {
			fmt.Fprintf(&b, "\n    %s", strings.ReplaceAll(strings.TrimSpace(body), "\n", "\n    "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func redact(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// ccUpstream wraps a fake upstream's script to note when each chat request
// arrived.
type ccUpstream struct {
	*fakeup.Server
	mu    sync.Mutex
	times []time.Time
}

func newCCUpstream(t *testing.T, d fakeup.Dialect, script func(n int, r fakeup.Request) fakeup.Reply) *ccUpstream {
	u := &ccUpstream{Server: fakeup.New(d)}
	u.Script = func(n int, r fakeup.Request) fakeup.Reply {
		u.mu.Lock()
		u.times = append(u.times, time.Now())
		u.mu.Unlock()
		return script(n, r)
	}
	t.Cleanup(u.Close)
	return u
}

func (u *ccUpstream) arrivals() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.times...)
}

// chats returns the chat requests the upstream received.
func (u *ccUpstream) chats() []fakeup.Request {
	var out []fakeup.Request
	for _, r := range u.Requests() {
		p := r.Path
		if strings.HasSuffix(p, "/chat/completions") || strings.HasSuffix(p, "/v1/messages") || p == "/api/chat" {
			out = append(out, r)
		}
	}
	return out
}

// dump summarises the upstream's requests for a failure report.
func (u *ccUpstream) dump() string {
	var b strings.Builder
	times := u.arrivals()
	for i, r := range u.chats() {
		at := ""
		if i < len(times) {
			at = times[i].Format("15:04:05.000")
		}
		m := r.JSON()
		msgs, _ := m["messages"].([]any)
		fmt.Fprintf(&b, "#%d %s %s %s [%d B, model=%v stream=%v msgs=%d tool_results=%q]\n", i, at, r.Method, r.Path,
			len(r.Body), m["model"], m["stream"], len(msgs), r.ToolResults())
		if len(msgs) > 0 {
			last, _ := json.Marshal(msgs[len(msgs)-1])
			if len(last) > 1500 {
				last = append(last[:1500], "…"...)
			}
			fmt.Fprintf(&b, "    last message: %s\n", last)
		}
	}
	return b.String()
}

// ccRun is one Claude Code invocation.
type ccRun struct {
	Stdout, Stderr string
	Err            error
	Elapsed        time.Duration
	Out            struct {
		Type     string `json:"type"`
		Subtype  string `json:"subtype"`
		IsError  bool   `json:"is_error"`
		Result   string `json:"result"`
		NumTurns int    `json:"num_turns"`
	}
	ParseErr error
}

type ccOpts struct {
	BaseURL string
	Model   string
	// APIKey sends the key as ANTHROPIC_API_KEY (X-Api-Key) instead of
	// ANTHROPIC_AUTH_TOKEN (Authorization: Bearer).
	APIKey bool
	Prompt string
	// Args are extra flags, after the defaults.
	Args []string
	// Env are extra environment variables (NAME=value).
	Env []string
}

// runClaude runs `claude -p` non-interactively in a temp dir with a
// throwaway HOME and a minimal environment.
func runClaude(t *testing.T, bin string, o ccOpts) *ccRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ccTimeout)
	defer cancel()
	if o.Prompt == "" {
		o.Prompt = "Run the command that prints the token, then report what it printed."
	}
	home, work := t.TempDir(), t.TempDir()
	args := append([]string{"-p", o.Prompt, "--output-format", "json", "--allowedTools", "Bash", "--model", o.Model}, o.Args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = work
	keyVar := "ANTHROPIC_AUTH_TOKEN"
	if o.APIKey {
		keyVar = "ANTHROPIC_API_KEY"
	}
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"ANTHROPIC_BASE_URL=" + o.BaseURL,
		keyVar + "=" + masterKey,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
		"DISABLE_AUTOUPDATER=1",
	}
	cmd.Env = append(cmd.Env, o.Env...)
	// Own process group, so a timeout also ends the shells the Bash tool started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	run := &ccRun{Stdout: stdout.String(), Stderr: stderr.String(), Err: err, Elapsed: time.Since(start)}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		run.Err = fmt.Errorf("claude did not finish within %v (killed): %w", ccTimeout, err)
	}
	out := strings.TrimSpace(run.Stdout)
	if i := strings.LastIndex(out, "\n{"); i >= 0 {
		out = out[i+1:]
	}
	run.ParseErr = json.Unmarshal([]byte(out), &run.Out)
	return run
}

func (r *ccRun) String() string {
	return fmt.Sprintf("claude ran %.1fs, err=%v\nstdout: %s\nstderr: %s", r.Elapsed.Seconds(), r.Err, r.Stdout, r.Stderr)
}
