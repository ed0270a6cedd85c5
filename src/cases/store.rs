//! Writing records and answering the support desk's questions, the same SQL on both engines.
//! Results are typed structs (the `--json` output); their order never depends on the engine
//! (ties are broken by sha256, free text is sorted here, not by the server's collation).
use super::db::{Db, Row, Value};
use super::record::{version_key, Record, Versions, COMPONENTS};
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Inserts `record` unless a bundle with its sha256 is there: Some(new row id), or None.
/// One transaction, so a bundle is all there or not at all, and two importers of the same bundle
/// leave one row (UNIQUE sha256 + ON CONFLICT DO NOTHING).
/// `path`: where the bundle is (absolute), for `rediagnose`; None for a case file's member.
pub fn insert(db: &mut Db, record: &Record, path: Option<&str>) -> Result<Option<i64>> {
    db.write(|db| {
        let v = &record.versions;
        let key = |text: &Option<String>| Value::from(text.as_deref().and_then(version_key));
        let rows = db.query(
            "INSERT INTO bundles (sha256, file_name, host, host_lower, case_id, label, started_at, finished_at, \
             tool_name, tool_version, size_bytes, files, imported_at, os, os_release, kernel, \
             drbd, drbd_key, drbd_utils, drbd_utils_key, bsr, bsr_key, bsr_utils, bsr_utils_key, drx, drx_key, path) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (sha256) DO NOTHING RETURNING id",
            &[
                record.sha256.clone().into(),
                record.file_name.clone().into(),
                record.host.clone().into(),
                record.host.to_lowercase().into(),
                record.case_id.clone().into(),
                record.label.clone().into(),
                record.started_at.clone().into(),
                record.finished_at.clone().into(),
                record.tool_name.clone().into(),
                record.tool_version.clone().into(),
                Value::Int(record.size_bytes.min(i64::MAX as u64) as i64),
                Value::Int(record.files.min(i64::MAX as u64) as i64),
                super::now_text().into(),
                record.os.clone().into(),
                record.os_release.clone().into(),
                record.kernel.clone().into(),
                v.drbd.clone().into(),
                key(&v.drbd),
                v.drbd_utils.clone().into(),
                key(&v.drbd_utils),
                v.bsr.clone().into(),
                key(&v.bsr),
                v.bsr_utils.clone().into(),
                key(&v.bsr_utils),
                v.drx.clone().into(),
                key(&v.drx),
                path.map(|p| super::record::storable(p, super::record::MAX_TEXT_BYTES))
                    .into(),
            ],
        )?;
        let Some(id) = rows.first().and_then(|r| r.first()).map(Value::int) else {
            return Ok(None);
        };
        for name in &record.resources {
            db.exec(
                "INSERT INTO resources (bundle_id, name) VALUES (?, ?)",
                &[Value::Int(id), name.clone().into()],
            )?;
        }
        insert_findings(db, id, &record.findings)?;
        Ok(Some(id))
    })
}

fn insert_findings(db: &mut Db, id: i64, findings: &[crate::index::Finding]) -> Result<()> {
    for (seq, f) in findings.iter().enumerate() {
        db.exec(
            "INSERT INTO findings (bundle_id, seq, rule, severity, title, path, line, detail, excerpt) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                Value::Int(id),
                Value::Int(seq as i64),
                f.rule.clone().into(),
                f.severity.as_str().into(),
                f.title.clone().into(),
                f.path.clone().into(),
                f.line.map(|l| l.min(i64::MAX as u64) as i64).into(),
                f.detail.clone().into(),
                f.excerpt.clone().into(),
            ],
        )?;
    }
    Ok(())
}

/// Records where an imported bundle is now (a bundle imported again from another place, or
/// first seen by a database older than schema 2).
pub fn set_path(db: &mut Db, id: i64, path: &str) -> Result<()> {
    db.exec(
        "UPDATE bundles SET path = ? WHERE id = ?",
        &[
            super::record::storable(path, super::record::MAX_TEXT_BYTES).into(),
            Value::Int(id),
        ],
    )?;
    Ok(())
}

