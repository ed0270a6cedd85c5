//! Reads a bundle once, front to back: a gzip-compressed tar (`.tgz`, also multi-member gzip), a
//! plain tar, a `.zip`, or an unpacked directory. The container is recognised by its first bytes,
//! never by the file name, because bundles arrive renamed by mail systems.
//!
//! A bundle is untrusted input. Everything here is bounded: the bytes a bundle may expand to, in
//! total and per entry, the number of entries and the length of names. A damaged container is an
//! error naming the file, never a panic and never silently short content.
use std::cell::{Cell, RefCell};
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::error::{describe_io, Error, Result};
use crate::platform::open_regular;

/// What an entry of the bundle is. Only `File` entries have content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link and its target, as stored (lossy UTF-8).
    Symlink(String),
    /// A tar hard link and the entry it points to.
    Hardlink(String),
    /// Anything else (device, fifo, sparse file...), described in a few words.
    Other(String),
}

/// One entry of the bundle, as the container describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// The name exactly as stored in the archive (for a directory bundle: the path relative to it).
    pub raw_name: Vec<u8>,
    /// `raw_name` as lossy UTF-8; in zip files `\` is turned into `/` (old Windows tools wrote it).
    pub name: String,
    pub kind: EntryKind,
    /// The size the container declares (for a directory bundle: the size on disk).
    pub size: u64,
    pub mode: Option<u32>,
    /// Seconds since the Unix epoch.
    pub mtime: Option<i64>,
}

/// Bounds applied while reading, because a bundle can be hostile (zip/gzip bombs, endless entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes the whole bundle may expand to (for tar: the decompressed stream, headers included).
    pub max_total_bytes: u64,
    /// Bytes one entry may hold.
    pub max_entry_bytes: u64,
    /// Entries (tar extension headers included).
    pub max_entries: u64,
    /// Bytes of one entry name or link target.
    pub max_name_bytes: usize,
    /// Bytes of all names together, so that a caller keeping every name stays bounded.
    pub max_names_total: u64,
}

const GIB: u64 = 1024 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 8 * GIB,
            max_entry_bytes: 4 * GIB,
            max_entries: 200_000,
            max_name_bytes: 4096,
            max_names_total: 64 * 1024 * 1024,
        }
    }
}

/// The container of a bundle, as recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tgz,
    Tar,
    Zip,
    Dir,
}

enum Source {
    File(PathBuf),
    /// The numbered parts of a `--split` bundle, read as one stream.
    Parts(Vec<PathBuf>),
    Dir(PathBuf),
    Bytes(Vec<u8>),
    /// An age-encrypted bundle (`.tgz.age`), already authenticated; decrypted in the stream.
    Sealed(super::seal::Opener),
}

/// Streams a bundle: `.tgz`, `.zip`, plain tar, or an unpacked directory.
pub struct BundleReader {
    source: Source,
    /// How the bundle is named in messages.
    label: String,
    format: Format,
    limits: Limits,
    background: bool,
    /// Threads inflating the members of our own `.tgz` at once (see `pgunzip`).
    decoders: usize,
}

/// The visitor `for_each` calls for each entry.
pub type Visit<'a> = dyn FnMut(&EntryMeta, &mut dyn Read) -> Result<()> + 'a;

