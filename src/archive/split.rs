//! `--split SIZE`: the archive stream cut into numbered parts `NAME.tgz.001`, `.002`, ... of at
//! most SIZE bytes each, written as the archive is produced (never a whole copy first), so that
//! `cat NAME.tgz.0* > NAME.tgz` gives back the normal bundle. Only gzip-compressed tar is split:
//! zip needs to seek back over what it wrote.
//!
//! Beside the parts, one `NAME.tgz.sha256` in `sha256sum` format lists every part and then the
//! joined bundle: `sha256sum -c --ignore-missing NAME.tgz.sha256` checks the parts as they
//! arrived, and after joining checks the bundle too. Parts have no sidecar files of their own
//! on purpose: `NAME.tgz.001.sha256` would match the `cat NAME.tgz.0*` glob and corrupt the join.
//! The first line, a comment (sha256sum skips it), gives the part count, so a reader can name a
//! missing last part.
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `NAME.tgz.001` for part 1 (numbering starts at 1, three digits at least, so `ls` and shell
/// globs list the parts in order).
pub fn part_name(bundle_name: &str, number: usize) -> String {
    format!("{bundle_name}.{number:03}")
}

/// If `name` ends in `.NNN`: the bundle name before it and the part number.
pub fn split_part_name(name: &str) -> Option<(&str, usize)> {
    let (head, digits) = name.rsplit_once('.')?;
    if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) || head.is_empty() {
        return None;
    }
    Some((head, digits.parse().ok()?))
}

/// One finished part.
#[derive(Debug, Clone)]
pub struct Part {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// What the writer produced: the parts in order and the checksum of their concatenation.
#[derive(Debug)]
pub struct Parts {
    pub parts: Vec<Part>,
    pub sha256: String,
    pub size: u64,
}

/// A `Write` that rolls over to a new file every `limit` bytes. Part files are created with the
/// name `name_of(n)` in `dir` (the caller chooses temporary names and renames them later).
pub struct SplitWriter {
    dir: PathBuf,
    name_of: Box<dyn Fn(usize) -> String + Send>,
    limit: u64,
    done: Vec<Part>,
    current: Option<Current>,
    whole: Sha256,
    total: u64,
    finished: bool,
}

struct Current {
    file: File,
    path: PathBuf,
    hasher: Sha256,
    written: u64,
}

impl SplitWriter {
    /// Parts are new private files (never replacing one); a `limit` of 0 counts as 1.
    pub fn new(
        dir: &Path,
        limit: u64,
        name_of: impl Fn(usize) -> String + Send + 'static,
    ) -> SplitWriter {
        SplitWriter {
            dir: dir.to_path_buf(),
            name_of: Box::new(name_of),
            limit: limit.max(1),
            done: Vec::new(),
            current: None,
            whole: Sha256::new(),
            total: 0,
            finished: false,
        }
    }

    /// The part files written so far, finished or not, in order.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self.done.iter().map(|p| p.path.clone()).collect();
        if let Some(current) = &self.current {
            paths.push(current.path.clone());
        }
        paths
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some(mut current) = self.current.take() {
            current.file.flush()?;
            current.file.sync_all()?;
            self.done.push(Part {
                path: current.path,
                size: current.written,
                sha256: crate::digest::hex(&current.hasher.finalize()),
            });
        }
        Ok(())
    }

    fn open_next(&mut self) -> io::Result<()> {
        let path = self.dir.join((self.name_of)(self.done.len() + 1));
        let file = create_private(&path)?;
        self.current = Some(Current {
            file,
            path,
            hasher: Sha256::new(),
            written: 0,
        });
        Ok(())
    }

    /// Closes the last part. An empty stream still makes one (empty) part.
    pub fn finish(mut self) -> io::Result<Parts> {
        if self.current.is_none() && self.done.is_empty() {
            self.open_next()?;
        }
        self.close_current()?;
        self.finished = true;
        let parts = std::mem::take(&mut self.done);
        let whole = std::mem::take(&mut self.whole);
        Ok(Parts {
            parts,
            sha256: crate::digest::hex(&whole.finalize()),
            size: self.total,
        })
    }
}

