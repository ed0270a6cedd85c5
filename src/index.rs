//! `index.json`, schema `drx-collect/index/v1` (SPEC §4). Fields may be added, never renamed or
//! removed. Unknown fields of other producers are tolerated on reading (`inspect` takes bundles of
//! other tools that follow SPEC §3).
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "drx-collect/index/v1";

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Index {
    pub schema: String,
    #[serde(default)]
    pub tool: Tool,
    #[serde(default)]
    pub host: Host,
    /// `--case-id`: the support case the bundle belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// `--label`: a one-line note for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Wall time of the collection, in milliseconds (the two times above are whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub manifest: ManifestRef,
    #[serde(default)]
    pub options: Options,
    #[serde(default)]
    pub partial: bool,
    #[serde(default)]
    pub redaction: Redaction,
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Tool {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Host {
    #[serde(default)]
    pub hostname: String,
    /// `linux` or `windows`.
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub os_release: String,
    #[serde(default)]
    pub kernel: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ManifestRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Options {
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub obfuscate: bool,
    #[serde(default = "yes")]
    pub redact: bool,
    /// The command line as given (secrets in it redacted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Redaction {
    #[serde(default)]
    pub secrets_redacted: u64,
    #[serde(default)]
    pub obfuscated: bool,
}

/// What happened to one collected file or command (SPEC §4 `status`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Missing,
    Denied,
    Failed,
    Timeout,
    Truncated,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Denied => "denied",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Truncated => "truncated",
            Status::Skipped => "skipped",
        }
    }

    /// A gap in the evidence worth telling support about (`COLLECT-INCOMPLETE`).
    pub fn is_gap(self) -> bool {
        matches!(self, Status::Denied | Status::Failed | Status::Timeout)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    File,
    Command,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub kind: ItemKind,
    /// The path or command line the item came from.
    pub source: String,
    /// Where it is in the bundle, relative to the top directory; absent when nothing was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Secrets replaced by `[REDACTED]` in this item.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redactions: u64,
    /// Bundle path of the command's stderr, when it printed any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_path: Option<String>,
    /// Why the status is not `ok`, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Item {
    pub fn new(id: &str, kind: ItemKind, source: &str, status: Status) -> Self {
        Item {
            id: id.to_string(),
            kind,
            source: source.to_string(),
            path: None,
            status,
            exit_code: None,
            duration_ms: None,
            bytes: None,
            original_bytes: None,
            sha256: None,
            redactions: 0,
            stderr_path: None,
            error: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    // Declared worst first, so sorting ascending puts errors first (SPEC §4).
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    /// The bundle path of the evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    pub remedy: String,
    /// Which node a finding concerns, when several bundles were inspected together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What exactly was found, in one sentence with the values (port, versions, resource), when
    /// the excerpt alone does not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Sort findings worst first, then by rule and place, so output is stable.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.severity, &a.rule, &a.node, &a.path, a.line)
            .cmp(&(b.severity, &b.rule, &b.node, &b.path, b.line))
    });
}
