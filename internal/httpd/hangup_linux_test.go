package httpd

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// On Linux a long request costs its connection's goroutine and nothing
// more: the hang-up watcher, not a reading goroutine, watches its client.
func TestLongRequestsHoldNoWatcherGoroutine(t *testing.T) {
	const n = 20
	var started sync.WaitGroup
	started.Add(n)
	gone := make(chan error, n)
	_, addr := start(t, func(w *Response, r *Request) {
		started.Done()
		select {
		case <-r.Context().Done():
			gone <- context.Cause(r.Context())
		case <-time.After(10 * time.Second):
			gone <- nil
		}
	})
	base := runtime.NumGoroutine()
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = dial(t, addr)
		conns[i].send("POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}")
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // past WatchAfter
	if extra := runtime.NumGoroutine() - base; extra > n+n/2 {
		t.Fatalf("%d goroutines for %d long requests, want about one each", extra, n)
	}
	for _, rc := range conns {
		rc.c.Close()
	}
	for range n {
		if err := <-gone; !errors.Is(err, ErrClientGone) {
			t.Fatalf("context cause %v, want ErrClientGone", err)
		}
	}
}
