//! One file of the plan into the archive. Everything its read needs is decided once, when the
//! file is opened, into one value (`FileRead`): the handle, the part that is read (the newest
//! `--max-file-size` bytes, starting at a whole line, past a NUL head), the bundle path, `--since`.
//! Small files are read whole (the rules can see them whole); large ones are streamed.
use super::items::{InMemory, Stored};
use super::plan::FileSource;
use super::target::Archive;
use super::{rfc3339, write_error, Run};
use crate::error::{describe_io, Error, Result};
use crate::index::{Item, ItemKind, Status};
use crate::lines::{LineSink, Pipeline, Since};
use crate::logtime::LineClock;
use crate::platform;
use crate::rules::Scan;
use chrono::{DateTime, Local, Offset, Utc};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Files up to this size are read whole into memory (one read, and the rules can see them whole);
/// larger ones are streamed twice: once to learn the output length the tar header needs, once
/// into the archive.
const IN_MEMORY: u64 = 8 << 20;

/// One file's read, decided when it was opened.
struct FileRead<'f> {
    file: &'f FileSource,
    handle: File,
    /// The bundle path: a host name or address in the file name is obfuscated like the contents.
    path: String,
    /// The length when opened (0 for procfs and sysfs files, which are read to EOF).
    size: u64,
    /// The part that is read: at most `limit` bytes from `start`.
    start: u64,
    limit: u64,
    mtime: Option<DateTime<Utc>>,
    /// Less than the whole file is read: cut at `--max-file-size`, or a NUL head left out.
    truncated: bool,
    /// The length of a NUL head (preallocated, or damaged by a crash) that is left out.
    nul_head: Option<u64>,
    /// A streamed read's error: it ends the entry (padded to its announced length) instead of
    /// the archive, and is recorded for the item.
    error: Option<io::Error>,
}

impl FileRead<'_> {
    fn mtime_secs(&self) -> i64 {
        self.mtime.map(|t| t.timestamp()).unwrap_or(0)
    }

    fn in_memory(&self) -> bool {
        self.limit <= IN_MEMORY
    }

    /// Back to `start` for another pass, its error forgotten.
    fn rewind(&mut self) -> Result<()> {
        self.error = None;
        self.handle
            .seek(SeekFrom::Start(self.start))
            .map(drop)
            .map_err(|err| {
                Error::io(
                    "re-read",
                    &self.file.fs_path,
                    &err,
                    "the file changed while it was collected; run again",
                )
            })
    }
}

