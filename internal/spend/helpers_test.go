package spend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

// backend opens a fresh, empty store.
type backend struct {
	name string
	open func(t *testing.T) Store
}

func backends() []backend {
	return []backend{
		{"sqlite", openTestSQLite},
		{"postgres", openTestPostgres},
	}
}

func openTestSQLite(t *testing.T) Store {
	t.Helper()
	// Four slashes: an absolute path (t.TempDir is absolute).
	s, err := Open("sqlite:///" + filepath.Join(t.TempDir(), "spend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// postgresCandidates are tried in order; SWITCHYARD_TEST_POSTGRES_URL wins.
func postgresCandidates() []string {
	if u := os.Getenv("SWITCHYARD_TEST_POSTGRES_URL"); u != "" {
		return []string{u}
	}
	return []string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"postgres://root@127.0.0.1:5432/root?sslmode=disable",
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable",
	}
}

// openTestPostgres opens a store in a schema of its own, dropped at the
// end. Without a server the test fails under CI=true and is skipped
// otherwise.
func openTestPostgres(t *testing.T) Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, base := range postgresCandidates() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		schema := fmt.Sprintf("spend_test_%d_%d", os.Getpid(), time.Now().UnixNano())
		if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			c.Close(ctx)
			t.Fatalf("create schema: %v", err)
		}
		c.Close(ctx)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := pgx.Connect(ctx, base)
			if err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
				return
			}
			defer c.Close(ctx)
			if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		s, err := OpenContext(ctx, base+"&search_path="+schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL unreachable (CI=true): %v", errs)
	}
	t.Skipf("PostgreSQL unreachable, skipping (set CI=true to fail): %v", errs)
	return nil
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// genRecords makes n records: keys k0..k2, users u0..u1, models m0..m1,
// one every 7 minutes (crossing days), every fourth one sharing its
// predecessor's start time, every fifth a failure.
func genRecords(n int) []*record.Record {
	out := make([]*record.Record, n)
	start := t0
	for i := range out {
		if i%4 != 3 {
			start = start.Add(7 * time.Hour / 10)
		}
		st := record.StatusSuccess
		if i%5 == 4 {
			st = record.StatusFailure
		}
		out[i] = &record.Record{
			ID:             fmt.Sprintf("req-%04d", i),
			StartTime:      start,
			EndTime:        start.Add(time.Duration(i+1) * time.Millisecond),
			KeyHash:        fmt.Sprintf("k%d", i%3),
			User:           fmt.Sprintf("u%d", i%2),
			Team:           "t",
			ModelGroup:     fmt.Sprintf("m%d", i%2),
			DeploymentID:   fmt.Sprintf("d%d", i%4),
			ModelRequested: "req",
			Usage:          llm.Usage{InputTokens: i, OutputTokens: 2 * i, CacheReadTokens: 3, CacheWriteTokens: 1},
			Cost:           float64(i) / 1000,
			Latency:        time.Duration(i+1) * time.Millisecond,
			Status:         st,
			HTTPStatus:     200,
		}
	}
	return out
}

// allIDs pages through the whole store.
func allIDs(t *testing.T, s Store, f Filter) []string {
	t.Helper()
	var ids []string
	for _, r := range allRecords(t, s, f) {
		ids = append(ids, r.ID)
	}
	return ids
}

// allRecords pages through the whole store.
func allRecords(t *testing.T, s Store, f Filter) []*record.Record {
	t.Helper()
	var out []*record.Record
	for page := 0; ; page++ {
		recs, next, err := s.Query(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
		if next == "" {
			return out
		}
		if page > 10000 {
			t.Fatal("pagination does not end")
		}
		f.Cursor = next
	}
}

// expectIDs filters recs like the store would, newest first.
func expectIDs(recs []*record.Record, keep func(*record.Record) bool) []string {
	var sel []*record.Record
	for _, r := range recs {
		if keep(r) {
			sel = append(sel, r)
		}
	}
	// Newest first; ties by insertion order, reversed (id is the tie-break).
	sort.SliceStable(sel, func(i, j int) bool { return sel[i].StartTime.After(sel[j].StartTime) })
	for i := 0; i+1 < len(sel); i++ {
		j := i
		for j+1 < len(sel) && sel[j+1].StartTime.Equal(sel[i].StartTime) {
			j++
		}
		for a, b := i, j; a < b; a, b = a+1, b-1 {
			sel[a], sel[b] = sel[b], sel[a]
		}
		i = j
	}
	ids := make([]string, len(sel))
	for i, r := range sel {
		ids[i] = r.ID
	}
	return ids
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
