//! Stage 4 of a collect run, the seal: the archive ended and synced, read back by the fail-closed
//! leak check, hashed, moved to its final name with its `.sha256` sidecar (or its parts to
//! theirs), the obfuscation map saved, and `--keep` applied. Until the move, a failure leaves
//! nothing behind.
use super::target::Target;
use super::{interrupted, output, retention, write_error, Outcome, Run};
use crate::archive::reader::BundleReader;
use crate::archive::writer::Sink;
use crate::error::{describe_io, Error, Result};
use crate::index::Index;
use crate::platform;
use std::path::PathBuf;
use std::time::{Duration, Instant};

impl Run<'_> {
    /// Stage 4: `target`'s archive, finished, into place. `deadline` is `--total-timeout`'s.
    pub(super) fn persist(
        &mut self,
        target: Target,
        index: Index,
        deadline: Option<Instant>,
    ) -> Result<Outcome> {
        let Target {
            dir,
            file_host,
            final_path,
            temp,
            sealer,
            archive,
            ..
        } = target;
        let sink = archive.finish()?;
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
            keep: self.settings.keep,
            keep_size: self.settings.keep_size,
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
}
