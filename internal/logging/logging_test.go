package logging

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flush timer's goroutine.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

func TestInfoLinesAreBatchedAndWrittenWithinTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		log, w := New(&out, false, false)
		defer w.Close()
		for i := range 100 {
			log.Info("request", "n", i)
		}
		if out.Writes() != 0 {
			t.Fatalf("info lines were written at once (%d writes); want them buffered", out.Writes())
		}
		time.Sleep(FlushInterval + time.Millisecond)
		synctest.Wait()
		if got := strings.Count(out.String(), "msg=request"); got != 100 {
			t.Fatalf("after the flush interval %d of 100 lines are out", got)
		}
		if out.Writes() != 1 {
			t.Fatalf("100 lines took %d writes; want 1", out.Writes())
		}
	})
}

func TestWarningFlushesEverythingBeforeIt(t *testing.T) {
	var out lockedBuffer
	log, w := New(&out, true, false)
	defer w.Close()
	log.Info("first")
	log.With("k", "v").Warn("second")
	s := out.String()
	if !strings.Contains(s, `"msg":"first"`) || !strings.Contains(s, `"msg":"second"`) || !strings.Contains(s, `"k":"v"`) {
		t.Fatalf("a warning must write itself and the lines before it at once; got %q", s)
	}
	if strings.Index(s, "first") > strings.Index(s, "second") {
		t.Fatalf("lines out of order: %q", s)
	}
}

func TestDebugLevelAndClose(t *testing.T) {
	var out lockedBuffer
	log, w := New(&out, false, false)
	log.Debug("hidden")
	log.Info("kept")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "kept") {
		t.Fatalf("close must flush info and debug must be off: %q", s)
	}
	log.Info("after close")
	if !strings.Contains(out.String(), "after close") {
		t.Fatal("a write after Close must go straight through")
	}
	dlog, dw := New(&out, false, true)
	dlog.Debug("shown")
	_ = dw.Close()
	if !strings.Contains(out.String(), "shown") {
		t.Fatal("debug logger dropped a debug line")
	}
}

func TestFullBufferIsWrittenAtOnce(t *testing.T) {
	var out lockedBuffer
	w := NewWriter(&out)
	defer w.Close()
	line := bytes.Repeat([]byte("x"), 1024)
	for range maxBuffered / len(line) {
		_, _ = w.Write(line)
	}
	if out.Writes() != 1 {
		t.Fatalf("a full buffer must be written without waiting; %d writes", out.Writes())
	}
}

func BenchmarkInfoLine(b *testing.B) {
	var out lockedBuffer
	log, w := New(&out, false, false)
	defer w.Close()
	b.ReportAllocs()
	for b.Loop() {
		log.Info("request", "request_id", "req_0123456789abcdef01234567", "status", 200, "duration", time.Millisecond)
	}
}
