package spend

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// sqliteStore keeps the spend log in SQLite as batches (see batch.go):
// one spend_batches row per inserted batch, spend_batch_keys naming the
// batches that hold each key hash, user, team and model group, and
// spend_journal_pos the journal positions committed. Inserting a batch
// costs a handful of rows whatever its size; queries read the summaries
// of the batches their time range and filters select and decode the
// journal lines of the records they return. A view, spend_logs, shows the
// rows of the previous layout for ad-hoc SQL.
type sqliteStore struct {
	d *sqliteDB

	encMu sync.Mutex
	enc   batchEncoder
}

var _ positionedStore = (*sqliteStore)(nil)

// maxBatchRows bounds the records of one spend_batches row; a record's id
// is its batch's id × maxBatchRows + its index.
const maxBatchRows = 1 << 16

// batchRowLimit is the most records Insert puts in one row (tests lower it).
var batchRowLimit = maxBatchRows

const (
	batchInsert = "INSERT INTO spend_batches (min_start, max_start, n, cols, dict, data) VALUES (?, ?, ?, ?, ?, ?)"
	keyInsert   = "INSERT OR IGNORE INTO spend_batch_keys (kind, value, batch_id) VALUES (?, ?, ?)"
)

func (s *sqliteStore) committedPos(ctx context.Context, journal string) (journalPos, error) {
	return readPosition(ctx, s.d, journal)
}

// Insert implements Store. It does not look for records stored already:
// the Writer's replays are made idempotent by the journal position
// (insertBatch).
func (s *sqliteStore) Insert(ctx context.Context, recs []*record.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return s.insertBatch(ctx, &journalBatch{recs: recs})
}

func (s *sqliteStore) insertBatch(ctx context.Context, b *journalBatch) error {
	if len(b.recs) == 0 && b.journal == "" {
		return nil
	}
	for _, r := range b.recs {
		if r.ID == "" {
			r.ID = NewID()
		}
		if math.IsNaN(r.Cost) || math.IsInf(r.Cost, 0) {
			// The journal cannot hold it either (JSON has no such numbers).
			return fmt.Errorf("insert spend logs: record %s: cost %v", r.ID, r.Cost)
		}
	}
	if b.legacy {
		recs, err := s.notStored(ctx, b.recs)
		if err != nil {
			return fmt.Errorf("insert spend logs: %w", err)
		}
		c := *b
		c.recs = recs
		b = &c
	}
	s.encMu.Lock()
	defer s.encMu.Unlock()
	return s.d.execTx(ctx, func(c conn) error {
		ok, err := advancePos(ctx, c, b)
		if err != nil || !ok {
			return err
		}
		rx := c.(rawExec)
		for i := 0; i < len(b.recs); i += batchRowLimit {
			if err := s.insertRow(ctx, rx, b, i, min(i+batchRowLimit, len(b.recs))); err != nil {
				return fmt.Errorf("insert spend logs: %w", err)
			}
		}
		return nil
	})
}

// insertRow inserts records [from, to) of b as one batch row.
func (s *sqliteStore) insertRow(ctx context.Context, c rawExec, b *journalBatch, from, to int) error {
	e := &s.enc
	e.reset()
	for i := from; i < to; i++ {
		e.add(b.recs[i])
	}
	id, err := c.execID(ctx, batchInsert, e.minSt, e.maxSt, int64(e.n), e.cols(), e.dict(), e.dataBytes())
	if err != nil {
		return err
	}
	for k := range e.keys {
		if _, err := c.exec(ctx, keyInsert, int64(k[0]), e.strs[k[1]], id); err != nil {
			return err
		}
	}
	return nil
}

