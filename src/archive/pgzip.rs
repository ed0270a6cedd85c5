//! Parallel gzip: the stream is cut into blocks that are compressed on every core at once, each
//! block becoming one gzip member. A sequence of members is one standard gzip file (RFC 1952
//! §2.2): `gzip -t`, `tar xzf`, `zcat` and Python's tarfile read it as one stream. Blocks are
//! large (1 MiB), so losing the 32 KiB of history at each boundary costs well under 1 % of size.
//!
//! Each member's header records the member's length (see `pgunzip`), so a reader can find the
//! members without decoding and inflate them on every core; other gzip readers skip the field.
//!
//! Memory is bounded: at most two blocks per worker are in flight.
use super::pgunzip;
use flate2::Crc;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

pub const BLOCK: usize = 1 << 20;

type Job = (u64, Vec<u8>, Content);

/// What a block mostly holds, which sets how hard the matcher looks (level 6 only): logs repeat
/// so much that a short hash chain finds nearly every match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Log,
    Other,
}
type Done = (u64, io::Result<Vec<u8>>);

pub struct ParallelGz<W: Write> {
    /// `None` only once `finish` has handed it back.
    inner: Option<W>,
    level: u32,
    block: Vec<u8>,
    /// What the bytes being written are (set by the writer per entry).
    content: Content,
    jobs: Option<SyncSender<Job>>,
    results: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    next_seq: u64,
    next_to_write: u64,
    ready: BTreeMap<u64, Vec<u8>>,
    in_flight: usize,
    max_in_flight: usize,
    /// Compressed bytes handed to `inner` so far.
    written: u64,
    /// Spare buffers, so blocks are not reallocated.
    spare: Vec<Vec<u8>>,
}

impl<W: Write> ParallelGz<W> {
    /// `threads` compressors (at least one) at gzip `level`.
    pub fn new(inner: W, level: u32, threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(threads * 2);
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (done_tx, results) = mpsc::channel::<Done>();
        let workers = (0..threads)
            .map(|_| {
                let job_rx = std::sync::Arc::clone(&job_rx);
                let done_tx = done_tx.clone();
                thread::spawn(move || loop {
                    let job = job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((seq, data, content)) = job else { break };
                    let compressed = compress(&data, level, content);
                    if done_tx.send((seq, compressed)).is_err() {
                        break;
                    }
                })
            })
            .collect();
        ParallelGz {
            inner: Some(inner),
            level,
            block: Vec::with_capacity(BLOCK),
            content: Content::Other,
            jobs: Some(jobs),
            results,
            workers,
            next_seq: 0,
            next_to_write: 0,
            ready: BTreeMap::new(),
            in_flight: 0,
            max_in_flight: threads * 2,
            written: 0,
            spare: Vec::new(),
        }
    }

    /// What the bytes written from now on are; a block takes the kind in force when it is full.
    pub fn set_content(&mut self, content: Content) {
        self.content = content;
    }

    /// Compressed bytes written to the inner writer so far (after `sync`, everything given).
    pub fn compressed_len(&self) -> u64 {
        self.written
    }

    /// Compresses and writes everything given so far, ending the current gzip member: after it,
    /// the inner stream may be cut at `compressed_len()` and still be a valid gzip prefix.
    pub fn sync(&mut self) -> io::Result<()> {
        self.submit()?;
        while self.in_flight > 0 {
            self.receive_one()?;
        }
        self.out()?.flush()
    }

    fn out(&mut self) -> io::Result<&mut W> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::other("compressor already finished"))
    }

    /// Forgets what was written after a `sync` that returned `at`, once the caller has cut the
    /// inner stream back there.
    pub fn rewound(&mut self, at: u64) {
        self.written = at;
    }

    pub fn get_ref(&self) -> Option<&W> {
        self.inner.as_ref()
    }

    pub fn get_mut(&mut self) -> Option<&mut W> {
        self.inner.as_mut()
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.sync()?;
        if self.written == 0 {
            // An empty stream is still one (empty) gzip member.
            let empty = compress(&[], self.level, Content::Other)?;
            self.out()?.write_all(&empty)?;
        }
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        let mut inner = self
            .inner
            .take()
            .ok_or_else(|| io::Error::other("compressor already finished"))?;
        inner.flush()?;
        Ok(inner)
    }

    fn submit(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        while self.in_flight >= self.max_in_flight {
            self.receive_one()?;
        }
        let fresh = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BLOCK));
        let data = std::mem::replace(&mut self.block, fresh);
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("compressor already finished"))?;
        jobs.send((self.next_seq, data, self.content))
            .map_err(|_| io::Error::other("a compression thread stopped"))?;
        self.next_seq += 1;
        self.in_flight += 1;
        Ok(())
    }

    fn receive_one(&mut self) -> io::Result<()> {
        let (seq, result) = self
            .results
            .recv()
            .map_err(|_| io::Error::other("a compression thread stopped"))?;
        self.in_flight -= 1;
        self.ready.insert(seq, result?);
        while let Some(data) = self.ready.remove(&self.next_to_write) {
            self.out()?.write_all(&data)?;
            self.written += data.len() as u64;
            self.next_to_write += 1;
            if self.spare.len() < 2 {
                let mut data = data;
                data.clear();
                self.spare.push(data);
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Flushing does not end a member (that would cost compression); `sync` does.
        Ok(())
    }
}

impl<W: Write> Drop for ParallelGz<W> {
    fn drop(&mut self) {
        self.jobs = None;
    }
}

/// One gzip member holding `data`, its header recording the member's length.
fn compress(data: &[u8], level: u32, content: Content) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    out.extend_from_slice(&[0; pgunzip::HEADER_LEN]);
    deflate(data, level, content, &mut out)?;
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let len = u32::try_from(out.len())
        .map_err(|_| io::Error::other("a compression block is larger than 4 GiB"))?;
    out[..pgunzip::HEADER_LEN].copy_from_slice(&pgunzip::header(len));
    Ok(out)
}

