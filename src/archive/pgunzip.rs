//! Parallel gunzip: the members our writer makes (`pgzip`) say their own length in the gzip
//! header (an `FEXTRA` subfield, RFC 1952 §2.3.1.1), so one thread can cut the compressed stream
//! into members without decoding it and workers on every core inflate them at once; the results
//! come back in order. Anything else — a bundle made by `tar czf` (one member), by an older
//! drx-collect (members without the subfield), or damaged — is read from that point on by one
//! `MultiGzDecoder`, exactly as before.
//!
//! The input is untrusted, so everything is bounded: a member whose header declares more than
//! `MAX_MEMBER_IN` bytes is left to the serial decoder, a member may expand to at most
//! `MAX_MEMBER_OUT` bytes, and at most two members per worker are in flight. A member is checked
//! whole before its bytes are handed out: the deflate stream must end exactly where the header
//! said, and its CRC-32 and length must match the trailer.
use flate2::read::MultiGzDecoder;
use flate2::{Crc, Decompress, FlushDecompress, Status};
use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The `FEXTRA` subfield ID (SI1, SI2) of a member that records its own length.
pub const SUBFIELD: [u8; 2] = *b"DX";
/// The fixed header our writer puts before each member's deflate data: ID1 ID2 CM FLG(FEXTRA)
/// MTIME(4) XFL OS, XLEN = 8, then the subfield SI1 SI2 LEN = 4 and the member's length in bytes
/// (header, deflate data and trailer), little-endian.
pub const HEADER_LEN: usize = 20;
const TRAILER_LEN: usize = 8;
/// A member our writer makes holds 1 MiB (`pgzip::BLOCK`); these leave room to change that
/// without letting a hostile header make a worker allocate much.
pub const MAX_MEMBER_OUT: usize = 4 << 20;
const MAX_MEMBER_IN: usize = MAX_MEMBER_OUT + (64 << 10);

/// The header of a member of `len` bytes.
pub fn header(len: u32) -> [u8; HEADER_LEN] {
    let mut head = [0u8; HEADER_LEN];
    head[..4].copy_from_slice(&[0x1f, 0x8b, 8, 4]);
    // MTIME 0 (none), XFL 0, OS 255 (unknown), as flate2's encoder wrote before.
    head[9] = 255;
    head[10..12].copy_from_slice(&8u16.to_le_bytes());
    head[12..14].copy_from_slice(&SUBFIELD);
    head[14..16].copy_from_slice(&4u16.to_le_bytes());
    head[16..20].copy_from_slice(&len.to_le_bytes());
    head
}

/// The member length a header of ours declares, or `None` when it is not one of ours.
fn declared_len(head: &[u8]) -> Option<usize> {
    if head.len() < HEADER_LEN
        || head[..4] != [0x1f, 0x8b, 8, 4]
        || head[10..16] != [8, 0, SUBFIELD[0], SUBFIELD[1], 4, 0]
    {
        return None;
    }
    let len = u32::from_le_bytes([head[16], head[17], head[18], head[19]]) as usize;
    // The shortest deflate stream is 2 bytes (an empty fixed block).
    (HEADER_LEN + 2 + TRAILER_LEN..=MAX_MEMBER_IN)
        .contains(&len)
        .then_some(len)
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Inflates one whole member of ours (header included), checking it against its trailer.
/// `out` is a spare buffer to reuse.
pub fn inflate_member(member: &[u8], mut out: Vec<u8>) -> io::Result<Vec<u8>> {
    let n = member.len();
    if n < HEADER_LEN + TRAILER_LEN {
        return Err(corrupt("a gzip member is cut short"));
    }
    let body = &member[HEADER_LEN..n - TRAILER_LEN];
    let trailer = &member[n - TRAILER_LEN..];
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]) as usize;
    if size > MAX_MEMBER_OUT {
        return Err(corrupt("a gzip member declares more than 4 MiB of content"));
    }
    out.clear();
    // One byte more than declared, so that content longer than the trailer says is caught.
    out.reserve_exact(size + 1);
    let mut inflater = Decompress::new(false);
    let status = inflater
        .decompress_vec(body, &mut out, FlushDecompress::Finish)
        .map_err(|_| corrupt("corrupt deflate stream"))?;
    if status != Status::StreamEnd || inflater.total_in() != body.len() as u64 {
        return Err(corrupt("corrupt deflate stream"));
    }
    let mut check = Crc::new();
    check.update(&out);
    if out.len() != size || check.sum() != crc {
        return Err(corrupt(
            "corrupt gzip stream does not have a matching checksum",
        ));
    }
    Ok(out)
}