// notStored returns the records of recs whose id is not stored, looking
// through the batches of their time range: the replay of a journal an
// earlier version wrote, which kept no positions, once after an upgrade.
func (s *sqliteStore) notStored(ctx context.Context, recs []*record.Record) ([]*record.Record, error) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, r := range recs {
		lo, hi = min(lo, r.StartTime.UnixMicro()), max(hi, r.StartTime.UnixMicro())
	}
	have := map[string]bool{}
	err := s.d.query(ctx, "SELECT dict, data FROM spend_batches WHERE max_start >= ? AND min_start <= ?", []any{lo, hi},
		func(scan func(...any) error) error {
			var dictB, data []byte
			if err := scan(&dictB, &data); err != nil {
				return err
			}
			dict, err := decodeDict(dictB)
			if err != nil {
				return err
			}
			return decodeData(data, dict, func(int) bool { return true }, func(_ int, r *record.Record) { have[r.ID] = true })
		})
	if err != nil {
		return nil, err
	}
	var out []*record.Record
	for _, r := range recs {
		if !have[storedString(r.ID)] {
			out = append(out, r)
			have[storedString(r.ID)] = true
		}
	}
	return out, nil
}

// batchWhere selects the batches that may hold records starting in
// [start, end).
func batchWhere(w *where, start, end time.Time) {
	if !start.IsZero() {
		w.add("max_start >= ?", start.UnixMicro())
	}
	if !end.IsZero() {
		w.add("min_start < ?", end.UnixMicro())
	}
}

// eachBatch calls fn with the dict and summaries of every batch selected
// by w, newest (by its latest record) first; fn returns false to stop.
func (s *sqliteStore) eachBatch(ctx context.Context, c conn, w *where, fn func(id, maxStart int64, dict []string, recs []colRec) (bool, error)) error {
	q := "SELECT id, max_start, dict, cols FROM spend_batches" + w.String() + " ORDER BY max_start DESC, id DESC"
	stop := errStop
	err := c.query(ctx, q, w.args, func(scan func(...any) error) error {
		var id, maxStart int64
		var dictB, cols []byte
		if err := scan(&id, &maxStart, &dictB, &cols); err != nil {
			return err
		}
		dict, err := decodeDict(dictB)
		if err != nil {
			return fmt.Errorf("batch %d: %w", id, err)
		}
		recs, err := decodeCols(cols, len(dict))
		if err != nil {
			return fmt.Errorf("batch %d: %w", id, err)
		}
		more, err := fn(id, maxStart, dict, recs)
		if err != nil {
			return err
		}
		if !more {
			return stop
		}
		return nil
	})
	if err == stop {
		return nil
	}
	return err
}

var errStop = fmt.Errorf("stop")

// hit is a record Query selected: its batch, index and sort key.
type hit struct {
	start, id int64
	batch     int64
	i         int
}

