package spend

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the cgo-free "sqlite" driver
)

// sqliteDB is a db over database/sql and modernc.org/sqlite.
type sqliteDB struct {
	db *sql.DB

	// stmts are the statements prepared by prepare; a transaction's exec
	// of one of these texts runs the prepared statement (database/sql
	// prepares it once per connection) instead of compiling the SQL again.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

var _ db = (*sqliteDB)(nil)

func openSQLite(ctx context.Context, name string) (Store, error) {
	memory := name == ":memory:"
	dsn := name
	if memory {
		dsn = "file::memory:"
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	// WAL lets readers run beside the writer; synchronous=FULL makes a
	// commit durable on power loss too (commits are batched, so the fsync
	// is cheap); immediate transactions take the write lock up front, so
	// two writers wait on busy_timeout instead of failing to upgrade.
	dsn += sep + "_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate"
	if !memory {
		dsn += "&_pragma=journal_mode(WAL)"
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", name, err)
	}
	if memory {
		sdb.SetMaxOpenConns(1) // every connection would be its own database
	} else {
		sdb.SetMaxOpenConns(4)
	}
	d := &sqliteDB{db: sdb}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", name, err)
	}
	if err := migrate(ctx, d, dialectSQLite); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlite %s: %w", name, err)
	}
	return &sqlStore{db: d, dialect: dialectSQLite}, nil
}

type sqlConn interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

type sqliteConn struct {
	c  sqlConn
	d  *sqliteDB // set inside a transaction: c is a *sql.Tx
	tx *sql.Tx
}

func (c sqliteConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := c.d.stmt(q); st != nil && c.tx != nil {
		ts := c.tx.StmtContext(ctx, st)
		res, err = ts.ExecContext(ctx, args...)
		ts.Close()
	} else {
		res, err = c.c.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// prepare prepares the statements qs not prepared yet, for exec in a
// transaction; one that fails is compiled on every use instead. It must
// not run inside a transaction (it takes a connection of its own).
func (d *sqliteDB) prepare(ctx context.Context, qs []string) {
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	for _, q := range qs {
		if d.stmts[q] != nil {
			continue
		}
		st, err := d.db.PrepareContext(ctx, q)
		if err != nil {
			return
		}
		if d.stmts == nil {
			d.stmts = make(map[string]*sql.Stmt)
		}
		d.stmts[q] = st
	}
}

// stmt is the prepared statement for q, or nil.
func (d *sqliteDB) stmt(q string) *sql.Stmt {
	if d == nil {
		return nil
	}
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	return d.stmts[q]
}

func (c sqliteConn) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	rows, err := c.c.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

func (d *sqliteDB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqliteConn{c: d.db}.exec(ctx, q, args...)
}

func (d *sqliteDB) query(ctx context.Context, q string, args []any, each func(scan func(...any) error) error) error {
	return sqliteConn{c: d.db}.query(ctx, q, args, each)
}

func (d *sqliteDB) tx(ctx context.Context, fn func(conn) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqliteConn{c: tx, d: d, tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (d *sqliteDB) script(ctx context.Context, c conn, sql string) error {
	_, err := c.exec(ctx, sql)
	return err
}

func (d *sqliteDB) ping(ctx context.Context) error { return d.db.PingContext(ctx) }
func (d *sqliteDB) close() error {
	d.stmtMu.Lock()
	for q, st := range d.stmts {
		st.Close()
		delete(d.stmts, q)
	}
	d.stmtMu.Unlock()
	return d.db.Close()
}