/// Replaces the findings of bundle `id` (`rediagnose`), in one transaction: the stored ones
/// before, and whether they differ from the new ones.
pub fn replace_findings(
    db: &mut Db,
    id: i64,
    findings: &[crate::index::Finding],
) -> Result<(Vec<StoredFinding>, bool)> {
    db.write(|db| {
        let before = findings_of(db, id)?;
        let after: Vec<StoredFinding> = findings
            .iter()
            .map(|f| StoredFinding {
                rule: f.rule.clone(),
                severity: f.severity.as_str().to_string(),
                title: f.title.clone(),
                path: f.path.clone(),
                line: f.line.map(|l| l.min(i64::MAX as u64) as i64),
                detail: f.detail.clone(),
            })
            .collect();
        let changed = before != after;
        if changed || findings.iter().any(|f| f.excerpt.is_some()) {
            db.exec(
                "DELETE FROM findings WHERE bundle_id = ?",
                &[Value::Int(id)],
            )?;
            insert_findings(db, id, findings)?;
        }
        Ok((before, changed))
    })
}

/// A bundle `rediagnose` goes over.
pub struct Stored {
    pub id: i64,
    pub sha256: String,
    pub path: Option<String>,
}

/// The bundles of support case `case_id`, or all (None), oldest row first.
pub fn stored(db: &mut Db, case_id: Option<&str>) -> Result<Vec<Stored>> {
    let rows = match case_id {
        Some(case) => db.query(
            "SELECT id, sha256, path FROM bundles WHERE case_id = ? ORDER BY id",
            &[case.trim().into()],
        )?,
        None => db.query("SELECT id, sha256, path FROM bundles ORDER BY id", &[])?,
    };
    Ok(rows
        .iter()
        .map(|r| Stored {
            id: r[0].int(),
            sha256: r[1].text(),
            path: r[2].opt_text(),
        })
        .collect())
}

/// The row id of the bundle with this sha256, if imported.
pub fn find_sha(db: &mut Db, sha256: &str) -> Result<Option<i64>> {
    let rows = db.query("SELECT id FROM bundles WHERE sha256 = ?", &[sha256.into()])?;
    Ok(rows.first().and_then(|r| r.first()).map(Value::int))
}

/// One bundle in a list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub id: i64,
    pub sha256: String,
    pub file_name: String,
    pub host: String,
    pub case_id: Option<String>,
    pub label: Option<String>,
    pub started_at: Option<String>,
    pub os: String,
    pub os_release: String,
    pub kernel: String,
    pub versions: Versions,
    pub findings: i64,
    pub errors: i64,
    pub warnings: i64,
    /// Where the bundle was imported from (None: from a case file, or before schema 2).
    pub path: Option<String>,
    /// The desk's status of its support case (`cases set`).
    pub status: Option<String>,
    pub assignee: Option<String>,
}

/// The bundles and their support case's desk fields.
const SUMMARY_FROM: &str = "FROM bundles b LEFT JOIN cases c ON c.case_id = b.case_id";

/// How many columns SUMMARY_COLUMNS has (the columns a query adds come after).
const SUMMARY_LEN: usize = 21;

const SUMMARY_COLUMNS: &str =
    "b.id, b.sha256, b.file_name, b.host, b.case_id, b.started_at, b.os, b.os_release, b.kernel, \
     b.drbd, b.drbd_utils, b.bsr, b.bsr_utils, b.drx, \
     (SELECT COUNT(*) FROM findings f WHERE f.bundle_id = b.id), \
     (SELECT COUNT(*) FROM findings f WHERE f.bundle_id = b.id AND f.severity = 'error'), \
     (SELECT COUNT(*) FROM findings f WHERE f.bundle_id = b.id AND f.severity = 'warning'), \
     b.label, b.path, c.status, c.assignee";

/// Newest first; bundles without a time last; ties by sha256, the same on every engine.
const NEWEST_FIRST: &str =
    "ORDER BY CASE WHEN b.started_at IS NULL THEN 1 ELSE 0 END, b.started_at DESC, b.sha256 DESC";

fn summary(row: &Row) -> Summary {
    Summary {
        id: row[0].int(),
        sha256: row[1].text(),
        file_name: row[2].text(),
        host: row[3].text(),
        case_id: row[4].opt_text(),
        started_at: row[5].opt_text(),
        os: row[6].text(),
        os_release: row[7].text(),
        kernel: row[8].text(),
        versions: Versions {
            drbd: row[9].opt_text(),
            drbd_utils: row[10].opt_text(),
            bsr: row[11].opt_text(),
            bsr_utils: row[12].opt_text(),
            drx: row[13].opt_text(),
        },
        findings: row[14].int(),
        errors: row[15].int(),
        warnings: row[16].int(),
        label: row[17].opt_text(),
        path: row[18].opt_text(),
        status: row[19].opt_text(),
        assignee: row[20].opt_text(),
    }
}

