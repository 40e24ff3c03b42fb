package spend

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/record"
)

// sqlStore implements Store over the row layout: one spend_logs row per
// record. PostgreSQL keeps it; on SQLite only its version 1 migration
// reads it (columns, scanRecord), into batches (sqliteStore).
type sqlStore struct {
	db      db
	dialect dialect
}

var _ positionedStore = (*sqlStore)(nil)

// columns of spend_logs written by Insert, in order.
const columns = "request_id, start_time, end_time, key_hash, key_alias, user_id, team_id, end_user, " +
	"route, client_dialect, model_requested, model_group, deployment_id, provider, upstream_model, api_base, " +
	"stream, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, total_tokens, " +
	"usage_estimated, cost, latency_ms, ttft_ms, upstream_latency_ms, status, http_status, error_kind, error_message, " +
	"cache_hit, retries, fallbacks, tags, prompt, response"

var numColumns = strings.Count(columns, ",") + 1

// insertSizes are the row counts of the INSERT statements Insert uses,
// largest first: a batch is cut into these so that a handful of statement
// texts cover every batch size, and each is prepared once per connection
// (pgx's statement cache). 38 columns × 250 rows stays far below
// PostgreSQL's bound-parameter limit.
var insertSizes = [...]int{250, 64, 16, 4, 1}

// insertChunk is the most rows per INSERT statement.
const insertChunk = 250

// insertSQLs()[i] is the INSERT of insertSizes[i] rows, made on first use
// (only the PostgreSQL store inserts rows; the texts are 40,000 bytes and
// 12,000 allocations, which start-up need not pay).
var insertSQLs = sync.OnceValue(func() (m [len(insertSizes)]string) {
	for i, n := range insertSizes {
		m[i] = rebind(insertSQL(n))
	}
	return m
})

func (s *sqlStore) ready(ctx context.Context) error {
	if p, ok := s.db.(*pgDB); ok {
		return p.ready(ctx)
	}
	return nil
}

// NewID returns a fresh request id for a record that has none: "sy-" and a
// time-ordered id (record.NewID), so inserts stay at the end of the
// request_id index.
func NewID() string { return record.NewID("sy-") }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func recordArgs(r *record.Record, args []any) []any {
	if r.ID == "" {
		r.ID = NewID()
	}
	tags := "[]"
	if len(r.Tags) > 0 {
		if b, err := json.Marshal(r.Tags); err == nil {
			tags = string(b)
		}
	}
	first := len(args)
	args = append(args,
		r.ID, r.StartTime.UnixMicro(), r.EndTime.UnixMicro(), r.KeyHash, r.KeyAlias, r.User, r.Team, r.EndUser,
		r.Route, string(r.ClientDialect), r.ModelRequested, r.ModelGroup, r.DeploymentID, r.Provider, r.UpstreamModel, r.APIBase,
		r.Stream, int64(r.Usage.InputTokens), int64(r.Usage.OutputTokens), int64(r.Usage.CacheReadTokens),
		int64(r.Usage.CacheWriteTokens), int64(r.Usage.ReasoningTokens), int64(r.Usage.Total()),
		r.UsageEstimated || r.Usage.Estimated, r.Cost, ms(r.Latency), ms(r.TTFT), ms(r.UpstreamLatency),
		string(r.Status), int64(r.HTTPStatus), r.ErrorKind, r.ErrorMessage,
		r.CacheHit, int64(r.Retries), int64(r.Fallbacks), tags, nullString(r.Prompt), nullString(r.Response),
	)
	for i := first; i < len(args); i++ {
		// Boxing a string allocates: store a cleaned one only if it differs.
		if v, ok := args[i].(string); ok && !isClean(v) {
			args[i] = clean(v)
		}
	}
	return args
}

func insertSQL(n int) string {
	var b strings.Builder
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", numColumns), ", ") + ")"
	b.WriteString("INSERT INTO spend_logs (" + columns + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (request_id) DO NOTHING")
	return b.String()
}

// Insert implements Store: one transaction, multi-row INSERTs, duplicates
// (by request id) skipped.
func (s *sqlStore) Insert(ctx context.Context, recs []*record.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return s.insertBatch(ctx, &journalBatch{recs: recs})
}

func (s *sqlStore) committedPos(ctx context.Context, journal string) (journalPos, error) {
	if err := s.ready(ctx); err != nil {
		return journalPos{}, err
	}
	return readPosition(ctx, s.db, journal)
}