// Query implements Store: newest first by (start time, id), where a
// record's id is its batch id × maxBatchRows + its index in the batch;
// batches are read newest first and the scan stops once no remaining
// batch can hold a record that sorts into the page.
func (s *sqliteStore) Query(ctx context.Context, f Filter) ([]*record.Record, string, error) {
	limit := f.pageSize()
	var w where
	batchWhere(&w, f.Start, f.End)
	curStart, curID := int64(math.MaxInt64), int64(math.MaxInt64)
	if f.Cursor != "" {
		var err error
		if curStart, curID, err = decodeCursor(f.Cursor); err != nil {
			return nil, "", err
		}
		w.add("min_start <= ?", curStart)
	}
	filters := [...]struct {
		kind int
		v    string
	}{{kindKey, f.KeyHash}, {kindUser, f.User}, {kindTeam, f.Team}, {kindModel, f.ModelGroup}}
	for _, fl := range filters {
		if fl.v != "" {
			w.add("id IN (SELECT batch_id FROM spend_batch_keys WHERE kind = ? AND value = ?)", int64(fl.kind), fl.v)
		}
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.Start.IsZero() {
		lo = f.Start.UnixMicro()
	}
	if !f.End.IsZero() {
		hi = f.End.UnixMicro()
	}
	want := limit + 1
	var hits []hit
	less := func(a, b hit) int { // newest first
		if c := cmp.Compare(b.start, a.start); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	}
	collect := func(id, maxStart int64, dict []string, recs []colRec) (bool, error) {
		if len(hits) >= want && maxStart < hits[want-1].start {
			return false, nil
		}
		var want4 [4]uint32
		for k, fl := range filters {
			if fl.v == "" {
				continue
			}
			j := slices.Index(dict, fl.v)
			if j < 0 {
				return true, nil // an index entry of records since deleted
			}
			want4[k] = uint32(j)
		}
		for i := range recs {
			r := &recs[i]
			if r.start < lo || r.start >= hi {
				continue
			}
			if (filters[0].v != "" && r.key != want4[0]) || (filters[1].v != "" && r.user != want4[1]) ||
				(filters[2].v != "" && r.team != want4[2]) || (filters[3].v != "" && r.model != want4[3]) {
				continue
			}
			rid := id*maxBatchRows + int64(i)
			if r.start > curStart || (r.start == curStart && rid >= curID) {
				continue
			}
			hits = append(hits, hit{start: r.start, id: rid, batch: id, i: i})
		}
		if len(hits) >= want {
			slices.SortFunc(hits, less)
			hits = hits[:want]
		}
		return true, nil
	}
	// One snapshot for both reads: retention deleting or trimming a batch
	// between them would leave hits without their records.
	var out []*record.Record
	next := ""
	err := s.d.readTx(ctx, func(c conn) error {
		if err := s.eachBatch(ctx, c, &w, collect); err != nil {
			return err
		}
		slices.SortFunc(hits, less)
		if len(hits) > limit {
			hits = hits[:limit]
			last := hits[limit-1]
			next = encodeCursor(last.start, last.id)
		}
		if betweenReads != nil {
			betweenReads()
		}
		var err error
		out, err = s.records(ctx, c, hits)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("query spend logs: %w", err)
	}
	return out, next, nil
}

// betweenReads, when set (tests), runs between Query's two reads.
var betweenReads func()

// records decodes the records of hits, in their order.
func (s *sqliteStore) records(ctx context.Context, c conn, hits []hit) ([]*record.Record, error) {
	out := make([]*record.Record, len(hits))
	byBatch := map[int64]map[int]int{} // batch → index in it → index in hits
	var batches []int64
	for k, h := range hits {
		m := byBatch[h.batch]
		if m == nil {
			m = map[int]int{}
			byBatch[h.batch] = m
			batches = append(batches, h.batch)
		}
		m[h.i] = k
	}
	for _, id := range batches {
		var dictB, data []byte
		seen := false
		err := c.query(ctx, "SELECT dict, data FROM spend_batches WHERE id = ?", []any{id}, func(scan func(...any) error) error {
			seen = true
			return scan(&dictB, &data)
		})
		if err != nil {
			return nil, err
		}
		if !seen {
			return nil, fmt.Errorf("batch %d changed during the query", id)
		}
		dict, err := decodeDict(dictB)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", id, err)
		}
		m := byBatch[id]
		found := 0
		err = decodeData(data, dict, func(i int) bool { _, ok := m[i]; return ok }, func(i int, r *record.Record) {
			out[m[i]] = r
			found++
		})
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", id, err)
		}
		if found != len(m) {
			return nil, fmt.Errorf("batch %d changed during the query", id)
		}
	}
	return out, nil
}

