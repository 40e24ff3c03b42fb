-- The journal position each Writer's journal is committed up to.
CREATE TABLE spend_journal_pos (
	journal TEXT   PRIMARY KEY,
	seq     BIGINT NOT NULL,
	off     BIGINT NOT NULL
);
