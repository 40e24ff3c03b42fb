package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// proc is one subprocess of the benchmark.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// startProc starts bin with args; stderr (and stdout unless readyLine)
// goes to dir/name.log. With readyLine, the first stdout line is decoded
// into ready.
func startProc(dir, name, bin string, args, env []string, readyLine bool, timeout time.Duration) (*proc, ready, error) {
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, ready{}, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = lf
	// The child dies with the benchmark, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out *bufio.Reader
	if readyLine {
		pr, err := cmd.StdoutPipe()
		if err != nil {
			lf.Close()
			return nil, ready{}, err
		}
		out = bufio.NewReader(pr)
	} else {
		cmd.Stdout = lf
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, ready{}, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); lf.Close(); close(p.done) }()
	var r ready
	if readyLine {
		type lineRes struct {
			line string
			err  error
		}
		ch := make(chan lineRes, 1)
		go func() {
			l, err := out.ReadString('\n')
			ch <- lineRes{l, err}
			// Keep draining so the child never blocks on a full pipe.
			_, _ = out.WriteTo(discard{})
		}()
		select {
		case lr := <-ch:
			if lr.err != nil {
				p.stop()
				return nil, r, fmt.Errorf("%s did not start: %v (log %s: %s)", name, lr.err, logPath, tail(logPath))
			}
			if err := json.Unmarshal([]byte(lr.line), &r); err != nil {
				p.stop()
				return nil, r, fmt.Errorf("%s: bad ready line %q", name, lr.line)
			}
		case <-time.After(timeout):
			p.stop()
			return nil, r, fmt.Errorf("%s did not start within %s (log %s)", name, timeout, logPath)
		}
	}
	return p, r, nil
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 800 {
		b = b[len(b)-800:]
	}
	return string(b)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls GET url until it answers 200 or timeout passes; it
// returns the time of the first 200 (polling every interval).
func waitReady(ctx context.Context, p *proc, url string, interval, timeout time.Duration) (time.Time, error) {
	c := &http.Client{Timeout: 250 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if p != nil && p.exited() {
			return time.Time{}, fmt.Errorf("%s exited before it was ready (log %s: %s)", p.name, p.log, tail(p.log))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		time.Sleep(interval)
	}
	return time.Time{}, fmt.Errorf("%s not ready at %s within %s", nameOf(p), url, timeout)
}

func nameOf(p *proc) string {
	if p == nil {
		return "process"
	}
	return p.name
}

func itoa(n int) string { return strconv.Itoa(n) }