impl BundleReader {
    /// Opens the bundle at `path` and recognises its container.
    pub fn open(path: &Path) -> Result<BundleReader> {
        if let Some(parts) = super::split_set::find(path)? {
            return BundleReader::open_parts(path, parts);
        }
        let label = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::io(
                "open bundle",
                path,
                &e,
                "check the path and that you may read it",
            )
        })?;
        if meta.is_dir() {
            return Ok(BundleReader::new(
                Source::Dir(path.to_path_buf()),
                label,
                Format::Dir,
            ));
        }
        if !meta.is_file() {
            return Err(Error::failed(format!(
                "{label} is not a regular file (a device, FIFO or socket); give the bundle file itself"
            )));
        }
        let mut head = Vec::with_capacity(512);
        open_regular(path)
            .and_then(|f| f.take(512).read_to_end(&mut head))
            .map_err(|e| {
                Error::io(
                    "read bundle",
                    path,
                    &e,
                    "check the path and that you may read it",
                )
            })?;
        if super::seal::is_sealed(&head) {
            return BundleReader::open_sealed(path, &super::seal::registered());
        }
        let format = sniff(&head, &label)?;
        Ok(BundleReader::new(
            Source::File(path.to_path_buf()),
            label,
            format,
        ))
    }

    /// A sealed bundle (`NAME.tgz.age`), opened with `keys`: the whole file is authenticated
    /// first (see `seal::open`), then read like any tgz, decrypting in the stream.
    pub fn open_sealed(path: &Path, keys: &[super::seal::Key]) -> Result<BundleReader> {
        let label = path.display().to_string();
        let opener = super::seal::open(path, keys)?;
        let mut head = Vec::with_capacity(512);
        opener()
            .and_then(|r| r.take(512).read_to_end(&mut head))
            .map_err(|e| Error::io("decrypt bundle", path, &e, ""))?;
        let format = sniff(&head, &label)?;
        if format == Format::Zip {
            return Err(Error::failed(format!(
                "{label} holds an encrypted zip file, which drx-collect does not read in the stream; decrypt it with age -d first"
            )));
        }
        Ok(BundleReader::new(Source::Sealed(opener), label, format))
    }

    /// The parts of a split bundle (`NAME.tgz.001`, `.002`, ...), read in order as one bundle.
    pub fn open_parts(given: &Path, parts: Vec<PathBuf>) -> Result<BundleReader> {
        let label = given.display().to_string();
        let first = parts.first().ok_or_else(|| {
            Error::failed(format!(
                "{label} has no parts; give the first part NAME.tgz.001"
            ))
        })?;
        let mut head = Vec::with_capacity(512);
        open_regular(first)
            .and_then(|f| f.take(512).read_to_end(&mut head))
            .map_err(|e| {
                Error::io(
                    "read bundle part",
                    first,
                    &e,
                    "check the path and that you may read it",
                )
            })?;
        let format = sniff(&head, &label)?;
        if format == Format::Zip {
            return Err(Error::failed(format!(
                "{label} is a split zip file, which drx-collect does not read; join the parts with cat first"
            )));
        }
        Ok(BundleReader::new(Source::Parts(parts), label, format))
    }

    /// A bundle held in memory (tests and the fuzz target).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<BundleReader> {
        let label = "(in memory)".to_string();
        let format = sniff(&bytes[..bytes.len().min(512)], &label)?;
        Ok(BundleReader::new(Source::Bytes(bytes), label, format))
    }

    fn new(source: Source, label: String, format: Format) -> BundleReader {
        // Overlapping decompression with the consumer only pays with a second core.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        BundleReader {
            source,
            label,
            format,
            limits: Limits::default(),
            background: cores > 1,
            // Past four, hashing and the rules on the consuming thread are the bound.
            decoders: cores.min(4),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The bundle's path as shown in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Decompress on a second thread while the visitor works (default: on when there are 2+ cores).
    /// Memory stays bounded: a few 256 KiB buffers are in flight.
    pub fn set_background(&mut self, on: bool) {
        self.background = on;
    }

    /// Threads inflating the gzip members of a `.tgz` written by drx-collect (default: one per
    /// core, at most four); below two, one decoder reads the stream. Other `.tgz` files are
    /// always read by one decoder.
    pub fn set_decoders(&mut self, threads: usize) {
        self.decoders = threads;
    }

    /// Calls `visit` for each entry in archive order with a reader over its content (only `File`
    /// entries have content; what the visitor leaves unread is skipped). Any damage or exceeded
    /// limit ends the walk with an error, even if the visitor ignored the failed read.
    pub fn for_each(&mut self, visit: &mut Visit<'_>) -> Result<()> {
        if self.background {
            self.for_each_background(visit)
        } else {
            let fault = RefCell::new(None);
            self.walk(&fault, visit)
        }
    }

    fn walk(&self, fault: &RefCell<Option<Error>>, visit: &mut Visit<'_>) -> Result<()> {
        let ctx = Ctx {
            label: &self.label,
            limits: self.limits,
            fault,
            total: Cell::new(0),
            entries: Cell::new(0),
            names: Cell::new(0),
        };
        let result = match (&self.source, self.format) {
            (Source::Dir(dir), _) => walk_dir(&ctx, dir, visit),
            (Source::File(path), Format::Zip) => {
                let file = open_regular(path).map_err(|e| {
                    Error::io("open bundle", path, &e, "check that you may read it")
                })?;
                walk_zip(&ctx, BufReader::new(file), visit)
            }
            (Source::Bytes(bytes), Format::Zip) => walk_zip(&ctx, io::Cursor::new(bytes), visit),
            (Source::Parts(paths), format) => walk_tar_stream(
                self.decoders,
                &ctx,
                BufReader::with_capacity(256 * 1024, super::split::Chain::new(paths.clone())),
                format,
                visit,
            ),
            (Source::File(path), format) => {
                let file = open_regular(path).map_err(|e| {
                    Error::io("open bundle", path, &e, "check that you may read it")
                })?;
                walk_tar_stream(
                    self.decoders,
                    &ctx,
                    BufReader::with_capacity(256 * 1024, file),
                    format,
                    visit,
                )
            }
            (Source::Sealed(open), format) => {
                let plain = open().map_err(|e| Error::failed(describe_io(&e)))?;
                walk_tar_stream(
                    self.decoders,
                    &ctx,
                    BufReader::with_capacity(256 * 1024, plain),
                    format,
                    visit,
                )
            }
            (Source::Bytes(bytes), format) => {
                walk_tar_stream(self.decoders, &ctx, io::Cursor::new(bytes), format, visit)
            }
        };
        // A recorded fault (damage, a limit) explains the failure better than whatever the visitor
        // made of the failed read; and it is an error even if the visitor carried on.
        let recorded = fault.borrow_mut().take();
        match (recorded, result) {
            (Some(err), _) => Err(err),
            (None, result) => result,
        }
    }

    /// The container is decoded on a scoped thread and handed over in large buffers through a
    /// bounded channel, so decompression overlaps with hashing and matching on the other core.
    fn for_each_background(&self, visit: &mut Visit<'_>) -> Result<()> {
        const CHUNK: usize = 256 * 1024;
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<Msg>(8);
            let (pool_tx, pool_rx) = mpsc::sync_channel::<Vec<u8>>(8);
            scope.spawn(move || {
                let fault = RefCell::new(None);
                let mut forward = |meta: &EntryMeta, content: &mut dyn Read| -> Result<()> {
                    let gone = || Error::failed("the reader of the bundle stopped");
                    tx.send(Msg::Entry(meta.clone())).map_err(|_| gone())?;
                    loop {
                        let mut buf = pool_rx.try_recv().unwrap_or_default();
                        buf.resize(CHUNK, 0);
                        let mut filled = 0;
                        while filled < CHUNK {
                            match content.read(&mut buf[filled..]) {
                                Ok(0) => break,
                                Ok(n) => filled += n,
                                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                                Err(e) => return Err(Error::failed(describe_io(&e))),
                            }
                        }
                        if filled == 0 {
                            return Ok(());
                        }
                        buf.truncate(filled);
                        tx.send(Msg::Data(buf)).map_err(|_| gone())?;
                        if filled < CHUNK {
                            return Ok(());
                        }
                    }
                };
                let result = self.walk(&fault, &mut forward);
                // The receiver may be gone already (the visitor failed): nothing left to tell.
                let _ = tx.send(Msg::Done(result));
            });

            let fault = RefCell::new(None);
            let mut pending: Option<Msg> = None;
            let result = loop {
                let msg = match pending.take() {
                    Some(msg) => msg,
                    None => match rx.recv() {
                        Ok(msg) => msg,
                        Err(_) => {
                            break Err(Error::failed(format!(
                                "reading bundle {} stopped unexpectedly; try again",
                                self.label
                            )))
                        }
                    },
                };
                match msg {
                    Msg::Entry(meta) => {
                        let mut content = Piped {
                            rx: &rx,
                            pool: &pool_tx,
                            buf: Vec::new(),
                            pos: 0,
                            pending: &mut pending,
                            fault: &fault,
                        };
                        let visited = visit(&meta, &mut content);
                        if let Err(err) = visited {
                            break Err(err);
                        }
                        // Skip what the visitor left unread, up to the next entry.
                        if let Err(e) = io::copy(&mut content, &mut io::sink()) {
                            break Err(Error::failed(describe_io(&e)));
                        }
                    }
                    Msg::Data(_) => {}
                    Msg::Done(result) => break result,
                }
            };
            drop(rx);
            let recorded = fault.borrow_mut().take();
            match (recorded, result) {
                (Some(err), _) => Err(err),
                (None, result) => result,
            }
        })
    }
}

