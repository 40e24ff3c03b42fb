-- Records are kept as batches: one row per inserted batch with the
-- records as JSON arrays (data) of values and indexes into a table of the
-- batch's strings (dict), and a compact summary of each record (cols),
-- which filters, reports and stats read; see batch.go.
-- Times are Unix microseconds (UTC). The rows of spend_logs (version 1)
-- are converted by the migration, and spend_logs becomes a view.
CREATE TABLE spend_batches (
	id        INTEGER PRIMARY KEY,
	min_start INTEGER NOT NULL,
	max_start INTEGER NOT NULL,
	n         INTEGER NOT NULL,
	cols      BLOB    NOT NULL,
	dict      BLOB    NOT NULL,
	data      BLOB    NOT NULL
);
CREATE INDEX spend_batches_max_start ON spend_batches (max_start);
-- kind: 1 key_hash, 2 user_id, 3 team_id, 4 model_group.
CREATE TABLE spend_batch_keys (
	kind     INTEGER NOT NULL,
	value    TEXT    NOT NULL,
	batch_id INTEGER NOT NULL,
	PRIMARY KEY (kind, value, batch_id)
) WITHOUT ROWID;
-- The journal position each Writer's journal is committed up to.
CREATE TABLE spend_journal_pos (
	journal TEXT    PRIMARY KEY,
	seq     INTEGER NOT NULL,
	off     INTEGER NOT NULL
);
