//! Parallel gzip: the stream is cut into blocks that are compressed on every core at once, each
//! block becoming one gzip member. A sequence of members is one standard gzip file (RFC 1952
//! §2.2): `gzip -t`, `tar xzf`, `zcat` and Python's tarfile read it as one stream. Blocks are
//! large (1 MiB), so losing the 32 KiB of history at each boundary costs well under 1 % of size.
//!
//! Memory is bounded: at most two blocks per worker are in flight.
use flate2::write::GzEncoder;
use flate2::Compression;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

pub const BLOCK: usize = 1 << 20;

type Job = (u64, Vec<u8>);
type Done = (u64, io::Result<Vec<u8>>);

pub struct ParallelGz<W: Write> {
    /// `None` only once `finish` has handed it back.
    inner: Option<W>,
    level: u32,
    block: Vec<u8>,
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
                    let Ok((seq, data)) = job else { break };
                    let compressed = compress(&data, level);
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
            let empty = compress(&[], self.level)?;
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
        jobs.send((self.next_seq, data))
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

fn compress(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(data.len() / 3 + 64),
        Compression::new(level),
    );
    encoder.write_all(data)?;
    encoder.finish()
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