pub fn list(db: &mut Db, page: Paging) -> Result<Page> {
    search(db, &Filter::default(), page)
}

/// `--limit` / `--offset`.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub limit: u64,
    pub offset: u64,
}

impl Paging {
    pub const ALL: Paging = Paging {
        limit: u64::MAX,
        offset: 0,
    };
}

/// One page of a list or search, and how many bundles match in all: a limit never hides that
/// there are more.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Page {
    pub total: i64,
    pub offset: u64,
    pub bundles: Vec<Summary>,
}

/// A version condition: `drbd<8.4.8`.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionCond {
    pub component: String,
    pub op: &'static str,
    pub version: String,
}

/// Parses `COMPONENT OP VERSION` (`drbd<8.4.8`, `drx >= 3.2`).
pub fn parse_version_cond(text: &str) -> std::result::Result<VersionCond, String> {
    let trimmed = text.trim();
    // Longest names first, so `drbd-utils` is not read as `drbd` + `-utils...`.
    let mut names: Vec<&str> = COMPONENTS.iter().map(|c| c.0).collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let known = || names.join(", ");
    let Some(component) = names
        .iter()
        .find(|n| trimmed.to_ascii_lowercase().starts_with(**n))
    else {
        return Err(format!(
            "--version '{text}' names no known component; use one of {} (e.g. 'drbd<8.4.8')",
            known()
        ));
    };
    let rest = trimmed[component.len()..].trim_start();
    let op = ["<=", ">=", "!=", "<", ">", "="]
        .into_iter()
        .find(|op| rest.starts_with(op))
        .ok_or_else(|| {
            format!("--version '{text}' has no comparison; use one of < <= = >= > != (e.g. 'drbd<8.4.8')")
        })?;
    let value = rest[op.len()..].trim();
    if version_key(value).is_none() {
        return Err(format!(
            "--version '{text}': '{value}' is not a version (e.g. 8.4.8)"
        ));
    }
    Ok(VersionCond {
        component: component.to_string(),
        op,
        version: value.to_string(),
    })
}

/// `cases search` filters; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub rules: Vec<String>,
    pub versions: Vec<VersionCond>,
    pub host: Option<String>,
    pub case_id: Option<String>,
    /// The bundle's label, exactly.
    pub label: Option<String>,
    /// Collected at or after (RFC 3339 UTC text, as stored).
    pub since: Option<String>,
    /// Collected before (exclusive).
    pub until: Option<String>,
    /// Has a finding of this severity or a worse one.
    pub severity: Option<crate::index::Severity>,
    /// In a finding's title, detail or excerpt, the label, the host or the case id; any case of
    /// ASCII letters.
    pub text: Option<String>,
}

/// A `--since` / `--until` value as the stored time text it compares with: a day
/// (`2026-11-20`) or an RFC 3339 time (any offset, turned to UTC). `end`: the exclusive upper
/// bound of `--until`, so a day includes all of it and a time includes its own second.
pub fn date_bound(text: &str, end: bool) -> std::result::Result<String, String> {
    use chrono::{Duration, NaiveDate, TimeZone, Utc};
    let text = text.trim();
    let time = if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
        if end {
            start + Duration::days(1)
        } else {
            start
        }
    } else if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        let at = at.with_timezone(&Utc);
        if end {
            at + Duration::seconds(1)
        } else {
            at
        }
    } else {
        return Err(format!(
            "'{text}' is neither a day (2026-11-20) nor an RFC 3339 time (2026-11-20T10:00:00Z)"
        ));
    };
    Ok(time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `text` as a LIKE pattern matching it anywhere: `%`, `_` and the escape character itself are
/// escaped (`ESCAPE '\'`, the same on both engines), so a desk searching for `50%` or `r_0`
/// finds those characters and nothing else.
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `expr` with its ASCII letters lowered, alike on both engines: SQLite's lower() touches ASCII
/// only, PostgreSQL's follows the server's locale, so it gets an explicit ASCII translate.
fn ascii_lower(db: &Db, expr: &str) -> String {
    if db.is_postgres() {
        format!("translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
    } else {
        format!("lower({expr})")
    }
}

pub fn search(db: &mut Db, filter: &Filter, page: Paging) -> Result<Page> {
    let (conditions, mut params) = conditions(db, filter)?;
    let total = db
        .query(
            &format!("SELECT COUNT(*) FROM bundles b WHERE 1 = 1{conditions}"),
            &params,
        )?
        .first()
        .and_then(|r| r.first())
        .map(Value::int)
        .unwrap_or(0);
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} {SUMMARY_FROM} WHERE 1 = 1{conditions} {NEWEST_FIRST} LIMIT ? OFFSET ?"
    );
    params.push(Value::Int(page.limit.min(i64::MAX as u64) as i64));
    params.push(Value::Int(page.offset.min(i64::MAX as u64) as i64));
    Ok(Page {
        total,
        offset: page.offset,
        bundles: db.query(&sql, &params)?.iter().map(summary).collect(),
    })
}