// insertBatch inserts b's records and moves its journal's position in one
// transaction; a batch at or before the committed position is skipped.
func (s *sqlStore) insertBatch(ctx context.Context, b *journalBatch) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if pg, ok := s.db.(*pgDB); ok && b.journal != "" {
		err := s.copyBatch(ctx, pg, b)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" {
			return err
		}
		// A record stored already (a replay of a journal written before
		// positions were kept): insert what is missing.
	}
	qs := insertSQLs()
	tx := s.db.tx
	ap := argsPool.Get().(*[]any)
	defer func() {
		*ap = (*ap)[:0]
		clear((*ap)[:cap(*ap)]) // keep no strings alive
		argsPool.Put(ap)
	}()
	recs := b.recs
	return tx(ctx, func(c conn) error {
		if ok, err := advancePos(ctx, c, b); err != nil || !ok {
			return err
		}
		args := *ap
		for i, size := 0, 0; i < len(recs); {
			for len(recs)-i < insertSizes[size] {
				size++
			}
			chunk := recs[i : i+insertSizes[size]]
			i += len(chunk)
			args = args[:0]
			for _, r := range chunk {
				args = recordArgs(r, args)
			}
			*ap = args
			if _, err := c.exec(ctx, qs[size], args...); err != nil {
				return fmt.Errorf("insert spend logs: %w", err)
			}
		}
		return nil
	})
}

// copyColumns are the columns of spend_logs that copyBatch fills.
var copyColumns = strings.Split(columns, ", ")

// copyBatch is insertBatch through COPY: the driver encodes each value
// once, in binary, instead of binding 38 × 250 parameters per statement.
// COPY has no ON CONFLICT: a duplicate request id fails the batch with a
// unique violation.
func (s *sqlStore) copyBatch(ctx context.Context, pg *pgDB, b *journalBatch) error {
	return pg.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if ok, err := advancePos(ctx, pgConn{tx}, b); err != nil || !ok {
				return err
			}
			args := make([]any, 0, numColumns)
			i := 0
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"spend_logs"}, copyColumns, pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(b.recs) {
					return nil, nil
				}
				args = recordArgs(b.recs[i], args[:0])
				i++
				return args, nil
			}))
			if err != nil {
				return fmt.Errorf("insert spend logs: %w", err)
			}
			return nil
		})
	})
}

// argsPool holds Insert's argument slices (a chunk's worth: 9,500).
var argsPool = sync.Pool{New: func() any {
	s := make([]any, 0, numColumns*insertChunk)
	return &s
}}

// where builds the WHERE clause of a filter.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) eq(col, v string) {
	if v != "" {
		w.add(col+" = ?", v)
	}
}

