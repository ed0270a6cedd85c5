//! `drx-collect collect`: runs a manifest and writes one bundle (SPEC §3) in a single streaming
//! pass. Per-item failures become recorded statuses; only what makes a bundle impossible (no
//! space, interruption, an unwritable output directory) aborts, and then nothing is left behind.
pub mod command;
pub mod lock;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod pool;
pub mod report;
pub mod retention;
pub mod space;

use crate::archive::reader::BundleReader;
use crate::archive::split::{self, SplitWriter};
use crate::archive::writer::{BundleWriter, Format, Sink};
use crate::error::{describe_io, Error, Result};
use crate::index::{self, Finding, Index, Item, ItemKind, Status};
use crate::lang::Lang;
use crate::logtime::LineClock;
use crate::manifest::{self, Manifest, Os};
use crate::platform;
use crate::redact::{Privacy, PrivacyOptions};
use crate::rules::{Catalogue, Facts, Scan};
use chrono::{DateTime, Local, Offset, Utc};
use pipeline::{LineSink, Pipeline, Since};
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
    /// The command line, for the index and the collector log (secrets redacted there).
    pub argv: Vec<String>,
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
            argv: Vec::new(),
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
    if settings.dry_run {
        output::print_dry_run(settings, &manifest, &sources);
        return Ok(None);
    }
    Run::new(settings, manifest, sources)?.execute().map(Some)
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
        let shown_host = self.privacy.hostname_pseudonym(&self.host.hostname);
        let file_host = crate::host::file_safe(&shown_host);
        let (dir, _) = output::destination(settings, &file_host, &stamp)?;
        // Cron-safe: one run per output directory; the name is chosen (again) under the lock,
        // since the run that held it may have just taken it.
        let _lock = lock::acquire(&dir, lock::WAIT)?;
        let (dir, name) = output::destination(settings, &file_host, &stamp)?;
        space::check(
            &dir,
            space::estimate(&self.sources, settings.max_file_size),
            space::available(&dir),
        )?;
        let top = output::strip_extension(&name).to_string();
        let final_path = dir.join(&name);
        let (temp, sink) = match settings.split {
            None => {
                let temp = output::TempFile::create(&dir, &name)?;
                let file = temp.file()?;
                (Some(temp), Sink::from(file))
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
        let evidence = scan.finish(&facts);
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
            case_id: None,
            label: None,
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
            },
            partial,
            redaction: index::Redaction {
                secrets_redacted: self.privacy.secrets_redacted(),
                obfuscated: settings.obfuscate,
            },
            items,
            findings,
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
            .add_bytes("index.json", index_json.as_bytes(), now)
            .map_err(|err| write_error(&err, &dir))?;
        writer
            .add_bytes("SUMMARY.txt", summary.as_bytes(), now)
            .map_err(|err| write_error(&err, &dir))?;
        self.note(format!(
            "done in {:.3} s; {} of data",
            self.clock.elapsed().as_secs_f64(),
            crate::units::human_size(writer.bytes_in())
        ));
        let log = self.privacy.redact_text(&self.log);
        let log = self.privacy.obfuscate_text(&log);
        writer
            .add_bytes("collector.log", log.as_bytes(), now)
            .map_err(|err| write_error(&err, &dir))?;
        let sink = writer.finish().map_err(|err| write_error(&err, &dir))?;
        sink.sync_all().map_err(|err| write_error(&err, &dir))?;
        let (sha256, size, parts) = match (sink, temp) {
            (Sink::File(file), Some(mut temp)) => {
                drop(file);
                if let Some(signal) = platform::interrupted() {
                    return Err(interrupted(signal));
                }
                self.fail_closed(|| BundleReader::open(temp.path()))?;
                let (sha256, size) = output::hash_file(temp.path())?;
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
                self.fail_closed(|| BundleReader::open_parts(&final_path, paths))?;
                let parts = output::persist_parts(temps, &done, &final_path)?;
                (done.sha256, done.size, parts)
            }
            (Sink::File(_), None) => {
                return Err(Error::failed(
                    "internal error: the bundle file went missing",
                ))
            }
        };
        self.privacy.save_map()?;
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
    fn fail_closed(&self, open: impl FnOnce() -> Result<BundleReader>) -> Result<()> {
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
            if let Some(found) = checker.scan(meta.name.as_bytes()) {
                leak = Some(format!("{found} in the name {}", meta.name));
                return Ok(());
            }
            checker.reset();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
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
                    break;
                }
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
            item.error = Some("not a regular file".into());
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
        if file.skip_binary {
            let mut head = [0u8; 8192];
            let n = read_up_to(&mut handle, &mut head, true).unwrap_or(0);
            if head[..n].contains(&0) {
                item.status = Status::Skipped;
                item.error = Some("binary file, left out".into());
                return Ok(item);
            }
        }
        let size = meta.len();
        let cap = self.settings.max_file_size;
        let mut start = size.saturating_sub(cap);
        let truncated = start > 0;
        if truncated {
            // Begin at a whole line: the newest part starts after the first newline past the cut.
            match first_line_start(&mut handle, start) {
                Ok(at) => start = at,
                Err(_) => {
                    item.status = Status::Failed;
                    item.error = Some("cannot seek to the newest part of the file".into());
                    return Ok(item);
                }
            }
        }
        // procfs and sysfs files say size 0: read them to EOF (bounded by the cap).
        let limit = if size == 0 { cap } else { size - start };
        let path = file.bundle_path.clone();
        let since = self.since_for(file, mtime);
        let read_error = std::rc::Rc::new(std::cell::RefCell::new(None::<io::Error>));
        let _ = handle.seek(SeekFrom::Start(start));
        let stored;
        let redactions;
        if limit <= IN_MEMORY {
            let mut raw = Vec::new();
            if let Err(err) = (&mut handle).take(limit).read_to_end(&mut raw) {
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
        item.path = Some(path);
        item.bytes = Some(stored.0);
        item.sha256 = Some(stored.1);
        item.redactions = redactions;
        if truncated {
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
            let source = ErrorToEof::new(handle, limit, read_error.clone());
            let mut pipeline = Pipeline::new(source)
                .filter(Some(self.privacy.filter(path)))
                .scan(Some(scan as &mut dyn LineSink), path);
            let attempt = writer
                .add_stream_expecting(path, limit, mtime_secs, &mut pipeline)
                .map_err(|err| interrupted_or(err, dir))?;
            let redactions = pipeline.redactions();
            drop(pipeline);
            if let Some(written) = attempt {
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
        let path = format!("commands/{}.txt", command.id);
        let (bytes, sha, redactions) =
            self.store_text(writer, scan, &path, &output.stdout, now, dir)?;
        item.path = Some(path);
        item.bytes = Some(bytes);
        item.sha256 = Some(sha);
        item.redactions = redactions;
        if output.stdout_total > output.stdout.len() as u64 {
            item.original_bytes = Some(output.stdout_total);
        }
        if !output.stderr.is_empty() {
            let path = format!("commands/{}.stderr.txt", command.id);
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