impl Write for SplitWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.written >= self.limit)
        {
            self.close_current()?;
        }
        if self.current.is_none() {
            self.open_next()?;
        }
        let limit = self.limit;
        let Some(current) = self.current.as_mut() else {
            return Err(io::Error::other("no part file is open"));
        };
        let room = (limit - current.written).min(buf.len() as u64) as usize;
        let n = current.file.write(&buf[..room])?;
        current.hasher.update(&buf[..n]);
        current.written += n as u64;
        self.whole.update(&buf[..n]);
        self.total += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some(current) => current.file.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for SplitWriter {
    /// An unfinished split (an error, an interruption) leaves no parts behind.
    fn drop(&mut self) {
        if !self.finished {
            for path in self.paths() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// The `NAME.tgz.sha256` text of a split bundle: the parts as comments, then the joined bundle's
/// line, so `sha256sum -c` checks the bundle once the parts are joined.
pub fn listing(bundle_name: &str, parts: &Parts, limit: u64) -> String {
    let mut text = format!(
        "# drx-collect split bundle: {} parts of at most {limit} bytes; join them with: cat {bundle_name}.0* > {bundle_name}; check with: sha256sum -c --ignore-missing {bundle_name}.sha256\n",
        parts.parts.len(),
    );
    for (i, part) in parts.parts.iter().enumerate() {
        text.push_str(&format!(
            "{}  {}\n",
            part.sha256,
            part_name(bundle_name, i + 1)
        ));
    }
    text.push_str(&format!("{}  {bundle_name}\n", parts.sha256));
    text
}

/// The part count a `NAME.tgz.sha256` listing declares, if it is one.
pub fn declared_parts(listing: &str) -> Option<usize> {
    let first = listing.lines().next()?;
    let rest = first.strip_prefix("# drx-collect split bundle: ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Reads the parts of a split bundle one after the other as one stream.
pub struct Chain {
    paths: Vec<PathBuf>,
    next: usize,
    current: Option<File>,
}

impl Chain {
    pub fn new(paths: Vec<PathBuf>) -> Chain {
        Chain {
            paths,
            next: 0,
            current: None,
        }
    }
}

impl io::Read for Chain {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(file) = self.current.as_mut() {
                let n = file.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.current = None;
            }
            let Some(path) = self.paths.get(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            let file = crate::platform::open_regular(path).map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("cannot open {}: {}", path.display(), err),
                )
            })?;
            self.current = Some(file);
        }
    }
}

/// Opens a new private file (mode 0600 on Unix), never replacing one and never following a link
/// at its name (`O_EXCL`, and `O_NOFOLLOW` said outright).
pub fn create_private(path: &Path) -> io::Result<File> {
    crate::platform::create_new_private(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn part_names_are_numbered_from_one_with_three_digits() {
        assert_eq!(part_name("b.tgz", 1), "b.tgz.001");
        assert_eq!(part_name("b.tgz", 12), "b.tgz.012");
        assert_eq!(part_name("b.tgz", 1234), "b.tgz.1234");
        assert_eq!(split_part_name("b.tgz.007"), Some(("b.tgz", 7)));
        assert_eq!(split_part_name("b.tgz.1234"), Some(("b.tgz", 1234)));
        assert_eq!(split_part_name("b.tgz.07"), None);
        assert_eq!(split_part_name("b.tgz"), None);
        assert_eq!(split_part_name("b.tgz.sha256"), None);
    }

    #[test]
    fn parts_are_at_most_the_limit_and_join_into_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SplitWriter::new(dir.path(), 1000, |n| part_name("b.tgz", n));
        let data: Vec<u8> = (0..4321u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(333) {
            writer.write_all(chunk).unwrap();
        }
        let parts = writer.finish().unwrap();
        assert_eq!(parts.parts.len(), 5);
        assert!(parts.parts.iter().all(|p| p.size <= 1000));
        assert_eq!(parts.size, 4321);
        let mut joined = Vec::new();
        Chain::new(parts.parts.iter().map(|p| p.path.clone()).collect())
            .read_to_end(&mut joined)
            .unwrap();
        assert_eq!(joined, data);
        assert_eq!(parts.sha256, crate::digest::hex(&Sha256::digest(&data)));
        let text = listing("b.tgz", &parts, 1000);
        assert_eq!(declared_parts(&text), Some(5));
        assert!(text.ends_with(&format!("{}  b.tgz\n", parts.sha256)));
    }

    #[test]
    fn an_unfinished_split_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SplitWriter::new(dir.path(), 10, |n| part_name("b.tgz", n));
        writer.write_all(&[1u8; 35]).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
