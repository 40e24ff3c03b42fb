package spend

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

func TestSQLiteDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sqlite:///spend.db", "file:spend.db"},
		{"sqlite:///data/spend.db", "file:data/spend.db"},
		{"sqlite:////var/lib/switchyard/spend.db", "file:/var/lib/switchyard/spend.db"},
		{"sqlite:spend.db", "file:spend.db"},
		{"sqlite://:memory:", ":memory:"},
		{"sqlite::memory:", ":memory:"},
		{"sqlite:///spend.db?mode=ro", "file:spend.db"},
		{"file:spend.db?cache=shared", "file:spend.db?cache=shared"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := sqliteDSN(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("sqliteDSN(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, u := range []string{"", "mysql://x/y", "sqlite://", "redis://localhost"} {
		t.Run(u, func(t *testing.T) {
			if _, err := Open(u); !errors.Is(err, ErrBadURL) {
				t.Errorf("Open(%q) = %v, want ErrBadURL", u, err)
			}
		})
	}
}

func TestOpenMemoryAndReopen(t *testing.T) {
	s, err := Open("sqlite://:memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Insert(context.Background(), genRecords(3)); err != nil {
		t.Fatal(err)
	}
	if got := allIDs(t, s, Filter{}); len(got) != 3 {
		t.Errorf("memory store has %d records, want 3", len(got))
	}
	// The inserter's statements outlive a query on the one connection.
	more := genRecords(8)[3:]
	if err := s.Insert(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	if got := allIDs(t, s, Filter{}); len(got) != 8 {
		t.Errorf("memory store has %d records, want 8", len(got))
	}
	// Migrations are recorded: opening a file twice does not re-run them.
	p := "sqlite:///" + t.TempDir() + "/x.db"
	for i := 0; i < 2; i++ {
		s, err := Open(p)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		s.Close()
	}
}

func TestStore(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, b.open(t)) })
			t.Run("QueryFilters", func(t *testing.T) { testQueryFilters(t, b.open(t)) })
			t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, b.open(t)) })
			t.Run("Report", func(t *testing.T) { testReport(t, b.open(t)) })
			t.Run("Stats", func(t *testing.T) { testStats(t, b.open(t)) })
			t.Run("DeleteBefore", func(t *testing.T) { testDeleteBefore(t, b.open(t)) })
		})
	}
}

func testRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	full := &record.Record{
		ID: "req-full", StartTime: t0.Add(123456 * time.Microsecond), EndTime: t0.Add(2 * time.Second),
		KeyHash: "abc", KeyAlias: "alias", User: "alice", Team: "eng", EndUser: "bob",
		Route: "messages", ClientDialect: llm.DialectAnthropic, ModelRequested: "claude", ModelGroup: "claude",
		DeploymentID: "dep1", Provider: "anthropic", UpstreamModel: "claude-sonnet-4-5", APIBase: "https://api.anthropic.com",
		Stream:         true,
		Usage:          llm.Usage{InputTokens: 10, OutputTokens: 20, CacheReadTokens: 30, CacheWriteTokens: 40, ReasoningTokens: 5, Estimated: true},
		UsageEstimated: true, Cost: 0.012345,
		Latency: 1500 * time.Millisecond, TTFT: 250 * time.Millisecond, UpstreamLatency: 1400 * time.Millisecond,
		Status: record.StatusFailure, HTTPStatus: 529, ErrorKind: "overloaded", ErrorMessage: "busy",
		CacheHit: true, Retries: 2, Fallbacks: 1, Tags: []string{"a", "b"},
		Prompt: "hi", Response: "hello",
	}
	bare := &record.Record{ID: "req-bare", StartTime: t0, EndTime: t0, Status: record.StatusSuccess}
	dirty := &record.Record{ID: "req-dirty", StartTime: t0.Add(-time.Second), EndTime: t0, ErrorMessage: "bad\x00byte\xff", Prompt: "nul\x00"}
	if err := s.Insert(ctx, []*record.Record{full, bare, dirty}); err != nil {
		t.Fatal(err)
	}
	got, next, err := s.Query(ctx, Filter{})
	if err != nil || next != "" || len(got) != 3 {
		t.Fatalf("Query = %d records, %q, %v", len(got), next, err)
	}
	if !reflect.DeepEqual(got[0], full) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got[0], full)
	}
	if !reflect.DeepEqual(got[1], bare) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got[1], bare)
	}
	if got[2].ErrorMessage != "badbyte\uFFFD" || got[2].Prompt != "nul" {
		t.Errorf("cleaned text = %q, %q", got[2].ErrorMessage, got[2].Prompt)
	}
}