type Reply = io::Result<Vec<u8>>;
type Job = (Vec<u8>, Vec<u8>, SyncSender<Reply>);

struct Pool {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn spawn(threads: usize) -> io::Result<Pool> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut pool = Pool {
            jobs: Some(jobs),
            workers: Vec::new(),
        };
        for _ in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let worker = std::thread::Builder::new()
                .name("gunzip".into())
                .spawn(move || loop {
                    let job = job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((member, spare, reply)) = job else {
                        break;
                    };
                    // The reader may have stopped early: nobody waits for the result then.
                    let _ = reply.send(inflate_member(&member, spare));
                })?;
            pool.workers.push(worker);
        }
        Ok(pool)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// What the next bytes of the input are.
enum Next {
    /// A whole member of ours.
    Member(Vec<u8>),
    /// Anything else; the bytes already read, to be decoded serially with the rest.
    Other(Vec<u8>),
}

/// Decompresses a gzip stream (one or more members), in parallel where the members are ours.
pub struct Gunzip<R: Read> {
    input: Option<R>,
    threads: usize,
    pool: Option<Pool>,
    /// The first member of ours, held back until a second one shows that workers pay
    /// (a bundle of one member is inflated where it is read).
    held: Option<Vec<u8>>,
    queue: VecDeque<Receiver<Reply>>,
    /// What follows the parallel part, if anything: decoded serially once the queue is empty.
    rest: Option<Vec<u8>>,
    serial: Option<MultiGzDecoder<io::Chain<io::Cursor<Vec<u8>>, R>>>,
    out: Vec<u8>,
    pos: usize,
    spare: Vec<Vec<u8>>,
    /// A member of ours was read: the input may end cleanly after one.
    seen: bool,
    ended: bool,
}

impl<R: Read> Gunzip<R> {
    /// `threads` inflating workers; with fewer than two everything is decoded serially.
    pub fn new(input: R, threads: usize) -> Gunzip<R> {
        let mut gunzip = Gunzip {
            input: Some(input),
            threads,
            pool: None,
            held: None,
            queue: VecDeque::new(),
            rest: None,
            serial: None,
            out: Vec::new(),
            pos: 0,
            spare: Vec::new(),
            seen: false,
            ended: false,
        };
        if threads < 2 {
            gunzip.rest = Some(Vec::new());
        }
        gunzip
    }

    fn next(&mut self) -> io::Result<Option<Next>> {
        let Some(input) = self.input.as_mut() else {
            return Ok(None);
        };
        let mut head = vec![0u8; HEADER_LEN];
        let got = read_full(input, &mut head)?;
        if got == 0 && self.seen {
            return Ok(None);
        }
        head.truncate(got);
        let Some(len) = declared_len(&head) else {
            return Ok(Some(Next::Other(head)));
        };
        head.resize(len, 0);
        let got = read_full(input, &mut head[HEADER_LEN..])?;
        if got < len - HEADER_LEN {
            head.truncate(HEADER_LEN + got);
            return Ok(Some(Next::Other(head)));
        }
        self.seen = true;
        Ok(Some(Next::Member(head)))
    }

