-- Times are Unix microseconds (UTC); durations are milliseconds.
CREATE TABLE spend_logs (
	id                  INTEGER PRIMARY KEY,
	request_id          TEXT    NOT NULL UNIQUE,
	start_time          INTEGER NOT NULL,
	end_time            INTEGER NOT NULL,
	key_hash            TEXT    NOT NULL DEFAULT '',
	key_alias           TEXT    NOT NULL DEFAULT '',
	user_id             TEXT    NOT NULL DEFAULT '',
	team_id             TEXT    NOT NULL DEFAULT '',
	end_user            TEXT    NOT NULL DEFAULT '',
	route               TEXT    NOT NULL DEFAULT '',
	client_dialect      TEXT    NOT NULL DEFAULT '',
	model_requested     TEXT    NOT NULL DEFAULT '',
	model_group         TEXT    NOT NULL DEFAULT '',
	deployment_id       TEXT    NOT NULL DEFAULT '',
	provider            TEXT    NOT NULL DEFAULT '',
	upstream_model      TEXT    NOT NULL DEFAULT '',
	api_base            TEXT    NOT NULL DEFAULT '',
	stream              INTEGER NOT NULL DEFAULT 0,
	input_tokens        INTEGER NOT NULL DEFAULT 0,
	output_tokens       INTEGER NOT NULL DEFAULT 0,
	cache_read_tokens   INTEGER NOT NULL DEFAULT 0,
	cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
	reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
	total_tokens        INTEGER NOT NULL DEFAULT 0,
	usage_estimated     INTEGER NOT NULL DEFAULT 0,
	cost                REAL    NOT NULL DEFAULT 0,
	latency_ms          REAL    NOT NULL DEFAULT 0,
	ttft_ms             REAL    NOT NULL DEFAULT 0,
	upstream_latency_ms REAL    NOT NULL DEFAULT 0,
	status              TEXT    NOT NULL DEFAULT '',
	http_status         INTEGER NOT NULL DEFAULT 0,
	error_kind          TEXT    NOT NULL DEFAULT '',
	error_message       TEXT    NOT NULL DEFAULT '',
	cache_hit           INTEGER NOT NULL DEFAULT 0,
	retries             INTEGER NOT NULL DEFAULT 0,
	fallbacks           INTEGER NOT NULL DEFAULT 0,
	tags                TEXT    NOT NULL DEFAULT '[]',
	prompt              TEXT,
	response            TEXT
);
-- SQLite appends the rowid (id) to every index: these serve keyset
-- pagination on (start_time, id) too.
CREATE INDEX spend_logs_start_time ON spend_logs (start_time);
CREATE INDEX spend_logs_key_time   ON spend_logs (key_hash, start_time);
CREATE INDEX spend_logs_group_time ON spend_logs (model_group, start_time);
CREATE INDEX spend_logs_user_time  ON spend_logs (user_id, start_time);
