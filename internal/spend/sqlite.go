package spend

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the cgo-free "sqlite" driver
)

// sqliteDB is a db over database/sql and modernc.org/sqlite.
type sqliteDB struct {
	db     *sql.DB
	memory bool // one connection, which is the database

	// Insert's transactions (execTx) run through the driver on a
	// connection of their own, held between transactions (on a file), with
	// their statements prepared on it once: database/sql would allocate and
	// convert a slice of arguments per exec.
	insMu    sync.Mutex
	ins      *sql.Conn
	stmtConn any // the driver connection stmts were prepared on
	stmts    map[string]driver.Stmt
	args     []driver.NamedValue
}

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
	// WAL mode persists in the file: setupFile sets it once.
	dsn += sep + "_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", name, err)
	}
	if memory {
		sdb.SetMaxOpenConns(1) // every connection would be its own database
	} else {
		sdb.SetMaxOpenConns(5) // 4 and the inserter's
	}
	d := &sqliteDB{db: sdb, memory: memory}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", name, err)
	}
	if !memory {
		if err := setupFile(ctx, sdb); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", name, err)
		}
	}
	if err := migrate(ctx, d, dialectSQLite); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlite %s: %w", name, err)
	}
	return &sqliteStore{d: d}, nil
}

// setupFile gives a new database file 16 KiB pages, then puts the file in
// WAL mode. A batch row is a blob of a few hundred KB, and each page of it
// is a WAL frame written and then copied by the checkpoint: a quarter of
// the pages cuts an insert's CPU (BenchmarkStoreInsertSQLite). The page
// size holds only if set before the first write, which setting WAL mode
// is; the driver runs a DSN's pragmas sorted by name (journal_mode before
// page_size), hence this step. An existing file keeps its page size.
func setupFile(ctx context.Context, db *sql.DB) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var pages int64
	if err := c.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return err
	}
	if pages == 0 {
		if _, err := c.ExecContext(ctx, "PRAGMA page_size = 16384"); err != nil {
			return err
		}
	}
	var mode string
	return c.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
}

type sqlConn interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

type sqliteConn struct{ c sqlConn }

func (c sqliteConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.c.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
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

// readTx runs fn in a read-only transaction: every query in fn sees the
// same snapshot of the database, whatever commits meanwhile.
func (d *sqliteDB) readTx(ctx context.Context, fn func(conn) error) error {
	return d.runTx(ctx, &sql.TxOptions{ReadOnly: true}, fn) // a deferred BEGIN: no write lock
}

func (d *sqliteDB) tx(ctx context.Context, fn func(conn) error) error {
	return d.runTx(ctx, nil, fn)
}

// runTx runs fn in a transaction begun with opts, committed when fn
// succeeds.
func (d *sqliteDB) runTx(ctx context.Context, opts *sql.TxOptions, fn func(conn) error) error {
	tx, err := d.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(sqliteConn{c: tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// rawExec is a conn inside an execTx transaction; it only execs.
type rawExec struct {
	d  *sqliteDB
	dc any
}

func (c rawExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.run(ctx, q, args)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// execID is exec of an INSERT that returns the new row's id.
func (c rawExec) execID(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.run(ctx, q, args)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (c rawExec) run(ctx context.Context, q string, args []any) (driver.Result, error) {
	d := c.d
	st := d.stmts[q]
	if st == nil {
		p, ok := c.dc.(driver.ConnPrepareContext)
		if !ok {
			return nil, errors.New("spend: sqlite driver cannot prepare with a context")
		}
		var err error
		if st, err = p.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		d.stmts[q] = st
	}
	se, ok := st.(driver.StmtExecContext)
	if !ok {
		return nil, errors.New("spend: sqlite driver cannot exec with a context")
	}
	nv := d.args[:0]
	for i, a := range args {
		nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	res, err := se.ExecContext(ctx, nv)
	clear(nv) // keep no strings alive
	d.args = nv
	return res, err
}

func (rawExec) query(context.Context, string, []any, func(func(...any) error) error) error {
	return errors.New("spend: query in an insert transaction")
}

// execTx is tx for a function that only execs (Insert), through the
// driver, on the inserter's connection.
func (d *sqliteDB) execTx(ctx context.Context, fn func(conn) error) error {
	d.insMu.Lock()
	defer d.insMu.Unlock()
	c := d.ins
	if c == nil {
		var err error
		if c, err = d.db.Conn(ctx); err != nil {
			return err
		}
	}
	err := c.Raw(func(dc any) error {
		if dc != d.stmtConn {
			// A connection of its own (a new one after a bad one), or the
			// pool's one in memory.
			d.stmts, d.stmtConn = make(map[string]driver.Stmt), dc
		}
		err := d.rawTx(ctx, dc, fn)
		if errors.Is(err, driver.ErrBadConn) {
			d.closeStmtsOn(dc)
		}
		return err
	})
	d.ins = c
	if d.memory || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		// In memory the pool's only connection goes back to it (and comes
		// back next time, statements and all); a bad one is closed.
		c.Close()
		d.ins = nil
	}
	return err
}

// rawTx runs fn in a transaction on the driver connection dc.
func (d *sqliteDB) rawTx(ctx context.Context, dc any, fn func(conn) error) error {
	b, ok := dc.(driver.ConnBeginTx)
	if !ok {
		return errors.New("spend: sqlite driver cannot begin with a context")
	}
	tx, err := b.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return err
	}
	if err := fn(rawExec{d: d, dc: dc}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		tx.Rollback() // a COMMIT that failed may leave the transaction open
		return err
	}
	return nil
}

// closeStmtsOn closes the inserter's statements if they were prepared on
// the driver connection dc. Called with insMu held, inside dc's Raw.
func (d *sqliteDB) closeStmtsOn(dc any) {
	if dc != d.stmtConn {
		return
	}
	for _, st := range d.stmts {
		st.Close()
	}
	d.stmts, d.stmtConn = nil, nil
}

// closeStmts closes the inserter's statements and releases its connection.
func (d *sqliteDB) closeStmts() {
	d.insMu.Lock()
	defer d.insMu.Unlock()
	c := d.ins
	d.ins = nil
	if c == nil && len(d.stmts) > 0 {
		c, _ = d.db.Conn(context.Background()) // in memory: the connection they are on
	}
	if c == nil {
		return
	}
	c.Raw(func(dc any) error {
		d.closeStmtsOn(dc)
		return nil
	})
	d.stmts, d.stmtConn = nil, nil
	c.Close()
}

func (d *sqliteDB) script(ctx context.Context, c conn, sql string) error {
	_, err := c.exec(ctx, sql)
	return err
}

func (d *sqliteDB) ping(ctx context.Context) error { return d.db.PingContext(ctx) }
func (d *sqliteDB) close() error {
	d.closeStmts()
	return d.db.Close()
}
