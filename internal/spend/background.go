package spend

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// OpenBackground returns a SQLite store at once and opens it (connection
// and migrations) on a goroutine of its own, so that the gateway serves
// while that runs: every record is in the spend journal before its
// response ends, and the inserter takes records from there once the store
// is open. The file is created (or opened) here, so that a path that
// cannot hold one fails now, as Open does. Any other database_url is
// opened by Open, in the caller's time.
//
// Every method waits for the open (or for its context). An open that
// failed is tried again by the next call, at most once per second: the
// inserter keeps retrying with its back-off.
func OpenBackground(databaseURL string, log *slog.Logger) (Store, error) {
	u := strings.TrimSpace(databaseURL)
	if !strings.HasPrefix(u, "sqlite:") {
		return Open(databaseURL)
	}
	dsn, err := sqliteDSN(u)
	if err != nil {
		return nil, err
	}
	if path, ok := strings.CutPrefix(dsn, "file:"); ok {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("sqlite %s: %w", path, err)
		}
		f.Close()
	}
	b := &backgroundStore{url: databaseURL, log: log, done: make(chan struct{})}
	go b.open()
	return b, nil
}

// backgroundStore is a Store that opens in the background.
type backgroundStore struct {
	url  string
	log  *slog.Logger
	done chan struct{} // closed when the first open ends

	mu       sync.Mutex
	s        positionedStore
	err      error
	failedAt time.Time
	closed   bool
}

var _ positionedStore = (*backgroundStore)(nil)

func (b *backgroundStore) open() {
	defer close(b.done)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.openLocked()
}

// openLocked opens the store; called with mu held.
func (b *backgroundStore) openLocked() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenContext(ctx, b.url)
	if err == nil {
		ps, ok := s.(positionedStore)
		if !ok {
			s.Close()
			err = fmt.Errorf("spend store %T commits no journal positions", s)
		} else {
			b.s, b.err = ps, nil
			return
		}
	}
	b.err, b.failedAt = err, time.Now()
	b.log.Error("spend log database cannot be opened; records wait in the spend journal", "err", err)
}

// store waits for the open and returns the store or why there is none.
func (b *backgroundStore) store(ctx context.Context) (positionedStore, error) {
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("spend store closed")
	}
	if b.s == nil && time.Since(b.failedAt) >= time.Second {
		b.openLocked()
	}
	return b.s, b.err
}

func (b *backgroundStore) Insert(ctx context.Context, recs []*record.Record) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	return s.Insert(ctx, recs)
}

func (b *backgroundStore) Query(ctx context.Context, f Filter) ([]*record.Record, string, error) {
	s, err := b.store(ctx)
	if err != nil {
		return nil, "", err
	}
	return s.Query(ctx, f)
}

func (b *backgroundStore) Report(ctx context.Context, q ReportQuery) ([]ReportRow, error) {
	s, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	return s.Report(ctx, q)
}

func (b *backgroundStore) Stats(ctx context.Context, since, until time.Time) (*Stats, error) {
	s, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	return s.Stats(ctx, since, until)
}

func (b *backgroundStore) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	s, err := b.store(ctx)
	if err != nil {
		return 0, err
	}
	return s.DeleteBefore(ctx, t)
}

func (b *backgroundStore) Ping(ctx context.Context) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	return s.Ping(ctx)
}

func (b *backgroundStore) insertBatch(ctx context.Context, jb *journalBatch) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	return s.insertBatch(ctx, jb)
}

func (b *backgroundStore) committedPos(ctx context.Context, journal string) (journalPos, error) {
	s, err := b.store(ctx)
	if err != nil {
		return journalPos{}, err
	}
	return s.committedPos(ctx, journal)
}

// Close waits for the open, then closes the store.
func (b *backgroundStore) Close() error {
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.s == nil {
		return nil
	}
	return b.s.Close()
}
