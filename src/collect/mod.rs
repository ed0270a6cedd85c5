//! `drx-collect collect`: runs a manifest and writes one bundle (SPEC §3) in a single streaming
//! pass. Per-item failures become recorded statuses; only what makes a bundle impossible (no
//! space, interruption, an unwritable output directory) aborts, and then nothing is left behind.
//!
//! A run is four stages over one shared `Run` (settings, manifest, host, privacy, log), each
//! taking what the one before produced: `target` (lock, name, space, the open `Archive`) →
//! `items` (the sources into it, commands in the pool, `file` for one file's read; out comes
//! `Gathered`) → `finalize` (findings, index.json, SUMMARY.txt, collector.log; out comes the
//! `Index`) → `persist` (finish, leak check, final name, `--keep`; out comes the `Outcome`).
mod file;
mod finalize;
mod items;
pub mod lock;
pub mod names;
pub mod output;
mod persist;
pub mod plan;
pub mod pool;
pub mod report;
pub mod retention;
pub mod space;
mod target;

use crate::archive::writer::Format;
use crate::error::{describe_io, Error, Result};
use crate::index::{self, Index};
use crate::lang::Lang;
use crate::manifest::{self, Manifest, Os};
use crate::platform;
use crate::redact::{Privacy, PrivacyOptions};
use chrono::{DateTime, Utc};
use plan::{Roots, Source};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Checked settings of one collect run (from the command line, or a test).
#[derive(Debug, Clone)]
pub struct Settings {
    pub output: Option<PathBuf>,
    /// Create missing parents of `output` (`--mkdir`).
    pub mkdir: bool,
    pub format: Format,
    pub manifests: Vec<PathBuf>,
    pub root: Option<PathBuf>,
    pub since: Option<DateTime<Utc>>,
    pub since_text: Option<String>,
    pub max_file_size: u64,
    pub timeout: Duration,
    pub jobs: usize,
    pub obfuscate: bool,
    pub map_file: Option<PathBuf>,
    pub redact: bool,
    pub dry_run: bool,
    pub keep: Option<usize>,
    /// `--keep-size`: bytes the bundles of this host may take in the output directory.
    pub keep_size: Option<u64>,
    pub split: Option<u64>,
    pub total_timeout: Option<Duration>,
    pub lang: Lang,
    pub verbosity: Verbosity,
    pub json: bool,
    /// `--encrypt-to`, `DRX_COLLECT_ENCRYPT_TO` (and the manifest's `encrypt_to`, added by
    /// `run`): when not empty the bundle is written as `NAME.tgz.age`.
    pub encrypt_to: Vec<crate::archive::seal::Recipient>,
    /// `--case-id` (checked: file-name safe) and `--label` (checked: one printable line).
    pub case_id: Option<String>,
    pub label: Option<String>,
    /// The command line, for the index and the collector log (secrets redacted there).
    pub argv: Vec<String>,
    /// `--peer`: the other nodes to collect over ssh (as given).
    pub peers: Vec<String>,
    /// `--ssh-config`: passed to `ssh -F`.
    pub ssh_config: Option<PathBuf>,
    /// `--probe` / `--no-probe` (default: on with `--peer`).
    pub probe: bool,
    /// Files the collector made itself and adds to the bundle (`watch`'s series), after the
    /// manifest's items, read through the same line engine.
    pub extra: Vec<Extra>,
}

/// A file made by drx-collect itself for this bundle (not a manifest item).
#[derive(Debug, Clone)]
pub struct Extra {
    pub id: String,
    /// What it is, for the index's `source`.
    pub source: String,
    pub fs_path: PathBuf,
    pub bundle_path: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            output: None,
            mkdir: false,
            format: Format::native(),
            manifests: Vec::new(),
            root: None,
            since: None,
            since_text: None,
            max_file_size: 64 << 20,
            timeout: Duration::from_secs(10),
            jobs: 8,
            obfuscate: false,
            map_file: None,
            redact: true,
            dry_run: false,
            keep: None,
            keep_size: None,
            split: None,
            total_timeout: None,
            lang: Lang::En,
            verbosity: Verbosity::Normal,
            json: false,
            encrypt_to: Vec::new(),
            case_id: None,
            label: None,
            argv: Vec::new(),
            peers: Vec::new(),
            ssh_config: None,
            probe: false,
            extra: Vec::new(),
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The bundle; for `--split`, the name its parts join into (not a file on disk).
    pub bundle: PathBuf,
    /// `--split`: the part files, in order; empty otherwise.
    pub parts: Vec<PathBuf>,
    pub sha256: String,
    pub size: u64,
    pub index: Index,
    pub removed_by_keep: Vec<PathBuf>,
}