    fn dispatch(&mut self, member: Vec<u8>) -> io::Result<()> {
        let (reply, rx) = mpsc::sync_channel(1);
        let spare = self.spare.pop().unwrap_or_default();
        match &self.pool {
            Some(pool) => {
                let jobs = pool
                    .jobs
                    .as_ref()
                    .ok_or_else(|| io::Error::other("the gunzip workers stopped"))?;
                jobs.send((member, spare, reply))
                    .map_err(|_| io::Error::other("the gunzip workers stopped"))?;
            }
            // No thread could be started: inflate here.
            None => {
                let _ = reply.send(inflate_member(&member, spare));
            }
        }
        self.queue.push_back(rx);
        Ok(())
    }

    /// Reads members ahead until `threads * 2` are in flight or the input is not ours any more.
    fn fill(&mut self) -> io::Result<()> {
        while self.rest.is_none() && !self.ended && self.queue.len() < self.threads * 2 {
            match self.next()? {
                None => {
                    self.ended = true;
                    if let Some(member) = self.held.take() {
                        self.dispatch(member)?;
                    }
                }
                Some(Next::Other(bytes)) => {
                    if let Some(member) = self.held.take() {
                        self.dispatch(member)?;
                    }
                    self.rest = Some(bytes);
                }
                Some(Next::Member(member)) => {
                    if self.pool.is_none() && self.held.is_none() {
                        self.held = Some(member);
                        continue;
                    }
                    if self.pool.is_none() {
                        // If threads cannot be started, `dispatch` inflates in place.
                        self.pool = Pool::spawn(self.threads).ok();
                        if let Some(first) = self.held.take() {
                            self.dispatch(first)?;
                        }
                    }
                    self.dispatch(member)?;
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if let Some(serial) = self.serial.as_mut() {
                return serial.read(buf);
            }
            self.fill()?;
            if let Some(rx) = self.queue.pop_front() {
                let data = rx
                    .recv()
                    .map_err(|_| io::Error::other("a gunzip worker stopped"))??;
                let spent = std::mem::replace(&mut self.out, data);
                self.pos = 0;
                if self.spare.len() < 2 {
                    self.spare.push(spent);
                }
                continue;
            }
            match (self.rest.take(), self.input.take()) {
                (Some(bytes), Some(input)) => {
                    self.pool = None;
                    self.spare.clear();
                    self.out = Vec::new();
                    self.serial = Some(MultiGzDecoder::new(io::Cursor::new(bytes).chain(input)));
                }
                _ => return Ok(0),
            }
        }
    }
}

/// Reads until `buf` is full or the input ends; the count read.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::pgzip::{ParallelGz, BLOCK};
    use std::io::Write;

    fn ours(input: &[u8]) -> Vec<u8> {
        let mut gz = ParallelGz::new(Vec::new(), 6, 2);
        gz.write_all(input).unwrap();
        gz.finish().unwrap()
    }

    fn foreign(input: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(input).unwrap();
        gz.finish().unwrap()
    }

    fn text(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| {
                b"kernel: drbd r0: conn( Connected -> Disconnecting )\n"[i % 52] ^ (i / 7919) as u8
            })
            .collect()
    }

