package spend

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

func TestNextLine(t *testing.T) {
	tests := []struct {
		data  string
		atEOF bool
		n     int
		line  string
		kind  lineKind
	}{
		{"", true, 0, "", lineMore},
		{"{}\n{", false, 3, "{}", lineOK},
		{"{\"a\"", false, 0, "", lineMore},
		{"{\"a\"", true, 4, "{\"a\"", lineTorn},
		{"\x00\x00\x00{}\n", true, 3, "", linePad},
		{"\x00\x00", false, 2, "", linePad},
		{"{\"a\x00\x00\x00b\"}\n", true, 3, "{\"a", lineTorn},
		{"\n{}\n", true, 1, "", lineTorn},
		{"{\x00", false, 1, "{", lineTorn},
	}
	for _, tt := range tests {
		n, line, kind := nextLine([]byte(tt.data), tt.atEOF)
		if n != tt.n || string(line) != tt.line || kind != tt.kind {
			t.Errorf("nextLine(%q, %v) = %d, %q, %v; want %d, %q, %v", tt.data, tt.atEOF, n, line, kind, tt.n, tt.line, tt.kind)
		}
	}
}

// scanAll runs scanLines over data with a small buffer's worth of reads.
func scanAll(t testing.TB, data []byte) (ok []string, torn int) {
	t.Helper()
	err := scanLines(bytes.NewReader(data), int64(len(data)), func(line []byte, kind lineKind, end int64) error {
		if end > int64(len(data)) {
			t.Fatalf("offset %d past %d bytes", end, len(data))
		}
		switch kind {
		case lineOK:
			if bytes.IndexByte(line, 0) >= 0 || bytes.IndexByte(line, '\n') >= 0 || len(line) == 0 {
				t.Fatalf("line %q holds a NUL or newline", line)
			}
			ok = append(ok, string(line))
		case lineTorn:
			torn++
		default:
			t.Fatalf("kind %v reported", kind)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok, torn
}

// FuzzScanLines: any bytes scan without a panic into lines that hold no
// NUL; whole lines before a torn tail and NUL padding come out as they
// went in.
func FuzzScanLines(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\n"), 0, 0)
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\n"), 3, 100)
	f.Add([]byte("x\n\ny\n"), 1, 5000)
	f.Fuzz(func(t *testing.T, body []byte, tornLen, pad int) {
		scanAll(t, body) // anything goes
		// Whole lines (no NUL, no empty line), a torn line, padding.
		var lines []string
		for _, l := range strings.Split(strings.ReplaceAll(string(body), "\x00", ""), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		data := []byte(strings.Join(lines, "\n"))
		if len(lines) > 0 {
			data = append(data, '\n')
		}
		tornLen = min(max(tornLen, 0), len(data))
		if tornLen > 0 && len(lines) > 0 {
			data = append(data, bytes.TrimSuffix(data[:tornLen], []byte("\n"))...)
		}
		data = append(data, make([]byte, min(max(pad, 0), 1<<20))...)
		got, _ := scanAll(t, data)
		if len(got) < len(lines) || strings.Join(got[:len(lines)], "\n") != strings.Join(lines, "\n") {
			t.Fatalf("lines %q, want %q first", got, lines)
		}
	})
}

// writeSegment writes a segment file of lines, then tail.
func writeSegment(t *testing.T, dir string, seq uint64, recs []*record.Record, tail []byte) []byte {
	t.Helper()
	var data []byte
	for _, r := range recs {
		var err error
		if data, err = appendLine(data, r); err != nil {
			t.Fatal(err)
		}
	}
	data = append(data, tail...)
	if err := os.WriteFile(filepath.Join(dir, segName(seq)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestWriterReplayMappedTail: a mapped segment a crash left, with whole
// lines, a torn line and NUL padding (and, as after a power loss, a line
// with lost bytes between whole ones), replays its whole lines; the torn
// ones are counted.
func TestWriterReplayMappedTail(t *testing.T) {
	recs := genRecords(6)
	var line4 []byte
	line4, _ = appendLine(nil, recs[4])
	tests := []struct {
		name    string
		tail    []byte
		start   int    // Waiting at start: the lines that look whole
		whole   int    // records that replay
		corrupt uint64 // torn lines and lines that do not decode
	}{
		{"padding", make([]byte, 64<<10), 4, 4, 0},
		{"torn then padding", append(append([]byte{}, line4[:37]...), make([]byte, 64<<10)...), 4, 4, 1},
		{"torn without padding", line4[:len(line4)-1], 4, 4, 1},
		// The line's start, then its rest without its start (it does not
		// decode), then a whole line.
		{"lost bytes then whole lines", func() []byte {
			b := append([]byte{}, line4...)
			copy(b[20:], make([]byte, 30))
			l5, _ := appendLine(nil, recs[5])
			return append(append(b, l5...), make([]byte, 8192)...)
		}(), 6, 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSegment(t, dir, 3, recs[:4], tt.tail)
			s := openTestSQLite(t)
			w, err := NewWriter(s, dir, fastOpts())
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Waiting(); got != int64(tt.start) {
				t.Errorf("Waiting at start = %d, want %d", got, tt.start)
			}
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n, u := countIDs(t, s); n != tt.whole || u != n {
				t.Errorf("%d records (%d unique), want %d", n, u, tt.whole)
			}
			if st := w.Stats(); st.Corrupt != tt.corrupt || st.Waiting != 0 {
				t.Errorf("stats %+v, want %d corrupt", st, tt.corrupt)
			}
		})
	}
}

func writerModes() []struct {
	name string
	opt  func(*WriterOptions)
} {
	return []struct {
		name string
		opt  func(*WriterOptions)
	}{
		{"mapped", func(*WriterOptions) {}},
		{"write", func(o *WriterOptions) { o.writeOnly = true }},
		{"mapping refused", func(o *WriterOptions) { o.failMap = true }},
	}
}

// TestWriterCrashAfterCommit: a crash after the commit of every record
// and before its segment is deleted (segments are deleted only once full)
// leaves no duplicate: the next Writer reads the committed position and
// skips them, in every journal mode.
func TestWriterCrashAfterCommit(t *testing.T) {
	for _, m := range writerModes() {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestSQLite(t)
			opts := fastOpts()
			m.opt(&opts)
			w1, err := NewWriter(s, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			w1.mu.Lock()
			mapped := w1.cur.m != nil
			w1.mu.Unlock()
			if mapped != (m.name == "mapped") {
				t.Fatalf("segment mapped = %v", mapped)
			}
			recs := genRecords(300)
			for i, r := range recs {
				if i%2 == 0 {
					w1.RecordDurable(r)
				} else {
					w1.Record(r)
				}
			}
			eventually(t, 10*time.Second, "all committed", func() bool { return w1.Stats().Committed == 300 })
			w1.crash()
			if len(segments(t, dir)) == 0 {
				t.Fatal("no segment left to replay")
			}
			w2, err := NewWriter(s, dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "replay", func() bool { return w2.Waiting() == 0 })
			more := genRecords(310)[300:]
			for _, r := range more {
				w2.RecordDurable(r)
			}
			if err := w2.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n, u := countIDs(t, s); n != 310 || u != 310 {
				t.Errorf("%d records (%d unique), want 310", n, u)
			}
			if st := w2.Stats(); st.Committed != 10 {
				t.Errorf("second Writer committed %d, want 10 (stats %+v)", st.Committed, st)
			}
			if segs := segments(t, dir); len(segs) != 0 {
				t.Errorf("journal not cleaned: %v", segs)
			}
		})
	}
}

// TestWriterModesCrashReplay: records journaled while the database is
// down, by a Writer that crashes, reach the store once, in every journal
// mode, across several segments (reused ones among them).
func TestWriterModesCrashReplay(t *testing.T) {
	for _, m := range writerModes() {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestSQLite(t)
			var down atomic.Bool
			opts := fastOpts()
			opts.SegmentBytes = 64 << 10
			m.opt(&opts)
			w1, err := NewWriter(flaky(s, &down), dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			recs := genRecords(2000)
			for _, r := range recs[:1000] {
				w1.RecordDurable(r)
			}
			eventually(t, 10*time.Second, "first part committed", func() bool { return w1.Stats().Committed == 1000 })
			down.Store(true)
			for _, r := range recs[1000:] {
				w1.RecordDurable(r)
			}
			w1.crash()
			w2 := replayJournal(t, s, dir, opts)
			if n, u := countIDs(t, s); n != 2000 || u != 2000 {
				t.Errorf("%d records (%d unique), want 2000", n, u)
			}
			if w2.Stats().Committed != 1000 {
				t.Errorf("replayed %d, want 1000", w2.Stats().Committed)
			}
		})
	}
}

// TestJournalIDRenewed: a journal emptied by Close gets a new id at the
// next start (segment numbers restart), and the first commit under it
// drops the old id's position.
func TestJournalIDRenewed(t *testing.T) {
	dir := t.TempDir()
	s := openTestSQLite(t)
	ids := make([]string, 2)
	for i := range ids {
		w, err := NewWriter(s, dir, fastOpts())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range genRecords(5 * (i + 1))[5*i:] {
			w.RecordDurable(r)
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		ids[i] = w.journalID
		b, _ := os.ReadFile(filepath.Join(dir, journalIDFile))
		if strings.TrimSpace(string(b)) != w.journalID {
			t.Errorf("journal-id file %q, Writer %q", b, w.journalID)
		}
	}
	if ids[0] == ids[1] {
		t.Errorf("the same journal id twice: %s", ids[0])
	}
	ps := s.(positionedStore)
	if p, err := ps.committedPos(context.Background(), ids[0]); err != nil || p != (journalPos{}) {
		t.Errorf("old journal's position = %+v, %v", p, err)
	}
	if p, err := ps.committedPos(context.Background(), ids[1]); err != nil || p == (journalPos{}) {
		t.Errorf("new journal's position = %+v, %v", p, err)
	}
	if n, _ := countIDs(t, s); n != 10 {
		t.Errorf("%d records, want 10", n)
	}
}

// TestMigrateVersion1 opens a database written by the version 1 layout
// (rows in a spend_logs table), which the migration turns into batches:
// every record keeps its values and its order, queries and the view see
// them, and new records join them.
func TestMigrateVersion1(t *testing.T) {
	p := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations(dialectSQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_version (component TEXT NOT NULL, version INTEGER NOT NULL,
		name TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ms[0].sql); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_version VALUES ('spend', 1, ?, 0)", ms[0].name); err != nil {
		t.Fatal(err)
	}
	recs := genRecords(1234) // more than one batch of the migration
	recs[7].Tags, recs[8].Prompt, recs[8].Response = []string{"x", "y"}, "p", "r"
	recs[9].Cost = 0.000123456789
	for _, r := range recs {
		args := recordArgs(r, nil)
		q := "INSERT INTO spend_logs (" + columns + ") VALUES (?" + strings.Repeat(", ?", numColumns-1) + ")"
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open("sqlite:///" + p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := expectIDs(recs, func(*record.Record) bool { return true })
	if got := allIDs(t, s, Filter{Limit: 333}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the migration: %d records, want %d", len(got), len(want))
	}
	page, _, err := s.Query(context.Background(), Filter{User: "u1", Limit: MaxLimit})
	if err != nil || len(page) != 617 {
		t.Fatalf("user filter: %d records, %v", len(page), err)
	}
	rows, err := s.Report(context.Background(), ReportQuery{GroupBy: GroupByModel})
	if err != nil || len(rows) != 2 || rows[0].Requests+rows[1].Requests != 1234 {
		t.Fatalf("report = %+v, %v", rows, err)
	}
	checkView(t, p, recs)
	if err := s.Insert(context.Background(), []*record.Record{{ID: "after", StartTime: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := countIDs(t, s); n != 1235 {
		t.Errorf("%d records, want 1235", n)
	}
	// Reopening does not migrate again.
	s.Close()
	s2, err := Open("sqlite:///" + p)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n, _ := countIDs(t, s2); n != 1235 {
		t.Errorf("%d records after reopening, want 1235", n)
	}
}

// TestWriterReplayLegacyJournal: a journal an earlier version left after
// a crash (no journal id, no positions) may hold records it had committed
// already; after the upgrade, its replay stores each record once.
func TestWriterReplayLegacyJournal(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			dir := t.TempDir()
			recs := genRecords(700)
			writeSegment(t, dir, 4, recs[:400], nil)
			writeSegment(t, dir, 5, recs[400:], nil)
			if err := s.Insert(context.Background(), recs[100:450]); err != nil { // committed before the crash
				t.Fatal(err)
			}
			w, err := NewWriter(s, dir, fastOpts())
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n, u := countIDs(t, s); n != 700 || u != 700 {
				t.Errorf("%d records (%d unique), want 700", n, u)
			}
			if st := w.Stats(); st.Rejected != 0 || st.Waiting != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestWriterSyncsUncommittedLines: lines the database has not taken are
// made durable (msync or fsync) within two SyncIntervals; lines it
// committed before the sync are not synced again.
func TestWriterSyncsUncommittedLines(t *testing.T) {
	for _, m := range writerModes()[:2] {
		t.Run(m.name, func(t *testing.T) {
			var down atomic.Bool
			opts := fastOpts()
			opts.SyncInterval, opts.FlushInterval = 300*time.Millisecond, 5*time.Millisecond
			m.opt(&opts)
			w, err := NewWriter(flaky(openTestSQLite(t), &down), t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				down.Store(false)
				w.Close(context.Background())
			}()
			// A tick may fall between a line's append and its commit (then
			// it is synced, rightly); it does not fall there every time.
			recs := genRecords(8)
			skipped := false
			for i, r := range recs[:6] {
				before := w.syncs.Load()
				w.RecordDurable(r)
				eventually(t, 5*time.Second, "committed", func() bool { return w.Stats().Committed == uint64(i+1) })
				time.Sleep(3 * opts.SyncInterval / 2)
				if w.syncs.Load() == before {
					skipped = true
					break
				}
			}
			if !skipped {
				t.Errorf("committed lines synced again: %d syncs", w.syncs.Load())
			}
			before := w.syncs.Load()
			down.Store(true)
			w.RecordDurable(recs[7])
			start := time.Now()
			eventually(t, 5*time.Second, "a sync", func() bool { return w.syncs.Load() > before })
			if d := time.Since(start); d > 4*opts.SyncInterval { // twice the bound: a loaded CI machine
				t.Errorf("synced after %v, want within %v", d, 2*opts.SyncInterval)
			}
		})
	}
}

func TestTouchPagesKeepsBytes(t *testing.T) {
	page := os.Getpagesize()
	m := make([]byte, 3*page+100)
	for i := range m {
		m[i] = byte(i*7 + 3)
	}
	want := slices.Clone(m)
	for _, r := range [][2]int{{0, len(m)}, {1, 2 * page}, {page - 1, page + 1}, {page, page}, {2*page + 5, len(m)}} {
		touchPages(m, int64(r[0]), int64(r[1]))
		if !bytes.Equal(m, want) {
			t.Fatalf("touchPages(%d, %d) changed the bytes", r[0], r[1])
		}
	}
}

// TestConcurrentAppendsPassPrefault: appends from many goroutines, of
// records larger than a page, run past appendLoop's prefaulting and
// across mapped segments; every record is journaled whole and replayed
// once after a crash.
func TestConcurrentAppendsPassPrefault(t *testing.T) {
	dir := t.TempDir()
	s := openTestSQLite(t)
	var down atomic.Bool
	down.Store(true) // everything stays in the journal until the replay
	opts := fastOpts()
	opts.SegmentBytes = 1 << 20
	w1, err := NewWriter(flaky(s, &down), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 150
	recs := genRecords(workers * each)
	for i, r := range recs {
		r.Prompt = strings.Repeat(string(rune('a'+i%26)), 3000+i%1500)
	}
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for _, r := range recs[g*each : (g+1)*each] {
				w1.RecordDurable(r)
			}
		})
	}
	wg.Wait()
	if st := w1.Stats(); st.Journaled != workers*each {
		t.Fatalf("journaled %d of %d (stats %+v)", st.Journaled, workers*each, st)
	}
	w1.crash()
	replayJournal(t, s, dir, opts)
	got := allRecords(t, s, Filter{Limit: MaxLimit})
	byID := map[string]*record.Record{}
	for _, r := range got {
		byID[r.ID] = r
	}
	if len(got) != len(recs) || len(byID) != len(recs) {
		t.Fatalf("%d records stored (%d unique), want %d", len(got), len(byID), len(recs))
	}
	for _, r := range recs {
		if g := byID[r.ID]; g == nil || g.Prompt != r.Prompt {
			t.Fatalf("record %s lost or its prompt changed", r.ID)
		}
	}
}

// replayJournal starts a Writer on dir, which replays what a crashed one
// left into s, and closes it.
func replayJournal(t *testing.T, s Store, dir string, opts WriterOptions) *Writer {
	t.Helper()
	w, err := NewWriter(s, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}