// Report implements Store from the batch summaries.
func (s *sqliteStore) Report(ctx context.Context, q ReportQuery) ([]ReportRow, error) {
	var pick func(dict []string, r *colRec) string
	switch q.GroupBy {
	case GroupByDay:
		pick = func(_ []string, r *colRec) string {
			return time.UnixMicro(floorDiv(r.start, microsPerDay) * microsPerDay).UTC().Format(time.DateOnly)
		}
	case GroupByModel:
		pick = func(d []string, r *colRec) string { return d[r.model] }
	case GroupByKey:
		pick = func(d []string, r *colRec) string { return d[r.key] }
	case GroupByUser:
		pick = func(d []string, r *colRec) string { return d[r.user] }
	case GroupByTeam:
		pick = func(d []string, r *colRec) string { return d[r.team] }
	case GroupByDeployment:
		pick = func(d []string, r *colRec) string { return d[r.dep] }
	default:
		return nil, fmt.Errorf("%w: %q (want day, model, key, user, team or deployment)", ErrBadGroupBy, q.GroupBy)
	}
	lo, hi := timeBounds(q.Start, q.End)
	var w where
	batchWhere(&w, q.Start, q.End)
	groups := map[string]*ReportRow{}
	err := s.eachBatch(ctx, s.d, &w, func(_, _ int64, dict []string, recs []colRec) (bool, error) {
		for i := range recs {
			r := &recs[i]
			if r.start < lo || r.start >= hi {
				continue
			}
			k := pick(dict, r)
			g := groups[k]
			if g == nil {
				g = &ReportRow{Group: k}
				groups[k] = g
			}
			g.Requests++
			g.InputTokens += r.in
			g.OutputTokens += r.out
			g.CacheReadTokens += r.cacheRead
			g.CacheWriteTokens += r.cacheW
			g.TotalTokens += r.total
			g.Cost += r.cost
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("spend report: %w", err)
	}
	rows := make([]ReportRow, 0, len(groups))
	for _, g := range groups {
		rows = append(rows, *g)
	}
	sortReport(rows, q.GroupBy)
	return rows, nil
}

func sortReport(rows []ReportRow, g GroupBy) {
	if g == GroupByDay {
		sort.Slice(rows, func(i, j int) bool { return rows[i].Group < rows[j].Group })
		return
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Cost != rows[j].Cost {
			return rows[i].Cost > rows[j].Cost
		}
		return rows[i].Group < rows[j].Group
	})
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// timeBounds is [start, end) in µs, open sides as the extremes.
func timeBounds(start, end time.Time) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if !start.IsZero() {
		lo = start.UnixMicro()
	}
	if !end.IsZero() {
		hi = end.UnixMicro()
	}
	return lo, hi
}

// statsAcc accumulates one StatsRow and its latencies.
type statsAcc struct {
	row StatsRow
	lat []int64
}

func (a *statsAcc) add(r *colRec) {
	a.row.Requests++
	if !r.success {
		a.row.Errors++
	}
	a.row.InputTokens += r.in
	a.row.OutputTokens += r.out
	a.row.CacheReadTokens += r.cacheRead
	a.row.CacheWriteTokens += r.cacheW
	a.row.TotalTokens += r.total
	a.row.Cost += r.cost
	a.lat = append(a.lat, r.latency)
}

// finish sets the nearest-rank percentiles: the smallest latency whose
// rank is at least ⌈n·p/100⌉.
func (a *statsAcc) finish() StatsRow {
	slices.Sort(a.lat)
	n := int64(len(a.lat))
	rank := func(p int64) time.Duration {
		if n == 0 {
			return 0
		}
		k := max((n*p+99)/100, 1)
		return time.Duration(a.lat[k-1])
	}
	a.row.LatencyP50, a.row.LatencyP95, a.row.LatencyP99 = rank(50), rank(95), rank(99)
	return a.row
}

// Stats implements Store from the batch summaries. It holds the latencies
// of the window in memory (8 bytes a call, twice: per model group and per
// deployment), sorts them per row and picks nearest-rank percentiles.
func (s *sqliteStore) Stats(ctx context.Context, since, until time.Time) (*Stats, error) {
	st := &Stats{Since: since, Until: until}
	lo, hi := timeBounds(since, until)
	var w where
	batchWhere(&w, since, until)
	byModel, byDep := map[string]*statsAcc{}, map[string]*statsAcc{}
	depModel := map[string]string{}
	err := s.eachBatch(ctx, s.d, &w, func(_, _ int64, dict []string, recs []colRec) (bool, error) {
		for i := range recs {
			r := &recs[i]
			if r.start < lo || r.start >= hi {
				continue
			}
			m, d := dict[r.model], dict[r.dep]
			a := byModel[m]
			if a == nil {
				a = &statsAcc{row: StatsRow{ModelGroup: m}}
				byModel[m] = a
			}
			a.add(r)
			b := byDep[d]
			if b == nil {
				b = &statsAcc{row: StatsRow{DeploymentID: d}}
				byDep[d] = b
			}
			b.add(r)
			if m > depModel[d] {
				depModel[d] = m // MAX(model_group), as the row layout reported it
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("spend stats: %w", err)
	}
	var total statsAcc
	for _, k := range sortedKeys(byModel) {
		a := byModel[k]
		total.row.Requests += a.row.Requests
		total.row.Errors += a.row.Errors
		total.row.InputTokens += a.row.InputTokens
		total.row.OutputTokens += a.row.OutputTokens
		total.row.CacheReadTokens += a.row.CacheReadTokens
		total.row.CacheWriteTokens += a.row.CacheWriteTokens
		total.row.TotalTokens += a.row.TotalTokens
		total.row.Cost += a.row.Cost
		total.lat = append(total.lat, a.lat...)
		st.ByModel = append(st.ByModel, a.finish())
	}
	if total.row.Requests > 0 {
		st.Total = total.finish()
	}
	for _, k := range sortedKeys(byDep) {
		a := byDep[k]
		a.row.ModelGroup = depModel[k]
		st.ByDeployment = append(st.ByDeployment, a.finish())
	}
	return st, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// DeleteBefore implements Store: batches whose every record started
// before t go in bounded DELETEs; the few that straddle t are rewritten
// without their older records; index entries of deleted batches go last.
func (s *sqliteStore) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	cut := t.UnixMicro()
	var total int64
	for {
		var n, rows int64
		err := s.d.query(ctx, "DELETE FROM spend_batches WHERE id IN (SELECT id FROM spend_batches WHERE max_start < ? LIMIT ?) RETURNING n",
			[]any{cut, deleteBatch}, func(scan func(...any) error) error {
				var k int64
				if err := scan(&k); err != nil {
					return err
				}
				n += k
				rows++
				return nil
			})
		total += n
		if err != nil {
			return total, fmt.Errorf("delete spend logs: %w", err)
		}
		if rows < deleteBatch {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	for {
		n, more, err := s.trimOne(ctx, cut)
		total += n
		if err != nil {
			return total, fmt.Errorf("delete spend logs: %w", err)
		}
		if !more {
			break
		}
	}
	if _, err := s.d.exec(ctx, "DELETE FROM spend_batch_keys WHERE batch_id NOT IN (SELECT id FROM spend_batches)"); err != nil {
		return total, fmt.Errorf("delete spend logs: %w", err)
	}
	return total, nil
}

// trimOne rewrites one batch that straddles cut without its records that
// started before cut.
func (s *sqliteStore) trimOne(ctx context.Context, cut int64) (deleted int64, more bool, err error) {
	err = s.d.tx(ctx, func(c conn) error {
		var id int64
		var dictB, data []byte
		found := false
		err := c.query(ctx, "SELECT id, dict, data FROM spend_batches WHERE min_start < ? LIMIT 1", []any{cut},
			func(scan func(...any) error) error {
				found = true
				return scan(&id, &dictB, &data)
			})
		if err != nil || !found {
			return err
		}
		more = true
		dict, err := decodeDict(dictB)
		if err != nil {
			return fmt.Errorf("batch %d: %w", id, err)
		}
		var e batchEncoder
		e.reset()
		err = decodeData(data, dict, func(int) bool { return true }, func(_ int, r *record.Record) {
			if r.StartTime.UnixMicro() < cut {
				deleted++
				return
			}
			e.add(r)
		})
		if err != nil {
			return fmt.Errorf("batch %d: %w", id, err)
		}
		if e.n == 0 {
			_, err = c.exec(ctx, "DELETE FROM spend_batches WHERE id = ?", id)
			return err
		}
		_, err = c.exec(ctx, "UPDATE spend_batches SET min_start = ?, max_start = ?, n = ?, cols = ?, dict = ?, data = ? WHERE id = ?",
			e.minSt, e.maxSt, int64(e.n), e.cols(), e.dict(), e.dataBytes(), id)
		return err
	})
	return deleted, more, err
}

// Ping implements Store.
func (s *sqliteStore) Ping(ctx context.Context) error { return s.d.ping(ctx) }

// Close implements Store.
func (s *sqliteStore) Close() error { return s.d.close() }
