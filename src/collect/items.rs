//! Stage 2 of a collect run, the items: every source of the plan into the archive in manifest
//! order, commands running in the pool meanwhile, the rules reading along. Out comes what the
//! index lists and what the rules gathered.
use super::plan::{CommandSource, Source};
use super::target::Archive;
use super::{interrupted, pool, write_error, Run};
use crate::error::Result;
use crate::index::{Item, ItemKind, Status};
use crate::lines::{LineSink, Pipeline, Since};
use crate::platform;
use crate::process::CommandOutput;
use crate::rules::{Catalogue, Evidence, Facts, Scan};
use chrono::Utc;
use std::io::Read;
use std::time::Instant;

/// The rules get at most this much of a file whole.
const RULES_WHOLE_CAP: usize = 8 << 20;

/// What the items stage produced.
pub(super) struct Gathered {
    /// One per source, in manifest order.
    pub items: Vec<Item>,
    /// What the rules saw, ready for findings.
    pub evidence: Evidence,
    /// Cut short by `--total-timeout` (files not read, commands skipped or stopped).
    pub partial: bool,
    /// `--total-timeout`'s deadline, which the leak check's grace is counted from.
    pub deadline: Option<Instant>,
}

impl Run<'_> {
    /// Stage 2: the sources into `archive`.
    pub(super) fn gather(&mut self, sources: &[Source], archive: &mut Archive) -> Result<Gathered> {
        let settings = self.settings;
        let deadline = settings.total_timeout.map(|t| self.clock + t);
        let commands: Vec<CommandSource> = sources
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
        let mut items: Vec<Item> = Vec::new();
        let mut partial = false;
        let mut command_slot = 0;
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
                Source::File(file) => self.write_file(archive, &mut scan, file)?,
                Source::Command(command) => {
                    let output = pool.wait(command_slot);
                    command_slot += 1;
                    if output.status == Some(Status::Skipped) {
                        partial = true;
                    }
                    self.write_command(archive, &mut scan, command, output)?
                }
            };
            self.note(item_line(&item));
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
        Ok(Gathered {
            evidence: scan.finish(&facts),
            items,
            partial,
            deadline,
        })
    }

    fn write_command(
        &mut self,
        archive: &mut Archive,
        scan: &mut Scan,
        command: &CommandSource,
        output: CommandOutput,
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
        let stdout = InMemory {
            path: &path,
            raw: &output.stdout,
            mtime: now,
            since: self.command_since(command),
            whole: true,
        };
        let stored = self.store(archive, scan, stdout)?;
        item.path = Some(path);
        item.bytes = Some(stored.len);
        item.sha256 = Some(stored.sha256);
        item.redactions = stored.redactions;
        if output.stdout_cut {
            item.original_bytes = Some(output.stdout_total);
        }
        if !output.stderr.is_empty() {
            let path = crate::layout::stderr_path(&command.id);
            let stderr = InMemory {
                path: &path,
                raw: &output.stderr,
                mtime: now,
                since: None,
                whole: true,
            };
            let stored = self.store(archive, scan, stderr)?;
            item.redactions += stored.redactions;
            item.stderr_path = Some(path);
        }
        Ok(item)
    }

    /// `--since` for a command whose output is a log (`journalctl`): its lines carry the host's
    /// local time (UTC under `--root`, whose zone is unknown), as a live log file's do.
    fn command_since(&self, command: &CommandSource) -> Option<Since> {
        let at = self.settings.since.filter(|_| command.log)?;
        let offset = if self.settings.root.is_some() {
            chrono::FixedOffset::east_opt(0).expect("zero offset")
        } else {
            chrono::Offset::fix(chrono::Local::now().offset())
        };
        Some(Since {
            at,
            clock: crate::logtime::LineClock::new(offset, Utc::now()),
        })
    }

    /// Bytes held in memory through the line engine into the archive, the rules reading along.
    pub(super) fn store(
        &mut self,
        archive: &mut Archive,
        scan: &mut Scan,
        text: InMemory,
    ) -> Result<Stored> {
        let InMemory {
            path,
            raw,
            mtime,
            since,
            whole,
        } = text;
        if whole && scan.wants_whole(path) {
            // The series `watch` adds is given whole up to the most a series holds.
            let cap = if path == crate::layout::WATCH_SERIES {
                crate::series::MAX_BYTES
            } else {
                RULES_WHOLE_CAP
            };
            scan.add_file(path, &raw[..raw.len().min(cap)]);
        }
        let mut pipeline = Pipeline::new(raw)
            .since(since)
            .filter(Some(self.privacy.filter(path)))
            .scan(Some(scan as &mut dyn LineSink), path);
        let mut out = Vec::with_capacity(raw.len() + 64);
        pipeline
            .read_to_end(&mut out)
            .map_err(|err| write_error(&err, archive.dir()))?;
        let redactions = pipeline.redactions();
        drop(pipeline);
        let sha256 = archive.add_bytes(path, &out, mtime)?;
        Ok(Stored {
            len: out.len() as u64,
            sha256,
            redactions,
        })
    }
}

/// Bytes held in memory on their way into the archive: a command's output, or a file small
/// enough to read whole.
pub(super) struct InMemory<'a> {
    pub path: &'a str,
    pub raw: &'a [u8],
    pub mtime: i64,
    pub since: Option<Since>,
    /// The rules may see it whole when they ask (not when it is only the newest part of a file).
    pub whole: bool,
}

/// What one entry of the archive holds.
pub(super) struct Stored {
    /// Bytes stored (after `--since`, redaction and obfuscation).
    pub len: u64,
    pub sha256: String,
    pub redactions: u64,
}

/// The collector log's line for one item.
fn item_line(item: &Item) -> String {
    match &item.error {
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
    }
}
