-- What a support desk keeps beside the bundles (issue 28 item 5). Added, never edited: a database
-- of schema 1 gains these at its next open, its rows untouched (their path and excerpts NULL:
-- a later `cases import` of the same bundle records where it is now).
--
-- bundles.path: where the bundle was imported from (absolute), so `cases rediagnose` can run
-- the current rules over it again; NULL for a bundle that came out of a case file.
-- findings.excerpt: the evidence lines, searched by `cases search --text`.
-- cases: the desk's own fields per support case (a bundle's --case-id), set by `cases set`.

ALTER TABLE bundles ADD COLUMN path TEXT;

ALTER TABLE findings ADD COLUMN excerpt TEXT;

CREATE TABLE cases (
    case_id TEXT NOT NULL PRIMARY KEY,
    status TEXT,
    assignee TEXT,
    note TEXT,
    ticket TEXT,
    updated_at TEXT NOT NULL
);
