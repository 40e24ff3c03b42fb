package spend

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

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
