package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/fakeup"
	"github.com/switchyard/switchyard/internal/spend"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// startBinary runs the built gateway and waits until it is ready.
func startBinary(t *testing.T, bin, cfg, port, dataDir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "--config", cfg, "--host", "127.0.0.1", "--port", port)
	// Journal appends are held back 20 ms: a record written after its
	// response would be lost by the kill; a durable one is not.
	cmd.Env = append(os.Environ(), "SWITCHYARD_DATA_DIR="+dataDir, "SWITCHYARD_FAULT_JOURNAL_DELAY=20ms")
	cmd.Dir = dataDir
	logf, err := os.Create(filepath.Join(dataDir, "gateway-"+port+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://127.0.0.1:" + port + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(logf.Name())
	t.Fatalf("gateway not ready:\n%s", b)
	return nil
}

// TestKill9LosesNoSpendRecord kills the gateway with SIGKILL in the middle of
// a load and checks that every response a client saw complete has its spend
// record after the next start.
func TestKill9LosesNoSpendRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "switchyard")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	up := fakeup.New(fakeup.OpenAI)
	defer up.Close()
	up.Script = func(n int, r fakeup.Request) fakeup.Reply {
		return fakeup.Reply{Chunks: 4, EventDelay: time.Millisecond}
	}
	db := "sqlite:///" + filepath.Join(dir, "spend.db")
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`model_list:
  - model_name: m
    litellm_params: {model: openai/m, api_base: %q}
general_settings:
  master_key: sk-crash
  database_url: %q
`, up.URL+"/v1", db)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	gw := startBinary(t, bin, cfg, port, dir)

	var mu sync.Mutex
	seen := map[string]bool{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 100000; i++ {
				stream := (w+i)%2 == 0
				body := fmt.Sprintf(`{"model":"m","stream":%t,"messages":[{"role":"user","content":"hi"}]}`, stream)
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://127.0.0.1:"+port+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer sk-crash")
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				complete := false
				if stream {
					sc := bufio.NewScanner(resp.Body)
					for sc.Scan() {
						if sc.Text() == "data: [DONE]" {
							complete = true
						}
					}
				} else {
					b, err := io.ReadAll(resp.Body)
					complete = err == nil && strings.Contains(string(b), `"choices"`)
				}
				resp.Body.Close()
				if resp.StatusCode == 200 && complete {
					mu.Lock()
					seen[resp.Header.Get("Request-Id")] = true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := gw.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = gw.Process.Wait()
	time.Sleep(100 * time.Millisecond)
	stop()
	wg.Wait()
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if n < 50 {
		t.Fatalf("only %d responses completed before the kill: not a load", n)
	}

	// The next start replays the journal into the database.
	startBinary(t, bin, cfg, freePort(t), dir)
	store, err := spend.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(20 * time.Second)
	var missing []string
	for {
		have := map[string]bool{}
		f := spend.Filter{Limit: spend.MaxLimit}
		for {
			recs, next, err := store.Query(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				have[r.ID] = true
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		missing = missing[:0]
		for id := range seen {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			t.Logf("%d responses completed before kill -9; all %d have spend records (%d records in all)", n, n, len(have))
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%d of %d responses the client saw have no spend record after kill -9, e.g. %v", len(missing), n, missing[:min(3, len(missing))])
}
