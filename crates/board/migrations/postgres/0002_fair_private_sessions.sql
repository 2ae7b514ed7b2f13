-- Version 2: fair claims, visibility fixed at submission time, sessions apart
-- from API tokens, pictures stored at scoring time.

-- When a worker last claimed this submission: claims go to the user served
-- longest ago (one user's queue cannot hold up everyone's).
ALTER TABLE submissions ADD COLUMN claimed_ms BIGINT;
CREATE INDEX submissions_claims ON submissions (user_id, claimed_ms);

-- Whether this submission's source (and everything derived from it: compiler
-- messages, tracebacks, output) is public: the problem's setting when it was
-- submitted, never changed later by `problem enable --show-source`.
ALTER TABLE submissions ADD COLUMN source_public BIGINT NOT NULL DEFAULT 0;
UPDATE submissions SET source_public = (SELECT p.show_source FROM problems p WHERE p.id = submissions.problem_id);

-- Sign-in sessions: the cookie holds a random session id (stored hashed),
-- never the API token; signing out deletes the session.
CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Pictures drawn once, when a solution is scored (a page never runs the
-- verifier): has_picture is NULL until known, then 0 or 1.
ALTER TABLE submissions ADD COLUMN has_picture BIGINT;
CREATE TABLE pictures (
    submission_id BIGINT PRIMARY KEY REFERENCES submissions(id),
    svg TEXT NOT NULL
);
