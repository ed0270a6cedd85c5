//! Stage 1 of a collect run, the target: the output directory locked for this run, the bundle's
//! name chosen under the lock, the free space checked, and the archive open on its sink (one
//! temporary file, numbered parts, or the encrypted stream). Nothing is collected yet.
use super::plan::Source;
use super::{lock, output, space, write_error, Run};
use crate::archive::seal;
use crate::archive::split::{self, SplitWriter};
use crate::archive::writer::{BundleWriter, Sink};
use crate::error::{Error, Result};
use crate::platform;
use std::io;
use std::path::{Path, PathBuf};

/// Where this run's bundle goes, held until it is persisted (stage 4).
pub(super) struct Target {
    pub dir: PathBuf,
    /// The host part of the bundle's name (pseudonym under `--obfuscate`, `-<case>` appended):
    /// `--keep` counts the bundles that share it.
    pub file_host: String,
    /// The hostname as the bundle shows it (a pseudonym under `--obfuscate`).
    pub shown_host: String,
    /// The bundle's final name; for `--split`, the name its parts join into.
    pub final_path: PathBuf,
    /// The single temporary file (none for `--split`: the parts are their own temporaries).
    pub temp: Option<output::TempFile>,
    /// `--encrypt-to`: the bundle is encrypted in the same pass; the clear bundle never exists.
    pub sealer: Option<seal::Sealer>,
    pub archive: Archive,
    /// One run per output directory, until the target is dropped.
    _lock: lock::DirLock,
}

/// The archive being written, with the directory its write errors name (usually a full disk).
pub(super) struct Archive {
    writer: BundleWriter,
    dir: PathBuf,
}

impl Archive {
    pub fn add_bytes(&mut self, path: &str, bytes: &[u8], mtime: i64) -> Result<String> {
        self.writer
            .add_bytes(path, bytes, mtime)
            .map_err(|err| write_error(&err, &self.dir))
    }

    /// One call on the writer, its error naming the output directory.
    pub fn with<T>(&mut self, call: impl FnOnce(&mut BundleWriter) -> io::Result<T>) -> Result<T> {
        call(&mut self.writer).map_err(|err| write_error(&err, &self.dir))
    }

    pub fn bytes_in(&self) -> u64 {
        self.writer.bytes_in()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Ends the archive and syncs a single file to disk; the sink comes back for persisting.
    pub fn finish(self) -> Result<Sink> {
        let sink = self
            .writer
            .finish()
            .map_err(|err| write_error(&err, &self.dir))?;
        sink.sync_all()
            .map_err(|err| write_error(&err, &self.dir))?;
        Ok(sink)
    }
}

impl Run<'_> {
    /// Stage 1: lock the output directory, name the bundle, check the space `sources` will need,
    /// open the archive.
    pub(super) fn open_target(&mut self, sources: &[Source]) -> Result<Target> {
        let settings = self.settings;
        let stamp = self.started.format("%Y%m%dT%H%M%SZ").to_string();
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
        let lock = lock::acquire(&dir, lock::WAIT)?;
        for stale in output::remove_stale_temporaries(&dir) {
            self.note(format!(
                "removed {}, left by a run that died",
                stale.display()
            ));
        }
        let (dir, name) = output::destination(settings, &file_host, &stamp)?;
        space::check(
            &dir,
            space::estimate(sources, settings.max_file_size),
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
        let writer = BundleWriter::new(sink, settings.format, &top)
            .map_err(|err| write_error(&err, &dir))?;
        Ok(Target {
            archive: Archive {
                writer,
                dir: dir.clone(),
            },
            dir,
            file_host,
            shown_host,
            final_path,
            temp,
            sealer,
            _lock: lock,
        })
    }
}
