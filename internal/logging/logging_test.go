package logging

import (
	"bytes"
	"fmt"
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

// gatedWriter blocks its first write until release is closed.
type gatedWriter struct {
	lockedBuffer
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return g.lockedBuffer.Write(p)
}

func TestSlowDestinationDoesNotBlockOtherWrites(t *testing.T) {
	g := &gatedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	w := NewWriter(g)
	defer w.Close()
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(g.release) }) }
	defer release() // before Close, or a failing run would hang in it
	big := bytes.Repeat([]byte("a"), maxBuffered)
	go func() { _, _ = w.Write(big) }() // fills the buffer: its flush blocks in the destination
	<-g.entered
	done := make(chan struct{})
	go func() {
		_, _ = w.Write([]byte("second\n"))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		release()
		<-done
		t.Fatal("a write waited for another goroutine's flush to a slow destination")
	}
	release()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := g.String(); got != string(big)+"second\n" {
		t.Fatalf("output out of order or incomplete: %d bytes, ends %q", len(got), got[max(0, len(got)-10):])
	}
}

func TestConcurrentFlushesKeepLineOrder(t *testing.T) {
	var out lockedBuffer
	w := NewWriter(&out)
	line := func(i int) string { return fmt.Sprintf("%06d %s\n", i, strings.Repeat("y", 900)) }
	const n = 2000
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() { // flushes racing the appends
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
				_ = w.Flush()
			}
		}
	}()
	for i := range n {
		_, _ = w.Write([]byte(line(i)))
	}
	close(stop)
	<-flushed
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range n {
		want.WriteString(line(i))
	}
	if out.String() != want.String() {
		t.Fatal("lines out of order or lost across concurrent flushes")
	}
	if out.Writes() < 2 {
		t.Fatalf("expected several flushes, got %d", out.Writes())
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