/// The WHERE conditions of `filter` (each starting with ` AND`) on `bundles b`, and their
/// parameters: every value a parameter, never SQL text.
fn conditions(db: &Db, filter: &Filter) -> Result<(String, Vec<Value>)> {
    let mut sql = String::new();
    let mut params = Vec::new();
    for rule in &filter.rules {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM findings f WHERE f.bundle_id = b.id AND f.rule = ?)",
        );
        params.push(Value::from(rule.trim().to_ascii_uppercase()));
    }
    for cond in &filter.versions {
        let column = COMPONENTS
            .iter()
            .find(|c| c.0 == cond.component)
            .map(|c| c.1)
            .ok_or_else(|| Error::usage(format!("unknown component {}", cond.component)))?;
        let op = if cond.op == "!=" { "<>" } else { cond.op };
        // A bundle that does not show the component matches no condition on it.
        sql.push_str(&format!(
            " AND b.{column}_key IS NOT NULL AND b.{column}_key {op} ?"
        ));
        params.push(Value::from(version_key(&cond.version)));
    }
    if let Some(host) = &filter.host {
        sql.push_str(" AND b.host_lower = ?");
        params.push(Value::from(host.trim().to_lowercase()));
    }
    if let Some(case_id) = &filter.case_id {
        sql.push_str(" AND b.case_id = ?");
        params.push(Value::from(case_id.trim()));
    }
    if let Some(label) = &filter.label {
        sql.push_str(" AND b.label = ?");
        params.push(Value::from(label.trim()));
    }
    if let Some(since) = &filter.since {
        sql.push_str(" AND b.started_at >= ?");
        params.push(Value::from(since.as_str()));
    }
    if let Some(until) = &filter.until {
        sql.push_str(" AND b.started_at < ?");
        params.push(Value::from(until.as_str()));
    }
    if let Some(severity) = filter.severity {
        use crate::index::Severity;
        let worse: &[&str] = match severity {
            Severity::Error => &["error"],
            Severity::Warning => &["error", "warning"],
            Severity::Info => &["error", "warning", "info"],
        };
        let marks = vec!["?"; worse.len()].join(", ");
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM findings f WHERE f.bundle_id = b.id AND f.severity IN ({marks}))"
        ));
        params.extend(worse.iter().map(|s| Value::from(*s)));
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = like_pattern(&text.to_ascii_lowercase());
        let like = |expr: &str| format!("{} LIKE ? ESCAPE '\\'", ascii_lower(db, expr));
        sql.push_str(&format!(
            " AND ({} OR {} OR {} OR EXISTS (SELECT 1 FROM findings f WHERE f.bundle_id = b.id AND ({} OR {} OR {})))",
            like("b.host"),
            like("b.label"),
            like("b.case_id"),
            like("f.title"),
            like("f.detail"),
            like("f.excerpt"),
        ));
        params.extend(std::iter::repeat_n(Value::from(pattern), 6));
    }
    Ok((sql, params))
}

/// The desk's fields of one support case.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct CaseInfo {
    pub case_id: String,
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub ticket: Option<String>,
    pub updated_at: String,
    /// How many bundles of this case are in the database.
    pub bundles: i64,
}