enum Msg {
    Entry(EntryMeta),
    Data(Vec<u8>),
    Done(Result<()>),
}

/// The consumer's view of one entry's content arriving from the decoding thread.
struct Piped<'a> {
    rx: &'a mpsc::Receiver<Msg>,
    pool: &'a mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    pending: &'a mut Option<Msg>,
    fault: &'a RefCell<Option<Error>>,
}

impl Read for Piped<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.buf.len() {
                let n = out.len().min(self.buf.len() - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.pending.is_some() {
                return Ok(0);
            }
            if self.fault.borrow().is_some() {
                return Err(io::Error::other("the bundle could not be read"));
            }
            match self.rx.recv() {
                Ok(Msg::Data(data)) => {
                    let old = std::mem::replace(&mut self.buf, data);
                    self.pos = 0;
                    // Hand the spent buffer back; if the pool is full it is simply freed.
                    let _ = self.pool.try_send(old);
                }
                Ok(Msg::Done(Err(err))) => {
                    // The content was cut short by damage or a limit: never a clean end of file.
                    let text = err.message().to_string();
                    *self.fault.borrow_mut() = Some(err);
                    return Err(io::Error::other(text));
                }
                Ok(msg) => {
                    *self.pending = Some(msg);
                    return Ok(0);
                }
                Err(_) => return Err(io::Error::other("the bundle reader stopped")),
            }
        }
    }
}

/// Recognises the container from its first bytes.
fn sniff(head: &[u8], label: &str) -> Result<Format> {
    if head.is_empty() {
        return Err(Error::failed(format!(
            "bundle {label} is empty; ask the sender for a fresh copy"
        )));
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Format::Tgz)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Ok(Format::Zip)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Ok(Format::Tar)
    } else {
        Err(Error::failed(format!(
            "{label} is not a bundle: it is neither a gzip-compressed tar (.tgz) nor a zip file"
        )))
    }
}

/// State shared by the readers of one walk: the limits and the first fault seen.
struct Ctx<'a> {
    label: &'a str,
    limits: Limits,
    /// The first damage or exceeded limit, recorded where it happened so that the walk can report
    /// it in plain words whatever the visitor made of the failed read.
    fault: &'a RefCell<Option<Error>>,
    /// Content bytes handed out so far.
    total: Cell<u64>,
    entries: Cell<u64>,
    names: Cell<u64>,
}

impl Ctx<'_> {
    fn record(&self, err: Error) -> io::Error {
        let text = err.message().to_string();
        let mut slot = self.fault.borrow_mut();
        if slot.is_none() {
            *slot = Some(err);
        }
        io::Error::other(text)
    }

    /// Damage is an integrity failure (SPEC §8: exit 3), whatever mode reads the bundle.
    fn damaged(&self, detail: &str) -> Error {
        Error::integrity(format!(
            "bundle {} is damaged: {detail}; ask the sender for a fresh copy",
            self.label
        ))
    }

    fn damaged_io(&self, e: &io::Error) -> Error {
        if let Some(err) = self.fault.borrow_mut().take() {
            return err;
        }
        self.damaged(&describe_io(e))
    }

    fn too_big(&self, what: &str) -> Error {
        Error::failed(format!(
            "bundle {} {what}; it may be a decompression bomb, so reading stopped",
            self.label
        ))
    }

    /// Stops the walk once a fault was recorded, even if the visitor swallowed the failed read
    /// (`walk` then reports the recorded fault itself).
    fn check_fault(&self) -> Result<()> {
        match self.fault.borrow().as_ref() {
            Some(err) => Err(Error::failed(err.message().to_string())),
            None => Ok(()),
        }
    }

    /// Counts an entry and its name against the limits.
    fn admit(&self, name: &[u8]) -> Result<()> {
        let n = self.entries.get() + 1;
        self.entries.set(n);
        if n > self.limits.max_entries {
            return Err(self.too_big(&format!(
                "has more than {} entries",
                self.limits.max_entries
            )));
        }
        self.admit_name_only(name)
    }

    fn check_declared(&self, name: &str, size: u64) -> Result<()> {
        if size > self.limits.max_entry_bytes {
            return Err(self.too_big(&format!(
                "has an entry {name} of {size} bytes, more than the {}-byte limit per entry",
                self.limits.max_entry_bytes
            )));
        }
        Ok(())
    }
}