impl Run<'_> {
    pub(super) fn write_file(
        &mut self,
        archive: &mut Archive,
        scan: &mut Scan,
        file: &FileSource,
    ) -> Result<Item> {
        let mut item = Item::new(&file.id, ItemKind::File, &file.source, Status::Ok);
        item.name_encoding = file.name_encoding.map(str::to_string);
        let Some(mut read) = self.open_file(file, &mut item) else {
            return Ok(item);
        };
        // procfs and sysfs files say size 0 and are nearly always small: read whole too.
        let whole = if read.in_memory() || read.size == 0 {
            self.read_whole(&mut read, archive, scan, &mut item)?
        } else {
            Whole::TooLarge
        };
        let (stored, came_short, in_memory) = match whole {
            Whole::Stored(stored, came_short) => (stored, came_short, true),
            Whole::Unreadable => return Ok(item),
            Whole::TooLarge => {
                read.rewind()?;
                (self.read_streamed(&mut read, archive, scan)?, false, false)
            }
        };
        if let Some(err) = &read.error {
            item.error = Some(format!("read error: {}", describe_io(err)));
        }
        let size = read.size;
        let length_now = read.handle.metadata().map(|m| m.len()).unwrap_or(size);
        if let Some(flag) = shrank_while_read(size, length_now, came_short, in_memory) {
            item.flags.push(flag.into());
            item.error = Some(format!(
                "the file shrank from {size} to {length_now} bytes while it was read (rotated with copytruncate?); what was read before is kept"
            ));
        }
        if let Some(text_from) = read.nul_head {
            item.flags.push("nul-head-skipped".into());
            item.error = Some(format!(
                "the first {text_from} bytes hold NUL bytes (preallocated, or damaged by a crash) and were left out; the text after them is kept"
            ));
        }
        item.path = Some(read.path);
        item.bytes = Some(stored.len);
        item.sha256 = Some(stored.sha256);
        item.redactions = stored.redactions;
        // Never `ok` for less than the whole file: cut at the cap, a NUL head left out, or the
        // file shrinking under us.
        if read.truncated || !item.flags.is_empty() {
            item.status = Status::Truncated;
        }
        if read.truncated || stored.len != size && size != 0 {
            item.original_bytes = Some(size);
        }
        Ok(item)
    }

    /// Opens `file` and decides its read; `None` when it is not read, with `item` saying why
    /// (missing, denied, not a regular file, binary, older than `--since`).
    fn open_file<'f>(&mut self, file: &'f FileSource, item: &mut Item) -> Option<FileRead<'f>> {
        let opened =
            platform::open_shared(&file.fs_path).and_then(|f| f.metadata().map(|m| (f, m)));
        let (mut handle, meta) = match opened {
            Ok(pair) => pair,
            Err(err) => {
                item.status = status_of(&err);
                item.error = Some(describe_io(&err));
                return None;
            }
        };
        if !meta.is_file() {
            item.status = Status::Skipped;
            item.error = Some(format!(
                "{}, not a regular file: not read",
                platform::special_file_kind(&meta).unwrap_or("a directory")
            ));
            return None;
        }
        let mtime: Option<DateTime<Utc>> = meta.modified().ok().map(DateTime::<Utc>::from);
        if let (Some(since), true, Some(modified)) = (self.settings.since, file.log, mtime) {
            if modified < since {
                item.status = Status::Skipped;
                item.error = Some(format!(
                    "not changed since {}, before --since",
                    rfc3339(modified)
                ));
                return None;
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
                    return None;
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
                    return None;
                }
            }
        }
        // A damaged or preallocated head (NUL bytes) is left out; the text after it is kept.
        let nul_head = (text_from > start).then_some(text_from);
        if nul_head.is_some() {
            start = text_from;
        }
        let truncated = truncated || nul_head.is_some();
        // procfs and sysfs files say size 0: read them to EOF (bounded by the cap).
        let limit = if size == 0 { cap } else { size - start };
        let path = self.privacy.obfuscate_text(&file.bundle_path);
        if mid_line {
            self.privacy.starts_mid_line(&path);
        } else if truncated {
            self.privacy.starts_after_cut(&path);
        }
        let _ = handle.seek(SeekFrom::Start(start));
        Some(FileRead {
            file,
            handle,
            path,
            size,
            start,
            limit,
            mtime,
            truncated,
            nul_head,
            error: None,
        })
    }

    /// `--since` for this file: only logs are filtered by time.
    fn since_for(&self, read: &FileRead) -> Option<Since> {
        let at = self.settings.since?;
        if !read.file.log {
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
            clock: LineClock::new(offset, read.mtime.unwrap_or(self.started)),
        })
    }

    /// A file small enough to hold, read in one go (a file of unknown size only if it turns out
    /// small enough).
    fn read_whole(
        &mut self,
        read: &mut FileRead,
        archive: &mut Archive,
        scan: &mut Scan,
        item: &mut Item,
    ) -> Result<Whole> {
        let (size, limit) = (read.size, read.limit);
        let mut raw = Vec::new();
        let result = (&mut read.handle)
            .take(limit.min(IN_MEMORY + 1))
            .read_to_end(&mut raw);
        if result.is_ok() && raw.len() as u64 > IN_MEMORY {
            return Ok(Whole::TooLarge);
        }
        let came_short = result.is_ok() && size != 0 && (raw.len() as u64) < limit;
        if let Err(err) = result {
            if raw.is_empty() {
                item.status = status_of(&err);
                item.error = Some(describe_io(&err));
                return Ok(Whole::Unreadable);
            }
            item.error = Some(format!(
                "read error after {} bytes: {}",
                raw.len(),
                describe_io(&err)
            ));
        }
        if size == 0 && raw.len() as u64 == self.settings.max_file_size {
            // Never `ok` for less than the whole file: it may go on past the cap.
            item.status = Status::Truncated;
            item.error = Some("stopped reading at --max-file-size".into());
        }
        let text = InMemory {
            path: &read.path,
            raw: &raw,
            mtime: read.mtime_secs(),
            since: self.since_for(read),
            whole: !read.truncated,
        };
        let stored = self.store(archive, scan, text)?;
        Ok(Whole::Stored(stored, came_short))
    }

    /// A file too large to hold: streamed in one pass when its stored length is known in advance
    /// (nothing but redaction can change it, and redaction usually finds nothing in a log), else
    /// in two: once to measure what will be stored, once into the archive.
    fn read_streamed(
        &mut self,
        read: &mut FileRead,
        archive: &mut Archive,
        scan: &mut Scan,
    ) -> Result<Stored> {
        let (start, limit, mtime) = (read.start, read.limit, read.mtime_secs());
        let since = self.since_for(read);
        let mut scanned = false;
        // One pass needs the stored length in advance: not for a file of unknown size (procfs
        // and sysfs say 0), which would be padded to the cap.
        if since.is_none() && !self.settings.obfuscate && read.size != 0 {
            // Came up short because the file shrank (copytruncate)? Then a second read would
            // find less than this one: keep what was read.
            let probe = read.handle.try_clone().ok();
            let shrank = move || {
                probe
                    .as_ref()
                    .and_then(|f| f.metadata().ok())
                    .is_some_and(|meta| meta.len() < start + limit)
            };
            let source = ErrorToEof::new(&mut read.handle, limit, &mut read.error);
            let mut pipeline = Pipeline::new(source)
                .filter(Some(self.privacy.filter(&read.path)))
                .scan(Some(scan as &mut dyn LineSink), &read.path);
            let attempt = archive.with(|writer| {
                writer.add_stream_expecting(&read.path, limit, mtime, &mut pipeline, &shrank)
            })?;
            let redactions = pipeline.redactions();
            drop(pipeline);
            if let Some(written) = attempt {
                if written.short {
                    read.error = Some(shrank_error());
                }
                return Ok(Stored {
                    len: written.len,
                    sha256: written.sha256,
                    redactions,
                });
            }
            scanned = true;
            read.rewind()?;
        }
        // Pass 1: the length of what will be stored (redaction and --since change it).
        let counting_since = self.since_for(read);
        let source = ErrorToEof::new(&mut read.handle, limit, &mut read.error);
        let mut counting = Pipeline::new(source)
            .since(counting_since)
            .filter(Some(self.privacy.filter(&read.path)));
        let length = io::copy(&mut counting, &mut io::sink())
            .map_err(|err| write_error(&err, archive.dir()))?;
        drop(counting);
        read.rewind()?;
        // Pass 2: into the archive, with the rules reading along (unless they already did).
        let source = ErrorToEof::new(&mut read.handle, limit, &mut read.error);
        let mut pipeline = Pipeline::new(source)
            .since(since)
            .filter(Some(self.privacy.filter(&read.path)));
        if !scanned {
            pipeline = pipeline.scan(Some(scan as &mut dyn LineSink), &read.path);
        }
        let written =
            archive.with(|writer| writer.add_stream(&read.path, length, mtime, &mut pipeline))?;
        let redactions = pipeline.redactions();
        drop(pipeline);
        if written.short {
            read.error = Some(shrank_error());
        }
        Ok(Stored {
            len: length,
            sha256: written.sha256,
            redactions,
        })
    }
}

/// What reading a file whole gave.
enum Whole {
    /// Stored; and whether it came up short (the file shrank between open and read).
    Stored(Stored, bool),
    /// Nothing could be read (the item says why).
    Unreadable,
    /// Larger than is held in memory: to be streamed.
    TooLarge,
}

fn shrank_error() -> io::Error {
    io::Error::other("the file shrank while it was read; the end was padded with newlines")
}

/// A source whose read errors end the stream (recorded for the item) instead of aborting the
/// archive: the entry is then padded to its announced length and the bundle stays valid.
struct ErrorToEof<'a> {
    inner: io::Take<&'a mut File>,
    error: &'a mut Option<io::Error>,
}

impl<'a> ErrorToEof<'a> {
    fn new(file: &'a mut File, limit: u64, error: &'a mut Option<io::Error>) -> Self {
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
                *self.error = Some(err);
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