/// What `cases set` changes: Some("") clears a field, None leaves it.
#[derive(Debug, Clone, Default)]
pub struct CaseChange {
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub ticket: Option<String>,
}

pub fn case_info(db: &mut Db, case_id: &str) -> Result<Option<CaseInfo>> {
    let rows = db.query(
        "SELECT c.case_id, c.status, c.assignee, c.note, c.ticket, c.updated_at, \
         (SELECT COUNT(*) FROM bundles b WHERE b.case_id = c.case_id) FROM cases c WHERE c.case_id = ?",
        &[case_id.into()],
    )?;
    Ok(rows.first().map(|r| CaseInfo {
        case_id: r[0].text(),
        status: r[1].opt_text(),
        assignee: r[2].opt_text(),
        note: r[3].opt_text(),
        ticket: r[4].opt_text(),
        updated_at: r[5].text(),
        bundles: r[6].int(),
    }))
}

/// Sets the desk's fields of support case `case_id`, which must be the --case-id of a bundle in
/// the database (a mistyped id is named, not stored as a new case nobody will find).
pub fn set_case(db: &mut Db, case_id: &str, change: &CaseChange) -> Result<CaseInfo> {
    let case_id = case_id.trim().to_string();
    let label = db.label.clone();
    db.write(|db| {
        let bundles = db
            .query(
                "SELECT COUNT(*) FROM bundles WHERE case_id = ?",
                &[case_id.as_str().into()],
            )?
            .first()
            .map(|r| r[0].int())
            .unwrap_or(0);
        if bundles == 0 {
            return Err(Error::failed(format!(
                "no bundle of case '{}' in the case database {label}; a case is a bundle's --case-id (`drx-collect cases list` shows them)",
                crate::escape::field(&case_id)
            )));
        }
        let old = case_info(db, &case_id)?.unwrap_or_default();
        let merge = |new: &Option<String>, old: Option<String>| -> Value {
            match new {
                Some(text) if text.trim().is_empty() => Value::Null,
                Some(text) => super::record::storable(text.trim(), super::record::MAX_TEXT_BYTES).into(),
                None => old.into(),
            }
        };
        let values = [
            merge(&change.status, old.status),
            merge(&change.assignee, old.assignee),
            merge(&change.note, old.note),
            merge(&change.ticket, old.ticket),
        ];
        let mut params = vec![Value::from(case_id.as_str())];
        params.extend(values.iter().cloned());
        params.push(super::now_text().into());
        db.exec(
            "INSERT INTO cases (case_id, status, assignee, note, ticket, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (case_id) DO UPDATE SET status = excluded.status, assignee = excluded.assignee, \
             note = excluded.note, ticket = excluded.ticket, updated_at = excluded.updated_at",
            &params,
        )?;
        case_info(db, &case_id)?
            .ok_or_else(|| Error::failed(format!("case {case_id} vanished from the case database")))
    })
}

/// The desk's fields of every case that has some, by case id.
pub fn all_cases(db: &mut Db) -> Result<BTreeMap<String, CaseInfo>> {
    Ok(db
        .query(
            "SELECT c.case_id, c.status, c.assignee, c.note, c.ticket, c.updated_at FROM cases c",
            &[],
        )?
        .iter()
        .map(|r| {
            (
                r[0].text(),
                CaseInfo {
                    case_id: r[0].text(),
                    status: r[1].opt_text(),
                    assignee: r[2].opt_text(),
                    note: r[3].opt_text(),
                    ticket: r[4].opt_text(),
                    updated_at: r[5].text(),
                    bundles: 0,
                },
            )
        })
        .collect())
}

/// One finding as stored.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredFinding {
    pub rule: String,
    pub severity: String,
    pub title: String,
    pub path: Option<String>,
    pub line: Option<i64>,
    pub detail: Option<String>,
}

/// Everything about one bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    pub finished_at: Option<String>,
    pub tool: String,
    pub tool_version: String,
    pub size_bytes: i64,
    pub files: i64,
    pub imported_at: String,
    pub resources: Vec<String>,
    pub finding_list: Vec<StoredFinding>,
    /// The desk's fields of its support case, if `cases set` gave any.
    pub case: Option<CaseInfo>,
}

