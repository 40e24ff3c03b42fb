package callbacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// exporter posts one batch. rejected counts records the collector refused
// while accepting the rest; err means the whole batch was lost.
type exporter interface {
	export(ctx context.Context, batch []*record.Record) (rejected int, err error)
}

// logEvery bounds how often a failing sink logs.
const logEvery = 10 * time.Second

// sink is one exporter behind a bounded queue and a single batching goroutine.
type sink struct {
	name     string
	filter   filter
	exp      exporter
	drops    DropCounter
	log      *slog.Logger
	batchMax int
	interval time.Duration
	timeout  time.Duration

	q    chan *record.Record
	stop chan struct{}
	done chan struct{}

	base   context.Context // cancelled when Close's ctx ends
	cancel context.CancelFunc

	mu     sync.RWMutex // closed is read under RLock by enqueue, set under Lock
	closed bool
	once   sync.Once

	lastLog atomic.Int64 // unix nanos of the last failure log
	lost    atomic.Int64 // drops since the last failure log
}

func newSink(name string, f filter, exp exporter, cfg Settings, timeout time.Duration, drops DropCounter, log *slog.Logger) *sink {
	base, cancel := context.WithCancel(context.Background())
	s := &sink{
		name:     name,
		filter:   f,
		exp:      exp,
		drops:    drops,
		log:      log.With("callback", name),
		batchMax: orInt(cfg.BatchSize, DefaultBatchSize),
		interval: orDuration(cfg.FlushInterval, DefaultFlushInterval),
		timeout:  timeout,
		q:        make(chan *record.Record, orInt(cfg.QueueSize, DefaultQueueSize)),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		base:     base,
		cancel:   cancel,
	}
	go s.run()
	return s
}

// enqueue never blocks: a full queue or a closed sink drops the record.
func (s *sink) enqueue(r *record.Record) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		s.dropped(1, "closed", nil)
		return
	}
	select {
	case s.q <- r:
		s.mu.RUnlock()
	default:
		s.mu.RUnlock()
		s.dropped(1, "queue full", nil)
	}
}

func (s *sink) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	batch := make([]*record.Record, 0, s.batchMax)
	flush := func() {
		if len(batch) > 0 {
			s.send(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case r := <-s.q:
			batch = append(batch, r)
			if len(batch) >= s.batchMax {
				flush()
			}
		case <-t.C:
			flush()
		case <-s.stop:
			for {
				select {
				case r := <-s.q:
					batch = append(batch, r)
					if len(batch) >= s.batchMax {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

func (s *sink) send(batch []*record.Record) {
	ctx, cancel := context.WithTimeout(s.base, s.timeout)
	defer cancel()
	rejected, err := s.exp.export(ctx, batch)
	switch {
	case err != nil:
		s.dropped(len(batch), "export failed", err)
	case rejected > 0:
		s.dropped(rejected, "collector rejected events", nil)
	}
}

// dropped counts n lost records and logs at most once per logEvery.
func (s *sink) dropped(n int, why string, err error) {
	for range n {
		s.drops.Dropped(s.name)
	}
	lost := s.lost.Add(int64(n))
	now := time.Now().UnixNano()
	last := s.lastLog.Load()
	if now-last < int64(logEvery) || !s.lastLog.CompareAndSwap(last, now) {
		return
	}
	s.lost.Add(-lost)
	attrs := []any{"reason", why, "dropped", lost}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	s.log.Warn("callback dropped records", attrs...)
}

// close stops intake and flushes; when ctx ends first, in-flight posts are
// cancelled and the remainder counted as dropped.
func (s *sink) close(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
	})
	select {
	case <-s.done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-s.done
		return fmt.Errorf("callback %s: flush: %w", s.name, ctx.Err())
	}
}

// maxErrorBody bounds how much of a collector's error reply is kept.
const maxErrorBody = 512

// postJSON POSTs body and returns the reply body of a 2xx answer.
func postJSON(ctx context.Context, c *http.Client, url string, body []byte, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("post %s: %w", url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post %s: %w", url, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("post %s: read reply: %w", url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if len(reply) > maxErrorBody {
			reply = reply[:maxErrorBody]
		}
		return nil, &StatusError{URL: url, Code: resp.StatusCode, Body: string(reply)}
	}
	return reply, nil
}

// StatusError is a non-2xx answer from a collector.
type StatusError struct {
	URL  string
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("post %s: status %d: %s", e.URL, e.Code, e.Body)
}

// ErrNotConfigured is wrapped when a sink lacks its URL or credentials.
var ErrNotConfigured = errors.New("not configured")
