//! `drx-collect collect`: runs a manifest and writes one bundle (SPEC §3) in a single streaming
//! pass. Per-item failures become recorded statuses; only what makes a bundle impossible (no
//! space, interruption, an unwritable output directory) aborts, and then nothing is left behind.
pub mod command;
pub mod lock;
pub mod names;
pub mod output;
pub mod plan;
pub mod pool;
pub mod report;
pub mod retention;
pub mod space;

use crate::archive::reader::BundleReader;
use crate::archive::seal;
use crate::archive::split::{self, SplitWriter};
use crate::archive::writer::{BundleWriter, Format, Sink};
use crate::error::{describe_io, Error, Result};
use crate::index::{self, Finding, Index, Item, ItemKind, Status};
use crate::lang::Lang;
use crate::lines::{LineSink, Pipeline, Since};
use crate::logtime::LineClock;
use crate::manifest::{self, Manifest, Os};
use crate::platform;
use crate::redact::{Privacy, PrivacyOptions};
use crate::rules::{Catalogue, Facts, Scan};
use chrono::{DateTime, Local, Offset, Utc};
use plan::{FileSource, Roots, Source};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Files up to this size are read whole into memory (one read, and the rules can see them whole);
/// larger ones are streamed twice: once to learn the output length the tar header needs, once
/// into the archive.
const IN_MEMORY: u64 = 8 << 20;
/// The rules get at most this much of a file whole.
const RULES_WHOLE_CAP: usize = 8 << 20;

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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            output: None,
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
    let roots = Roots {
        root: settings.root.as_deref(),
        os: manifest.os,
    };
    let sources = plan::expand(&manifest, &roots);
    let sealed_settings;
    let settings = if manifest.encrypt_to.is_empty() {
        settings
    } else {
        sealed_settings = with_manifest_recipients(settings, &manifest)?;
        &sealed_settings
    };
    if settings.dry_run {
        output::print_dry_run(settings, &manifest, &sources);
        return Ok(None);
    }
    Run::new(settings, manifest, sources)?.execute().map(Some)
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

struct Run<'s> {
    settings: &'s Settings,
    manifest: Manifest,
    sources: Vec<Source>,
    started: DateTime<Utc>,
    clock: Instant,
    host: index::Host,
    privacy: Privacy,
    log: String,
    progress: output::Progress,
}

