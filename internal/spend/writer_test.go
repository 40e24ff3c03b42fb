package spend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/record"
	"github.com/switchyard/switchyard/internal/testutil/cputime"
)

// fakeStore is a Store whose methods are fields; nil fields succeed. It
// commits journal positions only through InsertBatchFn and CommittedPosFn:
// without them a batch goes to InsertFn and no position is kept.
type fakeStore struct {
	InsertFn       func(ctx context.Context, recs []*record.Record) error
	PingFn         func(ctx context.Context) error
	InsertBatchFn  func(ctx context.Context, b *journalBatch) error
	CommittedPosFn func(ctx context.Context, journal string) (journalPos, error)
}

var _ positionedStore = (*fakeStore)(nil)

func (f *fakeStore) insertBatch(ctx context.Context, b *journalBatch) error {
	if f.InsertBatchFn != nil {
		return f.InsertBatchFn(ctx, b)
	}
	return f.Insert(ctx, b.recs)
}

func (f *fakeStore) committedPos(ctx context.Context, journal string) (journalPos, error) {
	if f.CommittedPosFn != nil {
		return f.CommittedPosFn(ctx, journal)
	}
	return journalPos{}, nil
}

func (f *fakeStore) Insert(ctx context.Context, recs []*record.Record) error {
	if f.InsertFn != nil {
		return f.InsertFn(ctx, recs)
	}
	return nil
}
func (f *fakeStore) Query(context.Context, Filter) ([]*record.Record, string, error) {
	return nil, "", nil
}
func (f *fakeStore) Report(context.Context, ReportQuery) ([]ReportRow, error) { return nil, nil }
func (f *fakeStore) Stats(context.Context, time.Time, time.Time) (*Stats, error) {
	return &Stats{}, nil
}
func (f *fakeStore) DeleteBefore(context.Context, time.Time) (int64, error) { return 0, nil }
func (f *fakeStore) Ping(ctx context.Context) error {
	if f.PingFn != nil {
		return f.PingFn(ctx)
	}
	return nil
}
func (f *fakeStore) Close() error { return nil }

// flaky wraps a store with an outage switch.
func flaky(s Store, down *atomic.Bool) *fakeStore {
	errDown := errors.New("connection refused")
	f := &fakeStore{
		InsertFn: func(ctx context.Context, recs []*record.Record) error {
			if down.Load() {
				return errDown
			}
			return s.Insert(ctx, recs)
		},
		PingFn: func(ctx context.Context) error {
			if down.Load() {
				return errDown
			}
			return s.Ping(ctx)
		},
	}
	if ps, ok := s.(positionedStore); ok {
		f.InsertBatchFn = func(ctx context.Context, b *journalBatch) error {
			if down.Load() {
				return errDown
			}
			return ps.insertBatch(ctx, b)
		}
		f.CommittedPosFn = func(ctx context.Context, journal string) (journalPos, error) {
			if down.Load() {
				return journalPos{}, errDown
			}
			return ps.committedPos(ctx, journal)
		}
	}
	return f
}

func fastOpts() WriterOptions {
	return WriterOptions{SyncInterval: 10 * time.Millisecond, FlushInterval: 20 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 40 * time.Millisecond, BatchSize: 100}
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, segPrefix+"*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func countIDs(t *testing.T, s Store) (total int, unique int) {
	ids := allIDs(t, s, Filter{Limit: MaxLimit})
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(ids), len(seen)
}

func TestWriterRecordsReachStore(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			dir := t.TempDir()
			w, err := NewWriter(s, dir, fastOpts())
			if err != nil {
				t.Fatal(err)
			}
			recs := genRecords(1234)
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := g; i < len(recs); i += 8 {
						w.Record(recs[i])
					}
				}(g)
			}
			wg.Wait()
			w.Record(&record.Record{StartTime: t0}) // no id: the Writer assigns one
			eventually(t, 20*time.Second, "records in the store", func() bool { return w.Stats().Committed == uint64(len(recs)+1) })
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n, u := countIDs(t, s); n != len(recs)+1 || u != n {
				t.Errorf("%d records (%d unique), want %d", n, u, len(recs)+1)
			}
			if st := w.Stats(); st.Dropped != 0 || st.Waiting != 0 || st.Committed != uint64(len(recs)+1) {
				t.Errorf("stats = %+v", st)
			}
			if segs := segments(t, dir); len(segs) != 0 {
				t.Errorf("journal not cleaned after Close: %v", segs)
			}
			w.Record(recs[0])
			if w.Dropped() != 1 {
				t.Errorf("Record after Close: dropped = %d, want 1", w.Dropped())
			}
		})
	}
}