/// `ID`: a row id, or a sha256 prefix of at least 6 hex digits. A decimal ID is a row id when
/// such a row exists.
pub fn resolve(db: &mut Db, id: &str) -> Result<i64> {
    let id = id.trim();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && id.len() <= 18 {
        let n: i64 = id.parse().unwrap_or(0);
        if !db
            .query("SELECT id FROM bundles WHERE id = ?", &[Value::Int(n)])?
            .is_empty()
        {
            return Ok(n);
        }
    }
    let hex = id.to_ascii_lowercase();
    if hex.len() < 6 || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::failed(format!(
            "no bundle '{id}' in the case database {}; give a row id or at least 6 hex digits of the sha256 (`drx-collect cases list` shows both)",
            db.label
        )));
    }
    let rows = db.query(
        "SELECT id, sha256 FROM bundles WHERE sha256 LIKE ? ORDER BY sha256 LIMIT 5",
        &[Value::from(format!("{hex}%"))],
    )?;
    match rows.len() {
        0 => Err(Error::failed(format!(
            "no bundle with sha256 {hex}… in the case database {}",
            db.label
        ))),
        1 => Ok(rows[0][0].int()),
        _ => Err(Error::failed(format!(
            "{hex} is the start of several bundles' sha256 ({}…); give more digits",
            rows.iter()
                .map(|r| r[1].text().chars().take(16).collect::<String>())
                .collect::<Vec<_>>()
                .join("…, ")
        ))),
    }
}

fn findings_of(db: &mut Db, id: i64) -> Result<Vec<StoredFinding>> {
    Ok(db
        .query(
            "SELECT rule, severity, title, path, line, detail FROM findings WHERE bundle_id = ? ORDER BY seq",
            &[Value::Int(id)],
        )?
        .iter()
        .map(stored_finding)
        .collect())
}

fn stored_finding(row: &Row) -> StoredFinding {
    StoredFinding {
        rule: row[0].text(),
        severity: row[1].text(),
        title: row[2].text(),
        path: row[3].opt_text(),
        line: row[4].opt_int(),
        detail: row[5].opt_text(),
    }
}