impl<'s> Run<'s> {
    fn new(settings: &'s Settings, manifest: Manifest, sources: Vec<Source>) -> Result<Self> {
        let host = crate::host::facts(settings.root.as_deref(), manifest.os);
        let mut privacy = Privacy::new(PrivacyOptions {
            redact: settings.redact,
            obfuscate: settings.obfuscate,
            map_file: settings.map_file.clone(),
        })?;
        privacy.learn_hostname(&host.hostname);
        let progress = output::Progress::new(settings.verbosity, sources.len());
        Ok(Run {
            settings,
            manifest,
            sources,
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

    fn execute(mut self) -> Result<Outcome> {
        let settings = self.settings;
        let stamp = self.started.format("%Y%m%dT%H%M%SZ").to_string();
        if settings.obfuscate {
            self.seed_obfuscation();
        }
        // The map is written before the bundle is renamed into place; fail before collecting
        // when it could not be.
        self.privacy.check_map_writable()?;
        let shown_host = self.privacy.hostname_pseudonym(&self.host.hostname);
        let mut file_host = crate::host::file_safe(&shown_host);
        // drx-collect-<host>-<case>-<stamp>: the case id joins the host part of the name, so the
        // -N numbering and --keep (this host's bundles of this case) work unchanged.
        if let Some(case) = &settings.case_id {
            file_host = format!("{file_host}-{case}");
        }
        let (dir, _) = output::destination(settings, &file_host, &stamp)?;
        platform::check_output_dir(&dir).map_err(Error::failed)?;
        // Cron-safe: one run per output directory; the name is chosen (again) under the lock,
        // since the run that held it may have just taken it.
        let _lock = lock::acquire(&dir, lock::WAIT)?;
        for stale in output::remove_stale_temporaries(&dir) {
            self.note(format!(
                "removed {}, left by a run that died",
                stale.display()
            ));
        }
        let (dir, name) = output::destination(settings, &file_host, &stamp)?;
        space::check(
            &dir,
            space::estimate(&self.sources, settings.max_file_size),
            space::available(&dir),
        )?;
        let top = output::strip_extension(&name).to_string();
        // --encrypt-to: NAME.tgz.age, encrypted in the same pass; the clear bundle never exists.
        let sealer = (!settings.encrypt_to.is_empty())
            .then(|| seal::Sealer::new(settings.encrypt_to.clone()));
        let final_path = match &sealer {
            Some(_) => seal::sealed_path(&dir.join(&name)),
            None => dir.join(&name),
        };
        let (temp, sink) = match settings.split {
            None => {
                let temp = output::TempFile::create(&dir, &name)?;
                let file = temp.file()?;
                let sink = match &sealer {
                    Some(sealer) => Sink::Sealed(Box::new(seal::SealedFile(
                        sealer.wrap(file).map_err(|err| write_error(&err, &dir))?,
                    ))),
                    None => Sink::from(file),
                };
                (Some(temp), sink)
            }
            Some(limit) => {
                let hidden = format!(".{name}.part-{}", std::process::id());
                let parts = SplitWriter::new(&dir, limit, move |n| split::part_name(&hidden, n));
                (None, Sink::Parts(Box::new(parts)))
            }
        };
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

        let deadline = settings.total_timeout.map(|t| self.clock + t);
        let commands: Vec<_> = self
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::Command(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        let pool = pool::Pool::start(
            commands,
            settings.jobs,
            pool::Limits {
                default_timeout: settings.timeout,
                output_cap: settings.max_file_size.min(32 << 20) as usize,
                deadline,
                path_only: settings.root.is_some(),
            },
        );

        let catalogue = Catalogue::embedded()?;
        let mut scan = Scan::new(&catalogue);
        let mut writer = BundleWriter::new(sink, settings.format, &top)
            .map_err(|err| write_error(&err, &dir))?;
        let mut items: Vec<Item> = Vec::new();
        let mut partial = false;
        let mut command_slot = 0;
        let sources = std::mem::take(&mut self.sources);
        for (position, source) in sources.iter().enumerate() {
            if let Some(signal) = platform::interrupted() {
                return Err(interrupted(signal));
            }
            self.progress.show(position, source.id());
            let late = deadline.is_some_and(|d| Instant::now() >= d);
            let item = match source {
                Source::Absent {
                    id,
                    kind,
                    source,
                    status,
                    reason,
                } => {
                    let mut item = Item::new(id, *kind, source, *status);
                    item.error = Some(reason.clone());
                    item
                }
                Source::File(file) if late => {
                    partial = true;
                    let mut item =
                        Item::new(&file.id, ItemKind::File, &file.source, Status::Skipped);
                    item.error = Some("not read: --total-timeout was reached".into());
                    item
                }
                Source::File(file) => self.write_file(&mut writer, &mut scan, file, &dir)?,
                Source::Command(command) => {
                    let output = pool.wait(command_slot);
                    command_slot += 1;
                    if output.status == Some(Status::Skipped) {
                        partial = true;
                    }
                    self.write_command(&mut writer, &mut scan, command, output, &dir)?
                }
            };
            let line = match &item.error {
                Some(reason) => format!(
                    "{} {}: {} ({reason})",
                    item.id,
                    item.source,
                    item.status.as_str()
                ),
                None => format!(
                    "{} {}: {} {}",
                    item.id,
                    item.source,
                    item.status.as_str(),
                    item.bytes.map(crate::units::human_size).unwrap_or_default()
                ),
            };
            self.note(line);
            items.push(item);
        }
        if let Some(signal) = platform::interrupted() {
            return Err(interrupted(signal));
        }
        self.progress.finish();
        // Commands cut short by the deadline count as a partial run too.
        if deadline.is_some_and(|d| Instant::now() >= d) {
            partial = true;
        }

        let facts = Facts {
            host: self.host.clone(),
            items: items.clone(),
            collected_at: Some(self.started),
        };
        let mut evidence = scan.finish(&facts);
        let probes = if settings.probe {
            let (item, results) = self.probe(&mut writer, &evidence, &dir)?;
            items.push(item);
            evidence.set_probes(results.clone());
            results
        } else {
            Vec::new()
        };
        let mut findings = evidence.findings(settings.lang);
        for finding in &mut findings {
            self.sanitize_finding(finding);
        }
        index::sort_findings(&mut findings);
        self.note(format!("{} findings", findings.len()));

        let finished = Utc::now();
        let mut index = Index {
            schema: index::SCHEMA.to_string(),
            tool: index::Tool {
                name: "drx-collect".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            host: self.host.clone(),
            case_id: settings.case_id.clone(),
            label: settings.label.clone(),
            started_at: Some(rfc3339(self.started)),
            finished_at: Some(rfc3339(finished)),
            duration_ms: Some(self.clock.elapsed().as_millis() as u64),
            manifest: index::ManifestRef {
                name: self.manifest.name.clone(),
                sha256: self.manifest.sha256.clone(),
            },
            options: index::Options {
                since: settings.since.map(rfc3339),
                obfuscate: settings.obfuscate,
                redact: settings.redact,
                argv: settings
                    .argv
                    .iter()
                    .map(|a| self.privacy.redact_text(a))
                    .collect(),
                probe: settings.probe,
            },
            partial,
            redaction: index::Redaction {
                secrets_redacted: self.privacy.secrets_redacted(),
                obfuscated: settings.obfuscate,
            },
            items,
            findings,
            probes,
        };
        if settings.obfuscate {
            index.host.hostname = shown_host.clone();
        }
        let index_json = serde_json::to_string_pretty(&index)
            .map_err(|err| Error::failed(format!("cannot encode index.json: {err}")))?;
        let index_json = self.privacy.obfuscate_text(&index_json);
        let summary = crate::summary::render(&index, settings.lang);
        let summary = self.privacy.obfuscate_text(&summary);
        let now = finished.timestamp();
        writer
            .add_bytes(crate::layout::INDEX, index_json.as_bytes(), now)
            .map_err(|err| write_error(&err, &dir))?;
        writer
            .add_bytes(crate::layout::SUMMARY, summary.as_bytes(), now)
            .map_err(|err| write_error(&err, &dir))?;
        self.note(format!(
            "done in {:.3} s; {} of data",
            self.clock.elapsed().as_secs_f64(),
            crate::units::human_size(writer.bytes_in())
        ));
        let log = self.privacy.redact_text(&self.log);
        let log = self.privacy.obfuscate_text(&log);
        writer
            .add_bytes(crate::layout::COLLECTOR_LOG, log.as_bytes(), now)
            .map_err(|err| write_error(&err, &dir))?;
        let sink = writer.finish().map_err(|err| write_error(&err, &dir))?;
        sink.sync_all().map_err(|err| write_error(&err, &dir))?;
        let (sha256, size, parts) = match (sink, temp) {
            (Sink::File(file), Some(mut temp)) => {
                drop(file);
                if let Some(signal) = platform::interrupted() {
                    return Err(interrupted(signal));
                }
                match &sealer {
                    // The read-back decrypts with the run's own key (see seal::Sealer): the
                    // leak check reads exactly the bytes that were encrypted, and a file that
                    // would not decrypt is never handed over.
                    Some(sealer) => {
                        let key = [sealer.read_back_key()];
                        BundleReader::open_sealed(temp.path(), &key)?;
                        self.fail_closed(
                            || BundleReader::open_sealed(temp.path(), &key),
                            deadline,
                        )?;
                    }
                    None => self.fail_closed(|| BundleReader::open(temp.path()), deadline)?,
                }
                let (sha256, size) = output::hash_file(temp.path())?;
                self.privacy.save_map()?;
                temp.persist(&final_path)?;
                output::write_sidecar(&final_path, &sha256)?;
                (sha256, size, Vec::new())
            }
            (Sink::Parts(writer), _) => {
                let done = writer.finish().map_err(|err| write_error(&err, &dir))?;
                // Removed again if anything below fails, like the single temporary file.
                let temps: Vec<output::TempFile> = done
                    .parts
                    .iter()
                    .map(|p| output::TempFile::adopt(p.path.clone()))
                    .collect();
                if let Some(signal) = platform::interrupted() {
                    return Err(interrupted(signal));
                }
                let paths: Vec<PathBuf> = done.parts.iter().map(|p| p.path.clone()).collect();
                self.fail_closed(|| BundleReader::open_parts(&final_path, paths), deadline)?;
                self.privacy.save_map()?;
                let parts = output::persist_parts(temps, &done, &final_path)?;
                (done.sha256, done.size, parts)
            }
            (Sink::File(_) | Sink::Sealed(_), None) | (Sink::Sealed(_), Some(_)) => {
                return Err(Error::failed(
                    "internal error: the bundle file went missing",
                ))
            }
        };
        let policy = retention::Policy {
            keep: settings.keep,
            keep_size: settings.keep_size,
        };
        let removed_by_keep = retention::apply(&dir, &file_host, policy, &final_path)?;
        Ok(Outcome {
            bundle: final_path,
            parts,
            sha256,
            size,
            index,
            removed_by_keep,
        })
    }

    /// Reads the finished bundle back and refuses it if any secret value or obfuscated original
    /// that was seen survived anywhere in it, names included: a leak is worse than no bundle.
    /// Signals stop it like any phase; past the `--total-timeout` deadline and its grace it stops
    /// and no bundle is written (an unchecked bundle is never kept).
    fn fail_closed(
        &self,
        open: impl FnOnce() -> Result<BundleReader>,
        deadline: Option<Instant>,
    ) -> Result<()> {
        // A partial bundle is still a bundle: the check gets its share of time even when
        // collecting used all of it (a quarter of --total-timeout, at least 30 s, past the
        // deadline or its start), and stops there.
        let deadline = deadline.map(|d| {
            let total = self.settings.total_timeout.unwrap_or_default();
            d.max(Instant::now()) + (total / 4).max(Duration::from_secs(30))
        });
        let mut checker = self.privacy.leak_check();
        if checker.is_empty() {
            return Ok(());
        }
        let mut reader = open()?;
        let mut leak: Option<String> = None;
        reader.for_each(&mut |meta, content| {
            if leak.is_some() {
                return Ok(());
            }
            checker.reset();
            if let Some(found) = checker
                .scan(meta.name.as_bytes())
                .or_else(|| checker.finish())
            {
                leak = Some(format!("{found} in the name {}", meta.name));
                return Ok(());
            }
            checker.begin(&meta.name);
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                if let Some(signal) = platform::interrupted() {
                    return Err(interrupted(signal));
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Error::failed(
                        "--total-timeout was reached while the bundle was checked for leaks (its grace included); no bundle was written; raise --total-timeout",
                    ));
                }
                let n = content.read(&mut buf).map_err(|err| {
                    Error::failed(format!(
                        "cannot read back the bundle: {}",
                        describe_io(&err)
                    ))
                })?;
                if n == 0 {
                    break;
                }
                if let Some(found) = checker.scan(&buf[..n]) {
                    leak = Some(format!("{found} in {}", meta.name));
                    return Ok(());
                }
            }
            if let Some(found) = checker.finish() {
                leak = Some(format!("{found} in {}", meta.name));
            }
            Ok(())
        })?;
        match leak {
            // The temporary file is removed when `temp` is dropped on this error.
            Some(what) => Err(Error::failed(format!(
                "the bundle was deleted because it would have leaked {what}; rerun with -v and report this to support without the bundle"
            ))),
            None => Ok(()),
        }
    }

    /// Teaches the obfuscator the host names of this node and its peers before anything is
    /// written, so that the first file already gets consistent pseudonyms.
    fn seed_obfuscation(&mut self) {
        let wanted = |path: &str| {
            path.ends_with("/etc/hosts")
                || path.ends_with("/etc/hostname")
                || path.ends_with("/etc/sysconfig/network")
                || path.ends_with(".res")
                || path.ends_with(".conf")
                || path.contains("/ifcfg-")
        };
        let seeds: Vec<(String, PathBuf)> = self
            .sources
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

    fn sanitize_finding(&mut self, finding: &mut Finding) {
        if let Some(excerpt) = &finding.excerpt {
            let clean = self.privacy.redact_text(excerpt);
            finding.excerpt = Some(self.privacy.obfuscate_text(&clean));
        }
        finding.title = self.privacy.obfuscate_text(&finding.title);
        if let Some(detail) = &finding.detail {
            let clean = self.privacy.redact_text(detail);
            finding.detail = Some(self.privacy.obfuscate_text(&clean));
        }
    }

    fn since_for(&self, file: &FileSource, mtime: Option<DateTime<Utc>>) -> Option<Since> {
        let at = self.settings.since?;
        if !file.log {
            return None;
        }
        // Live, zone-less log times are the host's local time; a sysroot's zone is unknown, so UTC.
        let offset = if self.settings.root.is_some() {
            chrono::FixedOffset::east_opt(0).expect("zero offset")
        } else {
            Local::now().offset().fix()
        };
        Some(Since {
            at,
            clock: LineClock::new(offset, mtime.unwrap_or(self.started)),
        })
    }

    fn write_file(
        &mut self,
        writer: &mut BundleWriter,
        scan: &mut Scan,
        file: &FileSource,
        dir: &Path,
    ) -> Result<Item> {
        let mut item = Item::new(&file.id, ItemKind::File, &file.source, Status::Ok);
        item.name_encoding = file.name_encoding.map(str::to_string);
        let opened =
            platform::open_shared(&file.fs_path).and_then(|f| f.metadata().map(|m| (f, m)));
        let (mut handle, meta) = match opened {
            Ok(pair) => pair,
            Err(err) => {
                item.status = status_of(&err);
                item.error = Some(describe_io(&err));
                return Ok(item);
            }
        };
        if !meta.is_file() {
            item.status = Status::Skipped;
            item.error = Some(format!(
                "{}, not a regular file: not read",
                platform::special_file_kind(&meta).unwrap_or("a directory")
            ));
            return Ok(item);
        }
        let mtime: Option<DateTime<Utc>> = meta.modified().ok().map(DateTime::<Utc>::from);
        let mtime_secs = mtime.map(|t| t.timestamp()).unwrap_or(0);
        if let (Some(since), true, Some(modified)) = (self.settings.since, file.log, mtime) {
            if modified < since {
                item.status = Status::Skipped;
                item.error = Some(format!(
                    "not changed since {}, before --since",
                    rfc3339(modified)
                ));
                return Ok(item);
            }
        }
        let size = meta.len();
        let cap = self.settings.max_file_size;
        let mut text_from = 0;
        if file.skip_binary {
            match sniff(&mut handle, size, cap) {
                Ok(Sniff::Text) => {}
                Ok(Sniff::TextAfter(at)) => text_from = at,
                Ok(Sniff::Binary) | Err(_) => {
                    item.status = Status::Skipped;
                    item.error = Some("binary file, left out".into());
                    return Ok(item);
                }
            }
        }
        let mut start = size.saturating_sub(cap);
        let truncated = start > 0;
        let mut mid_line = false;
        if truncated {
            // Begin at a whole line: the newest part starts after the first newline past the cut.
            match first_line_start(&mut handle, start) {
                Ok(at) => {
                    mid_line = at == start;
                    start = at;
                }
                Err(_) => {
                    item.status = Status::Failed;
                    item.error = Some("cannot seek to the newest part of the file".into());
                    return Ok(item);
                }
            }
        }
        // A damaged or preallocated head (NUL bytes) is left out; the text after it is kept.
        let nul_head = text_from > start;
        if nul_head {
            start = text_from;
        }
        let truncated = truncated || nul_head;
        // procfs and sysfs files say size 0: read them to EOF (bounded by the cap).
        let limit = if size == 0 { cap } else { size - start };
        // A host name or address in a file name is obfuscated like the contents.
        let path = self.privacy.obfuscate_text(&file.bundle_path);
        if mid_line {
            self.privacy.starts_mid_line(&path);
        } else if truncated {
            self.privacy.starts_after_cut(&path);
        }
        let since = self.since_for(file, mtime);
        let read_error = std::rc::Rc::new(std::cell::RefCell::new(None::<io::Error>));
        let _ = handle.seek(SeekFrom::Start(start));
        let stored;
        let redactions;
        let mut came_short = false;
        if limit <= IN_MEMORY {
            let mut raw = Vec::new();
            let read = (&mut handle).take(limit).read_to_end(&mut raw);
            came_short = read.is_ok() && size != 0 && (raw.len() as u64) < limit;
            if let Err(err) = read {
                if raw.is_empty() {
                    item.status = status_of(&err);
                    item.error = Some(describe_io(&err));
                    return Ok(item);
                }
                item.error = Some(format!(
                    "read error after {} bytes: {}",
                    raw.len(),
                    describe_io(&err)
                ));
            }
            if size == 0 && raw.len() as u64 == cap {
                item.error = Some("stopped reading at --max-file-size".into());
            }
            if scan.wants_whole(&path) && !truncated {
                scan.add_file(&path, &raw[..raw.len().min(RULES_WHOLE_CAP)]);
            }
            let mut pipeline = Pipeline::new(&raw[..])
                .since(since)
                .filter(Some(self.privacy.filter(&path)))
                .scan(Some(scan as &mut dyn LineSink), &path);
            let mut out = Vec::with_capacity(raw.len() + 64);
            pipeline
                .read_to_end(&mut out)
                .map_err(|err| interrupted_or(err, dir))?;
            redactions = pipeline.redactions();
            drop(pipeline);
            let sha = writer
                .add_bytes(&path, &out, mtime_secs)
                .map_err(|err| write_error(&err, dir))?;
            stored = (out.len() as u64, sha);
        } else {
            let (length, sha256, count) = self.write_large(
                writer,
                scan,
                &mut handle,
                (start, limit),
                &path,
                since,
                file,
                mtime,
                &read_error,
                dir,
            )?;
            redactions = count;
            stored = (length, sha256);
        }
        if let Some(err) = read_error.borrow().as_ref() {
            item.error = Some(format!("read error: {}", describe_io(err)));
        }
        let length_now = handle.metadata().map(|m| m.len()).unwrap_or(size);
        if let Some(flag) = shrank_while_read(size, length_now, came_short, limit <= IN_MEMORY) {
            item.flags.push(flag.into());
            item.error = Some(format!(
                "the file shrank from {size} to {length_now} bytes while it was read (rotated with copytruncate?); what was read before is kept"
            ));
        }
        if nul_head {
            item.flags.push("nul-head-skipped".into());
            item.error = Some(format!(
                "the first {text_from} bytes hold NUL bytes (preallocated, or damaged by a crash) and were left out; the text after them is kept"
            ));
        }
        item.path = Some(path);
        item.bytes = Some(stored.0);
        item.sha256 = Some(stored.1);
        item.redactions = redactions;
        // Never `ok` for less than the whole file: cut at the cap, a NUL head left out, or the
        // file shrinking under us.
        if truncated || !item.flags.is_empty() {
            item.status = Status::Truncated;
        }
        if truncated || stored.0 != size && size != 0 {
            item.original_bytes = Some(size);
        }
        Ok(item)
    }

    /// A file too large to hold: streamed in one pass when its stored length is known in advance
    /// (nothing but redaction can change it, and redaction usually finds nothing in a log), else
    /// in two: once to measure what will be stored, once into the archive.
    #[allow(clippy::too_many_arguments)]
    fn write_large(
        &mut self,
        writer: &mut BundleWriter,
        scan: &mut Scan,
        handle: &mut File,
        (start, limit): (u64, u64),
        path: &str,
        since: Option<Since>,
        file: &FileSource,
        mtime: Option<DateTime<Utc>>,
        read_error: &std::rc::Rc<std::cell::RefCell<Option<io::Error>>>,
        dir: &Path,
    ) -> Result<(u64, String, u64)> {
        let mtime_secs = mtime.map(|t| t.timestamp()).unwrap_or(0);
        let rewind = |handle: &mut File| {
            *read_error.borrow_mut() = None;
            handle.seek(SeekFrom::Start(start)).map_err(|err| {
                Error::io(
                    "re-read",
                    &file.fs_path,
                    &err,
                    "the file changed while it was collected; run again",
                )
            })
        };
        let mut scanned = false;
        if since.is_none() && !self.settings.obfuscate {
            // Came up short because the file shrank (copytruncate)? Then a second read would
            // find less than this one: keep what was read.
            let probe = handle.try_clone().ok();
            let shrank = move || {
                probe
                    .as_ref()
                    .and_then(|f| f.metadata().ok())
                    .is_some_and(|meta| meta.len() < start + limit)
            };
            let source = ErrorToEof::new(handle, limit, read_error.clone());
            let mut pipeline = Pipeline::new(source)
                .filter(Some(self.privacy.filter(path)))
                .scan(Some(scan as &mut dyn LineSink), path);
            let attempt = writer
                .add_stream_expecting(path, limit, mtime_secs, &mut pipeline, &shrank)
                .map_err(|err| interrupted_or(err, dir))?;
            let redactions = pipeline.redactions();
            drop(pipeline);
            if let Some(written) = attempt {
                if written.short {
                    *read_error.borrow_mut() = Some(io::Error::other(
                        "the file shrank while it was read; the end was padded with newlines",
                    ));
                }
                return Ok((written.len, written.sha256, redactions));
            }
            scanned = true;
            rewind(handle)?;
        }
        // Pass 1: the length of what will be stored (redaction and --since change it).
        let source = ErrorToEof::new(handle, limit, read_error.clone());
        let mut counting = Pipeline::new(source)
            .since(self.since_for(file, mtime))
            .filter(Some(self.privacy.filter(path)));
        let length =
            io::copy(&mut counting, &mut io::sink()).map_err(|err| interrupted_or(err, dir))?;
        drop(counting);
        rewind(handle)?;
        // Pass 2: into the archive, with the rules reading along (unless they already did).
        let source = ErrorToEof::new(handle, limit, read_error.clone());
        let mut pipeline = Pipeline::new(source)
            .since(since)
            .filter(Some(self.privacy.filter(path)));
        if !scanned {
            pipeline = pipeline.scan(Some(scan as &mut dyn LineSink), path);
        }
        let written = writer
            .add_stream(path, length, mtime_secs, &mut pipeline)
            .map_err(|err| interrupted_or(err, dir))?;
        let redactions = pipeline.redactions();
        drop(pipeline);
        if written.short {
            *read_error.borrow_mut() = Some(io::Error::other(
                "the file shrank while it was read; the end was padded with newlines",
            ));
        }
        Ok((length, written.sha256, redactions))
    }

    /// The guide's connectivity tests toward the addresses of this node's own configuration,
    /// stored as `commands/probe.txt` (obfuscated like every output).
    fn probe(
        &mut self,
        writer: &mut BundleWriter,
        evidence: &crate::rules::Evidence,
        dir: &Path,
    ) -> Result<(Item, Vec<crate::probe::ProbeResult>)> {
        let started = Instant::now();
        let targets = evidence.probe_targets();
        self.note(format!("probing {} target(s)", targets.len()));
        let results = crate::probe::run(&targets, self.settings.root.is_some());
        let text = self.privacy.obfuscate_text(&crate::probe::render(&results));
        let path = &crate::layout::command_path(crate::layout::PROBE_ID);
        let sha256 = writer
            .add_bytes(path, text.as_bytes(), Utc::now().timestamp())
            .map_err(|err| write_error(&err, dir))?;
        let mut item = Item::new(
            crate::layout::PROBE_ID,
            ItemKind::Command,
            "drx-collect probes (ping, TCP connect)",
            Status::Ok,
        );
        item.path = Some(path.into());
        item.bytes = Some(text.len() as u64);
        item.sha256 = Some(sha256);
        item.duration_ms = Some(started.elapsed().as_millis() as u64);
        self.note(format!(
            "probe: {} result(s) in {:.1} s",
            results.len(),
            started.elapsed().as_secs_f64()
        ));
        Ok((item, results))
    }

    fn write_command(
        &mut self,
        writer: &mut BundleWriter,
        scan: &mut Scan,
        command: &plan::CommandSource,
        output: command::CommandOutput,
        dir: &Path,
    ) -> Result<Item> {
        let status = output.status.unwrap_or(Status::Failed);
        let mut item = Item::new(
            &command.id,
            ItemKind::Command,
            &command.argv.join(" "),
            status,
        );
        item.exit_code = output.exit_code;
        item.error = output.error;
        if status == Status::Missing || status == Status::Skipped {
            return Ok(item);
        }
        item.duration_ms = Some(output.duration.as_millis() as u64);
        let now = Utc::now().timestamp();
        let path = crate::layout::command_path(&command.id);
        if output.stdout_cut {
            // Only the tail was kept: its first line is cut.
            self.privacy.starts_mid_line(&path);
        }
        let (bytes, sha, redactions) =
            self.store_text(writer, scan, &path, &output.stdout, now, dir)?;
        item.path = Some(path);
        item.bytes = Some(bytes);
        item.sha256 = Some(sha);
        item.redactions = redactions;
        if output.stdout_cut {
            item.original_bytes = Some(output.stdout_total);
        }
        if !output.stderr.is_empty() {
            let path = crate::layout::stderr_path(&command.id);
            let (_, _, redactions) =
                self.store_text(writer, scan, &path, &output.stderr, now, dir)?;
            item.redactions += redactions;
            item.stderr_path = Some(path);
        }
        Ok(item)
    }

    fn store_text(
        &mut self,
        writer: &mut BundleWriter,
        scan: &mut Scan,
        path: &str,
        raw: &[u8],
        mtime: i64,
        dir: &Path,
    ) -> Result<(u64, String, u64)> {
        if scan.wants_whole(path) {
            scan.add_file(path, &raw[..raw.len().min(RULES_WHOLE_CAP)]);
        }
        let mut pipeline = Pipeline::new(raw)
            .filter(Some(self.privacy.filter(path)))
            .scan(Some(scan as &mut dyn LineSink), path);
        let mut out = Vec::with_capacity(raw.len() + 64);
        pipeline
            .read_to_end(&mut out)
            .map_err(|err| interrupted_or(err, dir))?;
        let redactions = pipeline.redactions();
        drop(pipeline);
        let sha = writer
            .add_bytes(path, &out, mtime)
            .map_err(|err| write_error(&err, dir))?;
        Ok((out.len() as u64, sha, redactions))
    }
}

/// A source whose read errors end the stream (recorded for the item) instead of aborting the
/// archive: the entry is then padded to its announced length and the bundle stays valid.
struct ErrorToEof<'a> {
    inner: io::Take<&'a mut File>,
    error: std::rc::Rc<std::cell::RefCell<Option<io::Error>>>,
}

impl<'a> ErrorToEof<'a> {
    fn new(
        file: &'a mut File,
        limit: u64,
        error: std::rc::Rc<std::cell::RefCell<Option<io::Error>>>,
    ) -> Self {
        ErrorToEof {
            inner: file.take(limit),
            error,
        }
    }
}

impl Read for ErrorToEof<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => Ok(n),
            Err(err) if crate::platform::interrupted().is_some() => Err(err),
            Err(err) => {
                *self.error.borrow_mut() = Some(err);
                Ok(0)
            }
        }
    }
}

