//! `cases`: the support desk's case database. Every imported bundle is verified and diagnosed by
//! `inspect`'s own pass (the current rule catalogue), then stored with its identity, facts and
//! findings in SQLite (one file) or a team's PostgreSQL, and queried: list, show, search, stats,
//! history.
pub mod db;
pub mod record;
pub mod store;

use crate::error::{Error, ExitStatus, Result};
use crate::inspect;
use crate::lang::Lang;
use crate::rules::Catalogue;
use db::Db;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub enum Action {
    Import {
        paths: Vec<PathBuf>,
        recursive: bool,
    },
    List {
        page: store::Paging,
    },
    Show {
        id: String,
    },
    Search {
        filter: store::Filter,
        page: store::Paging,
    },
    /// `cases set`: the desk's fields of one support case.
    Set {
        case_id: String,
        change: store::CaseChange,
    },
    /// `cases export`: every bundle matching the filter, as CSV (or JSON).
    Export {
        filter: store::Filter,
    },
    /// `cases rediagnose`: the current rules over the stored bundles of a case (None: all).
    Rediagnose {
        case_id: Option<String>,
    },
    Stats,
    History {
        host: String,
        limit: u64,
    },
}

pub struct Settings {
    /// `--db`: a path or a PostgreSQL URL; None = the default file.
    pub db: Option<String>,
    pub json: bool,
    pub quiet: bool,
    pub action: Action,
}

pub(crate) fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Opens the database `--db` names, or the default file. `create`: make it if it is not there
/// (import only).
pub fn open(spec: Option<&str>, create: bool) -> Result<Db> {
    match spec {
        Some(spec) => Db::open(spec, create),
        None => {
            let path = db::default_path()?;
            if create {
                db::create_default_dir(&path)?;
            }
            Db::open(&path.to_string_lossy(), create)
        }
    }
}