/// The manifest for this run: `-m` files (later ones add items), else the embedded one.
pub fn manifest_for(settings: &Settings) -> Result<Manifest> {
    if settings.manifests.is_empty() {
        return Ok(manifest::embedded(Os::current()));
    }
    let loaded = settings
        .manifests
        .iter()
        .map(|path| manifest::load(path))
        .collect::<Result<Vec<_>>>()?;
    manifest::merge(loaded)
}

pub fn run(settings: &Settings) -> Result<Option<Outcome>> {
    platform::install_interrupt_handler();
    let manifest = manifest_for(settings)?;
    if let Some(root) = &settings.root {
        if !root.is_dir() {
            return Err(Error::usage(format!(
                "--root {} is not a directory; give the directory that holds the system's files",
                root.display()
            )));
        }
    }
    // Without root many files and tools refuse us: say so once, up front; the items that are
    // refused are then `denied` (SUMMARY and inspect list them). Not for --root (a copy of a
    // system's files, read as they are) and not on Windows (no uid; denied items say it).
    if settings.root.is_none()
        && settings.verbosity != Verbosity::Quiet
        && platform::current_owner().is_some_and(|uid| uid != 0)
    {
        eprintln!(
            "drx-collect: warning: {}",
            settings.lang.ui("collect.not_root")
        );
    }
    let roots = Roots {
        root: settings.root.as_deref(),
        os: manifest.os,
    };
    let mut sources = plan::expand(&manifest, &roots);
    sources.extend(settings.extra.iter().map(|extra| {
        Source::File(plan::FileSource {
            id: extra.id.clone(),
            source: extra.source.clone(),
            fs_path: extra.fs_path.clone(),
            bundle_path: extra.bundle_path.clone(),
            log: false,
            skip_binary: false,
            name_encoding: None,
        })
    }));
    let sealed_settings;
    let settings = if manifest.encrypt_to.is_empty() {
        settings
    } else {
        sealed_settings = with_manifest_recipients(settings, &manifest)?;
        &sealed_settings
    };
    if settings.dry_run {
        output::print_dry_run(settings, &manifest, &sources)?;
        return Ok(None);
    }
    Run::new(settings, manifest, sources.len())?
        .execute(sources)
        .map(Some)
}

/// A vendor's manifest may name the key every bundle is encrypted to (`encrypt_to`): added to
/// the command line's recipients, and the bundle becomes `.tgz.age` (zip cannot be encrypted in
/// the stream, so the native zip of Windows gives way to tgz unless a .zip file was asked for).
fn with_manifest_recipients(settings: &Settings, manifest: &Manifest) -> Result<Settings> {
    let mut owned = settings.clone();
    for text in &manifest.encrypt_to {
        let recipient = crate::archive::seal::Recipient::parse(text).map_err(|err| {
            Error::failed(format!("manifest {}: encrypt_to: {err}", manifest.name))
        })?;
        owned.encrypt_to.push(recipient);
    }
    if owned.split.is_some() {
        return Err(Error::usage(format!(
            "manifest {} encrypts the bundle (encrypt_to), which --split cannot do; leave out --split and split the .tgz.age file if you must",
            manifest.name
        )));
    }
    if owned.format == Format::Zip {
        if owned
            .output
            .as_ref()
            .is_some_and(|o| o.to_string_lossy().ends_with(".zip"))
        {
            return Err(Error::usage(format!(
                "manifest {} encrypts the bundle (encrypt_to), which needs the tgz format; name the output .tgz",
                manifest.name
            )));
        }
        owned.format = Format::Tgz;
    }
    Ok(owned)
}