/// `truncated-during-read` when a file that was `size` bytes when opened is shorter now, or gave
/// fewer bytes than it had (logrotate's copytruncate empties a log while it is read).
/// A file read whole in memory knows exactly (`came_short`); a streamed one only sees that the
/// file is shorter now than when it was opened.
fn shrank_while_read(
    size: u64,
    length_now: u64,
    came_short: bool,
    in_memory: bool,
) -> Option<&'static str> {
    let shrank = came_short || (!in_memory && length_now < size);
    (size != 0 && shrank).then_some("truncated-during-read")
}

/// What the start of a file says about its content.
#[derive(Debug, PartialEq, Eq)]
enum Sniff {
    Text,
    Binary,
    /// NUL bytes in the head (a preallocated or crash-damaged log), text from this offset on.
    TextAfter(u64),
}

/// Bytes looked at to tell text from binary.
const SNIFF: usize = 8192;

/// Text unless the first 8 KiB hold a NUL byte. Then the text after the last NUL byte (looked for
/// within the newest `cap` bytes) is the log's usable tail, if it is text: a newline, and
/// almost no control characters in its first 8 KiB. Compressed and executable files have NULs
/// and control bytes all through and stay binary. The file is left at offset 0.
fn sniff(file: &mut File, size: u64, cap: u64) -> io::Result<Sniff> {
    let mut head = vec![0u8; SNIFF];
    let n = read_up_to(file, &mut head, true)?;
    if !head[..n].contains(&0) {
        return Ok(Sniff::Text);
    }
    let floor = size.saturating_sub(cap);
    let mut last_nul = None;
    let mut end = size;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > floor && last_nul.is_none() {
        let from = end.saturating_sub(chunk.len() as u64).max(floor);
        file.seek(SeekFrom::Start(from))?;
        let want = (end - from) as usize;
        let got = read_up_to(file, &mut chunk[..want], false)?;
        if let Some(pos) = chunk[..got].iter().rposition(|&b| b == 0) {
            last_nul = Some(from + pos as u64);
        }
        end = from;
    }
    let after = last_nul.map(|at| at + 1).unwrap_or(floor);
    file.seek(SeekFrom::Start(after))?;
    let mut sample = vec![0u8; SNIFF];
    let got = read_up_to(file, &mut sample, false)?;
    file.seek(SeekFrom::Start(0))?;
    let sample = &sample[..got];
    let control = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    let text = got > 0 && sample.contains(&b'\n') && control * 100 <= got;
    Ok(if text && size > 0 {
        Sniff::TextAfter(after)
    } else {
        Sniff::Binary
    })
}

