-- Version 3: reads that cost a page. What the public pages show is kept
-- up to date when a submission is scored, so no page reads every scored
-- submission.

-- Each user's best scored submission per problem and verifier (ties: the
-- first scored), what the leaderboard pages through.
CREATE TABLE standings (
    problem_id TEXT NOT NULL,
    verifier_hash TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    submission_id BIGINT NOT NULL,
    score REAL NOT NULL,
    created_ms BIGINT NOT NULL,
    scored_ms BIGINT NOT NULL,
    PRIMARY KEY (problem_id, verifier_hash, user_id)
);
CREATE INDEX standings_rank ON standings (problem_id, verifier_hash, score, created_ms, submission_id);

-- Every scored submission that beat the problem's best when it was scored:
-- the best-score-over-time plot.
CREATE TABLE improvements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    problem_id TEXT NOT NULL,
    verifier_hash TEXT NOT NULL,
    submission_id BIGINT NOT NULL,
    score REAL NOT NULL,
    scored_ms BIGINT NOT NULL
);
CREATE INDEX improvements_problem ON improvements (problem_id, verifier_hash, id);

-- Counting a problem's scored submissions, and a user's list, from indexes.
CREATE INDEX submissions_scored ON submissions (problem_id, state, verifier_hash);
CREATE INDEX submissions_by_user ON submissions (user_id, id);
