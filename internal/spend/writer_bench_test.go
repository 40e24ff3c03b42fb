package spend

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
	"github.com/switchyard/switchyard/internal/testutil/cputime"
)

func benchSpendRecord() *record.Record {
	now := time.Now()
	return &record.Record{
		ID: "req_0123456789abcdef01234567", StartTime: now, EndTime: now.Add(900 * time.Microsecond),
		KeyHash: "5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99", Route: "chat_completions",
		ClientDialect: llm.DialectOpenAI, ModelRequested: "bench-json", ModelGroup: "bench-json",
		DeploymentID: "b8d80dbda959", Provider: "openai", UpstreamModel: "bench-upstream", APIBase: "http://127.0.0.1:9/v1",
		Usage: llm.Usage{InputTokens: 11, OutputTokens: 7}, Cost: 0.0001,
		Latency: 900 * time.Microsecond, UpstreamLatency: 600 * time.Microsecond,
		Status: record.StatusSuccess, HTTPStatus: 200,
	}
}

// BenchmarkWriterRecordSQLite is Writer.Record on the request path, one
// goroutine, with the real SQLite store and journal behind it as the
// gateway runs them: the record is marshalled to its journal line and
// queued; the journal append and the inserts run on the Writer's own
// goroutines (they compete for the same cores, so they show in ns/op on a
// small machine); drops/op shows whether the queue kept up (this loop
// outruns the inserter on two cores; the gateway's requests do not), and
// cpu-ns/committed is the CPU of the whole pipeline per record stored.
// BenchmarkWriterRecord and BenchmarkMarshalLine in writer_test.go measure
// the same call against a fake store.
func BenchmarkWriterRecordSQLite(b *testing.B) {
	dir := b.TempDir()
	store, err := Open("sqlite:///" + filepath.Join(dir, "spend.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	w, err := NewWriter(store, filepath.Join(dir, "journal"), WriterOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	r := benchSpendRecord()
	b.ReportAllocs()
	cpu := cputime.Start(b)
	for b.Loop() {
		r.ID = NewID() // as the server gives every request its own
		w.Record(r)
	}
	b.StopTimer()
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "drops/op")
	_ = w.Close(b.Context())
	cpu.Stop() // every record committed
	cpu.Report(int(w.Stats().Committed), "cpu-ns/committed")
}

// BenchmarkStoreInsertSQLite is one inserter transaction of a full batch
// (500 records) into the real SQLite store; ns/op is per record, and
// includes waiting for the commit's fsync, which cpu-ns/op does not.
func BenchmarkStoreInsertSQLite(b *testing.B) {
	store, err := Open("sqlite:///" + filepath.Join(b.TempDir(), "spend.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	const batch = 500
	recs := make([]*record.Record, batch)
	for i := range recs {
		recs[i] = benchSpendRecord()
	}
	b.ReportAllocs()
	cpu := cputime.Start(b)
	defer cpu.Stop()
	n := 0
	for b.Loop() {
		if n%batch == 0 {
			for _, r := range recs {
				r.ID = NewID()
			}
		}
		n++
		if n%batch == 0 {
			if err := store.Insert(b.Context(), recs); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSpendPipeline is what the server does per request, with the
// real store behind: RecordDurable of a realistic record (a new
// time-ordered id each) from 64 goroutines. cpu-ns/committed is the
// process CPU (the journal, the inserter and the store's driver, the
// garbage collector) per record committed to the database: the meter
// stops once everything recorded is committed.
func BenchmarkSpendPipeline(b *testing.B) {
	for _, bk := range []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"sqlite", func(b *testing.B) Store {
			s, err := Open("sqlite:///" + filepath.Join(b.TempDir(), "spend.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", benchPostgres},
	} {
		b.Run(bk.name, func(b *testing.B) {
			store := bk.open(b)
			defer store.Close()
			w, err := NewWriter(store, filepath.Join(b.TempDir(), "journal"),
				WriterOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, b.N) // the server makes them anyway
			for i := range ids {
				ids[i] = NewID()
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(32) // 64 goroutines on 2 cores
			cpu := cputime.Start(b)
			b.RunParallel(func(pb *testing.PB) {
				r := *benchSpendRecord()
				for pb.Next() {
					// Requests come no faster than the log takes them in (64
					// tight loops would starve the inserter of the CPU and
					// measure the overflow path, see TestWriterMemoryBufferOverflow).
					for w.Waiting() > 4000 {
						time.Sleep(time.Millisecond)
					}
					r.ID = ids[next.Add(1)-1]
					w.RecordDurable(&r)
				}
			})
			b.StopTimer()
			if err := w.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			cpu.Report(int(w.Stats().Committed), "cpu-ns/committed")
			if st := w.Stats(); st.Committed != uint64(b.N) {
				b.Fatalf("%d of %d records committed: %+v", st.Committed, b.N, st)
			}
		})
	}
}

// benchPostgres opens a store in a schema of its own, dropped at the end;
// without a server the benchmark is skipped.
func benchPostgres(b *testing.B) Store {
	ctx := context.Background()
	base := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Skipf("PostgreSQL unreachable: %v", err)
	}
	defer c.Close(ctx)
	schema := fmt.Sprintf("spend_bench_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	s, err := Open(base + "&search_path=" + schema)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