/// The offset of the first whole line at or after `at` (looking at most 64 KiB ahead).
fn first_line_start(file: &mut File, at: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(at))?;
    let mut head = vec![0u8; 64 * 1024];
    let n = read_up_to(file, &mut head, false)?;
    Ok(match head[..n].iter().position(|&b| b == b'\n') {
        Some(pos) => at + pos as u64 + 1,
        None => at,
    })
}

fn read_up_to(file: &mut File, buf: &mut [u8], rewind: bool) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    if rewind {
        file.seek(SeekFrom::Start(0))?;
    }
    Ok(filled)
}

fn status_of(err: &io::Error) -> Status {
    match err.kind() {
        io::ErrorKind::NotFound => Status::Missing,
        io::ErrorKind::PermissionDenied => Status::Denied,
        _ => Status::Failed,
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

fn interrupted_or(err: io::Error, dir: &Path) -> Error {
    match platform::interrupted() {
        Some(signal) => interrupted(signal),
        None => write_error(&err, dir),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut temp = tempfile::NamedTempFile::new().unwrap();
        temp.write_all(bytes).unwrap();
        let handle = File::open(temp.path()).unwrap();
        (temp, handle)
    }

    #[test]
    fn a_nul_head_keeps_the_text_after_it() {
        let mut bytes = vec![0u8; 20_000];
        let text = "2026-11-24 10:00:00 drx: connection refused\n".repeat(50);
        bytes.extend_from_slice(text.as_bytes());
        let (_temp, mut handle) = file_with(&bytes);
        let size = bytes.len() as u64;
        assert_eq!(
            sniff(&mut handle, size, 64 << 20).unwrap(),
            Sniff::TextAfter(20_000)
        );
        assert_eq!(handle.stream_position().unwrap(), 0);
        // Even when the NUL block is far larger than the cap, the text tail is found.
        assert_eq!(
            sniff(&mut handle, size, 4096).unwrap(),
            Sniff::TextAfter(20_000)
        );
    }

    #[test]
    fn binary_files_stay_binary_and_text_stays_text() {
        // Pseudo-random bytes, as in a gzip member or an executable.
        let mut state = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect();
        let (_temp, mut handle) = file_with(&noise);
        assert_eq!(
            sniff(&mut handle, noise.len() as u64, 64 << 20).unwrap(),
            Sniff::Binary
        );
        let (_temp, mut handle) = file_with(b"plain\ntext\n");
        assert_eq!(sniff(&mut handle, 11, 64 << 20).unwrap(), Sniff::Text);
        // NULs up to the very end: nothing to keep.
        let mut trailing = b"text\n".to_vec();
        trailing.extend_from_slice(&[0u8; 9000]);
        let (_temp, mut handle) = file_with(&[&[0u8; 10][..], &trailing[..]].concat());
        assert_eq!(sniff(&mut handle, 9015, 64 << 20).unwrap(), Sniff::Binary);
    }

    #[test]
    fn a_file_emptied_between_open_and_read_is_flagged() {
        // What write_file does: the size from the open handle, then the read.
        let (temp, mut handle) = file_with(&b"line\n".repeat(200));
        let size = handle.metadata().unwrap().len();
        // logrotate copytruncate: the same file, emptied.
        std::fs::OpenOptions::new()
            .write(true)
            .open(temp.path())
            .unwrap()
            .set_len(0)
            .unwrap();
        let mut raw = Vec::new();
        let read = (&mut handle).take(size).read_to_end(&mut raw);
        let came_short = read.is_ok() && (raw.len() as u64) < size;
        let now = handle.metadata().unwrap().len();
        assert_eq!(
            shrank_while_read(size, now, came_short, true),
            Some("truncated-during-read")
        );
        // A complete read is not flagged, nor is a procfs file (size 0).
        assert_eq!(shrank_while_read(1000, 1000, false, true), None);
        assert_eq!(shrank_while_read(0, 0, true, true), None);
        // A streamed file only knows it is shorter now.
        assert_eq!(
            shrank_while_read(1000, 10, false, false),
            Some("truncated-during-read")
        );
    }
}