func testQueryFilters(t *testing.T, s Store) {
	ctx := context.Background()
	recs := genRecords(60)
	if err := s.Insert(ctx, recs[:30]); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, recs[30:]); err != nil {
		t.Fatal(err)
	}
	mid, late := recs[20].StartTime, recs[45].StartTime
	tests := []struct {
		name string
		f    Filter
		keep func(*record.Record) bool
	}{
		{"all", Filter{}, func(*record.Record) bool { return true }},
		{"key", Filter{KeyHash: "k1"}, func(r *record.Record) bool { return r.KeyHash == "k1" }},
		{"user", Filter{User: "u0"}, func(r *record.Record) bool { return r.User == "u0" }},
		{"model", Filter{ModelGroup: "m1"}, func(r *record.Record) bool { return r.ModelGroup == "m1" }},
		{"key+model", Filter{KeyHash: "k2", ModelGroup: "m0"}, func(r *record.Record) bool { return r.KeyHash == "k2" && r.ModelGroup == "m0" }},
		{"since", Filter{Start: mid}, func(r *record.Record) bool { return !r.StartTime.Before(mid) }},
		{"until", Filter{End: mid}, func(r *record.Record) bool { return r.StartTime.Before(mid) }},
		{"range+user", Filter{Start: mid, End: late, User: "u1"}, func(r *record.Record) bool {
			return !r.StartTime.Before(mid) && r.StartTime.Before(late) && r.User == "u1"
		}},
		{"none", Filter{KeyHash: "nope"}, func(*record.Record) bool { return false }},
	}
	for _, tt := range tests {
		want := expectIDs(recs, tt.keep)
		limits := []int{0, 7, 1000}
		if tt.name == "all" {
			limits = append(limits, 1)
		}
		for _, limit := range limits {
			f := tt.f
			f.Limit = limit
			t.Run(tt.name+"/limit="+itoa(limit), func(t *testing.T) {
				if got := allIDs(t, s, f); !slices.Equal(got, want) {
					t.Errorf("got  %v\nwant %v", got, want)
				}
			})
		}
	}
	t.Run("page size", func(t *testing.T) {
		page, next, err := s.Query(ctx, Filter{Limit: 7})
		if err != nil || len(page) != 7 || next == "" {
			t.Fatalf("first page: %d records, next %q, %v", len(page), next, err)
		}
		page, next, err = s.Query(ctx, Filter{Limit: 60})
		if err != nil || len(page) != 60 || next != "" {
			t.Fatalf("exact page: %d records, next %q, %v", len(page), next, err)
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		if _, _, err := s.Query(ctx, Filter{Cursor: "!!"}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("err = %v, want ErrBadCursor", err)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// testIdempotent: a journal batch is committed with the journal position
// it ends at, and a batch that ends at or before the committed position
// (a replay after a crash between a commit and the deletion of its
// segments) is skipped; positions are kept per journal.
func testIdempotent(t *testing.T, s Store) {
	ctx := context.Background()
	ps, ok := s.(positionedStore)
	if !ok {
		t.Fatalf("%T does not commit journal positions", s)
	}
	recs := genRecords(40)
	batch := func(journal string, seq uint64, from, to int) *journalBatch {
		return &journalBatch{journal: journal, recs: recs[from:to], end: journalPos{seq: seq, off: int64(100 * to)}}
	}
	if p, err := ps.committedPos(ctx, "j1"); err != nil || p != (journalPos{}) {
		t.Fatalf("position of a new journal = %+v, %v", p, err)
	}
	first := batch("j1", 3, 0, 25)
	if err := ps.insertBatch(ctx, first); err != nil {
		t.Fatal(err)
	}
	if p, err := ps.committedPos(ctx, "j1"); err != nil || p != first.end {
		t.Fatalf("committed position = %+v, %v; want %+v", p, err, first.end)
	}
	// The same batch again, and an earlier one: skipped.
	if err := ps.insertBatch(ctx, first); err != nil {
		t.Fatal(err)
	}
	early := batch("j1", 2, 0, 10)
	if err := ps.insertBatch(ctx, early); err != nil {
		t.Fatal(err)
	}
	if got := allIDs(t, s, Filter{}); len(got) != 25 {
		t.Fatalf("%d records after replays, want 25", len(got))
	}
	// The rest, in the next segment; another journal's position is its own.
	if err := ps.insertBatch(ctx, batch("j1", 4, 25, 40)); err != nil {
		t.Fatal(err)
	}
	other := batch("j2", 1, 0, 1)
	other.recs = []*record.Record{{ID: "other", StartTime: t0}}
	other.forget = "j1" // j2 replaced j1
	if err := ps.insertBatch(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got := allIDs(t, s, Filter{}); len(got) != 41 {
		t.Fatalf("%d records, want 41", len(got))
	}
	if p, err := ps.committedPos(ctx, "j1"); err != nil || p != (journalPos{}) {
		t.Errorf("position of a forgotten journal = %+v, %v", p, err)
	}
	// More than one INSERT chunk (PostgreSQL) or batch row (SQLite, with a
	// smaller bound) in one transaction.
	old := batchRowLimit
	batchRowLimit = 100
	t.Cleanup(func() { batchRowLimit = old })
	big := genRecords(insertChunk*2 + 17)
	for _, r := range big {
		r.ID = "big-" + r.ID
	}
	if err := s.Insert(ctx, big); err != nil {
		t.Fatal(err)
	}
	if got := allIDs(t, s, Filter{Limit: MaxLimit}); len(got) != 41+len(big) {
		t.Fatalf("%d records, want %d", len(got), 41+len(big))
	}
}

// TestPostgresInsertSkipsStoredIDs: PostgreSQL keeps its unique index on
// the request id, so a plain Insert of records stored already skips them.
func TestPostgresInsertSkipsStoredIDs(t *testing.T) {
	s := openTestPostgres(t)
	ctx := context.Background()
	recs := genRecords(40)
	for _, part := range [][]*record.Record{recs[:25], recs[10:], recs, {recs[39], recs[0], recs[0]}} {
		if err := s.Insert(ctx, part); err != nil {
			t.Fatal(err)
		}
	}
	if got := allIDs(t, s, Filter{}); len(got) != 40 {
		t.Fatalf("%d records after replays, want 40", len(got))
	}
}

// TestSQLiteInsertNonFiniteCost: a cost the journal cannot hold (NaN,
// ±Inf: JSON has no such numbers) fails the whole batch, so the Writer
// finds and rejects the record instead of losing it silently.
func TestSQLiteInsertNonFiniteCost(t *testing.T) {
	s := openTestSQLite(t)
	recs := genRecords(5)
	for _, c := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		recs[3].Cost = c
		if err := s.Insert(context.Background(), recs); err == nil {
			t.Fatalf("Insert of cost %v: no error", c)
		}
		if got := allIDs(t, s, Filter{}); len(got) != 0 {
			t.Errorf("%d records stored from the failed batch", len(got))
		}
	}
	recs[3].Cost = math.MaxFloat64
	if err := s.Insert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if got := allIDs(t, s, Filter{}); len(got) != 5 {
		t.Errorf("%d records, want 5", len(got))
	}
}

func testReport(t *testing.T, s Store) {
	ctx := context.Background()
	recs := genRecords(80)
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	start, end := recs[5].StartTime, recs[70].StartTime
	for _, g := range []GroupBy{GroupByDay, GroupByModel, GroupByKey, GroupByUser, GroupByDeployment} {
		for _, window := range []bool{false, true} {
			t.Run(string(g)+map[bool]string{false: "/all", true: "/window"}[window], func(t *testing.T) {
				q := ReportQuery{GroupBy: g}
				if window {
					q.Start, q.End = start, end
				}
				want := map[string]ReportRow{}
				for _, r := range recs {
					if window && (r.StartTime.Before(start) || !r.StartTime.Before(end)) {
						continue
					}
					k := map[GroupBy]string{GroupByDay: r.StartTime.UTC().Format(time.DateOnly), GroupByModel: r.ModelGroup,
						GroupByKey: r.KeyHash, GroupByUser: r.User, GroupByDeployment: r.DeploymentID}[g]
					row := want[k]
					row.Group = k
					row.Requests++
					row.InputTokens += int64(r.Usage.InputTokens)
					row.OutputTokens += int64(r.Usage.OutputTokens)
					row.CacheReadTokens += int64(r.Usage.CacheReadTokens)
					row.CacheWriteTokens += int64(r.Usage.CacheWriteTokens)
					row.TotalTokens += int64(r.Usage.Total())
					row.Cost += r.Cost
					want[k] = row
				}
				rows, err := s.Report(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != len(want) {
					t.Fatalf("%d groups, want %d: %+v", len(rows), len(want), rows)
				}
				for i, row := range rows {
					w := want[row.Group]
					if math.Abs(row.Cost-w.Cost) > 1e-9 {
						t.Errorf("%s cost %v, want %v", row.Group, row.Cost, w.Cost)
					}
					row.Cost = w.Cost
					if row != w {
						t.Errorf("row %+v, want %+v", row, w)
					}
					if g == GroupByDay && i > 0 && rows[i-1].Group >= row.Group {
						t.Errorf("days out of order: %s then %s", rows[i-1].Group, row.Group)
					}
				}
			})
		}
	}
	if _, err := s.Report(ctx, ReportQuery{GroupBy: "color"}); !errors.Is(err, ErrBadGroupBy) {
		t.Errorf("bad group: %v", err)
	}
}

func testStats(t *testing.T, s Store) {
	ctx := context.Background()
	var recs []*record.Record
	// Group a: latencies 1..100 ms, 10 errors; group b: 3 calls.
	for i := 1; i <= 100; i++ {
		st := record.StatusSuccess
		if i%10 == 0 {
			st = record.StatusFailure
		}
		recs = append(recs, &record.Record{ID: "a" + itoa(i), StartTime: t0.Add(time.Duration(i) * time.Second),
			ModelGroup: "a", DeploymentID: "a" + itoa(i%2), Status: st, Latency: time.Duration(101-i) * time.Millisecond,
			Usage: llm.Usage{InputTokens: 1, OutputTokens: 2}, Cost: 0.5})
	}
	for i, l := range []int{30, 10, 20} {
		recs = append(recs, &record.Record{ID: "b" + itoa(i), StartTime: t0.Add(time.Duration(i) * time.Second),
			ModelGroup: "b", DeploymentID: "b", Status: record.StatusSuccess, Latency: time.Duration(l) * time.Millisecond})
	}
	// Outside the window.
	recs = append(recs, &record.Record{ID: "old", StartTime: t0.Add(-time.Hour), ModelGroup: "a", Latency: time.Hour})
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	msd := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Total: 1..100 plus 10, 20, 30; the 52nd of 103 is 49.
	if st.Total.Requests != 103 || st.Total.Errors != 10 || st.Total.LatencyP50 != msd(49) || st.Total.LatencyP99 != msd(99) {
		t.Errorf("total = %+v", st.Total)
	}
	if len(st.ByModel) != 2 {
		t.Fatalf("by model = %+v", st.ByModel)
	}
	a, b := st.ByModel[0], st.ByModel[1]
	wantA := StatsRow{ModelGroup: "a", Requests: 100, Errors: 10, InputTokens: 100, OutputTokens: 200, TotalTokens: 300,
		Cost: 50, LatencyP50: msd(50), LatencyP95: msd(95), LatencyP99: msd(99)}
	if a != wantA {
		t.Errorf("a = %+v\nwant %+v", a, wantA)
	}
	wantB := StatsRow{ModelGroup: "b", Requests: 3, LatencyP50: msd(20), LatencyP95: msd(30), LatencyP99: msd(30)}
	if b != wantB {
		t.Errorf("b = %+v\nwant %+v", b, wantB)
	}
	if len(st.ByDeployment) != 3 || st.ByDeployment[0].DeploymentID != "a0" || st.ByDeployment[0].Requests != 50 ||
		st.ByDeployment[0].ModelGroup != "a" || st.ByDeployment[2].DeploymentID != "b" {
		t.Errorf("by deployment = %+v", st.ByDeployment)
	}
	// a0 holds the even i: latencies 100-i for i=2..100 → 1,3,...,99 ms.
	if d := st.ByDeployment[0]; d.LatencyP50 != msd(49) || d.LatencyP99 != msd(99) {
		t.Errorf("a0 percentiles = %v %v", d.LatencyP50, d.LatencyP99)
	}
	empty, err := s.Stats(ctx, t0.Add(24*time.Hour), t0.Add(48*time.Hour))
	if err != nil || empty.Total.Requests != 0 || len(empty.ByModel) != 0 {
		t.Errorf("empty window = %+v, %v", empty, err)
	}
}

func testDeleteBefore(t *testing.T, s Store) {
	old := deleteBatch
	deleteBatch = 7
	t.Cleanup(func() { deleteBatch = old })
	ctx := context.Background()
	recs := genRecords(50)
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	cut := recs[33].StartTime
	want := expectIDs(recs, func(r *record.Record) bool { return !r.StartTime.Before(cut) })
	n, err := s.DeleteBefore(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if int(n) != 50-len(want) {
		t.Errorf("deleted %d, want %d", n, 50-len(want))
	}
	if got := allIDs(t, s, Filter{}); !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if n, err := s.DeleteBefore(ctx, cut); n != 0 || err != nil {
		t.Errorf("second delete = %d, %v", n, err)
	}
	// RunRetention with a period that covers everything left.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { RunRetention(rctx, s, time.Nanosecond, time.Hour); close(done) }()
	eventually(t, 10*time.Second, "retention", func() bool { return len(allIDs(t, s, Filter{})) == 0 })
	cancel()
	<-done
}

func TestOpenPostgresUnreachable(t *testing.T) {
	// Nothing listens on port 1: Open succeeds, use fails, Ping says why.
	s, err := Open("postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatalf("Open = %v, want a store that connects later", err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping: no error")
	}
	if err := s.Insert(ctx, genRecords(1)); err == nil {
		t.Error("Insert: no error")
	}
}

// TestSQLitePageSize: a new database gets 16 KiB pages; one made with
// another page size keeps it and takes records as before.
func TestSQLitePageSize(t *testing.T) {
	pageSize := func(path string) int {
		t.Helper()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("PRAGMA page_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	dir := t.TempDir()
	fresh := filepath.Join(dir, "new.db")
	s, err := Open("sqlite:///" + fresh)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n := pageSize(fresh); n != 16384 {
		t.Errorf("new database: page_size %d, want 16384", n)
	}
	db0, err := sql.Open("sqlite", fresh)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db0.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("new database: journal_mode %q (%v), want wal", mode, err)
	}
	db0.Close()

	old := filepath.Join(dir, "old.db")
	db, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA page_size = 4096; CREATE TABLE t (x); DROP TABLE t"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = Open("sqlite:///" + old)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Insert(context.Background(), genRecords(10)); err != nil {
		t.Fatal(err)
	}
	if n, u := countIDs(t, s); n != 10 || u != 10 {
		t.Errorf("%d records (%d unique), want 10", n, u)
	}
	if n := pageSize(old); n != 4096 {
		t.Errorf("existing database: page_size %d, want 4096 kept", n)
	}
	db1, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	if err := db1.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("existing database: journal_mode %q (%v), want wal", mode, err)
	}
}

// TestSQLiteQueryDuringRetention: retention deleting and trimming the
// batches a page was found in, between Query's two reads, does not fail
// the page: both reads are one snapshot.
func TestSQLiteQueryDuringRetention(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	recs := genRecords(50)
	if err := s.Insert(ctx, recs[:20]); err != nil { // one batch wholly before the cut
		t.Fatal(err)
	}
	if err := s.Insert(ctx, recs[20:]); err != nil { // one that straddles it
		t.Fatal(err)
	}
	cut := recs[33].StartTime
	want := expectIDs(recs, func(*record.Record) bool { return true })
	deleted := int64(-1)
	betweenReads = func() {
		betweenReads = nil
		var err error
		if deleted, err = s.DeleteBefore(ctx, cut); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { betweenReads = nil })
	got, _, err := s.Query(ctx, Filter{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("page %v, want the snapshot's %v", ids, want)
	}
	if deleted != 33 {
		t.Errorf("retention deleted %d, want 33", deleted)
	}
	if left := allIDs(t, s, Filter{}); len(left) != 50-33 {
		t.Errorf("%d left after retention, want %d", len(left), 50-33)
	}
}
