// Package spend stores the spend log: the finished calls (record.Record)
// in SQLite (as batches, see batch.go) or PostgreSQL (a row each), with
// the queries behind
// /spend/logs, /global/spend/report, /stats and /logs, retention, and the
// Writer that gets records from the request path to the database without
// blocking it and without losing them in a crash.
package spend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/record"
)

// Store is the spend log database.
type Store interface {
	// Insert writes records in one transaction; it does not keep recs
	// after it returns. PostgreSQL skips a record whose ID is stored
	// already; SQLite does not look (the Writer's replays are idempotent
	// through the journal position it commits with each batch).
	Insert(ctx context.Context, recs []*record.Record) error
	// Query returns records newest first and the cursor of the next page
	// ("" on the last page).
	Query(ctx context.Context, f Filter) ([]*record.Record, string, error)
	// Report sums requests, tokens and cost per group.
	Report(ctx context.Context, q ReportQuery) ([]ReportRow, error)
	// Stats summarizes the calls that started in [since, until).
	Stats(ctx context.Context, since, until time.Time) (*Stats, error)
	// DeleteBefore deletes the records that started before t, in bounded
	// batches, and returns how many it deleted.
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

// Query limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects records. Zero fields do not filter.
type Filter struct {
	KeyHash    string
	User       string
	Team       string
	ModelGroup string
	// Start is inclusive, End exclusive.
	Start, End time.Time
	// Limit is the page size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// Cursor is the next-page cursor returned by the previous Query.
	Cursor string
}

// pageSize is f's Limit with its default and bound applied.
func (f *Filter) pageSize() int {
	if f.Limit <= 0 {
		return DefaultLimit
	}
	return min(f.Limit, MaxLimit)
}

// GroupBy is a report grouping.
type GroupBy string

// Report groupings.
const (
	GroupByDay        GroupBy = "day" // UTC day, "2006-01-02"
	GroupByModel      GroupBy = "model"
	GroupByKey        GroupBy = "key"
	GroupByUser       GroupBy = "user"
	GroupByTeam       GroupBy = "team"
	GroupByDeployment GroupBy = "deployment"
)

// ReportQuery asks for totals per group over [Start, End); a zero Start or
// End leaves that side open.
type ReportQuery struct {
	GroupBy    GroupBy
	Start, End time.Time
}

// ReportRow is the total of one group.
type ReportRow struct {
	Group            string
	Requests         int64
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	TotalTokens      int64
	Cost             float64
}

// Stats summarizes a window of calls.
type Stats struct {
	Since, Until time.Time
	Total        StatsRow
	ByModel      []StatsRow // one per model group, by name
	ByDeployment []StatsRow // one per deployment id, by id
}

// StatsRow is the summary of one model group or deployment. Latency
// percentiles are nearest-rank over the calls of the row.
type StatsRow struct {
	ModelGroup   string
	DeploymentID string // set in Stats.ByDeployment
	Requests     int64
	Errors       int64
	InputTokens  int64
	OutputTokens int64
	CacheReadTokens,
	CacheWriteTokens int64
	TotalTokens                        int64
	Cost                               float64
	LatencyP50, LatencyP95, LatencyP99 time.Duration
}

// Errors.
var (
	ErrBadURL     = errors.New("spend: unsupported database_url")
	ErrBadCursor  = errors.New("spend: bad cursor")
	ErrBadGroupBy = errors.New("spend: bad group_by")
)

// Open opens the spend log named by a database_url and runs the embedded
// migrations:
//
//	sqlite:///relative/path.db   (SQLAlchemy convention: three slashes, relative)
//	sqlite:////absolute/path.db  (four slashes: absolute)
//	sqlite:path.db, sqlite::memory:, sqlite://:memory:, :memory:
//	file:path.db?mode=rwc        (SQLite URI, passed to the driver)
//	postgresql://user@host:5432/db?sslmode=disable, postgres://…
//
// A PostgreSQL server that cannot be reached is not an error: the store
// connects and migrates on first use, Ping reports the outage, and the
// Writer keeps records in its journal meanwhile. A malformed URL or a failed
// migration is an error.
func Open(databaseURL string) (Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return OpenContext(ctx, databaseURL)
}

// OpenContext is Open with a context for the initial connection and migrations.
func OpenContext(ctx context.Context, databaseURL string) (Store, error) {
	u := strings.TrimSpace(databaseURL)
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return openPostgres(ctx, u)
	case u == ":memory:", strings.HasPrefix(u, "sqlite:"), strings.HasPrefix(u, "file:"):
		dsn, err := sqliteDSN(u)
		if err != nil {
			return nil, err
		}
		return openSQLite(ctx, dsn)
	case u == "":
		return nil, fmt.Errorf("%w: empty", ErrBadURL)
	}
	scheme := u
	if i := strings.Index(u, ":"); i >= 0 {
		scheme = u[:i]
	}
	return nil, fmt.Errorf("%w: scheme %q (want sqlite:// or postgresql://)", ErrBadURL, scheme)
}

// sqliteDSN turns a database_url into a modernc.org/sqlite file name.
func sqliteDSN(u string) (string, error) {
	if strings.HasPrefix(u, "file:") {
		return u, nil
	}
	p := strings.TrimPrefix(u, "sqlite:")
	if strings.HasPrefix(p, "//") {
		p = p[2:] // authority (empty) ends here
		// "sqlite:///rel.db" → "rel.db", "sqlite:////abs.db" → "/abs.db"
		p = strings.TrimPrefix(p, "/")
	}
	if q := strings.IndexByte(p, '?'); q >= 0 {
		p = p[:q] // parameters are ours to set
	}
	if p == "" {
		return "", fmt.Errorf("%w: %q has no path", ErrBadURL, u)
	}
	if p == ":memory:" {
		return ":memory:", nil
	}
	return "file:" + p, nil
}