func (w *where) timeRange(start, end time.Time) {
	if !start.IsZero() {
		w.add("start_time >= ?", start.UnixMicro())
	}
	if !end.IsZero() {
		w.add("start_time < ?", end.UnixMicro())
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func encodeCursor(startMicros, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(startMicros, 10) + "." + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (startMicros, id int64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, ErrBadCursor
	}
	a, z, ok := strings.Cut(string(b), ".")
	startMicros, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(z, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, ErrBadCursor
	}
	return startMicros, id, nil
}

// Query implements Store: newest first, keyset pagination on
// (start_time, id), so page N costs the same as page 1.
func (s *sqlStore) Query(ctx context.Context, f Filter) ([]*record.Record, string, error) {
	limit := f.pageSize()
	var w where
	w.eq("key_hash", f.KeyHash)
	w.eq("user_id", f.User)
	w.eq("team_id", f.Team)
	w.eq("model_group", f.ModelGroup)
	w.timeRange(f.Start, f.End)
	if f.Cursor != "" {
		ts, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		w.add("(start_time, id) < (?, ?)", ts, id)
	}
	if err := s.ready(ctx); err != nil {
		return nil, "", err
	}
	q := "SELECT id, " + columns + " FROM spend_logs" + w.String() + " ORDER BY start_time DESC, id DESC LIMIT ?"
	args := append(w.args, int64(limit+1))
	out := make([]*record.Record, 0, min(limit+1, 64))
	var ids, starts []int64
	err := s.db.query(ctx, q, args, func(scan func(...any) error) error {
		r, id, start, err := scanRecord(scan)
		if err != nil {
			return err
		}
		out = append(out, r)
		ids = append(ids, id)
		starts = append(starts, start)
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("query spend logs: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(starts[limit-1], ids[limit-1])
	}
	return out, next, nil
}

func scanRecord(scan func(...any) error) (*record.Record, int64, int64, error) {
	var (
		r                              record.Record
		id, start, end                 int64
		dialect, status                string
		in, out, cr, cw, reason, total int64
		estimated                      bool
		lat, ttft, up                  float64
		httpStatus, retries, fallbacks int64
		tags                           string
		prompt, response               sql.NullString
	)
	err := scan(&id, &r.ID, &start, &end, &r.KeyHash, &r.KeyAlias, &r.User, &r.Team, &r.EndUser,
		&r.Route, &dialect, &r.ModelRequested, &r.ModelGroup, &r.DeploymentID, &r.Provider, &r.UpstreamModel, &r.APIBase,
		&r.Stream, &in, &out, &cr, &cw, &reason, &total,
		&estimated, &r.Cost, &lat, &ttft, &up, &status, &httpStatus, &r.ErrorKind, &r.ErrorMessage,
		&r.CacheHit, &retries, &fallbacks, &tags, &prompt, &response)
	if err != nil {
		return nil, 0, 0, err
	}
	_ = total
	r.StartTime = time.UnixMicro(start).UTC()
	r.EndTime = time.UnixMicro(end).UTC()
	r.ClientDialect = llm.Dialect(dialect)
	r.Usage = llm.Usage{InputTokens: int(in), OutputTokens: int(out), CacheReadTokens: int(cr),
		CacheWriteTokens: int(cw), ReasoningTokens: int(reason), Estimated: estimated}
	r.UsageEstimated = estimated
	r.Latency, r.TTFT, r.UpstreamLatency = fromMS(lat), fromMS(ttft), fromMS(up)
	r.Status = record.Status(status)
	r.HTTPStatus, r.Retries, r.Fallbacks = int(httpStatus), int(retries), int(fallbacks)
	if tags != "" && tags != "[]" {
		_ = json.Unmarshal([]byte(tags), &r.Tags)
	}
	r.Prompt, r.Response = prompt.String, response.String
	return &r, id, start, nil
}

const usageSums = "COUNT(*), " +
	"CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT), " +
	"CAST(COALESCE(SUM(cache_read_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT), " +
	"CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT), COALESCE(SUM(cost), 0)"

const microsPerDay = 86_400_000_000

// Report implements Store.
func (s *sqlStore) Report(ctx context.Context, q ReportQuery) ([]ReportRow, error) {
	var key string
	switch q.GroupBy {
	case GroupByDay:
		key = "CAST(start_time / " + strconv.FormatInt(microsPerDay, 10) + " AS TEXT)"
	case GroupByModel:
		key = "model_group"
	case GroupByKey:
		key = "key_hash"
	case GroupByUser:
		key = "user_id"
	case GroupByTeam:
		key = "team_id"
	case GroupByDeployment:
		key = "deployment_id"
	default:
		return nil, fmt.Errorf("%w: %q (want day, model, key, user, team or deployment)", ErrBadGroupBy, q.GroupBy)
	}
	var w where
	w.timeRange(q.Start, q.End)
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	sqlq := "SELECT " + key + ", " + usageSums + " FROM spend_logs" + w.String() + " GROUP BY " + key
	var rows []ReportRow
	err := s.db.query(ctx, sqlq, w.args, func(scan func(...any) error) error {
		var r ReportRow
		if err := scan(&r.Group, &r.Requests, &r.InputTokens, &r.OutputTokens, &r.CacheReadTokens,
			&r.CacheWriteTokens, &r.TotalTokens, &r.Cost); err != nil {
			return err
		}
		if q.GroupBy == GroupByDay {
			day, err := strconv.ParseInt(r.Group, 10, 64)
			if err != nil {
				return fmt.Errorf("day %q: %w", r.Group, err)
			}
			r.Group = time.UnixMicro(day * microsPerDay).UTC().Format(time.DateOnly)
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spend report: %w", err)
	}
	if q.GroupBy == GroupByDay {
		sort.Slice(rows, func(i, j int) bool { return rows[i].Group < rows[j].Group })
	} else {
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].Cost != rows[j].Cost {
				return rows[i].Cost > rows[j].Cost
			}
			return rows[i].Group < rows[j].Group
		})
	}
	return rows, nil
}

// Stats implements Store. Percentiles are computed in SQL, nearest-rank,
// with window functions (ROW_NUMBER and COUNT over each group, ordered by
// latency): the database sorts, spilling to disk as it needs, and this
// process holds one row per group. The same statement runs on SQLite
// (≥ 3.25) and PostgreSQL.
func (s *sqlStore) Stats(ctx context.Context, since, until time.Time) (*Stats, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	st := &Stats{Since: since, Until: until}
	total, err := s.statsBy(ctx, "", since, until)
	if err != nil {
		return nil, err
	}
	if len(total) == 1 {
		st.Total = total[0]
	}
	if st.ByModel, err = s.statsBy(ctx, "model_group", since, until); err != nil {
		return nil, err
	}
	if st.ByDeployment, err = s.statsBy(ctx, "deployment_id", since, until); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *sqlStore) statsBy(ctx context.Context, key string, since, until time.Time) ([]StatsRow, error) {
	var w where
	w.timeRange(since, until)
	partition, group, keyCol, groupCol := "", "", "''", "''"
	if key != "" {
		partition = "PARTITION BY " + key + " "
		group = " GROUP BY k"
		keyCol = key
		groupCol = "MAX(model_group)"
	}
	rank := func(p int) string {
		return fmt.Sprintf("MIN(CASE WHEN rn >= (n * %d + 99) / 100 THEN latency_ms END)", p)
	}
	q := "WITH w AS (SELECT " + keyCol + " AS k, model_group, status, input_tokens, output_tokens, " +
		"cache_read_tokens, cache_write_tokens, total_tokens, cost, latency_ms, " +
		"ROW_NUMBER() OVER (" + partition + "ORDER BY latency_ms) AS rn, " +
		"COUNT(*) OVER (" + strings.TrimSpace(partition) + ") AS n " +
		"FROM spend_logs" + w.String() + ") " +
		"SELECT " + groupKey(key) + ", " + groupCol + ", " +
		"CAST(COALESCE(SUM(CASE WHEN status <> 'success' THEN 1 ELSE 0 END), 0) AS BIGINT), " + usageSums + ", " +
		"COALESCE(" + rank(50) + ", 0), COALESCE(" + rank(95) + ", 0), COALESCE(" + rank(99) + ", 0) " +
		"FROM w" + group + " ORDER BY 1"
	var out []StatsRow
	err := s.db.query(ctx, q, w.args, func(scan func(...any) error) error {
		var r StatsRow
		var k, mg string
		var p50, p95, p99 float64
		if err := scan(&k, &mg, &r.Errors, &r.Requests, &r.InputTokens, &r.OutputTokens, &r.CacheReadTokens,
			&r.CacheWriteTokens, &r.TotalTokens, &r.Cost, &p50, &p95, &p99); err != nil {
			return err
		}
		if key == "" && r.Requests == 0 {
			return nil
		}
		r.ModelGroup = mg
		if key == "deployment_id" {
			r.DeploymentID = k
		}
		r.LatencyP50, r.LatencyP95, r.LatencyP99 = fromMS(p50), fromMS(p95), fromMS(p99)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spend stats: %w", err)
	}
	return out, nil
}

func groupKey(key string) string {
	if key == "" {
		return "''"
	}
	return "k"
}

// deleteBatch bounds one DELETE statement.
var deleteBatch int64 = 5000

// DeleteBefore implements Store: DELETE … WHERE <row id> IN (SELECT … LIMIT
// n) until a batch comes back short. Rows are never read into this process.
func (s *sqlStore) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	q := "DELETE FROM spend_logs WHERE id IN (SELECT id FROM spend_logs WHERE start_time < ? LIMIT ?)"
	if s.dialect == dialectPostgres {
		q = "DELETE FROM spend_logs WHERE ctid = ANY(ARRAY(SELECT ctid FROM spend_logs WHERE start_time < ? LIMIT ?))"
	}
	var total int64
	for {
		n, err := s.db.exec(ctx, q, t.UnixMicro(), deleteBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("delete spend logs: %w", err)
		}
		if n < deleteBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// Ping implements Store.
func (s *sqlStore) Ping(ctx context.Context) error { return s.db.ping(ctx) }

// Close implements Store.
func (s *sqlStore) Close() error { return s.db.close() }
