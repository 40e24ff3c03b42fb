package spend

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// dialect is the SQL flavour of a store.
type dialect int

const (
	dialectSQLite dialect = iota + 1
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// conn runs statements written with "?" placeholders.
type conn interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	// query calls each for every row; scan reads the row's columns.
	query(ctx context.Context, q string, args []any, each func(scan func(dest ...any) error) error) error
}

// db is a database: a conn that also runs transactions.
type db interface {
	conn
	// tx runs fn in one transaction, committed when fn returns nil.
	tx(ctx context.Context, fn func(conn) error) error
	// script runs a multi-statement script without parameters.
	script(ctx context.Context, c conn, sql string) error
	ping(ctx context.Context) error
	close() error
}

//go:embed migrations
var migrationsFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations(d dialect) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	ents, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		b, err := migrationsFS.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// goMigrations are the steps of migrations that SQL alone cannot do, run
// after the migration's script in the same transaction.
var goMigrations = map[dialect]map[int]func(ctx context.Context, c conn) error{
	dialectSQLite: {2: migrateRowsToBatches},
}

// migrationComponent names this package's rows in schema_version, a table
// other packages may share.
const migrationComponent = "spend"

// migrate applies the embedded migrations not yet recorded in
// schema_version, each in its own transaction. On PostgreSQL an advisory
// lock serializes gateways that start together; on SQLite the
// transaction's immediate write lock does.
func migrate(ctx context.Context, d db, dl dialect) error {
	ms, err := migrations(dl)
	if err != nil {
		return err
	}
	create := `CREATE TABLE IF NOT EXISTS schema_version (
	component  TEXT   NOT NULL,
	version    INTEGER NOT NULL,
	name       TEXT   NOT NULL,
	applied_at BIGINT NOT NULL,
	PRIMARY KEY (component, version))`
	if _, err := d.exec(ctx, create); err != nil {
		// Two PostgreSQL gateways can race on CREATE TABLE IF NOT EXISTS;
		// the loser's error is harmless if the table is there now.
		if _, err2 := d.exec(ctx, "SELECT 1 FROM schema_version WHERE 1=0"); err2 != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
	}
	for _, m := range ms {
		err := d.tx(ctx, func(c conn) error {
			if dl == dialectPostgres {
				if _, err := c.exec(ctx, "SELECT pg_advisory_xact_lock(7234012345)"); err != nil {
					return err
				}
			}
			var n int64
			err := c.query(ctx, "SELECT COUNT(*) FROM schema_version WHERE component = ? AND version = ?",
				[]any{migrationComponent, m.version}, func(scan func(...any) error) error { return scan(&n) })
			if err != nil || n > 0 {
				return err
			}
			if err := d.script(ctx, c, m.sql); err != nil {
				return err
			}
			if fn := goMigrations[dl][m.version]; fn != nil {
				if err := fn(ctx, c); err != nil {
					return err
				}
			}
			_, err = c.exec(ctx, "INSERT INTO schema_version (component, version, name, applied_at) VALUES (?, ?, ?, ?)",
				migrationComponent, m.version, m.name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// nullString maps "" to NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
