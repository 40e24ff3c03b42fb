package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/httpd"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/router"
)

// heldLog holds every request log line until released.
type heldLog struct {
	entered chan struct{}
	release chan struct{}
}

func (h *heldLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *heldLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *heldLog) WithGroup(string) slog.Handler            { return h }
func (h *heldLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "request" {
		h.entered <- struct{}{}
		<-h.release
	}
	return nil
}

// The response reaches the client before the request's log line is
// written: a slow log costs the client nothing.
func TestResponseOutBeforeLogLine(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(readAll(r.Body), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\ndata: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	defer up.Close()
	deps := testDeployments(t, `
model_list:
  - model_name: m
    litellm_params: {model: openai/up, api_base: "`+up.URL+`/v1", api_key: sk-up}
`, provider.NewPool())
	h := &heldLog{entered: make(chan struct{}, 1), release: make(chan struct{})}
	log := slog.New(h)
	s := New(router.New(deps, nil, router.Options{Logger: slog.New(slog.DiscardHandler)}), Options{Logger: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &httpd.Server{Handler: s, Logger: slog.New(slog.DiscardHandler)}
	go hs.Serve(ln)
	defer hs.Close()

	client := &http.Client{Timeout: 5 * time.Second}
	for _, stream := range []bool{false, true} {
		body := `{"model":"m","messages":[{"role":"user","content":"hello"}]}`
		if stream {
			body = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hello"}]}`
		}
		resp, err := client.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("stream=%v: %v (the response waited for the log line?)", stream, err)
		}
		got := readAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(got, "hi") {
			t.Fatalf("stream=%v: %d %q", stream, resp.StatusCode, got)
		}
		select {
		case <-h.entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("stream=%v: no log line", stream)
		}
		h.release <- struct{}{}
	}
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
