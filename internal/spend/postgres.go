package spend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgDB is a db over a pgxpool connection pool.
type pgDB struct {
	pool *pgxpool.Pool

	migrateMu sync.Mutex
	migrated  bool
}

var _ db = (*pgDB)(nil)

// pgMaxConns bounds the connections of one store.
const pgMaxConns = 8

func openPostgres(ctx context.Context, url string) (Store, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadURL, redactErr(err))
	}
	cfg := pcfg.ConnConfig
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 10*time.Second {
		cfg.ConnectTimeout = 10 * time.Second
	}
	pcfg.MaxConns = pgMaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadURL, redactErr(err))
	}
	d := &pgDB{pool: pool}
	s := &sqlStore{db: d, dialect: dialectPostgres}
	if err := d.ready(ctx); err != nil {
		if isConnError(err) {
			slog.Warn("spend log database unreachable; will connect on first use",
				"host", cfg.Host, "database", cfg.Database, "err", err)
			return s, nil
		}
		d.close()
		return nil, fmt.Errorf("postgres %s/%s: %w", cfg.Host, cfg.Database, err)
	}
	return s, nil
}

// redactErr keeps a password in a URL out of an error message.
func redactErr(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if j := strings.IndexByte(msg[i+3:], '@'); j >= 0 {
			msg = msg[:i+3] + "…" + msg[i+3+j:]
		}
	}
	return msg
}

// ready runs the migrations once, on the first successful connection.
func (d *pgDB) ready(ctx context.Context) error {
	d.migrateMu.Lock()
	defer d.migrateMu.Unlock()
	if d.migrated {
		return nil
	}
	if err := migrate(ctx, d, dialectPostgres); err != nil {
		return err
	}
	d.migrated = true
	return nil
}

// isConnError: anything but an error the server answered with.
func isConnError(err error) bool {
	var pe *pgconn.PgError
	return err != nil && !errors.As(err, &pe) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// withConn runs fn on a pooled connection. An idle connection may have
// died with a server restart: then fn is retried once on a fresh one (every
// statement of this package is safe to repeat).
func (d *pgDB) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := d.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		err = fn(c.Conn())
		if err != nil && (isConnError(err) || c.Conn().PgConn().TxStatus() != 'I') {
			// A broken connection or one left inside a transaction is not reused.
			c.Conn().Close(context.Background())
		}
		c.Release()
		if err != nil && attempt == 0 && isConnError(err) && ctx.Err() == nil {
			continue
		}
		return err
	}
}

// rebind turns "?" placeholders into "$1", "$2", ...
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

type pgConn struct{ q pgQuerier }

func (c pgConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (c pgConn) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	rows, err := c.q.Query(ctx, rebind(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	rows.Close()
	return rows.Err()
}

func (d *pgDB) exec(ctx context.Context, q string, args ...any) (n int64, err error) {
	err = d.withConn(ctx, func(c *pgx.Conn) error {
		n, err = pgConn{c}.exec(ctx, q, args...)
		return err
	})
	return n, err
}

func (d *pgDB) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	return d.withConn(ctx, func(c *pgx.Conn) error {
		return pgConn{c}.query(ctx, q, args, each)
	})
}

func (d *pgDB) tx(ctx context.Context, fn func(conn) error) error {
	return d.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return fn(pgConn{tx}) })
	})
}

func (d *pgDB) script(ctx context.Context, c conn, sql string) error {
	pc, ok := c.(pgConn)
	if !ok {
		return errors.New("spend: script outside a postgres connection")
	}
	_, err := pc.q.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return err
}

func (d *pgDB) ping(ctx context.Context) error {
	if err := d.withConn(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) }); err != nil {
		return err
	}
	return d.ready(ctx)
}

func (d *pgDB) close() error {
	d.pool.Close()
	return nil
}