func TestWriterDatabaseDownThenBack(t *testing.T) {
	s := openTestSQLite(t)
	var down atomic.Bool
	down.Store(true)
	w, err := NewWriter(flaky(s, &down), t.TempDir(), fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	recs := genRecords(700)
	for _, r := range recs {
		w.Record(r)
	}
	eventually(t, 10*time.Second, "unhealthy", func() bool { return w.Healthy() != nil })
	eventually(t, 10*time.Second, "all journaled", func() bool { return w.Stats().Journaled == 700 })
	if err := w.Healthy(); !strings.Contains(err.Error(), "spend log database unreachable, 700 records waiting") {
		t.Errorf("Healthy() = %v", err)
	}
	// More records while down.
	more := genRecords(750)[700:]
	for _, r := range more {
		w.Record(r)
	}
	down.Store(false)
	eventually(t, 20*time.Second, "records after recovery", func() bool { return w.Stats().Committed == 750 })
	eventually(t, 5*time.Second, "healthy", func() bool { return w.Healthy() == nil })
	if n, u := countIDs(t, s); n != 750 || u != 750 {
		t.Errorf("%d records (%d unique), want 750", n, u)
	}
}

// TestWriterCrashReplay: records journaled by a Writer that never closes
// (crash stops its goroutines like kill -9 would) are all in the store,
// exactly once, after a new Writer starts on the same journal.
func TestWriterCrashReplay(t *testing.T) {
	tests := []struct {
		name      string
		sameStore bool // replay into the store the first Writer committed part of
	}{
		{"fresh store", false},
		{"same store", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s1 := openTestSQLite(t)
			var down atomic.Bool
			opts := fastOpts()
			opts.SegmentBytes = 32 << 10 // several segments
			w1, err := NewWriter(flaky(s1, &down), dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			recs := genRecords(900)
			for _, r := range recs[:400] {
				w1.Record(r)
			}
			eventually(t, 10*time.Second, "first part committed", func() bool { return w1.Stats().Committed == 400 })
			down.Store(true) // the rest is never committed by w1
			for _, r := range recs[400:] {
				w1.Record(r)
			}
			eventually(t, 10*time.Second, "all journaled", func() bool { return w1.Stats().Journaled == 900 })
			w1.crash()

			s2 := s1
			if !tt.sameStore {
				s2 = openTestSQLite(t)
			}
			w2, err := NewWriter(s2, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			// The new Writer replays every record not yet checkpointed:
			// all 500 uncommitted ones, maybe some committed ones again.
			eventually(t, 20*time.Second, "replay", func() bool { return w2.Waiting() == 0 })
			if err := w2.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			n, u := countIDs(t, s2)
			if n != u {
				t.Errorf("duplicates: %d records, %d unique", n, u)
			}
			if tt.sameStore && n != 900 {
				t.Errorf("%d records, want 900", n)
			}
			if !tt.sameStore {
				ids := map[string]bool{}
				for _, id := range allIDs(t, s2, Filter{Limit: MaxLimit}) {
					ids[id] = true
				}
				for _, r := range recs[400:] {
					if !ids[r.ID] {
						t.Fatalf("uncommitted record %s lost", r.ID)
					}
				}
			}
			if segs := segments(t, dir); len(segs) != 0 {
				t.Errorf("journal not cleaned: %v", segs)
			}
		})
	}
}

// TestWriterCrashReplayAll: a Writer whose database never worked crashes;
// every record it journaled reaches a fresh store exactly once.
func TestWriterCrashReplayAll(t *testing.T) {
	dir := t.TempDir()
	var down atomic.Bool
	down.Store(true)
	w1, err := NewWriter(flaky(openTestSQLite(t), &down), dir, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	recs := genRecords(1000)
	for _, r := range recs {
		w1.Record(r)
	}
	eventually(t, 10*time.Second, "all journaled", func() bool { return w1.Stats().Journaled == 1000 })
	w1.crash()
	s := openTestSQLite(t)
	w2, err := NewWriter(s, dir, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	if got := w2.Waiting(); got != 1000 {
		t.Errorf("Waiting at start = %d, want 1000", got)
	}
	eventually(t, 20*time.Second, "replay", func() bool { return w2.Stats().Committed == 1000 })
	if err := w2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, u := countIDs(t, s); n != 1000 || u != 1000 {
		t.Errorf("%d records (%d unique), want 1000", n, u)
	}
}

func TestWriterTornTail(t *testing.T) {
	dir := t.TempDir()
	var lines []byte
	for _, r := range genRecords(3) {
		var err error
		if lines, err = appendLine(lines, r); err != nil {
			t.Fatal(err)
		}
	}
	lines = append(lines, []byte("not json\n")...)
	lines = append(lines, []byte(`{"ID":"req-torn","Sta`)...) // crash mid-write
	if err := os.WriteFile(filepath.Join(dir, segName(7)), lines, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openTestSQLite(t)
	w, err := NewWriter(s, dir, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	w.Record(&record.Record{ID: "after", StartTime: t0})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := countIDs(t, s); n != 4 {
		t.Errorf("%d records, want 4", n)
	}
	if c := w.Stats().Corrupt; c != 2 {
		t.Errorf("corrupt = %d, want 2", c)
	}
}

func TestWriterDropsWhenJournalFull(t *testing.T) {
	opts := fastOpts()
	opts.MaxJournalBytes = 1
	w, err := NewWriter(&fakeStore{}, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range genRecords(50) {
		w.Record(r)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := w.Dropped(); d != 50 {
		t.Errorf("dropped = %d, want 50", d)
	}
}

func TestWriterPoisonRecord(t *testing.T) {
	s := openTestSQLite(t)
	store := &fakeStore{InsertFn: func(ctx context.Context, recs []*record.Record) error {
		for _, r := range recs {
			if r.ID == "req-0042" {
				return errors.New("invalid input syntax")
			}
		}
		return s.Insert(ctx, recs)
	}}
	w, err := NewWriter(store, t.TempDir(), fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range genRecords(200) {
		w.Record(r)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := countIDs(t, s); n != 199 {
		t.Errorf("%d records, want 199", n)
	}
	if st := w.Stats(); st.Rejected != 1 {
		t.Errorf("rejected = %d, want 1", st.Rejected)
	}
}

func TestWriterCloseDeadlineKeepsJournal(t *testing.T) {
	dir := t.TempDir()
	var down atomic.Bool
	down.Store(true)
	w, err := NewWriter(flaky(openTestSQLite(t), &down), dir, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range genRecords(10) {
		w.Record(r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "10 records left in the journal") {
		t.Fatalf("Close = %v", err)
	}
	s := openTestSQLite(t)
	w2, err := NewWriter(s, dir, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := countIDs(t, s); n != 10 {
		t.Errorf("%d records after restart, want 10", n)
	}
}

func TestWriterJournalLocked(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(&fakeStore{}, dir, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if _, err := NewWriter(&fakeStore{}, dir, fastOpts()); err == nil {
		t.Error("second Writer on one journal: no error")
	}
}

// BenchmarkWriterRecord is the request path's cost of spend logging: one
// Record call (encode + enqueue); the journal and the store run behind.
func BenchmarkWriterRecord(b *testing.B) {
	w, err := NewWriter(&fakeStore{}, b.TempDir(), WriterOptions{QueueSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	r := genRecords(1)[0]
	r.Tags = []string{"team-a", "prod"}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Start(b)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		rc := *r
		for pb.Next() {
			rc.ID = fmt.Sprintf("req-%d", n.Add(1))
			w.Record(&rc)
		}
	})
	b.StopTimer()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	cpu.Stop()
	if d := w.Dropped(); d > 0 {
		b.Logf("dropped %d of %d (queue full)", d, b.N)
	}
}

// BenchmarkMarshalLine is the encoding part of Record alone: appendLine
// into a pooled line buffer.
func BenchmarkMarshalLine(b *testing.B) {
	r := genRecords(1)[0]
	r.Tags = []string{"team-a", "prod"}
	b.ReportAllocs()
	for b.Loop() {
		lb := getLineBuf()
		var err error
		if lb.b, err = appendLine(lb.b[:0], r); err != nil {
			b.Fatal(err)
		}
		putLineBuf(lb)
	}
}

// TestWriterMemoryBufferOverflow drives the in-memory hand-off past its
// bound (lowered to 1,024 records) while the database is down, so the inserter must
// read the gap back from the journal; every record arrives exactly once.
func TestWriterMemoryBufferOverflow(t *testing.T) {
	s := openTestSQLite(t)
	var down atomic.Bool
	opts := fastOpts()
	opts.memRecords = 1024
	w, err := NewWriter(flaky(s, &down), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	recs := genRecords(3500)
	for _, r := range recs[:300] { // while up: the in-memory path
		w.RecordDurable(r)
	}
	eventually(t, 20*time.Second, "first records", func() bool { return w.Stats().Committed == 300 })
	down.Store(true)
	for i, r := range recs[300:] { // while down: past the buffer
		if i%2 == 0 {
			w.RecordDurable(r)
		} else {
			w.Record(r)
		}
	}
	eventually(t, 20*time.Second, "all journaled", func() bool { return w.Stats().Journaled == 3500 })
	down.Store(false)
	eventually(t, 30*time.Second, "records after recovery", func() bool { return w.Stats().Committed == 3500 })
	if n, u := countIDs(t, s); n != 3500 || u != 3500 {
		t.Errorf("%d records (%d unique), want 3500", n, u)
	}
}

// TestWriterWakesInserter: the appender wakes the inserter only when the
// backlog was empty or holds a batch; records that trickle in, in bursts
// and alone, while the inserter commits or waits, all reach the store
// without waiting on Close (a lost wake-up would strand one: an idle
// inserter has no flush timer).
func TestWriterWakesInserter(t *testing.T) {
	var committed atomic.Int64
	store := &fakeStore{InsertFn: func(_ context.Context, recs []*record.Record) error {
		if rand.IntN(3) == 0 {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) // a commit in flight
		}
		committed.Add(int64(len(recs)))
		return nil
	}}
	opts := fastOpts()
	opts.BatchSize = 16
	opts.idlePoll = time.Hour // no rescue for a lost wake-up
	w, err := NewWriter(store, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	var sent int64
	for round := range 300 {
		n := []int{1, 15, 16, 17, 1, 40, 2}[round%7]
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < n; i += 2 {
					r := &record.Record{StartTime: t0}
					if i%2 == 0 {
						w.RecordDurable(r)
					} else {
						w.Record(r)
					}
				}
			}()
		}
		wg.Wait()
		sent += int64(n)
		if round%5 == 0 {
			eventually(t, 5*time.Second, "records committed", func() bool { return committed.Load() == sent })
		} else if rand.IntN(2) == 0 {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		}
	}
	eventually(t, 5*time.Second, "records committed", func() bool { return committed.Load() == sent })
}

// TestWriterIdlePoll: were the backlog count off (so no append finds it at
// 0 and wakes an idle inserter), records still reach the store within
// about FlushInterval.
func TestWriterIdlePoll(t *testing.T) {
	var committed atomic.Int64
	store := &fakeStore{InsertFn: func(_ context.Context, recs []*record.Record) error {
		committed.Add(int64(len(recs)))
		return nil
	}}
	w, err := NewWriter(store, t.TempDir(), fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	w.backlog.Add(5) // a miscount
	w.RecordDurable(&record.Record{StartTime: t0})
	eventually(t, 5*time.Second, "record committed", func() bool { return committed.Load() == 1 })
}
