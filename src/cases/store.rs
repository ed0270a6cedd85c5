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
pub fn insert(db: &mut Db, record: &Record) -> Result<Option<i64>> {
    db.write(|db| {
        let v = &record.versions;
        let key = |text: &Option<String>| Value::from(text.as_deref().and_then(version_key));
        let rows = db.query(
            "INSERT INTO bundles (sha256, file_name, host, host_lower, case_id, label, started_at, finished_at, \
             tool_name, tool_version, size_bytes, files, imported_at, os, os_release, kernel, \
             drbd, drbd_key, drbd_utils, drbd_utils_key, bsr, bsr_key, bsr_utils, bsr_utils_key, drx, drx_key) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
        for (seq, f) in record.findings.iter().enumerate() {
            db.exec(
                "INSERT INTO findings (bundle_id, seq, rule, severity, title, path, line, detail) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    Value::Int(id),
                    Value::Int(seq as i64),
                    f.rule.clone().into(),
                    f.severity.as_str().into(),
                    f.title.clone().into(),
                    f.path.clone().into(),
                    f.line.map(|l| l.min(i64::MAX as u64) as i64).into(),
                    f.detail.clone().into(),
                ],
            )?;
        }
        Ok(Some(id))
    })
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
    pub started_at: Option<String>,
    pub os: String,
    pub os_release: String,
    pub kernel: String,
    pub versions: Versions,
    pub findings: i64,
    pub errors: i64,
    pub warnings: i64,
}

const SUMMARY_COLUMNS: &str =
    "b.id, b.sha256, b.file_name, b.host, b.case_id, b.started_at, b.os, b.os_release, b.kernel, \
     b.drbd, b.drbd_utils, b.bsr, b.bsr_utils, b.drx, \
     (SELECT COUNT(*) FROM findings f WHERE f.bundle_id = b.id), \
     (SELECT COUNT(*) FROM findings f WHERE f.bundle_id = b.id AND f.severity = 'error'), \
     (SELECT COUNT(*) FROM findings f WHERE f.bundle_id = b.id AND f.severity = 'warning')";

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
    }
}

pub fn list(db: &mut Db, limit: u64) -> Result<Vec<Summary>> {
    search(db, &Filter::default(), limit)
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
}

pub fn search(db: &mut Db, filter: &Filter, limit: u64) -> Result<Vec<Summary>> {
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM bundles b WHERE 1 = 1");
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
    sql.push(' ');
    sql.push_str(NEWEST_FIRST);
    sql.push_str(" LIMIT ?");
    params.push(Value::Int(limit.min(i64::MAX as u64) as i64));
    Ok(db.query(&sql, &params)?.iter().map(summary).collect())
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
    pub label: Option<String>,
    pub finished_at: Option<String>,
    pub tool: String,
    pub tool_version: String,
    pub size_bytes: i64,
    pub files: i64,
    pub imported_at: String,
    pub resources: Vec<String>,
    pub finding_list: Vec<StoredFinding>,
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
            "SELECT {SUMMARY_COLUMNS}, b.label, b.finished_at, b.tool_name, b.tool_version, b.size_bytes, b.files, b.imported_at \
             FROM bundles b WHERE b.id = ?"
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
    Ok(Detail {
        summary: summary(row),
        label: row[17].opt_text(),
        finished_at: row[18].opt_text(),
        tool: row[19].text(),
        tool_version: row[20].text(),
        size_bytes: row[21].int(),
        files: row[22].int(),
        imported_at: row[23].text(),
        resources,
        finding_list: findings_of(db, id)?,
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
                "SELECT {SUMMARY_COLUMNS} FROM bundles b WHERE b.host_lower = ? {NEWEST_FIRST} LIMIT ?"
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