pub fn show(db: &mut Db, id: &str) -> Result<Detail> {
    let id = resolve(db, id)?;
    let rows = db.query(
        &format!(
            "SELECT {SUMMARY_COLUMNS}, b.finished_at, b.tool_name, b.tool_version, b.size_bytes, b.files, b.imported_at \
             {SUMMARY_FROM} WHERE b.id = ?"
        ),
        &[Value::Int(id)],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| Error::failed(format!("bundle {id} vanished from the case database")))?;
    let resources = db
        .query(
            "SELECT name FROM resources WHERE bundle_id = ?",
            &[Value::Int(id)],
        )?
        .iter()
        .map(|r| r[0].text())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let summary = summary(row);
    let case = match &summary.case_id {
        Some(case_id) => case_info(db, case_id)?,
        None => None,
    };
    let n = SUMMARY_LEN;
    Ok(Detail {
        finished_at: row[n].opt_text(),
        tool: row[n + 1].text(),
        tool_version: row[n + 2].text(),
        size_bytes: row[n + 3].int(),
        files: row[n + 4].int(),
        imported_at: row[n + 5].text(),
        summary,
        resources,
        finding_list: findings_of(db, id)?,
        case,
    })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleCount {
    pub rule: String,
    pub severity: String,
    pub title: String,
    pub findings: i64,
    pub bundles: i64,
    pub hosts: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VersionCount {
    pub component: String,
    pub version: String,
    pub bundles: i64,
    pub hosts: i64,
    /// Bundles of this version with at least one error finding.
    pub with_errors: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthCount {
    /// `YYYY-MM` of the collection time (UTC).
    pub month: String,
    pub bundles: i64,
    pub hosts: i64,
    pub findings: i64,
    pub errors: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub bundles: i64,
    pub hosts: i64,
    pub findings: i64,
    pub by_rule: Vec<RuleCount>,
    pub by_version: Vec<VersionCount>,
    pub by_month: Vec<MonthCount>,
}

pub fn stats(db: &mut Db) -> Result<Stats> {
    let totals = db.query(
        "SELECT COUNT(*), COUNT(DISTINCT host_lower), (SELECT COUNT(*) FROM findings) FROM bundles",
        &[],
    )?;
    let totals = totals.first().cloned().unwrap_or_default();
    let total = |i: usize| totals.get(i).map(Value::int).unwrap_or(0);

    let mut by_rule: Vec<RuleCount> = db
        .query(
            "SELECT f.rule, f.severity, MAX(f.title), COUNT(*), COUNT(DISTINCT f.bundle_id), COUNT(DISTINCT b.host_lower) \
             FROM findings f JOIN bundles b ON b.id = f.bundle_id GROUP BY f.rule, f.severity",
            &[],
        )?
        .iter()
        .map(|r| RuleCount {
            rule: r[0].text(),
            severity: r[1].text(),
            title: r[2].text(),
            findings: r[3].int(),
            bundles: r[4].int(),
            hosts: r[5].int(),
        })
        .collect();
    by_rule.sort_by(|a, b| {
        (b.bundles, b.findings, &a.rule, &a.severity).cmp(&(
            a.bundles,
            a.findings,
            &b.rule,
            &b.severity,
        ))
    });

    let mut by_version = Vec::new();
    for (component, column) in COMPONENTS {
        let rows = db.query(
            &format!(
                "SELECT MIN(b.{column}), b.{column}_key, COUNT(*), COUNT(DISTINCT b.host_lower), \
                 COUNT(CASE WHEN EXISTS (SELECT 1 FROM findings f WHERE f.bundle_id = b.id AND f.severity = 'error') THEN 1 END) \
                 FROM bundles b WHERE b.{column}_key IS NOT NULL GROUP BY b.{column}_key ORDER BY b.{column}_key DESC"
            ),
            &[],
        )?;
        by_version.extend(rows.iter().map(|r| VersionCount {
            component: component.to_string(),
            version: r[0].text(),
            bundles: r[2].int(),
            hosts: r[3].int(),
            with_errors: r[4].int(),
        }));
    }

    let mut months: BTreeMap<String, MonthCount> = BTreeMap::new();
    for r in db.query(
        "SELECT substr(started_at, 1, 7), COUNT(*), COUNT(DISTINCT host_lower) FROM bundles \
         WHERE started_at IS NOT NULL GROUP BY substr(started_at, 1, 7)",
        &[],
    )? {
        let month = r[0].text();
        months.insert(
            month.clone(),
            MonthCount {
                month,
                bundles: r[1].int(),
                hosts: r[2].int(),
                findings: 0,
                errors: 0,
            },
        );
    }
    for r in db.query(
        "SELECT substr(b.started_at, 1, 7), COUNT(*), COUNT(CASE WHEN f.severity = 'error' THEN 1 END) \
         FROM findings f JOIN bundles b ON b.id = f.bundle_id WHERE b.started_at IS NOT NULL \
         GROUP BY substr(b.started_at, 1, 7)",
        &[],
    )? {
        if let Some(month) = months.get_mut(&r[0].text()) {
            month.findings = r[1].int();
            month.errors = r[2].int();
        }
    }
    Ok(Stats {
        bundles: total(0),
        hosts: total(1),
        findings: total(2),
        by_rule,
        by_version,
        by_month: months.into_values().collect(),
    })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VersionChange {
    pub component: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What changed since the previous snapshot of the node.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Changes {
    pub findings_new: Vec<StoredFinding>,
    pub findings_resolved: Vec<StoredFinding>,
    pub versions_changed: Vec<VersionChange>,
    pub resources_added: Vec<String>,
    pub resources_removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    #[serde(flatten)]
    pub summary: Summary,
    pub finding_list: Vec<StoredFinding>,
    pub resources: Vec<String>,
    /// None for the first snapshot.
    pub changes: Option<Changes>,
}

/// A finding's identity across snapshots: the rule, where, and what (not the line, which moves
/// as a log grows).
fn identity(f: &StoredFinding) -> (String, Option<String>, Option<String>) {
    (f.rule.clone(), f.path.clone(), f.detail.clone())
}

pub fn history(db: &mut Db, host: &str, limit: u64) -> Result<Vec<Snapshot>> {
    let host = host.trim().to_lowercase();
    // The newest `limit` snapshots, shown oldest first.
    let mut summaries: Vec<Summary> = db
        .query(
            &format!(
                "SELECT {SUMMARY_COLUMNS} {SUMMARY_FROM} WHERE b.host_lower = ? {NEWEST_FIRST} LIMIT ?"
            ),
            &[host.into(), Value::Int(limit.min(i64::MAX as u64) as i64)],
        )?
        .iter()
        .map(summary)
        .collect();
    summaries.reverse();
    let mut snapshots: Vec<Snapshot> = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let finding_list = findings_of(db, summary.id)?;
        let resources: Vec<String> = db
            .query(
                "SELECT name FROM resources WHERE bundle_id = ?",
                &[Value::Int(summary.id)],
            )?
            .iter()
            .map(|r| r[0].text())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let changes = snapshots
            .last()
            .map(|before| changes(before, &summary, &finding_list, &resources));
        snapshots.push(Snapshot {
            summary,
            finding_list,
            resources,
            changes,
        });
    }
    Ok(snapshots)
}

fn changes(
    before: &Snapshot,
    summary: &Summary,
    findings: &[StoredFinding],
    resources: &[String],
) -> Changes {
    let old: BTreeSet<_> = before.finding_list.iter().map(identity).collect();
    let new: BTreeSet<_> = findings.iter().map(identity).collect();
    let mut findings_new: Vec<StoredFinding> = findings
        .iter()
        .filter(|f| !old.contains(&identity(f)))
        .cloned()
        .collect();
    let mut findings_resolved: Vec<StoredFinding> = before
        .finding_list
        .iter()
        .filter(|f| !new.contains(&identity(f)))
        .cloned()
        .collect();
    findings_new.dedup_by(|a, b| identity(a) == identity(b));
    findings_resolved.dedup_by(|a, b| identity(a) == identity(b));
    let versions_changed = COMPONENTS
        .iter()
        .filter_map(|(component, _)| {
            let from = before.summary.versions.get(component);
            let to = summary.versions.get(component);
            (from != to).then(|| VersionChange {
                component: component.to_string(),
                from: from.map(str::to_string),
                to: to.map(str::to_string),
            })
        })
        .collect();
    let old_res: BTreeSet<&String> = before.resources.iter().collect();
    let new_res: BTreeSet<&String> = resources.iter().collect();
    Changes {
        findings_new,
        findings_resolved,
        versions_changed,
        resources_added: new_res
            .difference(&old_res)
            .map(|s| s.to_string())
            .collect(),
        resources_removed: old_res
            .difference(&new_res)
            .map(|s| s.to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_their_text_only() {
        assert_eq!(like_pattern("50%"), "%50\\%%");
        assert_eq!(like_pattern("r_0"), "%r\\_0%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
        assert_eq!(like_pattern("노드"), "%노드%");
    }

    #[test]
    fn date_bounds() {
        assert_eq!(
            date_bound("2026-11-20", false).unwrap(),
            "2026-11-20T00:00:00Z"
        );
        assert_eq!(
            date_bound("2026-11-20", true).unwrap(),
            "2026-11-21T00:00:00Z"
        );
        assert_eq!(
            date_bound("2026-12-31", true).unwrap(),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            date_bound("2026-11-20T10:00:00+09:00", false).unwrap(),
            "2026-11-20T01:00:00Z"
        );
        assert_eq!(
            date_bound("2026-11-20T10:00:00Z", true).unwrap(),
            "2026-11-20T10:00:01Z"
        );
        assert!(date_bound("yesterday", false)
            .unwrap_err()
            .contains("neither"));
        assert!(date_bound("2026-02-30", false).is_err());
    }

    #[test]
    fn version_conditions() {
        let c = parse_version_cond("drbd<8.4.8").unwrap();
        assert_eq!(
            (c.component.as_str(), c.op, c.version.as_str()),
            ("drbd", "<", "8.4.8")
        );
        let c = parse_version_cond("drbd-utils >= 9.5").unwrap();
        assert_eq!((c.component.as_str(), c.op), ("drbd-utils", ">="));
        let c = parse_version_cond("DRX!=3.2.1").unwrap();
        assert_eq!((c.component.as_str(), c.op), ("drx", "!="));
        assert!(parse_version_cond("zfs<2")
            .unwrap_err()
            .contains("no known component"));
        assert!(parse_version_cond("drbd~8")
            .unwrap_err()
            .contains("no comparison"));
        assert!(parse_version_cond("drbd<new")
            .unwrap_err()
            .contains("not a version"));
    }
}
