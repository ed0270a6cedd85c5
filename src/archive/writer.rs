//! Writes a bundle archive in one streaming pass: every entry is hashed while it is compressed,
//! and the hashes become `SHA256SUMS`. Paths given here are relative to the bundle's top
//! directory, which the writer prepends.
use super::pgzip::{Content, ParallelGz};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tgz,
    Zip,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tgz => "tgz",
            Format::Zip => "zip",
        }
    }

    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "tgz" | "tar.gz" => Some(Format::Tgz),
            "zip" => Some(Format::Zip),
            _ => None,
        }
    }

    /// `tgz` on Linux, `zip` on Windows (SPEC §2).
    pub fn native() -> Format {
        if cfg!(windows) {
            Format::Zip
        } else {
            Format::Tgz
        }
    }
}

// One value per run: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Tgz(tar::Builder<ParallelGz<Sink>>),
    Zip(zip::ZipWriter<BufWriter<File>>),
}

/// Where the archive goes: one file, or numbered parts (`--split`, tgz only).
pub enum Sink {
    File(File),
    Parts(Box<super::split::SplitWriter>),
    /// `--encrypt-to`: the archive stream encrypted on its way to the file.
    Sealed(Box<super::seal::SealedFile>),
}

impl From<File> for Sink {
    fn from(file: File) -> Sink {
        Sink::File(file)
    }
}

impl Sink {
    /// Syncs a single file; finished parts were synced when they were closed, the last one is
    /// synced by `SplitWriter::finish`.
    pub fn sync_all(&self) -> io::Result<()> {
        match self {
            Sink::File(file) => file.sync_all(),
            Sink::Parts(_) | Sink::Sealed(_) => Ok(()),
        }
    }

    /// Ends the encrypted stream (its last chunk) and gives back the file; other sinks as they are.
    fn close_seal(self) -> io::Result<Sink> {
        match self {
            Sink::Sealed(sealed) => sealed.finish().map(Sink::File),
            other => Ok(other),
        }
    }
}

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(file) => file.write(buf),
            Sink::Parts(parts) => parts.write(buf),
            Sink::Sealed(sealed) => sealed.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(file) => file.flush(),
            Sink::Parts(parts) => parts.flush(),
            Sink::Sealed(sealed) => sealed.flush(),
        }
    }
}

pub struct BundleWriter {
    inner: Inner,
    top: String,
    /// (path relative to top, sha256 hex), in the order written.
    sums: Vec<(String, String)>,
    bytes_in: u64,
}

/// What one entry came to.
pub struct Written {
    pub sha256: String,
    /// Bytes stored.
    pub len: u64,
    /// True when the source ended before `len` bytes and the rest was padded with newlines.
    pub short: bool,
}

const BUFFER: usize = 1 << 20;

impl BundleWriter {
    pub fn new(sink: impl Into<Sink>, format: Format, top: &str) -> io::Result<BundleWriter> {
        let inner = match (format, sink.into()) {
            (Format::Tgz, sink) => {
                // gzip -6, like the reference `tar | pigz`, on every core.
                let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
                let mut builder = tar::Builder::new(ParallelGz::new(sink, 6, threads));
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                header.set_mtime(now_secs());
                builder.append_data(&mut header, format!("{top}/"), io::empty())?;
                Inner::Tgz(builder)
            }
            (Format::Zip, Sink::File(file)) => {
                Inner::Zip(zip::ZipWriter::new(BufWriter::with_capacity(BUFFER, file)))
            }
            (Format::Zip, Sink::Parts(_)) => {
                return Err(io::Error::other(
                    "a zip bundle cannot be split; use --format tgz with --split",
                ))
            }
            (Format::Zip, Sink::Sealed(_)) => {
                return Err(io::Error::other(
                    "a zip bundle cannot be encrypted in the stream; use --format tgz with --encrypt-to",
                ))
            }
        };
        Ok(BundleWriter {
            inner,
            top: top.to_string(),
            sums: Vec::new(),
            bytes_in: 0,
        })
    }

