-- Times are Unix microseconds (UTC); durations are milliseconds.
-- to_timestamp(start_time / 1e6) gives a timestamptz for ad-hoc queries.
CREATE TABLE spend_logs (
	id                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	request_id          TEXT    NOT NULL UNIQUE,
	start_time          BIGINT  NOT NULL,
	end_time            BIGINT  NOT NULL,
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
	stream              BOOLEAN NOT NULL DEFAULT FALSE,
	input_tokens        BIGINT  NOT NULL DEFAULT 0,
	output_tokens       BIGINT  NOT NULL DEFAULT 0,
	cache_read_tokens   BIGINT  NOT NULL DEFAULT 0,
	cache_write_tokens  BIGINT  NOT NULL DEFAULT 0,
	reasoning_tokens    BIGINT  NOT NULL DEFAULT 0,
	total_tokens        BIGINT  NOT NULL DEFAULT 0,
	usage_estimated     BOOLEAN NOT NULL DEFAULT FALSE,
	cost                DOUBLE PRECISION NOT NULL DEFAULT 0,
	latency_ms          DOUBLE PRECISION NOT NULL DEFAULT 0,
	ttft_ms             DOUBLE PRECISION NOT NULL DEFAULT 0,
	upstream_latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
	status              TEXT    NOT NULL DEFAULT '',
	http_status         INTEGER NOT NULL DEFAULT 0,
	error_kind          TEXT    NOT NULL DEFAULT '',
	error_message       TEXT    NOT NULL DEFAULT '',
	cache_hit           BOOLEAN NOT NULL DEFAULT FALSE,
	retries             INTEGER NOT NULL DEFAULT 0,
	fallbacks           INTEGER NOT NULL DEFAULT 0,
	tags                TEXT    NOT NULL DEFAULT '[]',
	prompt              TEXT,
	response            TEXT
);
-- id is the keyset tie-breaker, so it ends every time index.
CREATE INDEX spend_logs_start_time ON spend_logs (start_time, id);
CREATE INDEX spend_logs_key_time   ON spend_logs (key_hash, start_time, id);
CREATE INDEX spend_logs_group_time ON spend_logs (model_group, start_time, id);
CREATE INDEX spend_logs_user_time  ON spend_logs (user_id, start_time, id);
