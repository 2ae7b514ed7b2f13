-- The board's schema, version 1, for PostgreSQL (migrations/sqlite/ holds the
-- same schema for the other backend; one set of queries serves both). Times
-- are milliseconds since the Unix epoch; flags are 0/1 integers.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);

CREATE TABLE problems (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    direction TEXT NOT NULL,
    statement TEXT NOT NULL,
    best_known DOUBLE PRECISION,
    best_known_source TEXT,
    accepts TEXT NOT NULL,
    verifier_hash TEXT NOT NULL,
    show_source BIGINT NOT NULL DEFAULT 0,
    enabled BIGINT NOT NULL DEFAULT 1,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE submissions (
    id BIGSERIAL PRIMARY KEY,
    problem_id TEXT NOT NULL REFERENCES problems(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    language TEXT,
    body TEXT NOT NULL,
    idempotency_key TEXT,
    state TEXT NOT NULL,
    score DOUBLE PRECISION,
    reason TEXT,
    failure TEXT,
    output TEXT,
    metrics TEXT,
    solution TEXT,
    verifier_hash TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until_ms BIGINT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    scored_ms BIGINT,
    UNIQUE (user_id, idempotency_key)
);

CREATE INDEX submissions_queue ON submissions (state, id);
CREATE INDEX submissions_board ON submissions (problem_id, state, score);
CREATE INDEX submissions_user ON submissions (user_id, state);

CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    submission_id BIGINT NOT NULL REFERENCES submissions(id),
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    detail TEXT
);

CREATE INDEX audit_submission ON audit (submission_id, id);