    /// Adds an entry of exactly `len` bytes read from `data`: a source that ends early is padded
    /// with newlines, one that runs longer is cut (a log growing while we read it).
    pub fn add_stream(
        &mut self,
        path: &str,
        len: u64,
        mtime: i64,
        data: &mut dyn Read,
    ) -> io::Result<Written> {
        let mut reader = ExactHashingReader::new(data, len);
        self.append(path, len, mtime, &mut reader)?;
        let sha256 = crate::digest::hex(&reader.hasher.finalize());
        self.sums.push((path.to_string(), sha256.clone()));
        self.bytes_in += len;
        Ok(Written {
            sha256,
            len,
            short: reader.short,
        })
    }

    /// Adds an entry expected to be `expected_len` bytes long, in one pass. If `data` turns out
    /// longer or shorter (redaction changed the length), the entry is taken back out of the
    /// archive and `None` is returned: the caller then measures the length first and calls
    /// `add_stream`. A zip entry needs no length in advance and always succeeds.
    ///
    /// `keep_short` is asked when `data` came up short: `true` (the source file shrank while it
    /// was read, so a second read would find less) keeps what was read, padded with newlines to
    /// the announced length, and the result says `short`.
    pub fn add_stream_expecting(
        &mut self,
        path: &str,
        expected_len: u64,
        mtime: i64,
        data: &mut dyn Read,
        keep_short: &dyn Fn() -> bool,
    ) -> io::Result<Option<Written>> {
        if let Inner::Zip(_) = self.inner {
            let mut reader = ExactHashingReader::new(data, u64::MAX);
            reader.pad = false;
            // The expected length only decides whether the entry needs zip64 sizes.
            self.append(path, expected_len.saturating_mul(2), mtime, &mut reader)?;
            let len = u64::MAX - reader.remaining;
            let sha256 = crate::digest::hex(&reader.hasher.finalize());
            self.sums.push((path.to_string(), sha256.clone()));
            self.bytes_in += len;
            return Ok(Some(Written {
                sha256,
                len,
                short: false,
            }));
        }
        if !self.can_rewind() {
            return Ok(None);
        }
        let mark = self.mark()?;
        let mut reader = ExactHashingReader::new(data, expected_len);
        reader.detect_overflow = true;
        self.append(path, expected_len, mtime, &mut reader)?;
        if reader.overflow || (reader.short && !keep_short()) {
            self.rewind(mark)?;
            return Ok(None);
        }
        let short = reader.short;
        let sha256 = crate::digest::hex(&reader.hasher.finalize());
        self.sums.push((path.to_string(), sha256.clone()));
        self.bytes_in += expected_len;
        Ok(Some(Written {
            sha256,
            len: expected_len,
            short,
        }))
    }

    /// Parts already closed cannot be taken back: a split bundle never writes speculatively.
    fn can_rewind(&self) -> bool {
        matches!(&self.inner, Inner::Tgz(builder) if matches!(builder.get_ref().get_ref(), Some(Sink::File(_))))
    }

    /// Where the archive can be cut back to (tgz only): everything so far compressed and written.
    fn mark(&mut self) -> io::Result<u64> {
        match &mut self.inner {
            Inner::Tgz(builder) => {
                let gz = builder.get_mut();
                gz.sync()?;
                Ok(gz.compressed_len())
            }
            Inner::Zip(_) => Err(io::Error::other("zip archives are not rewound")),
        }
    }

    fn rewind(&mut self, mark: u64) -> io::Result<()> {
        match &mut self.inner {
            Inner::Tgz(builder) => {
                let gz = builder.get_mut();
                gz.sync()?;
                let file = match gz.get_mut() {
                    Some(Sink::File(file)) => file,
                    _ => return Err(io::Error::other("only a single-file archive is rewound")),
                };
                file.set_len(mark)?;
                file.seek(SeekFrom::Start(mark))?;
                gz.rewound(mark);
                Ok(())
            }
            Inner::Zip(_) => Err(io::Error::other("zip archives are not rewound")),
        }
    }

