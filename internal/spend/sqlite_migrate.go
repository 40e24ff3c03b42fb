package spend

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/record"
)

// migrateRowsToBatches is the Go half of SQLite migration 2: it moves the
// rows of the version 1 spend_logs table into batches (in row order, so
// records that started together keep their order), drops the table and
// creates the spend_logs view in its place. It runs inside the
// migration's transaction: a failure leaves the database as it was.
func migrateRowsToBatches(ctx context.Context, c conn) error {
	const chunk = 500
	var (
		e      batchEncoder
		lastID int64
		batch  int64
	)
	for {
		var recs []*record.Record
		err := c.query(ctx, "SELECT id, "+columns+" FROM spend_logs WHERE id > ? ORDER BY id LIMIT ?",
			[]any{lastID, int64(chunk)}, func(scan func(...any) error) error {
				r, id, _, err := scanRecord(scan)
				if err != nil {
					return err
				}
				lastID = id
				recs = append(recs, r)
				return nil
			})
		if err != nil {
			return fmt.Errorf("read version 1 rows: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		e.reset()
		for _, r := range recs {
			if math.IsInf(r.Cost, 0) {
				// Version 1 stored infinities; JSON cannot hold them.
				r.Cost = math.Copysign(math.MaxFloat64, r.Cost)
			}
			e.add(r)
		}
		batch++
		if _, err := c.exec(ctx, "INSERT INTO spend_batches (id, min_start, max_start, n, cols, dict, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
			batch, e.minSt, e.maxSt, int64(e.n), e.cols(), e.dict(), e.dataBytes()); err != nil {
			return fmt.Errorf("write batch: %w", err)
		}
		for k := range e.keys {
			if _, err := c.exec(ctx, keyInsert, int64(k[0]), e.strs[k[1]], batch); err != nil {
				return fmt.Errorf("write batch keys: %w", err)
			}
		}
	}
	if _, err := c.exec(ctx, "DROP TABLE spend_logs"); err != nil {
		return err
	}
	_, err := c.exec(ctx, spendLogsView)
	return err
}

// spendLogsView shows the batches as the rows of the version 1 table, for
// ad-hoc SQL (sqlite3 switchyard.db 'select … from spend_logs'). It parses
// the JSON of every batch it reads: fine for a look, slow for a scan of
// millions.
var spendLogsView = func() string {
	f := func(i int) string { return "e.value ->> '$[" + strconv.Itoa(i) + "]'" }
	name := func(i int, col string) string {
		return "CAST(b.dict AS TEXT) ->> ('$[' || (" + f(i) + ") || ']') AS " + col
	}
	ms := func(i int, col string) string { return f(i) + " / 1e6 AS " + col }
	cols := []string{
		"b.id * " + strconv.Itoa(maxBatchRows) + " + e.key AS id", f(0) + " AS request_id",
		f(1) + " AS start_time", f(2) + " AS end_time",
		name(3, "key_hash"), name(4, "key_alias"), name(5, "user_id"), name(6, "team_id"), name(7, "end_user"),
		name(8, "route"), name(9, "client_dialect"), name(10, "model_requested"), name(11, "model_group"),
		name(12, "deployment_id"), name(13, "provider"), name(14, "upstream_model"), name(15, "api_base"),
		f(16) + " AS stream", f(17) + " AS input_tokens", f(18) + " AS output_tokens",
		f(19) + " AS cache_read_tokens", f(20) + " AS cache_write_tokens", f(21) + " AS reasoning_tokens",
		f(17) + " + " + f(18) + " + " + f(19) + " + " + f(20) + " AS total_tokens",
		f(22) + " AS usage_estimated", "CAST(" + f(23) + " AS REAL) AS cost",
		ms(24, "latency_ms"), ms(25, "ttft_ms"), ms(26, "upstream_latency_ms"),
		name(27, "status"), f(28) + " AS http_status", name(29, "error_kind"), f(30) + " AS error_message",
		f(31) + " AS cache_hit", f(32) + " AS retries", f(33) + " AS fallbacks", "e.value -> '$[34]' AS tags",
		"NULLIF(" + f(35) + ", '') AS prompt", "NULLIF(" + f(36) + ", '') AS response",
	}
	return "CREATE VIEW spend_logs AS SELECT " + strings.Join(cols, ", ") +
		" FROM spend_batches b, json_each(CAST(b.data AS TEXT)) e"
}()