/// Content of one entry, counted against the limits. Errors of the container underneath are
/// recorded as damage; content shorter than declared is damage too, never a clean end.
struct Content<'c, 'a, R> {
    inner: R,
    ctx: &'c Ctx<'a>,
    name: &'c str,
    read: u64,
    expect: Option<u64>,
}

impl<R: Read> Read for Content<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = self.ctx.fault.borrow().as_ref() {
            return Err(io::Error::other(err.message().to_string()));
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let err = self.ctx.damaged_io(&e);
                return Err(self.ctx.record(err));
            }
        };
        if n == 0 {
            if let Some(expect) = self.expect {
                if self.read < expect {
                    let err = self.ctx.damaged(&format!(
                        "entry {} ends after {} of its {expect} bytes",
                        self.name, self.read
                    ));
                    return Err(self.ctx.record(err));
                }
            }
            return Ok(0);
        }
        self.read += n as u64;
        if let Some(expect) = self.expect {
            if self.read > expect {
                let err = self.ctx.damaged(&format!(
                    "entry {} holds more than its declared {expect} bytes",
                    self.name
                ));
                return Err(self.ctx.record(err));
            }
        }
        let total = self.ctx.total.get() + n as u64;
        self.ctx.total.set(total);
        let limits = self.ctx.limits;
        if self.read > limits.max_entry_bytes {
            let err = self.ctx.too_big(&format!(
                "has an entry {} larger than the {}-byte limit per entry",
                self.name, limits.max_entry_bytes
            ));
            return Err(self.ctx.record(err));
        }
        if total > limits.max_total_bytes {
            let err = self.ctx.too_big(&format!(
                "expands to more than {} bytes (the limit)",
                limits.max_total_bytes
            ));
            return Err(self.ctx.record(err));
        }
        Ok(n)
    }
}

/// The whole decompressed stream, counted against the total limit; its errors are damage.
struct Stream<'c, 'a, R> {
    inner: R,
    ctx: &'c Ctx<'a>,
    read: u64,
}

impl<R: Read> Read for Stream<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let err = self.ctx.damaged(&describe_io(&e));
                return Err(self.ctx.record(err));
            }
        };
        self.read += n as u64;
        if self.read > self.ctx.limits.max_total_bytes {
            let err = self.ctx.too_big(&format!(
                "expands to more than {} bytes (the limit)",
                self.ctx.limits.max_total_bytes
            ));
            return Err(self.ctx.record(err));
        }
        Ok(n)
    }
}

fn walk_tar_stream<R: Read>(
    decoders: usize,
    ctx: &Ctx<'_>,
    input: R,
    format: Format,
    visit: &mut Visit<'_>,
) -> Result<()> {
    match format {
        Format::Tgz => {
            let mut stream = Stream {
                inner: super::pgunzip::Gunzip::new(input, decoders),
                ctx,
                read: 0,
            };
            walk_tar(ctx, &mut stream, visit)?;
            // Read to the end of the gzip stream, so that a cut or corrupt tail (CRC, length) is
            // noticed even after the tar's end marker.
            io::copy(&mut stream, &mut io::sink()).map_err(|e| ctx.damaged_io(&e))?;
            Ok(())
        }
        _ => {
            let mut stream = Stream {
                inner: input,
                ctx,
                read: 0,
            };
            walk_tar(ctx, &mut stream, visit)
        }
    }
}

/// Walks tar entries. GNU long names and PAX records are handled here, not by the `tar` crate,
/// because the crate reads them whole into memory whatever size their header claims.
fn walk_tar<R: Read>(ctx: &Ctx<'_>, stream: R, visit: &mut Visit<'_>) -> Result<()> {
    const PAX_MAX: u64 = 1024 * 1024;
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(|e| ctx.damaged_io(&e))?;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax_path: Option<Vec<u8>> = None;
    let mut pax_link: Option<Vec<u8>> = None;
    for entry in entries.raw(true) {
        let mut entry = entry.map_err(|e| ctx.damaged_io(&e))?;
        let header = entry.header();
        let type_byte = header.as_bytes()[156];
        let header_name = entry.path_bytes().into_owned();
        ctx.admit(&header_name)?;
        let name_cap = ctx.limits.max_name_bytes as u64;
        match type_byte {
            b'L' => {
                let mut name = read_small(ctx, &mut entry, name_cap, "a long name")?;
                trim_nuls(&mut name);
                long_name = Some(name);
                continue;
            }
            b'K' => {
                let mut name = read_small(ctx, &mut entry, name_cap, "a long link target")?;
                trim_nuls(&mut name);
                long_link = Some(name);
                continue;
            }
            b'x' => {
                let records = read_small(ctx, &mut entry, PAX_MAX, "a PAX header")?;
                for record in tar::PaxExtensions::new(&records) {
                    let record = record.map_err(|e| ctx.damaged_io(&e))?;
                    match record.key_bytes() {
                        b"path" => pax_path = Some(record.value_bytes().to_vec()),
                        b"linkpath" => pax_link = Some(record.value_bytes().to_vec()),
                        b"size" => {
                            // The crate reads the data by the header's size in raw mode; a
                            // different PAX size would desynchronise the walk.
                            let declared = entry_size_hint(&record);
                            return Err(ctx.damaged(&format!(
                                "it uses a PAX size record ({declared}), which drx-collect does not read"
                            )));
                        }
                        _ => {}
                    }
                }
                continue;
            }
            b'g' => continue,
            _ => {}
        }

        let raw_name = pax_path
            .take()
            .or_else(|| long_name.take())
            .unwrap_or(header_name);
        let link = pax_link
            .take()
            .or_else(|| long_link.take())
            .or_else(|| header.link_name_bytes().map(|l| l.into_owned()))
            .unwrap_or_default();
        ctx.admit_name_only(&raw_name)?;
        if link.len() > ctx.limits.max_name_bytes {
            return Err(ctx.too_big(&format!(
                "has a link target longer than {} bytes",
                ctx.limits.max_name_bytes
            )));
        }
        let link = String::from_utf8_lossy(&link).into_owned();
        let kind = match type_byte {
            b'0' | b'7' => EntryKind::File,
            // Old (v7) archives mark directories only by a trailing slash.
            0 if raw_name.ends_with(b"/") => EntryKind::Dir,
            0 => EntryKind::File,
            b'5' => EntryKind::Dir,
            b'2' => EntryKind::Symlink(link),
            b'1' => EntryKind::Hardlink(link),
            b'3' => EntryKind::Other("character device".into()),
            b'4' => EntryKind::Other("block device".into()),
            b'6' => EntryKind::Other("fifo".into()),
            b'S' => EntryKind::Other("sparse file".into()),
            other => EntryKind::Other(format!("tar entry of type {:?}", other as char)),
        };
        let size = entry.size();
        let meta = EntryMeta {
            name: String::from_utf8_lossy(&raw_name).into_owned(),
            raw_name,
            kind,
            size,
            mode: header.mode().ok(),
            mtime: header.mtime().ok().and_then(|t| i64::try_from(t).ok()),
        };
        if meta.kind == EntryKind::File {
            ctx.check_declared(&meta.name, size)?;
            let mut content = Content {
                inner: &mut entry,
                ctx,
                name: &meta.name,
                read: 0,
                expect: Some(size),
            };
            visit(&meta, &mut content)?;
            ctx.check_fault()?;
            // Read what the visitor left, so that a short entry is noticed here.
            io::copy(&mut content, &mut io::sink()).map_err(|e| ctx.damaged_io(&e))?;
        } else {
            visit(&meta, &mut io::empty())?;
        }
    }
    if long_name.is_some() || long_link.is_some() || pax_path.is_some() || pax_link.is_some() {
        return Err(ctx.damaged("its last entry is missing after a long-name header"));
    }
    Ok(())
}