/// Appends `data` as one raw deflate stream. At level 6, zlib-rs (like zlib-ng) uses its
/// "medium" matcher, 3.6 % larger than zlib's level 6 on logs; its lazy matcher (level 7 and up)
/// given zlib's own level-6 parameters with a shorter hash chain is still smaller than zlib's
/// level 6 (so than pigz's) and takes less CPU than the medium one; logs get the shorter chain.
/// Figures, on synthetic and real logs and on other text: bench/README.md. flate2 cannot tune a
/// stream, so this goes to zlib-rs (the backend flate2 uses here) directly.
fn deflate(data: &[u8], level: u32, content: Content, out: &mut Vec<u8>) -> io::Result<()> {
    use zlib_rs::c_api::z_stream;
    use zlib_rs::deflate::{self as z, DeflateConfig, DeflateStream};
    use zlib_rs::{DeflateFlush, ReturnCode};
    let failed = |what: &str| io::Error::other(format!("deflate failed: {what}"));
    let avail_in = u32::try_from(data.len()).map_err(|_| failed("block too large"))?;
    let start = out.len();
    let bound = zlib_rs::compress_bound(data.len());
    let avail_out = u32::try_from(bound).map_err(|_| failed("block too large"))?;
    out.resize(start + bound, 0);
    // (good, lazy, nice, chain): zlib's level 6 (what `gzip -6` and `pigz -6` use) is
    // (8, 16, 128, 128). Half the chain stays below pigz's size on any text measured; logs
    // afford a quarter (0.3-1.0 % below pigz's, 17 % less CPU than half).
    const LEVEL_6: (usize, usize, usize, usize) = (8, 16, 128, 64);
    const LEVEL_6_LOGS: (usize, usize, usize, usize) = (8, 16, 128, 32);
    let lazy = level == 6;
    let mut config = DeflateConfig::new(if lazy { 7 } else { level as i32 });
    config.window_bits = -15; // raw deflate: the gzip header and trailer are ours
    let mut stream = z_stream::default();
    if z::init(&mut stream, config) != ReturnCode::Ok {
        return Err(failed("no memory"));
    }
    stream.next_in = data.as_ptr().cast_mut();
    stream.avail_in = avail_in;
    stream.next_out = out[start..].as_mut_ptr();
    stream.avail_out = avail_out;
    // SAFETY: `init` succeeded, so the stream's state is set up; the input and output pointers
    // cover `data` and the `bound` bytes reserved after `start`, both alive until `end`.
    let Some(deflater) = (unsafe { DeflateStream::from_stream_mut(&mut stream) }) else {
        return Err(failed("no stream"));
    };
    if lazy {
        let (good, lazy_match, nice, chain) = match content {
            Content::Log => LEVEL_6_LOGS,
            Content::Other => LEVEL_6,
        };
        z::tune(deflater, good, lazy_match, nice, chain);
    }
    // The output has room for the worst case, so one call finishes the stream.
    let done = z::deflate(deflater, DeflateFlush::Finish);
    let _ = z::end(deflater);
    if done != ReturnCode::StreamEnd {
        return Err(failed("the stream did not end"));
    }
    out.truncate(start + stream.total_out as usize);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn many_blocks_decompress_to_the_input_in_order() {
        let input: Vec<u8> = (0..(5 * BLOCK + 12345)).map(|i| (i % 251) as u8).collect();
        let mut gz = ParallelGz::new(Vec::new(), 6, 3);
        for chunk in input.chunks(7777) {
            gz.write_all(chunk).unwrap();
        }
        let out = gz.finish().unwrap();
        assert_eq!(gunzip(&out), input);
    }

    /// Logs get the shorter hash chain: a different (here larger) member for the same bytes,
    /// and both decode to the input.
    #[test]
    fn logs_are_compressed_with_less_effort_and_still_decode() {
        let mut text = Vec::new();
        let mut state = 12345u32;
        while text.len() < BLOCK {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let words = [
                "drbd r0: conn(",
                "sshd[",
                "Accepted publickey for",
                "node",
                "peer(",
            ];
            let pick = (state >> 16) as usize;
            text.extend_from_slice(
                format!(
                    "Dec  2 07:{:02}:{:02} {} {} {}\n",
                    pick % 60,
                    (pick / 60) % 60,
                    words[pick % words.len()],
                    words[(pick / 7) % words.len()],
                    pick % 1000
                )
                .as_bytes(),
            );
        }
        let log = compress(&text, 6, Content::Log).unwrap();
        let other = compress(&text, 6, Content::Other).unwrap();
        assert_ne!(log, other);
        assert_eq!(gunzip(&log), text);
        assert_eq!(gunzip(&other), text);
    }

    #[test]
    fn an_empty_stream_is_valid_gzip() {
        let out = ParallelGz::new(Vec::new(), 6, 2).finish().unwrap();
        assert!(gunzip(&out).is_empty());
        assert_eq!(&out[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn a_synced_prefix_can_be_cut_and_continued() {
        let mut gz = ParallelGz::new(Vec::new(), 6, 2);
        gz.write_all(b"kept\n").unwrap();
        gz.sync().unwrap();
        let at = gz.compressed_len();
        gz.write_all(b"thrown away\n").unwrap();
        gz.sync().unwrap();
        gz.get_mut().unwrap().truncate(at as usize);
        gz.rewound(at);
        gz.write_all(b"instead\n").unwrap();
        let out = gz.finish().unwrap();
        assert_eq!(gunzip(&out), b"kept\ninstead\n");
    }
}