pub fn run(settings: Settings) -> Result<ExitStatus> {
    let importing = matches!(settings.action, Action::Import { .. });
    let mut db = open(settings.db.as_deref(), importing)?;
    let mut out = std::io::stdout().lock();
    let lang = Lang::from_env();
    match &settings.action {
        Action::Import { paths, recursive } => {
            let report = import(&mut db, paths, *recursive, &mut |result| {
                // Sidecars are many and say nothing: one count at the end instead of a line each.
                if !settings.json && !settings.quiet && !result.sidecar {
                    eprintln!("{}", result.line());
                }
            })?;
            let sidecars = report.results.iter().filter(|r| r.sidecar).count();
            if sidecars > 0 && !settings.json && !settings.quiet {
                eprintln!(
                    "{}",
                    lang.ui("cases.sidecars_skipped")
                        .replace("{n}", &sidecars.to_string())
                );
            }
            if settings.json {
                print_json(&mut out, &report)?;
            } else if !settings.quiet {
                let line = format!(
                    "{} imported, {} already imported, {} refused, {} skipped ({})\n",
                    report.imported,
                    report.already,
                    report.refused,
                    report.skipped,
                    crate::escape::field(&db.label)
                );
                crate::stdout::write_human(&mut out, &line)?;
            }
            return Ok(if report.refused > 0 {
                ExitStatus::Integrity
            } else {
                ExitStatus::Success
            });
        }
        Action::List { page } => {
            let list = store::list(&mut db, *page)?;
            if settings.json {
                print_json(&mut out, &list)?;
            } else {
                crate::stdout::write_human(&mut out, &text::page(&list, lang))?;
            }
        }
        Action::Search { filter, page } => {
            let list = store::search(&mut db, filter, *page)?;
            if settings.json {
                print_json(&mut out, &list)?;
            } else {
                crate::stdout::write_human(&mut out, &text::page(&list, lang))?;
            }
        }
        Action::Set { case_id, change } => {
            let info = store::set_case(&mut db, case_id, change)?;
            if settings.json {
                print_json(&mut out, &info)?;
            } else {
                crate::stdout::write_human(&mut out, &text::case(&info, lang))?;
            }
        }
        Action::Export { filter } => {
            let page = store::search(&mut db, filter, store::Paging::ALL)?;
            let cases = store::all_cases(&mut db)?;
            if settings.json {
                let rows: Vec<export::Row> = page
                    .bundles
                    .iter()
                    .map(|s| export::Row::of(s, &cases))
                    .collect();
                print_json(&mut out, &rows)?;
            } else {
                crate::stdout::write_out(&mut out, export::csv(&page.bundles, &cases).as_bytes())?;
            }
        }
        Action::Rediagnose { case_id } => {
            let report = rediagnose(&mut db, case_id.as_deref(), &mut |line| {
                if !settings.json {
                    eprintln!("{}", line.line(lang));
                }
            })?;
            if settings.json {
                print_json(&mut out, &report)?;
            } else {
                let line = lang
                    .ui("cases.rediagnosed")
                    .replace("{changed}", &report.changed.to_string())
                    .replace("{unchanged}", &report.unchanged.to_string())
                    .replace("{missing}", &report.not_rediagnosed.to_string());
                crate::stdout::write_human(&mut out, &format!("{line}\n"))?;
            }
        }
        Action::Show { id } => {
            let detail = store::show(&mut db, id)?;
            if settings.json {
                print_json(&mut out, &detail)?;
            } else {
                crate::stdout::write_human(&mut out, &text::detail(&detail))?;
            }
        }
        Action::Stats => {
            let stats = store::stats(&mut db)?;
            if settings.json {
                print_json(&mut out, &stats)?;
            } else {
                crate::stdout::write_human(&mut out, &text::stats(&stats))?;
            }
        }
        Action::History { host, limit } => {
            let history = store::history(&mut db, host, *limit)?;
            if history.is_empty() {
                return Err(Error::failed(format!(
                    "no bundle of host '{host}' in the case database {}; `drx-collect cases list` shows the hosts",
                    db.label
                )));
            }
            if settings.json {
                print_json(&mut out, &history)?;
            } else {
                crate::stdout::write_human(&mut out, &text::history(&history))?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn print_json(out: &mut dyn std::io::Write, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::failed(e.to_string()))?;
    crate::stdout::write_out(out, format!("{text}\n").as_bytes())
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Imported,
    Already,
    Refused,
    Skipped,
}

/// What happened to one path given to `cases import`.
#[derive(Debug, Clone, Serialize)]
pub struct ImportResult {
    pub path: String,
    pub outcome: Outcome,
    /// The row id (imported, already imported).
    pub id: Option<i64>,
    pub sha256: Option<String>,
    pub host: Option<String>,
    pub findings: Option<usize>,
    /// Why it was refused or skipped.
    pub reason: Option<String>,
    /// Skipped as a checksum sidecar (counted in one line, not shown one by one).
    #[serde(skip)]
    pub sidecar: bool,
}

impl ImportResult {
    fn new(path: &Path, outcome: Outcome) -> ImportResult {
        ImportResult {
            path: path.display().to_string(),
            outcome,
            id: None,
            sha256: None,
            host: None,
            findings: None,
            reason: None,
            sidecar: false,
        }
    }

    fn because(mut self, reason: impl Into<String>) -> ImportResult {
        self.reason = Some(reason.into());
        self
    }

    /// One line for people (stderr while importing). The path, the host and the reason name
    /// what a bundle holds or is called: escaped, as everywhere the tool shows such values.
    pub fn line(&self) -> String {
        use crate::escape::field;
        let id = self.id.map(|i| format!("#{i}")).unwrap_or_default();
        let path = field(&self.path);
        let reason = field(self.reason.as_deref().unwrap_or(""));
        match self.outcome {
            Outcome::Imported => format!(
                "imported {id} {} ({} findings): {path}",
                field(self.host.as_deref().unwrap_or("?")),
                self.findings.unwrap_or(0),
            ),
            Outcome::Already => format!("already imported {id}: {path}"),
            Outcome::Refused => format!("refused: {path}: {reason}"),
            Outcome::Skipped => format!("skipped: {path}: {reason}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportReport {
    pub imported: usize,
    pub already: usize,
    pub refused: usize,
    pub skipped: usize,
    pub results: Vec<ImportResult>,
}

/// What a path given to `import` (or found in a directory) is.
enum Source {
    Bundle(PathBuf),
    /// A case file of `--peer`: each bundle inside is imported.
    Case(PathBuf),
    /// Not imported, with the reason.
    Skip(PathBuf, String),
    /// Named on the command line but not importable, with the reason.
    Refuse(PathBuf, String),
}

fn is_sidecar(path: &Path) -> bool {
    path.file_name()
        .map(|n| {
            n.to_string_lossy()
                .to_ascii_lowercase()
                .ends_with(".sha256")
        })
        .unwrap_or(false)
}

/// Classifies one regular file by name.
fn classify(path: &Path, named: bool) -> Source {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".sha256") {
        return Source::Skip(path.into(), "a checksum sidecar, not a bundle".into());
    }
    // A split set (a bundle's or a case file's) is read whole from its first part; the later
    // parts are not bundles of their own (the one definition of a part name: archive::split).
    let split_part = crate::archive::split::split_part_name(&lower);
    if let Some((_, part)) = split_part.filter(|(_, n)| *n != 1) {
        return Source::Skip(
            path.into(),
            format!("part {part} of a split set (imported with its .001)"),
        );
    }
    if crate::inspect::case::is_case(path) {
        return Source::Case(path.into());
    }
    let bundle_name = split_part.is_some()
        || [".tgz", ".tar.gz", ".zip", ".tgz.age"]
            .iter()
            .any(|suffix| lower.ends_with(suffix));
    // A file named on the command line is tried whatever its name; in a directory, only bundles.
    if bundle_name || named {
        Source::Bundle(path.into())
    } else {
        Source::Skip(
            path.into(),
            "not a bundle (.tgz, .zip, .tgz.age or .tgz.001)".into(),
        )
    }
}

/// Why a path that is neither a directory nor a regular file is not read: a FIFO would block the
/// import, a device (`/dev/zero`) never ends.
const NOT_REGULAR: &str =
    "not a regular file (a FIFO, device or socket), so it is not read; give the bundle file itself";

fn expand(path: &Path, recursive: bool, named: bool, out: &mut Vec<Source>) -> Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io("read", path, &e, "give a bundle or a directory of bundles"))?;
    if !meta.is_dir() {
        out.push(file_source(path, &meta, named));
        return Ok(());
    }
    let entries =
        std::fs::read_dir(path).map_err(|e| Error::io("list the directory", path, &e, ""))?;
    let mut children: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list the directory", path, &e, ""))?;
        children.push(entry.path());
    }
    children.sort();
    for child in children {
        if child.is_dir() {
            if recursive {
                expand(&child, recursive, false, out)?;
            } else {
                out.push(Source::Skip(
                    child,
                    "a directory (add --recursive to import what is inside)".into(),
                ));
            }
        } else {
            out.push(match std::fs::metadata(&child) {
                Ok(meta) => file_source(&child, &meta, false),
                Err(e) => Source::Skip(
                    child,
                    format!("cannot read it: {}", crate::error::describe_io(&e)),
                ),
            });
        }
    }
    Ok(())
}

/// A path that is not a directory: a regular file by its name; anything else is not read.
fn file_source(path: &Path, meta: &std::fs::Metadata, named: bool) -> Source {
    if meta.is_file() {
        classify(path, named)
    } else if named {
        Source::Refuse(path.into(), NOT_REGULAR.into())
    } else {
        Source::Skip(path.into(), NOT_REGULAR.into())
    }
}

/// sha256 of the bundle's bytes; of all parts in order for a split bundle. Only regular files
/// are read (`open_regular`: a FIFO or a device swapped in after the listing is refused too).
fn file_sha256(path: &Path) -> std::io::Result<String> {
    let files = crate::archive::split_set::find(path)
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![path.to_path_buf()]);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for file in files {
        let mut f = crate::platform::open_regular(&file)?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(crate::digest::hex(&hasher.finalize()))
}

/// Imports every bundle of `paths` (directories: their bundles), reporting each as it goes.
/// A database error stops the import; a bad bundle is refused and the rest go on.
pub fn import(
    db: &mut Db,
    paths: &[PathBuf],
    recursive: bool,
    each: &mut dyn FnMut(&ImportResult),
) -> Result<ImportReport> {
    let mut sources = Vec::new();
    for path in paths {
        expand(path, recursive, true, &mut sources)?;
    }
    let catalogue = Catalogue::embedded()?;
    let mut report = ImportReport::default();
    for source in sources {
        let results = match source {
            Source::Skip(path, why) => {
                let mut result = ImportResult::new(&path, Outcome::Skipped).because(why);
                result.sidecar = is_sidecar(&path);
                vec![result]
            }
            Source::Refuse(path, why) => {
                vec![ImportResult::new(&path, Outcome::Refused).because(why)]
            }
            Source::Bundle(path) => {
                let result = import_bundle(db, &catalogue, &path)?;
                // Where it is now, for `rediagnose` (a bundle moved and imported again, or one
                // stored before the database kept paths).
                if let (Outcome::Imported | Outcome::Already, Some(id)) =
                    (result.outcome, result.id)
                {
                    if let Ok(absolute) = std::path::absolute(&path) {
                        store::set_path(db, id, &absolute.to_string_lossy())?;
                    }
                }
                vec![result]
            }
            Source::Case(path) => import_case(db, &catalogue, &path)?,
        };
        for result in results {
            match result.outcome {
                Outcome::Imported => report.imported += 1,
                Outcome::Already => report.already += 1,
                Outcome::Refused => report.refused += 1,
                Outcome::Skipped => report.skipped += 1,
            }
            each(&result);
            report.results.push(result);
        }
    }
    Ok(report)
}

/// A case file: its container verified (a damaged one is refused whole), then every bundle in
/// it imported like a bundle given alone; results name `CASE/BUNDLE`.
fn import_case(db: &mut Db, catalogue: &Catalogue, path: &Path) -> Result<Vec<ImportResult>> {
    let opened = match crate::inspect::case::open(path, crate::inspect::case::DEFAULT_MEMBER_CAP) {
        Ok(opened) => opened,
        Err(err) => {
            return Ok(vec![
                ImportResult::new(path, Outcome::Refused).because(err.message().to_string())
            ])
        }
    };
    if let Some(problem) = opened.problems.first() {
        return Ok(vec![ImportResult::new(path, Outcome::Refused)
            .because(format!("the case file is not intact: {problem}"))]);
    }
    let mut results = Vec::new();
    for bundle in &opened.bundles {
        let mut result = import_bundle(db, catalogue, bundle)?;
        let name = bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        result.path = format!("{}/{name}", path.display());
        results.push(result);
    }
    Ok(results)
}

/// Verifies, diagnoses and stores one bundle. Only database errors are `Err`.
pub fn import_bundle(db: &mut Db, catalogue: &Catalogue, path: &Path) -> Result<ImportResult> {
    let sha256 = match file_sha256(path) {
        Ok(sha) => sha,
        Err(e) => {
            return Ok(ImportResult::new(path, Outcome::Refused)
                .because(format!("cannot read it: {}", crate::error::describe_io(&e))))
        }
    };
    let mut result = ImportResult::new(path, Outcome::Already);
    result.sha256 = Some(sha256.clone());
    if let Some(id) = store::find_sha(db, &sha256)? {
        result.id = Some(id);
        return Ok(result);
    }
    let mut capture = record::Capture::default();
    let options = inspect::Options {
        visit: Some(&mut capture),
        ..Default::default()
    };
    let inspected = match inspect::open(path, catalogue, options) {
        Ok(done) => done,
        Err(err) => {
            result.outcome = Outcome::Refused;
            result.reason = Some(err.message().to_string());
            return Ok(result);
        }
    };
    if !inspected.verification.ok() {
        let problems = &inspected.verification.problems;
        let first: Vec<String> = problems
            .iter()
            .take(3)
            .map(|p| {
                if p.path.is_empty() {
                    p.detail.clone()
                } else {
                    format!("{} ({}: {})", p.path, p.kind.as_str(), p.detail)
                }
            })
            .collect();
        let more = problems.len().saturating_sub(first.len());
        let mut reason = format!("it fails verification: {}", first.join("; "));
        if more > 0 {
            reason.push_str(&format!("; and {more} more"));
        }
        result.outcome = Outcome::Refused;
        result.reason = Some(reason);
        return Ok(result);
    }
    // The database keeps English titles, whatever the desk's LANG, so counts group by one text.
    let findings = inspect::findings(std::slice::from_ref(&inspected), Lang::En);
    let record = record::Record::new(sha256, &inspected, findings, &capture.0);
    result.host = Some(record.host.clone());
    result.findings = Some(record.findings.len());
    match store::insert(db, &record, None)? {
        Some(id) => {
            result.outcome = Outcome::Imported;
            result.id = Some(id);
        }
        // Another process imported it between our look-up and our insert.
        None => result.id = store::find_sha(db, &record.sha256)?,
    }
    Ok(result)
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Rediagnosis {
    /// The current rules find something else than the stored findings: replaced.
    Changed,
    /// The same findings.
    Unchanged,
    /// Stored from a case file, or before the database kept paths: import it again.
    NoPath,
    /// Nothing at the stored path any more.
    Missing,
    /// The file at the path is not the bundle imported (another sha256).
    Replaced,
    /// It cannot be read or fails verification now.
    Unreadable,
}

/// What `rediagnose` did with one stored bundle.
#[derive(Debug, Clone, Serialize)]
pub struct RediagnoseResult {
    pub id: i64,
    pub sha256: String,
    pub path: Option<String>,
    pub outcome: Rediagnosis,
    /// The stored findings before and after (after = before when not re-diagnosed).
    pub findings_before: Option<usize>,
    pub findings_after: Option<usize>,
    pub reason: Option<String>,
}

impl RediagnoseResult {
    /// One line for people; the path and the reason are escaped (they came from a database
    /// others may write to, and from a file system).
    pub fn line(&self, lang: Lang) -> String {
        use crate::escape::field;
        let path = field(self.path.as_deref().unwrap_or("-")).into_owned();
        // Each key spelled out where it is used (the ui.toml test finds them so).
        let template = match self.outcome {
            Rediagnosis::Changed => lang.ui("cases.rediagnose_changed"),
            Rediagnosis::Unchanged => lang.ui("cases.rediagnose_unchanged"),
            Rediagnosis::NoPath => lang.ui("cases.rediagnose_no_path"),
            Rediagnosis::Missing => lang.ui("cases.rediagnose_missing"),
            Rediagnosis::Replaced => lang.ui("cases.rediagnose_replaced"),
            Rediagnosis::Unreadable => lang.ui("cases.rediagnose_unreadable"),
        };
        template
            .replace("{id}", &self.id.to_string())
            .replace("{path}", &path)
            .replace(
                "{before}",
                &self
                    .findings_before
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            )
            .replace(
                "{after}",
                &self
                    .findings_after
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            )
            .replace("{reason}", &field(self.reason.as_deref().unwrap_or("")))
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct RediagnoseReport {
    pub changed: usize,
    pub unchanged: usize,
    /// No path, missing, replaced or unreadable: reported, the others still done.
    pub not_rediagnosed: usize,
    pub results: Vec<RediagnoseResult>,
}

/// Runs the current rule catalogue over the stored bundles of `case_id` (None: every bundle),
/// each opened where it was imported from through `inspect::open`, and replaces their stored
/// findings. A bundle no longer there (or no longer the same file) is reported and skipped;
/// only a database error stops the run.
pub fn rediagnose(
    db: &mut Db,
    case_id: Option<&str>,
    each: &mut dyn FnMut(&RediagnoseResult),
) -> Result<RediagnoseReport> {
    let stored = store::stored(db, case_id)?;
    if stored.is_empty() {
        if let Some(case) = case_id {
            return Err(Error::failed(format!(
                "no bundle of case '{}' in the case database {}; a case is a bundle's --case-id (`drx-collect cases list` shows them)",
                crate::escape::field(case),
                db.label
            )));
        }
    }
    let catalogue = Catalogue::embedded()?;
    let mut report = RediagnoseReport::default();
    for bundle in stored {
        let result = rediagnose_one(db, &catalogue, bundle)?;
        match result.outcome {
            Rediagnosis::Changed => report.changed += 1,
            Rediagnosis::Unchanged => report.unchanged += 1,
            _ => report.not_rediagnosed += 1,
        }
        each(&result);
        report.results.push(result);
    }
    Ok(report)
}

fn rediagnose_one(
    db: &mut Db,
    catalogue: &Catalogue,
    bundle: store::Stored,
) -> Result<RediagnoseResult> {
    let mut result = RediagnoseResult {
        id: bundle.id,
        sha256: bundle.sha256.clone(),
        path: bundle.path.clone(),
        outcome: Rediagnosis::NoPath,
        findings_before: None,
        findings_after: None,
        reason: None,
    };
    let Some(path) = bundle.path.as_deref().map(PathBuf::from) else {
        return Ok(result);
    };
    let not_done = |mut result: RediagnoseResult, outcome, reason: String| {
        result.outcome = outcome;
        result.reason = Some(reason);
        Ok(result)
    };
    let sha256 = match file_sha256(&path) {
        Ok(sha) => sha,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return not_done(result, Rediagnosis::Missing, crate::error::describe_io(&e))
        }
        Err(e) => {
            return not_done(
                result,
                Rediagnosis::Unreadable,
                crate::error::describe_io(&e),
            )
        }
    };
    if sha256 != bundle.sha256 {
        return not_done(
            result,
            Rediagnosis::Replaced,
            format!("its sha256 is now {sha256}"),
        );
    }
    let mut capture = record::Capture::default();
    let options = inspect::Options {
        visit: Some(&mut capture),
        ..Default::default()
    };
    let inspected = match inspect::open(&path, catalogue, options) {
        Ok(done) => done,
        Err(err) => return not_done(result, Rediagnosis::Unreadable, err.message().to_string()),
    };
    if !inspected.verification.ok() {
        return not_done(
            result,
            Rediagnosis::Unreadable,
            "it fails verification now".to_string(),
        );
    }
    let findings = inspect::findings(std::slice::from_ref(&inspected), Lang::En);
    let record = record::Record::new(sha256, &inspected, findings, &capture.0);
    let (before, changed) = store::replace_findings(db, bundle.id, &record.findings)?;
    result.findings_before = Some(before.len());
    result.findings_after = Some(record.findings.len());
    result.outcome = if changed {
        Rediagnosis::Changed
    } else {
        Rediagnosis::Unchanged
    };
    Ok(result)
}

/// `cases export`: one row per bundle, with the desk's fields of its case.
mod export {
    use super::store::{CaseInfo, Summary};
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, Serialize)]
    pub struct Row {
        pub id: i64,
        pub sha256: String,
        pub host: String,
        pub case_id: Option<String>,
        pub label: Option<String>,
        pub started_at: Option<String>,
        pub os: String,
        pub os_release: String,
        pub kernel: String,
        pub drbd: Option<String>,
        pub drbd_utils: Option<String>,
        pub bsr: Option<String>,
        pub bsr_utils: Option<String>,
        pub drx: Option<String>,
        pub findings: i64,
        pub errors: i64,
        pub warnings: i64,
        pub status: Option<String>,
        pub assignee: Option<String>,
        pub ticket: Option<String>,
        pub note: Option<String>,
        pub file_name: String,
        pub path: Option<String>,
    }

    const HEADER: [&str; 23] = [
        "id",
        "sha256",
        "host",
        "case_id",
        "label",
        "started_at",
        "os",
        "os_release",
        "kernel",
        "drbd",
        "drbd_utils",
        "bsr",
        "bsr_utils",
        "drx",
        "findings",
        "errors",
        "warnings",
        "status",
        "assignee",
        "ticket",
        "note",
        "file_name",
        "path",
    ];

    impl Row {
        pub fn of(s: &Summary, cases: &BTreeMap<String, CaseInfo>) -> Row {
            let case = s.case_id.as_ref().and_then(|c| cases.get(c));
            let v = &s.versions;
            Row {
                id: s.id,
                sha256: s.sha256.clone(),
                host: s.host.clone(),
                case_id: s.case_id.clone(),
                label: s.label.clone(),
                started_at: s.started_at.clone(),
                os: s.os.clone(),
                os_release: s.os_release.clone(),
                kernel: s.kernel.clone(),
                drbd: v.drbd.clone(),
                drbd_utils: v.drbd_utils.clone(),
                bsr: v.bsr.clone(),
                bsr_utils: v.bsr_utils.clone(),
                drx: v.drx.clone(),
                findings: s.findings,
                errors: s.errors,
                warnings: s.warnings,
                status: case.and_then(|c| c.status.clone()),
                assignee: case.and_then(|c| c.assignee.clone()),
                ticket: case.and_then(|c| c.ticket.clone()),
                note: case.and_then(|c| c.note.clone()),
                file_name: s.file_name.clone(),
                path: s.path.clone(),
            }
        }

        fn fields(&self) -> [String; 23] {
            let o = |v: &Option<String>| v.clone().unwrap_or_default();
            [
                self.id.to_string(),
                self.sha256.clone(),
                self.host.clone(),
                o(&self.case_id),
                o(&self.label),
                o(&self.started_at),
                self.os.clone(),
                self.os_release.clone(),
                self.kernel.clone(),
                o(&self.drbd),
                o(&self.drbd_utils),
                o(&self.bsr),
                o(&self.bsr_utils),
                o(&self.drx),
                self.findings.to_string(),
                self.errors.to_string(),
                self.warnings.to_string(),
                o(&self.status),
                o(&self.assignee),
                o(&self.ticket),
                o(&self.note),
                self.file_name.clone(),
                o(&self.path),
            ]
        }
    }

    /// One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF, quotes
    /// doubled. A value a spreadsheet would run as a formula (starting with = + - @, or a tab
    /// or CR that some strip first) gets a leading `'`: bundle values are untrusted, and a host
    /// named `=HYPERLINK(...)` must stay text when the desk opens the export.
    pub fn field(value: &str) -> String {
        let mut text = String::with_capacity(value.len() + 2);
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            text.push('\'');
        }
        text.push_str(value);
        if text.contains([',', '"', '\r', '\n']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text
        }
    }

    pub fn csv(list: &[Summary], cases: &BTreeMap<String, CaseInfo>) -> String {
        let mut out = HEADER.join(",");
        out.push_str("\r\n");
        for s in list {
            let row = Row::of(s, cases);
            let line: Vec<String> = row.fields().iter().map(|f| field(f)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::field;

        #[test]
        fn fields_are_quoted_and_formulas_defused() {
            assert_eq!(field("node1"), "node1");
            assert_eq!(field("a,b"), "\"a,b\"");
            assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
            assert_eq!(field("two\nlines"), "\"two\nlines\"");
            assert_eq!(field("=1+1"), "'=1+1");
            assert_eq!(field("+1"), "'+1");
            assert_eq!(field("-cmd"), "'-cmd");
            assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
            assert_eq!(
                field("=HYPERLINK(\"x\",\"y\")"),
                "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
            );
            assert_eq!(field(""), "");
            assert_eq!(field("노드1"), "노드1");
        }
    }
}

/// Plain-text renderings. Every stored value came from a bundle (or from whoever else writes to
/// a shared database): each goes through [`field`] as `inspect` shows the same values, so an
/// escape sequence or a line break in a host name, label or path never reaches the terminal raw.
mod text {
    use super::store::{CaseInfo, Detail, Page, Snapshot, Stats, StoredFinding, Summary};
    use crate::escape::field;
    use crate::lang::Lang;
    use std::fmt::Write;

    /// A page of bundles and the line that says how many match in all, so a limit never
    /// silently hides the rest.
    pub fn page(page: &Page, lang: Lang) -> String {
        let mut out = if page.bundles.is_empty() {
            String::new()
        } else {
            summaries(&page.bundles)
        };
        let shown = page.bundles.len() as u64;
        let template = if page.total == 0 {
            lang.ui("cases.no_bundles")
        } else if shown == 0 {
            lang.ui("cases.page_past_end")
        } else if (page.offset + shown) < page.total as u64 {
            lang.ui("cases.page_more")
        } else {
            lang.ui("cases.page_all")
        };
        let line = template
            .replace("{first}", &(page.offset + 1).to_string())
            .replace("{last}", &(page.offset + shown).to_string())
            .replace("{shown}", &shown.to_string())
            .replace("{total}", &page.total.to_string())
            .replace("{next}", &(page.offset + shown).to_string());
        let _ = writeln!(out, "{line}");
        out
    }

    /// The desk's fields of one case.
    pub fn case(c: &CaseInfo, lang: Lang) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {} ({} {})",
            lang.ui("cases.case"),
            field(&c.case_id),
            c.bundles,
            lang.ui("cases.bundles")
        );
        case_fields(&mut out, c, lang);
        out
    }

    fn case_fields(out: &mut String, c: &CaseInfo, lang: Lang) {
        let none = "-";
        for (name, value) in [
            (lang.ui("cases.status"), &c.status),
            (lang.ui("cases.assignee"), &c.assignee),
            (lang.ui("cases.ticket"), &c.ticket),
            (lang.ui("cases.note"), &c.note),
        ] {
            let _ = writeln!(
                out,
                "  {:<10} {}",
                name,
                field(value.as_deref().unwrap_or(none))
            );
        }
        let _ = writeln!(
            out,
            "  {:<10} {}",
            lang.ui("cases.updated"),
            field(&c.updated_at)
        );
    }

    /// The first 12 characters of a sha256 (as stored: escaped, it may not be hex).
    fn short(sha: &str) -> String {
        field(&sha.chars().take(12).collect::<String>()).into_owned()
    }

    fn opt(value: &Option<String>, none: &str) -> String {
        field(value.as_deref().unwrap_or(none)).into_owned()
    }

    fn versions(s: &Summary) -> String {
        let v = &s.versions;
        let mut parts = Vec::new();
        for (name, value) in [
            ("drbd", &v.drbd),
            ("utils", &v.drbd_utils),
            ("bsr", &v.bsr),
            ("bsradm", &v.bsr_utils),
            ("drx", &v.drx),
        ] {
            if let Some(value) = value {
                parts.push(format!("{name} {}", field(value)));
            }
        }
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    }

    pub fn summaries(list: &[Summary]) -> String {
        let mut out = String::new();
        if list.is_empty() {
            out.push_str("no bundles\n");
            return out;
        }
        let _ = writeln!(
            out,
            "{:>6}  {:<12}  {:<20}  {:<20}  {:<12}  {:>3} {:>3}  versions",
            "id", "sha256", "host", "collected", "case", "err", "wrn"
        );
        for s in list {
            let _ = writeln!(
                out,
                "{:>6}  {:<12}  {:<20}  {:<20}  {:<12}  {:>3} {:>3}  {}",
                s.id,
                short(&s.sha256),
                field(&s.host),
                opt(&s.started_at, "-"),
                opt(&s.case_id, "-"),
                s.errors,
                s.warnings,
                versions(s)
            );
        }
        out
    }

    /// A finding: `lead` before its first line, `indent` before the others.
    fn finding_led(out: &mut String, f: &StoredFinding, lead: &str, indent: &str) {
        let _ = writeln!(
            out,
            "{lead}[{}] {}: {}",
            field(&f.severity.to_uppercase()),
            field(&f.rule),
            field(&f.title)
        );
        if let Some(path) = &f.path {
            let path = field(path);
            match f.line {
                Some(line) => {
                    let _ = writeln!(out, "{indent}    at {path}:{line}");
                }
                None => {
                    let _ = writeln!(out, "{indent}    at {path}");
                }
            }
        }
        if let Some(detail) = &f.detail {
            let _ = writeln!(out, "{indent}    {}", field(detail));
        }
    }

    fn finding(out: &mut String, f: &StoredFinding, indent: &str) {
        finding_led(out, f, indent, indent);
    }

    pub fn detail(d: &Detail) -> String {
        let s = &d.summary;
        let mut out = String::new();
        let _ = writeln!(out, "bundle #{} {}", s.id, field(&s.file_name));
        let _ = writeln!(out, "  sha256     {}", field(&s.sha256));
        let _ = writeln!(
            out,
            "  host       {} ({} {}, kernel {})",
            field(&s.host),
            field(&s.os),
            field(&s.os_release),
            field(&s.kernel)
        );
        if let Some(case) = &s.case_id {
            let _ = writeln!(out, "  case       {}", field(case));
        }
        if let Some(label) = &s.label {
            let _ = writeln!(out, "  label      {}", field(label));
        }
        if let Some(path) = &s.path {
            let _ = writeln!(out, "  path       {}", field(path));
        }
        if let Some(case) = &d.case {
            case_fields(&mut out, case, Lang::from_env());
        }
        let _ = writeln!(
            out,
            "  collected  {} to {} by {} {}",
            opt(&s.started_at, "?"),
            opt(&d.finished_at, "?"),
            field(&d.tool),
            field(&d.tool_version)
        );
        let _ = writeln!(out, "  versions   {}", versions(s));
        let _ = writeln!(
            out,
            "  resources  {}",
            if d.resources.is_empty() {
                "-".to_string()
            } else {
                d.resources
                    .iter()
                    .map(|r| field(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        let _ = writeln!(
            out,
            "  imported   {} ({} files, {} bytes)",
            d.imported_at, d.files, d.size_bytes
        );
        let _ = writeln!(
            out,
            "\nFindings: {} ({} error(s), {} warning(s))",
            s.findings, s.errors, s.warnings
        );
        for f in &d.finding_list {
            finding(&mut out, f, "");
        }
        out
    }

    pub fn stats(s: &Stats) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} bundles of {} hosts, {} findings",
            s.bundles, s.hosts, s.findings
        );
        let _ = writeln!(out, "\nFindings by frequency (bundles, hosts, findings):");
        for r in &s.by_rule {
            let _ = writeln!(
                out,
                "  {:>6} {:>5} {:>7}  {:<28} {:<8} {}",
                r.bundles,
                r.hosts,
                r.findings,
                field(&r.rule),
                field(&r.severity),
                field(&r.title)
            );
        }
        let _ = writeln!(out, "\nBy version (bundles, hosts, bundles with errors):");
        for v in &s.by_version {
            let _ = writeln!(
                out,
                "  {:<11} {:<12} {:>6} {:>5} {:>6}",
                field(&v.component),
                field(&v.version),
                v.bundles,
                v.hosts,
                v.with_errors
            );
        }
        let _ = writeln!(out, "\nPer month (bundles, hosts, findings, errors):");
        for m in &s.by_month {
            let _ = writeln!(
                out,
                "  {}  {:>6} {:>5} {:>7} {:>6}",
                field(&m.month),
                m.bundles,
                m.hosts,
                m.findings,
                m.errors
            );
        }
        out
    }

    pub fn history(list: &[Snapshot]) -> String {
        let mut out = String::new();
        for snap in list {
            let s = &snap.summary;
            let _ = writeln!(
                out,
                "#{} {}  {}  {} error(s), {} warning(s)  {}",
                s.id,
                opt(&s.started_at, "-"),
                short(&s.sha256),
                s.errors,
                s.warnings,
                versions(s)
            );
            let Some(c) = &snap.changes else {
                for f in &snap.finding_list {
                    finding(&mut out, f, "    ");
                }
                continue;
            };
            for v in &c.versions_changed {
                let _ = writeln!(
                    out,
                    "    version {}: {} -> {}",
                    field(&v.component),
                    opt(&v.from, "none"),
                    opt(&v.to, "none")
                );
            }
            for r in &c.resources_added {
                let _ = writeln!(out, "    resource added: {}", field(r));
            }
            for r in &c.resources_removed {
                let _ = writeln!(out, "    resource removed: {}", field(r));
            }
            for f in &c.findings_new {
                finding_led(&mut out, f, "    new ", "        ");
            }
            for f in &c.findings_resolved {
                let _ = writeln!(
                    out,
                    "    resolved [{}] {}: {}",
                    field(&f.severity.to_uppercase()),
                    field(&f.rule),
                    field(&f.title)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str, named: bool) -> Result<(), String> {
        match classify(Path::new(name), named) {
            Source::Bundle(_) | Source::Case(_) => Ok(()),
            Source::Skip(_, why) | Source::Refuse(_, why) => Err(why),
        }
    }

    #[test]
    fn directories_yield_bundles_and_notes() {
        assert!(kind("drx-collect-n1-20261124T100000Z.tgz", false).is_ok());
        assert!(kind("drx-collect-n1-20261124T100000Z.zip", false).is_ok());
        assert!(kind("drx-collect-n1-20261124T100000Z.tgz.001", false).is_ok());
        assert!(kind("drx-collect-n1-20261124T100000Z.tgz.002", false)
            .unwrap_err()
            .contains("split"));
        assert!(kind("drx-collect-n1-20261124T100000Z.tgz.sha256", false)
            .unwrap_err()
            .contains("sidecar"));
        assert!(kind("notes.txt", false)
            .unwrap_err()
            .contains("not a bundle"));
        // Named on the command line, any name is tried (and refused if it is no bundle).
        assert!(kind("renamed-by-mail", true).is_ok());
        assert!(matches!(
            classify(Path::new("drx-case-n1-n2-20261124T100000Z.tgz"), false),
            Source::Case(_)
        ));
        // A split case file: its first part is the case file, the later parts are not refused.
        assert!(matches!(
            classify(Path::new("drx-case-n1-n2-20261124T100000Z.tgz.001"), false),
            Source::Case(_)
        ));
        for later in ["drx-case-n1-n2-20261124T100000Z.tgz.002", "x.tgz.1000"] {
            assert!(kind(later, false).unwrap_err().contains("split"), "{later}");
            assert!(kind(later, true).unwrap_err().contains("split"), "{later}");
        }
        // Sealed bundles are bundles in a directory too.
        assert!(kind("drx-collect-n1-20261124T100000Z.tgz.age", false).is_ok());
    }
}
