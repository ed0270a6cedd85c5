//! The case file of a `--peer` run (SPEC §9): `drx-case-<hostA>-<hostB>-<stamp>.tgz` with
//! `case.json`, both bundles unchanged under `bundles/`, and `SHA256SUMS`. The layout and its
//! schema live here; `peer::pair` writes it, and every command that reads a bundle opens a case
//! file through [`open`]: the container is verified and its bundles are taken out into a private
//! temporary directory (only members its SHA256SUMS confirms), then read like any bundle.
use crate::archive::reader::BundleReader;
use crate::error::{Error, Result};
use crate::index::{self, Finding};
use crate::inspect::extract::{self, Caps};
use crate::lang::Lang;
use crate::rules::Catalogue;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The case file's own index.
pub const CASE_JSON: &str = "case.json";
/// Bundles inside a case file.
pub const BUNDLES_DIR: &str = "bundles/";
/// case.json larger than this is not read (a case file is untrusted).
const MAX_CASE_JSON: u64 = 16 << 20;

pub const CASE_SCHEMA: &str = "drx-collect/case/v1";

/// `case.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseIndex {
    pub schema: String,
    pub tool: index::Tool,
    pub created_at: String,
    pub bundles: Vec<CaseBundle>,
    /// Peers whose bundle could not be taken, with the reason.
    #[serde(default)]
    pub gaps: Vec<Gap>,
    /// The pair's findings: each node's own and those between the nodes, labelled by node.
    #[serde(default)]
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseBundle {
    /// `local` (the node that ran the command) or `peer`.
    pub role: String,
    pub host: String,
    /// Inside the case file: `bundles/<file name>`.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// How the peer was reached (`--peer` as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gap {
    pub peer: String,
    pub reason: String,
}

/// `PEER-COLLECT-FAILED` for each peer whose bundle the case lacks.
pub fn gap_findings(gaps: &[Gap], catalogue: &Catalogue, lang: Lang) -> Vec<Finding> {
    let Some(rule) = catalogue.get(crate::rules::PEER_COLLECT_FAILED) else {
        return Vec::new();
    };
    gaps.iter()
        .map(|gap| Finding {
            rule: rule.id.clone(),
            severity: rule.severity,
            title: rule.title(lang).to_string(),
            path: Some(CASE_JSON.into()),
            line: None,
            excerpt: None,
            remedy: rule.remedy(lang).to_string(),
            node: Some(gap.peer.clone()),
            detail: Some(gap.reason.clone()),
        })
        .collect()
}

/// A case file opened for reading: its index, its bundles in a private temporary directory
/// (removed when this is dropped), and what was wrong with the container.
pub struct Opened {
    pub path: PathBuf,
    pub index: CaseIndex,
    /// The bundles, local first, as files to read.
    pub bundles: Vec<PathBuf>,
    /// Container problems (a member its SHA256SUMS does not confirm, an unsafe name, a bundle
    /// case.json names that is absent), one sentence each.
    pub problems: Vec<String>,
    dir: PathBuf,
}

impl Drop for Opened {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `path` is a case file: by name (`drx-case-…`), the way drx-collect names them.
pub fn is_case(path: &Path) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy().starts_with("drx-case-"))
        .unwrap_or(false)
}

/// Verifies the case file and takes its bundles out (each one still to be verified by its
/// reader). `max_bytes` caps what is written to the temporary directory.
pub fn open(path: &Path, max_bytes: u64) -> Result<Opened> {
    let dir = private_temp_dir()?;
    let mut opened = Opened {
        path: path.to_path_buf(),
        index: CaseIndex {
            schema: String::new(),
            tool: index::Tool::default(),
            created_at: String::new(),
            bundles: Vec::new(),
            gaps: Vec::new(),
            findings: Vec::new(),
        },
        bundles: Vec::new(),
        problems: Vec::new(),
        dir: dir.clone(),
    };
    let mut reader = BundleReader::open(path)?;
    let done = extract::extract(&mut reader, &dir, Caps::with_bytes(max_bytes))?;
    for skipped in &done.skipped {
        opened
            .problems
            .push(format!("{}: {}", skipped.name, skipped.reason));
    }
    if let Some(verification) = &done.verification {
        for problem in &verification.problems {
            opened.problems.push(format!(
                "{} {}: {}",
                problem.kind.as_str(),
                problem.path,
                problem.detail
            ));
        }
    }
    let top = std::fs::read_dir(&dir)
        .ok()
        .and_then(|mut entries| entries.next())
        .and_then(|e| e.ok())
        .map(|e| e.path())
        .ok_or_else(|| {
            Error::integrity(format!(
                "{} holds no case directory; it is not a drx-collect case file",
                path.display()
            ))
        })?;
    let json_path = top.join(CASE_JSON);
    let size = std::fs::metadata(&json_path).map(|m| m.len()).unwrap_or(0);
    if size == 0 || size > MAX_CASE_JSON {
        return Err(Error::integrity(format!(
            "{} has no readable case.json; it is not an intact drx-collect case file",
            path.display()
        )));
    }
    let text = std::fs::read(&json_path).map_err(|err| Error::io("read", &json_path, &err, ""))?;
    let index: CaseIndex = serde_json::from_slice(&text).map_err(|err| {
        Error::integrity(format!(
            "the case.json of {} is not valid ({err}); the case file is damaged",
            path.display()
        ))
    })?;
    if index.schema != CASE_SCHEMA {
        return Err(Error::integrity(format!(
            "{} has case schema {:?}; this drx-collect reads {CASE_SCHEMA}",
            path.display(),
            crate::escape::field(&index.schema)
        )));
    }
    for bundle in &index.bundles {
        let name = bundle.path.strip_prefix(BUNDLES_DIR).unwrap_or("");
        if !crate::layout::is_bundle_name(name) {
            opened.problems.push(format!(
                "case.json names {:?}, not a bundle of ours",
                crate::escape::field(&bundle.path)
            ));
            continue;
        }
        let file = top.join(BUNDLES_DIR).join(name);
        if file.is_file() {
            opened.bundles.push(file);
        } else {
            opened.problems.push(format!(
                "{}: named in case.json, but absent or not confirmed",
                bundle.path
            ));
        }
    }
    opened.index = index;
    Ok(opened)
}

/// A directory only this user can enter, under the system's temporary directory.
fn private_temp_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..32u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "drx-case-{}-{:x}",
            std::process::id(),
            nanos ^ attempt.wrapping_mul(0x9e37_79b9)
        ));
        match crate::platform::create_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(Error::io(
                    "make a temporary directory in",
                    &base,
                    &err,
                    "set TMPDIR to a writable directory",
                ))
            }
        }
    }
    Err(Error::failed(format!(
        "cannot make a private temporary directory in {}; set TMPDIR to a writable directory",
        base.display()
    )))
}