fn entry_size_hint(record: &tar::PaxExtension<'_>) -> String {
    String::from_utf8_lossy(record.value_bytes()).into_owned()
}

impl Ctx<'_> {
    /// The tar walk counts the header name in `admit`; a long name replacing it is checked for
    /// length only, so it is not counted twice as an entry.
    fn admit_name_only(&self, name: &[u8]) -> Result<()> {
        if name.len() > self.limits.max_name_bytes {
            return Err(self.too_big(&format!(
                "has an entry name longer than {} bytes",
                self.limits.max_name_bytes
            )));
        }
        let names = self.names.get() + name.len() as u64;
        self.names.set(names);
        if names > self.limits.max_names_total {
            return Err(self.too_big(&format!(
                "has more than {} bytes of entry names",
                self.limits.max_names_total
            )));
        }
        Ok(())
    }
}

fn read_small<R: Read>(ctx: &Ctx<'_>, entry: &mut R, cap: u64, what: &str) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    entry
        .take(cap + 1)
        .read_to_end(&mut data)
        .map_err(|e| ctx.damaged_io(&e))?;
    if data.len() as u64 > cap {
        return Err(ctx.too_big(&format!("has {what} longer than {cap} bytes")));
    }
    Ok(data)
}

fn trim_nuls(name: &mut Vec<u8>) {
    while name.last() == Some(&0) {
        name.pop();
    }
}

fn walk_zip<R: Read + Seek>(ctx: &Ctx<'_>, input: R, visit: &mut Visit<'_>) -> Result<()> {
    // The central directory is at the end, so zip needs Seek; the entries still come in order.
    let mut archive = zip::ZipArchive::new(input).map_err(|e| ctx.damaged(&e.to_string()))?;
    if archive.len() as u64 > ctx.limits.max_entries {
        return Err(ctx.too_big(&format!("has more than {} entries", ctx.limits.max_entries)));
    }
    for i in 0..archive.len() {
        let meta = {
            let entry = archive
                .by_index_data(i)
                .map_err(|e| ctx.damaged(&e.to_string()))?;
            let raw_name = entry.name_raw().to_vec();
            ctx.admit(&raw_name)?;
            let name = String::from_utf8_lossy(&raw_name).replace('\\', "/");
            let mode = entry.unix_mode();
            let kind = match mode.map(|m| m & 0o170000) {
                _ if name.ends_with('/') => EntryKind::Dir,
                Some(0o040000) => EntryKind::Dir,
                Some(0o120000) => EntryKind::Symlink(String::new()),
                Some(0o100000) | Some(0) | None => EntryKind::File,
                Some(0o020000) => EntryKind::Other("character device".into()),
                Some(0o060000) => EntryKind::Other("block device".into()),
                Some(0o010000) => EntryKind::Other("fifo".into()),
                Some(0o140000) => EntryKind::Other("socket".into()),
                Some(_) => EntryKind::Other("unknown file type".into()),
            };
            let kind = if entry.encrypted() && kind == EntryKind::File {
                EntryKind::Other("encrypted file".into())
            } else {
                kind
            };
            EntryMeta {
                raw_name,
                name,
                kind,
                size: entry.size(),
                mode,
                mtime: entry.last_modified().and_then(zip_time),
            }
        };
        match meta.kind {
            EntryKind::File => {
                ctx.check_declared(&meta.name, meta.size)?;
                let file = archive.by_index(i).map_err(|e| {
                    ctx.damaged(&format!("entry {} cannot be read ({e})", meta.name))
                })?;
                let mut content = Content {
                    inner: file,
                    ctx,
                    name: &meta.name,
                    read: 0,
                    expect: Some(meta.size),
                };
                visit(&meta, &mut content)?;
                ctx.check_fault()?;
            }
            EntryKind::Symlink(_) => {
                // A zip symlink stores its target as the entry's content.
                let cap = ctx.limits.max_name_bytes as u64;
                let target = {
                    let mut file = archive.by_index(i).map_err(|e| {
                        ctx.damaged(&format!("entry {} cannot be read ({e})", meta.name))
                    })?;
                    read_small(ctx, &mut file, cap, "a link target")?
                };
                let meta = EntryMeta {
                    kind: EntryKind::Symlink(String::from_utf8_lossy(&target).into_owned()),
                    ..meta
                };
                visit(&meta, &mut io::empty())?;
            }
            _ => visit(&meta, &mut io::empty())?,
        }
    }
    Ok(())
}

