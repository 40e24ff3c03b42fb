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
		lines  []byte
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
			var err error
			if lines, err = appendLine(lines[:0], r); err != nil {
				return fmt.Errorf("convert record %s: %w", r.ID, err)
			}
			e.add(r, lines)
		}
		batch++
		if _, err := c.exec(ctx, "INSERT INTO spend_batches (id, min_start, max_start, n, cols, data) VALUES (?, ?, ?, ?, ?, ?)",
			batch, e.minSt, e.maxSt, int64(e.n), e.cols(), e.dataBytes()); err != nil {
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

// fracMicros is the fraction of an RFC 3339 time t (a column name) in
// microseconds: the digits after "YYYY-MM-DDTHH:MM:SS.", padded or cut to
// six.
func fracMicros(t string) string {
	digits := "substr(" + t + ", 21, length(" + t + ") - 20 - length(ltrim(substr(" + t + ", 21), '0123456789')))"
	return "CASE WHEN substr(" + t + ", 20, 1) = '.' THEN CAST(substr(" + digits + " || '000000', 1, 6) AS INTEGER) ELSE 0 END"
}

// spendLogsView shows the batches as the rows of the version 1 table, for
// ad-hoc SQL (sqlite3 switchyard.db 'select … from spend_logs'). It parses
// every line it shows: fine for a look, slow for a scan of millions.
var spendLogsView = func() string {
	str := func(field, col string) string { return "COALESCE(j ->> '$." + field + "', '') AS " + col }
	num := func(field, col string) string { return "COALESCE(j ->> '$." + field + "', 0) AS " + col }
	cols := []string{
		"id", "j ->> '$.ID' AS request_id",
		"unixepoch(st) * 1000000 + " + fracMicros("st") + " AS start_time",
		"unixepoch(et) * 1000000 + " + fracMicros("et") + " AS end_time",
		str("KeyHash", "key_hash"), str("KeyAlias", "key_alias"), str("User", "user_id"), str("Team", "team_id"),
		str("EndUser", "end_user"), str("Route", "route"), str("ClientDialect", "client_dialect"),
		str("ModelRequested", "model_requested"), str("ModelGroup", "model_group"), str("DeploymentID", "deployment_id"),
		str("Provider", "provider"), str("UpstreamModel", "upstream_model"), str("APIBase", "api_base"),
		num("Stream", "stream"),
		num("Usage.InputTokens", "input_tokens"), num("Usage.OutputTokens", "output_tokens"),
		num("Usage.CacheReadTokens", "cache_read_tokens"), num("Usage.CacheWriteTokens", "cache_write_tokens"),
		num("Usage.ReasoningTokens", "reasoning_tokens"),
		"COALESCE(j ->> '$.Usage.InputTokens', 0) + COALESCE(j ->> '$.Usage.OutputTokens', 0) + " +
			"COALESCE(j ->> '$.Usage.CacheReadTokens', 0) + COALESCE(j ->> '$.Usage.CacheWriteTokens', 0) AS total_tokens",
		"(COALESCE(j ->> '$.UsageEstimated', 0) OR COALESCE(j ->> '$.Usage.Estimated', 0)) AS usage_estimated",
		"CAST(COALESCE(j ->> '$.Cost', 0) AS REAL) AS cost",
		"COALESCE(j ->> '$.Latency', 0) / 1e6 AS latency_ms", "COALESCE(j ->> '$.TTFT', 0) / 1e6 AS ttft_ms",
		"COALESCE(j ->> '$.UpstreamLatency', 0) / 1e6 AS upstream_latency_ms",
		str("Status", "status"), num("HTTPStatus", "http_status"), str("ErrorKind", "error_kind"),
		str("ErrorMessage", "error_message"), num("CacheHit", "cache_hit"), num("Retries", "retries"),
		num("Fallbacks", "fallbacks"),
		"CASE WHEN json_array_length(j, '$.Tags') > 0 THEN j -> '$.Tags' ELSE '[]' END AS tags",
		"NULLIF(j ->> '$.Prompt', '') AS prompt", "NULLIF(j ->> '$.Response', '') AS response",
	}
	return "CREATE VIEW spend_logs AS SELECT " + strings.Join(cols, ", ") +
		" FROM (SELECT b.id * " + strconv.Itoa(maxBatchRows) + " + e.key AS id, e.value AS j, " +
		"e.value ->> '$.StartTime' AS st, e.value ->> '$.EndTime' AS et " +
		"FROM spend_batches b, json_each(CAST(b.data AS TEXT)) e)"
}()