    fn gunzip(data: &[u8], threads: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // Small reads, so member boundaries fall inside reads.
        let mut reader = Gunzip::new(data, threads);
        let mut buf = [0u8; 4099];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn members(data: &[u8]) -> Vec<(usize, usize)> {
        let mut at = 0;
        let mut found = Vec::new();
        while let Some(len) = declared_len(&data[at..]) {
            found.push((at, len));
            at += len;
        }
        assert_eq!(at, data.len(), "every member of ours declares its length");
        found
    }

    #[test]
    fn our_members_are_found_without_decoding_and_read_in_order() {
        let input = text(5 * BLOCK + 12345);
        let data = ours(&input);
        assert_eq!(members(&data).len(), 6);
        for threads in [1, 2, 3, 8] {
            assert_eq!(gunzip(&data, threads).unwrap(), input, "{threads} threads");
        }
    }

    #[test]
    fn a_single_member_and_an_empty_stream_read_too() {
        let input = text(1000);
        assert_eq!(gunzip(&ours(&input), 4).unwrap(), input);
        assert!(gunzip(&ours(&[]), 4).unwrap().is_empty());
    }

    #[test]
    fn foreign_gzip_and_a_foreign_tail_are_read_serially() {
        let input = text(3 * BLOCK + 7);
        assert_eq!(gunzip(&foreign(&input), 2).unwrap(), input);
        // `cat ours.gz theirs.gz`: the parallel part, then the rest by one decoder.
        let mut both = ours(&input);
        both.extend_from_slice(&foreign(b"tail\n"));
        let mut expect = input.clone();
        expect.extend_from_slice(b"tail\n");
        assert_eq!(gunzip(&both, 2).unwrap(), expect);
    }

    #[test]
    fn damage_anywhere_is_an_error_as_with_one_decoder() {
        let input = text(4 * BLOCK);
        let data = ours(&input);
        let spans = members(&data);
        let (second, len) = spans[1];
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut flipped = data.clone();
        flipped[second + len / 2] ^= 0x55;
        cases.push(("a flipped byte", flipped));
        let mut crc = data.clone();
        crc[second + len - 8] ^= 1;
        cases.push(("a wrong CRC", crc));
        let mut size = data.clone();
        size[second + len - 4] ^= 1;
        cases.push(("a wrong length in the trailer", size));
        let mut huge = data.clone();
        huge[second + len - 1] = 0x7f;
        cases.push(("a trailer claiming 2 GiB", huge));
        cases.push(("a cut inside a member", data[..second + len / 2].to_vec()));
        cases.push(("a cut inside a header", data[..second + 5].to_vec()));
        let mut garbage = data.clone();
        garbage.extend_from_slice(b"garbage after the end");
        cases.push(("garbage after the last member", garbage));
        for (what, bytes) in cases {
            let serial = gunzip(&bytes, 1);
            let parallel = gunzip(&bytes, 3);
            assert!(parallel.is_err(), "{what}: the parallel read must fail");
            assert!(serial.is_err(), "{what}: the serial read must fail");
        }
        // A wrong length in our subfield: one decoder skips the subfield, the parallel reader
        // either stops with an error or, when it leaves the member to one decoder, reads it
        // right; it never hands out other content.
        for claim in [len + 3, len - 3, u32::MAX as usize, 0] {
            let mut lie = data.clone();
            lie[second + 16..second + 20].copy_from_slice(&(claim as u32).to_le_bytes());
            if let Ok(read) = gunzip(&lie, 3) {
                assert_eq!(read, input, "a header claiming {claim} bytes");
            }
        }
    }

    #[test]
    fn a_member_expanding_beyond_its_cap_is_refused() {
        // A well-formed member of ours holding 5 MiB (more than any writer of ours makes).
        let big = vec![b'a'; MAX_MEMBER_OUT + 1];
        let mut deflater = flate2::Compress::new(flate2::Compression::new(6), false);
        let mut body = Vec::with_capacity(big.len());
        deflater
            .compress_vec(&big, &mut body, flate2::FlushCompress::Finish)
            .unwrap();
        let mut crc = Crc::new();
        crc.update(&big);
        let len = HEADER_LEN + body.len() + TRAILER_LEN;
        let mut member = header(len as u32).to_vec();
        member.extend_from_slice(&body);
        member.extend_from_slice(&crc.sum().to_le_bytes());
        member.extend_from_slice(&(big.len() as u32).to_le_bytes());
        assert!(inflate_member(&member, Vec::new()).is_err());
        let mut two = member.clone();
        two.extend_from_slice(&member);
        assert!(gunzip(&two, 2).is_err());
    }
}