/// Zip times are local wall-clock times without a zone; taken as UTC, which is what we write.
fn zip_time(t: zip::DateTime) -> Option<i64> {
    let date = chrono::NaiveDate::from_ymd_opt(t.year().into(), t.month().into(), t.day().into())?;
    let time = date.and_hms_opt(t.hour().into(), t.minute().into(), t.second().into())?;
    Some(time.and_utc().timestamp())
}

fn walk_dir(ctx: &Ctx<'_>, dir: &Path, visit: &mut Visit<'_>) -> Result<()> {
    // Given the top directory itself (it holds SHA256SUMS or index.json), name entries after it,
    // so that they look as they would in the archive; otherwise the top directory is inside.
    let is_top = dir.join("SHA256SUMS").exists() || dir.join("index.json").exists();
    let prefix = match (
        is_top,
        dir.canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_owned())),
    ) {
        (true, Some(name)) => Some(name),
        _ => None,
    };
    if let Some(top) = &prefix {
        let raw_name = top.as_encoded_bytes().to_vec();
        ctx.admit(&raw_name)?;
        let meta = EntryMeta {
            name: String::from_utf8_lossy(&raw_name).into_owned(),
            raw_name,
            kind: EntryKind::Dir,
            size: 0,
            mode: None,
            mtime: None,
        };
        visit(&meta, &mut io::empty())?;
    }
    let walker = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for item in walker {
        let item = item.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            match e.io_error() {
                Some(io) => Error::io(
                    "read bundle directory",
                    &path,
                    io,
                    "check that you may read it",
                ),
                None => Error::failed(format!(
                    "cannot read bundle directory {}: {e}",
                    path.display()
                )),
            }
        })?;
        let rel = item.path().strip_prefix(dir).unwrap_or(item.path());
        let mut raw_name = Vec::new();
        if let Some(top) = &prefix {
            raw_name.extend_from_slice(top.as_encoded_bytes());
            raw_name.push(b'/');
        }
        for (i, part) in rel.iter().enumerate() {
            if i > 0 {
                raw_name.push(b'/');
            }
            raw_name.extend_from_slice(part.as_encoded_bytes());
        }
        ctx.admit(&raw_name)?;
        let path = item.path();
        let md = std::fs::symlink_metadata(path)
            .map_err(|e| Error::io("read", path, &e, "check that you may read it"))?;
        let kind = if md.file_type().is_symlink() {
            let target = std::fs::read_link(path).unwrap_or_default();
            EntryKind::Symlink(target.to_string_lossy().into_owned())
        } else if md.is_dir() {
            EntryKind::Dir
        } else if md.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other("special file".into())
        };
        let meta = EntryMeta {
            name: String::from_utf8_lossy(&raw_name).into_owned(),
            raw_name,
            kind,
            size: md.len(),
            mode: crate::platform::file_mode(&md),
            mtime: md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok()),
        };
        if meta.kind == EntryKind::File {
            let file = open_regular(path)
                .map_err(|e| Error::io("read", path, &e, "check that you may read it"))?;
            let mut content = Content {
                inner: file,
                ctx,
                name: &meta.name,
                read: 0,
                // A file on disk may change while it is read; only the limits apply.
                expect: None,
            };
            visit(&meta, &mut content)?;
            ctx.check_fault()?;
        } else {
            visit(&meta, &mut io::empty())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testkit::*;

    fn both_modes(bytes: &[u8]) -> Vec<Result<Vec<crate::archive::testkit::ReadBack>>> {
        [false, true]
            .iter()
            .map(|&background| {
                let mut reader = BundleReader::from_bytes(bytes.to_vec())?;
                reader.set_background(background);
                read_all(&mut reader)
            })
            .collect()
    }

    fn sample() -> Vec<Ent> {
        vec![
            dir(&format!("{TOP}/")),
            file(&format!("{TOP}/a.txt"), b"alpha"),
            file(&format!("{TOP}/files/etc/hosts"), b"127.0.0.1 localhost\n"),
            ent(
                format!("{TOP}/link").as_bytes(),
                Kind::Symlink("/etc/passwd".into()),
            ),
        ]
    }

    #[test]
    fn reads_tgz_zip_and_tar_alike_in_both_modes() {
        for bytes in [tgz(&sample()), zip(&sample()), tar(&sample())] {
            for result in both_modes(&bytes) {
                let got = result.unwrap();
                assert_eq!(got.len(), 4);
                assert_eq!(got[0].1, EntryKind::Dir);
                assert_eq!(
                    got[1],
                    (format!("{TOP}/a.txt"), EntryKind::File, b"alpha".to_vec())
                );
                assert_eq!(got[2].2, b"127.0.0.1 localhost\n");
                assert_eq!(got[3].1, EntryKind::Symlink("/etc/passwd".into()));
            }
        }
    }

    #[test]
    fn recognises_the_container_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.tgz");
        std::fs::write(&path, zip(&sample())).unwrap();
        assert_eq!(BundleReader::open(&path).unwrap().format(), Format::Zip);
    }

    #[test]
    fn our_parallel_members_read_alike_with_one_or_many_decoders() {
        use crate::archive::pgzip::ParallelGz;
        use std::io::Write;
        let big: Vec<u8> = (0..3_500_000u32)
            .map(|i| b"drbd r0: conn\n"[(i % 14) as usize])
            .collect();
        let entries = vec![
            file(&format!("{TOP}/big.log"), &big),
            file(&format!("{TOP}/a.txt"), b"alpha"),
        ];
        let mut gz = ParallelGz::new(Vec::new(), 6, 2);
        gz.write_all(&tar(&entries)).unwrap();
        let bytes = gz.finish().unwrap();
        let mut damaged = bytes.clone();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0x40;
        for decoders in [1, 3] {
            for background in [false, true] {
                let read = |bytes: &[u8]| {
                    let mut reader = BundleReader::from_bytes(bytes.to_vec()).unwrap();
                    reader.set_background(background);
                    reader.set_decoders(decoders);
                    read_all(&mut reader)
                };
                let got = read(&bytes).unwrap();
                assert_eq!(got[0].2, big, "{decoders} decoders");
                assert_eq!(got[1].2, b"alpha");
                let err = read(&damaged).unwrap_err();
                assert!(err.message().contains("damaged"), "{}", err.message());
            }
        }
    }

    #[test]
    fn reads_multi_member_gzip() {
        let tar = tar(&sample());
        let (a, b) = tar.split_at(700);
        let mut bytes = gzip(a);
        bytes.extend(gzip(b));
        for result in both_modes(&bytes) {
            assert_eq!(result.unwrap()[1].2, b"alpha");
        }
    }

    #[test]
    fn garbage_and_empty_input_are_clear_errors() {
        let err = BundleReader::from_bytes(b"hello, this is not a bundle".to_vec())
            .err()
            .unwrap();
        assert!(err.message().contains("is not a bundle"), "{err}");
        let err = BundleReader::from_bytes(Vec::new()).err().unwrap();
        assert!(err.message().contains("is empty"), "{err}");
        // Right magic, garbage after it.
        let mut bytes = vec![0x1f, 0x8b];
        bytes.extend(std::iter::repeat_n(0xAB, 2000));
        for result in both_modes(&bytes) {
            let err = result.unwrap_err();
            assert!(err.message().contains("is damaged"), "{err}");
        }
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(std::iter::repeat_n(0xAB, 2000));
        for result in both_modes(&bytes) {
            assert!(result.unwrap_err().message().contains("is damaged"));
        }
    }

    #[test]
    fn truncated_gzip_and_zip_are_damage_not_short_files() {
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let entries = vec![dir(&format!("{TOP}/")), file(&format!("{TOP}/big"), &big)];
        for bytes in [tgz(&entries), zip(&entries)] {
            for cut in [bytes.len() / 2, bytes.len() - 3] {
                for result in both_modes(&bytes[..cut]) {
                    let err = result.unwrap_err();
                    assert!(err.message().contains("is damaged"), "{err}");
                }
            }
        }
    }

    /// A tar cut inside an entry but compressed intact: the gzip layer cannot notice, the entry's
    /// declared size does.
    #[test]
    fn tar_cut_inside_an_entry_is_damage() {
        let tar = tar(&[file(&format!("{TOP}/big"), &[5u8; 5000])]);
        for bytes in [gzip(&tar[..3000]), tar[..3000].to_vec()] {
            for result in both_modes(&bytes) {
                let err = result.unwrap_err();
                assert!(err.message().contains("ends after"), "{err}");
            }
        }
    }

    #[test]
    fn a_visitor_ignoring_a_failed_read_still_gets_the_error() {
        let big: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let bytes = tgz(&[file(&format!("{TOP}/big"), &big)]);
        let cut = &bytes[..bytes.len() / 2];
        for background in [false, true] {
            let mut reader = BundleReader::from_bytes(cut.to_vec()).unwrap();
            reader.set_background(background);
            let result = reader.for_each(&mut |_, content| {
                let _ = content.read_to_end(&mut Vec::new());
                Ok(())
            });
            assert!(result.unwrap_err().message().contains("is damaged"));
        }
    }

    #[test]
    fn unread_content_is_skipped() {
        for background in [false, true] {
            let mut reader = BundleReader::from_bytes(tgz(&sample())).unwrap();
            reader.set_background(background);
            let mut names = Vec::new();
            reader
                .for_each(&mut |meta, _| {
                    names.push(meta.name.clone());
                    Ok(())
                })
                .unwrap();
            assert_eq!(names.len(), 4);
        }
    }

    /// A gzip bomb: a tar header claiming 1 GiB, then the same gzip member of 1 MiB of zeros
    /// repeated (multi-member gzip), so it is built in milliseconds; the reader stops at the cap.
    #[test]
    fn gzip_bomb_stops_at_the_cap() {
        let mut header = tar::Header::new_gnu();
        header.set_path(format!("{TOP}/zeros")).unwrap();
        header.set_size(1 << 30);
        header.set_mode(0o644);
        header.set_cksum();
        let mut bytes = gzip(header.as_bytes());
        let member = gzip(&vec![0u8; 1 << 20]);
        for _ in 0..8 {
            bytes.extend_from_slice(&member);
        }
        assert!(bytes.len() < 1024 * 1024, "{}", bytes.len());
        for (total, entry) in [(2 << 20, 1 << 40), (1 << 40, 2 << 20)] {
            for background in [false, true] {
                let mut reader = BundleReader::from_bytes(bytes.clone()).unwrap();
                reader.set_background(background);
                reader.set_limits(Limits {
                    max_total_bytes: total,
                    max_entry_bytes: entry,
                    ..Limits::default()
                });
                let err = read_all(&mut reader).unwrap_err();
                assert!(err.message().contains("decompression bomb"), "{err}");
            }
        }
        // The declared size alone is refused before any decompression.
        let mut reader = BundleReader::from_bytes(bytes).unwrap();
        reader.set_limits(Limits {
            max_entry_bytes: 1 << 29,
            ..Limits::default()
        });
        let err = read_all(&mut reader).unwrap_err();
        assert!(err.message().contains("limit per entry"), "{err}");
    }

    /// Rewrites the declared uncompressed size of every zip entry (local and central headers).
    fn lie_about_zip_sizes(bytes: &mut [u8], size: u32) {
        let mut i = 0;
        while i + 30 < bytes.len() {
            if bytes[i..].starts_with(b"PK\x03\x04") {
                bytes[i + 22..i + 26].copy_from_slice(&size.to_le_bytes());
            } else if bytes[i..].starts_with(b"PK\x01\x02") {
                bytes[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
            }
            i += 1;
        }
    }

    #[test]
    fn zip_entry_claiming_a_huge_size_is_refused() {
        let mut bytes = zip(&[file(&format!("{TOP}/a"), b"small")]);
        lie_about_zip_sizes(&mut bytes, 0xFFFF_FFF0);
        let mut reader = BundleReader::from_bytes(bytes).unwrap();
        reader.set_limits(Limits {
            max_entry_bytes: 1 << 30,
            ..Limits::default()
        });
        let err = read_all(&mut reader).unwrap_err();
        assert!(err.message().contains("limit per entry"), "{err}");
    }

    #[test]
    fn zip_entry_larger_than_declared_is_damage() {
        let mut bytes = zip(&[file(&format!("{TOP}/a"), &[7u8; 10_000])]);
        lie_about_zip_sizes(&mut bytes, 100);
        for result in both_modes(&bytes) {
            assert!(result.unwrap_err().message().contains("is damaged"));
        }
    }

    #[test]
    fn entry_count_and_name_length_are_capped() {
        let many: Vec<Ent> = (0..20)
            .map(|i| file(&format!("{TOP}/f{i}"), b"x"))
            .collect();
        let mut reader = BundleReader::from_bytes(tgz(&many)).unwrap();
        reader.set_limits(Limits {
            max_entries: 10,
            ..Limits::default()
        });
        assert!(read_all(&mut reader)
            .unwrap_err()
            .message()
            .contains("more than 10 entries"));

        let long = format!("{TOP}/{}", "n".repeat(300));
        let mut reader = BundleReader::from_bytes(zip(&[file(&long, b"x")])).unwrap();
        reader.set_limits(Limits {
            max_name_bytes: 100,
            ..Limits::default()
        });
        assert!(read_all(&mut reader)
            .unwrap_err()
            .message()
            .contains("name longer"));
    }

    #[test]
    fn gnu_long_names_are_read_within_the_name_cap() {
        let long = format!("{TOP}/{}/file", "d".repeat(150));
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, &long, &b"abc"[..])
            .unwrap();
        let bytes = gzip(&builder.into_inner().unwrap());
        let got = read_all(&mut BundleReader::from_bytes(bytes.clone()).unwrap()).unwrap();
        assert_eq!(got, vec![(long, EntryKind::File, b"abc".to_vec())]);
        let mut reader = BundleReader::from_bytes(bytes).unwrap();
        reader.set_limits(Limits {
            max_name_bytes: 120,
            ..Limits::default()
        });
        assert!(read_all(&mut reader).is_err());
    }

    #[test]
    fn pax_path_names_the_next_entry_and_a_pax_size_is_refused() {
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_pax_extensions([("path", &b"t/from-pax"[..])])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_path("t/short").unwrap();
        h.set_size(2);
        h.set_cksum();
        builder.append(&h, &b"ok"[..]).unwrap();
        let bytes = gzip(&builder.into_inner().unwrap());
        for result in both_modes(&bytes) {
            let got = result.unwrap();
            assert_eq!(
                got,
                vec![("t/from-pax".into(), EntryKind::File, b"ok".to_vec())]
            );
        }

        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_pax_extensions([("size", &b"99999"[..])])
            .unwrap();
        builder.append(&h, &b"ok"[..]).unwrap();
        let bytes = gzip(&builder.into_inner().unwrap());
        let err = read_all(&mut BundleReader::from_bytes(bytes).unwrap()).unwrap_err();
        assert!(err.message().contains("PAX size"), "{err}");
    }

    #[test]
    fn reads_a_directory_bundle_given_the_top_or_its_parent() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join(TOP);
        std::fs::create_dir_all(top.join("files/etc")).unwrap();
        std::fs::write(top.join("index.json"), b"{}").unwrap();
        std::fs::write(top.join("files/etc/hosts"), b"h").unwrap();
        for path in [tmp.path(), top.as_path()] {
            let got = read_all(&mut BundleReader::open(path).unwrap()).unwrap();
            let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
            assert_eq!(
                names,
                [
                    TOP.to_string(),
                    format!("{TOP}/files"),
                    format!("{TOP}/files/etc"),
                    format!("{TOP}/files/etc/hosts"),
                    format!("{TOP}/index.json"),
                ]
            );
            assert_eq!(got[3].2, b"h");
        }
    }

    #[test]
    fn open_names_the_missing_file() {
        let err = BundleReader::open(Path::new("/nonexistent/b.tgz"))
            .err()
            .unwrap();
        assert!(err.message().contains("/nonexistent/b.tgz"), "{err}");
    }
}