    fn append(
        &mut self,
        path: &str,
        len: u64,
        mtime: i64,
        reader: &mut ExactHashingReader,
    ) -> io::Result<()> {
        let full = format!("{}/{}", self.top, path);
        match &mut self.inner {
            Inner::Tgz(builder) => {
                builder
                    .get_mut()
                    .set_content(if crate::layout::is_log(path) {
                        Content::Log
                    } else {
                        Content::Other
                    });
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(len);
                header.set_mtime(mtime.max(0) as u64);
                builder.append_data(&mut header, &full, reader)?;
            }
            Inner::Zip(zip) => {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .compression_level(Some(6))
                    .large_file(len >= u32::MAX as u64)
                    .last_modified_time(zip_time(mtime))
                    .unix_permissions(0o644);
                zip.start_file(full.as_str(), options)
                    .map_err(io::Error::other)?;
                io::copy(reader, zip)?;
            }
        }
        Ok(())
    }

    pub fn add_bytes(&mut self, path: &str, bytes: &[u8], mtime: i64) -> io::Result<String> {
        Ok(self
            .add_stream(path, bytes.len() as u64, mtime, &mut &bytes[..])?
            .sha256)
    }

    /// `SHA256SUMS` text for every entry written so far (sha256sum's format: two spaces).
    pub fn sums_text(&self) -> String {
        let mut text = String::new();
        for (path, sum) in &self.sums {
            // sha256sum's escaping: a name with a backslash or a line break is written with
            // `\\` and `\n`, and its line starts with a backslash.
            if path.contains(['\\', '\n', '\r']) {
                let escaped = path
                    .replace('\\', "\\\\")
                    .replace('\n', "\\n")
                    .replace('\r', "\\r");
                text.push('\\');
                text.push_str(sum);
                text.push_str("  ");
                text.push_str(&escaped);
            } else {
                text.push_str(sum);
                text.push_str("  ");
                text.push_str(path);
            }
            text.push('\n');
        }
        text
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Writes `SHA256SUMS` and closes the archive; returns the sink, flushed but not synced.
    pub fn finish(mut self) -> io::Result<Sink> {
        let sums = self.sums_text();
        self.add_bytes("SHA256SUMS", sums.as_bytes(), now_secs() as i64)?;
        match self.inner {
            Inner::Tgz(builder) => builder.into_inner()?.finish()?.close_seal(),
            Inner::Zip(zip) => zip
                .finish()
                .map_err(io::Error::other)?
                .into_inner()
                .map(Sink::File)
                .map_err(|err| err.into_error()),
        }
    }
}

struct ExactHashingReader<'a> {
    inner: &'a mut dyn Read,
    remaining: u64,
    hasher: Sha256,
    /// The source ended before `remaining` reached 0 (padded with newlines when `pad`).
    short: bool,
    pad: bool,
    /// Look for one more byte after the last one: the source was longer than announced.
    detect_overflow: bool,
    overflow: bool,
}

impl<'a> ExactHashingReader<'a> {
    fn new(inner: &'a mut dyn Read, len: u64) -> Self {
        ExactHashingReader {
            inner,
            remaining: len,
            hasher: Sha256::new(),
            short: false,
            pad: true,
            detect_overflow: false,
            overflow: false,
        }
    }
}

impl Read for ExactHashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            if self.remaining == 0 && self.detect_overflow && !self.overflow {
                let mut probe = [0u8; 1];
                self.overflow = self.inner.read(&mut probe)? > 0;
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let mut n = if self.short {
            0
        } else {
            self.inner.read(&mut buf[..want])?
        };
        if n == 0 {
            self.short = true;
            if !self.pad {
                return Ok(0);
            }
            buf[..want].fill(b'\n');
            n = want;
        }
        self.hasher.update(&buf[..n]);
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn zip_time(mtime: i64) -> zip::DateTime {
    use chrono::{Datelike, Timelike};
    chrono::DateTime::from_timestamp(mtime, 0)
        .and_then(|t| {
            zip::DateTime::from_date_and_time(
                t.year().clamp(1980, 2107) as u16,
                t.month() as u8,
                t.day() as u8,
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
            )
            .ok()
        })
        .unwrap_or_default()
}
