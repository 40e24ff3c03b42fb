package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/fakeup"
)

// lockedBuffer is a bytes.Buffer safe for the server's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var addrRE = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)

// serve runs the command in-process until the returned stop is called; it
// returns the address it listens on.
func serve(t *testing.T, args ...string) (addr string, logs *lockedBuffer, stop func() int) {
	t.Helper()
	// Config paths are made absolute and the command runs in a temp dir, so
	// the spend database it makes lands there.
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--config" && !filepath.IsAbs(args[i+1]) {
			abs, err := filepath.Abs(args[i+1])
			if err != nil {
				t.Fatal(err)
			}
			args[i+1] = abs
		}
	}
	if _, err := os.Stat("main.go"); err == nil {
		t.Chdir(t.TempDir())
	}
	t.Setenv("SWITCHYARD_DATA_DIR", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	logs = &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"--host", "127.0.0.1", "--port", "0"}, args...), io.Discard, logs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrRE.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("exited %d before listening:\n%s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatalf("not listening after 10s:\n%s", logs.String())
	}
	return addr, logs, func() int { cancel(); return <-done }
}

func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSeedConfigsStartUnchanged(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-test")
	t.Setenv("LITELLM_MASTER_KEY", "sk-1234")
	for _, name := range []string{"litellm_config.yaml", "routing_and_fallback.yaml", "task_models.yaml"} {
		t.Run(name, func(t *testing.T) {
			addr, logs, stop := serve(t, "--config", filepath.Join("..", "..", "testdata", "seed", name))
			if code, body := get(t, "http://"+addr+"/health/liveliness", ""); code != 200 {
				t.Fatalf("liveliness %d %s", code, body)
			}
			code, body := get(t, "http://"+addr+"/v1/models", "sk-1234")
			if code != 200 || !strings.Contains(body, "claude-3-5-sonnet") {
				t.Fatalf("models %d %s", code, body)
			}
			if code := stop(); code != 0 {
				t.Fatalf("exit %d:\n%s", code, logs.String())
			}
			if !strings.Contains(logs.String(), "config: ") {
				t.Errorf("no config warnings reported for a seed file that has ignored keys:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), "sk-1234") || strings.Contains(logs.String(), "sk-ant-test") {
				t.Fatalf("a key appears in the log")
			}
		})
	}
}

func TestConfigErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ yaml, want string }{
		"malformed":              {"model_list:\n  - model_name: x\n    litellm_params: [\n", "bad.yaml:"},
		"unknown provider":       {"model_list:\n  - model_name: x\n    litellm_params:\n      model: nosuch/model\n", "bad.yaml:4:"},
		"bad strategy":           {"model_list:\n  - model_name: x\n    litellm_params:\n      model: ollama/x\nrouter_settings:\n  routing_strategy: fastest\n", "bad.yaml:6:"},
		"missing master key var": {"model_list:\n  - model_name: x\n    litellm_params:\n      model: ollama/x\ngeneral_settings:\n  master_key: os.environ/SWITCHYARD_TEST_UNSET_VAR\n", "SWITCHYARD_TEST_UNSET_VAR"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			code := run(context.Background(), []string{"--config", path}, io.Discard, &stderr)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) || !strings.Contains(stderr.String(), "hint") {
				t.Fatalf("stderr lacks %q and a hint:\n%s", c.want, stderr.String())
			}
			code = run(context.Background(), []string{"check", "--config", path}, io.Discard, &stderr)
			if code != 2 {
				t.Fatalf("check exit %d, want 2", code)
			}
		})
	}
}

func TestCheckPrintsTable(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-test")
	var out bytes.Buffer
	code := run(context.Background(), []string{"check", "--config", "../../testdata/seed/routing_and_fallback.yaml"}, &out, io.Discard)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	for _, want := range []string{"claude-3-5-sonnet-20241022", "ollama", "anthropic", "ok: 3 deployments"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("check output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "sk-ant-test") {
		t.Fatal("check prints an api key")
	}
}

func TestModelFlag(t *testing.T) {
	t.Setenv("LITELLM_MASTER_KEY", "")
	addr, _, stop := serve(t, "--model", "ollama/qwen2.5:7b")
	defer stop()
	code, body := get(t, "http://"+addr+"/v1/models", "")
	if code != 200 || !strings.Contains(body, `"ollama/qwen2.5:7b"`) || !strings.Contains(body, `"qwen2.5:7b"`) {
		t.Fatalf("models %d %s", code, body)
	}
}

func TestNoFlagsFallsBackToOllama(t *testing.T) {
	t.Setenv("LITELLM_MASTER_KEY", "")
	dir := t.TempDir()
	t.Chdir(dir)
	old := defaultOllama
	defaultOllama = "http://127.0.0.1:1" // nothing listens there
	defer func() { defaultOllama = old }()
	addr, logs, stop := serve(t)
	if !strings.Contains(logs.String(), "no Ollama answering") {
		t.Fatalf("start-up did not say what it did:\n%s", logs.String())
	}
	if code, _ := get(t, "http://"+addr+"/health/liveliness", ""); code != 200 {
		t.Fatalf("liveliness %d", code)
	}
	stop()

	// A config file in the working directory is picked up.
	if err := os.WriteFile("litellm_config.yaml", []byte("model_list:\n  - model_name: from-file\n    litellm_params:\n      model: ollama/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr2, logs2, stop2 := serve(t)
	defer stop2()
	if code, body := get(t, "http://"+addr2+"/v1/models", ""); code != 200 || !strings.Contains(body, "from-file") {
		t.Fatalf("models %d %s\n%s", code, body, logs2.String())
	}
}

func TestNoFlagsServesOllamaModels(t *testing.T) {
	t.Setenv("LITELLM_MASTER_KEY", "")
	dir := t.TempDir()
	t.Chdir(dir)
	up := fakeup.New(fakeup.Ollama)
	defer up.Close()
	up.Models = []string{"qwen2.5:7b", "llama3.1:8b"}
	old := defaultOllama
	defaultOllama = up.URL
	defer func() { defaultOllama = old }()
	addr, logs, stop := serve(t)
	defer stop()
	if !strings.Contains(logs.String(), "serving the models of the local Ollama") {
		t.Fatalf("start-up did not say what it did:\n%s", logs.String())
	}
	code, body := get(t, "http://"+addr+"/v1/models", "")
	if code != 200 || !strings.Contains(body, `"qwen2.5:7b"`) || !strings.Contains(body, `"llama3.1:8b"`) {
		t.Fatalf("models %d %s", code, body)
	}
}

func TestShutdownLetsStreamsFinish(t *testing.T) {
	t.Setenv("LITELLM_MASTER_KEY", "")
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	up.Script = func(int, fakeup.Request) fakeup.Reply {
		return fakeup.Reply{Text: "one two three four five six", Chunks: 6, EventDelay: 100 * time.Millisecond}
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	cfg := "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/m\n      api_base: " + up.URL + "/v1\n"
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, logs, stop := serve(t, "--config", path)
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 1)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	codec := make(chan int, 1)
	go func() { codec <- stop() }()
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("stream cut by shutdown: %v", err)
	}
	if !strings.Contains(string(rest), "[DONE]") {
		t.Fatalf("stream did not finish:\n%s", rest)
	}
	if code := <-codec; code != 0 {
		t.Fatalf("exit %d\n%s", code, logs.String())
	}
}