/// What every stage of one run shares: the settings, the manifest, this host, the privacy
/// filter (which learns as the run goes) and the collector log.
struct Run<'s> {
    settings: &'s Settings,
    manifest: Manifest,
    started: DateTime<Utc>,
    clock: Instant,
    host: index::Host,
    privacy: Privacy,
    log: String,
    progress: output::Progress,
}

impl<'s> Run<'s> {
    fn new(settings: &'s Settings, manifest: Manifest, planned: usize) -> Result<Self> {
        let host = crate::host::facts(settings.root.as_deref(), manifest.os);
        let mut privacy = Privacy::new(PrivacyOptions {
            redact: settings.redact,
            obfuscate: settings.obfuscate,
            map_file: settings.map_file.clone(),
        })?;
        privacy.learn_hostname(&host.hostname);
        let progress = output::Progress::new(settings.verbosity, planned);
        Ok(Run {
            settings,
            manifest,
            started: Utc::now(),
            clock: Instant::now(),
            host,
            privacy,
            log: String::new(),
            progress,
        })
    }

    fn note(&mut self, line: impl AsRef<str>) {
        let elapsed = self.clock.elapsed().as_secs_f64();
        self.log
            .push_str(&format!("[{elapsed:8.3}s] {}\n", line.as_ref()));
    }

    /// The run's stages, in order: each takes what the one before produced.
    fn execute(mut self, sources: Vec<Source>) -> Result<Outcome> {
        if self.settings.obfuscate {
            self.seed_obfuscation(&sources);
        }
        // The map is written before the bundle is renamed into place; fail before collecting
        // when it could not be.
        self.privacy.check_map_writable()?;
        let mut target = self.open_target(&sources)?;
        self.note_start(&target.shown_host);
        let gathered = self.gather(&sources, &mut target.archive)?;
        let deadline = gathered.deadline;
        let index = self.finalize(gathered, &mut target.archive, &target.shown_host)?;
        self.persist(target, index, deadline)
    }

    /// The collector log's first lines: what ran, on what.
    fn note_start(&mut self, shown_host: &str) {
        let settings = self.settings;
        let argv = self.privacy.redact_text(&settings.argv.join(" "));
        self.note(format!("drx-collect {} {argv}", env!("CARGO_PKG_VERSION")));
        self.note(format!(
            "manifest {} ({} items), host {}, root {}",
            self.manifest.name,
            self.manifest.items.len(),
            shown_host,
            settings
                .root
                .as_ref()
                .map(|r| r.display().to_string())
                .unwrap_or_else(|| "/".into())
        ));
    }

    /// Teaches the obfuscator the host names of this node and its peers before anything is
    /// written, so that the first file already gets consistent pseudonyms.
    fn seed_obfuscation(&mut self, sources: &[Source]) {
        let wanted = |path: &str| {
            path.ends_with("/etc/hosts")
                || path.ends_with("/etc/hostname")
                || path.ends_with("/etc/sysconfig/network")
                || path.ends_with(".res")
                || path.ends_with(".conf")
                || path.contains("/ifcfg-")
        };
        let seeds: Vec<(String, PathBuf)> = sources
            .iter()
            .filter_map(|s| match s {
                Source::File(f) if wanted(&f.bundle_path) => {
                    Some((f.bundle_path.clone(), f.fs_path.clone()))
                }
                _ => None,
            })
            .collect();
        for (bundle_path, fs_path) in seeds {
            if let Ok(file) = platform::open_shared(&fs_path) {
                let mut content = Vec::new();
                if file.take(1 << 20).read_to_end(&mut content).is_ok() {
                    self.privacy.learn(&bundle_path, &content);
                }
            }
        }
    }
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn interrupted(signal: i32) -> Error {
    platform::kill_all_children();
    Error::failed(format!(
        "collection was stopped by {}; no bundle was written",
        platform::interruption_name(signal)
    ))
}

/// Errors writing the archive: usually a full disk.
fn write_error(err: &io::Error, dir: &Path) -> Error {
    if let Some(signal) = platform::interrupted() {
        return interrupted(signal);
    }
    Error::failed(format!(
        "cannot write the bundle in {}: {}; free some space there or choose another place with --output",
        dir.display(),
        describe_io(err)
    ))
}
