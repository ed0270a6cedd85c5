//! The line engine, shared by collect (writing a bundle) and inspect (reading one).
//!
//! The per-file stream: source bytes → lines → `--since` filter → rules (on the clear text) →
//! redaction/obfuscation → out, as a `Read` so the archive writer pulls it straight into the
//! compressor. No per-line allocation: lines are cut from a large buffer and output is batched.
use crate::logtime::LineClock;
use crate::redact::LineFilter;
use chrono::{DateTime, Utc};
use std::io::{self, Read};

/// Lines up to this length are held, matched by the rules and filtered whole. Longer ones are
/// passed on in pieces (a binary file or a log without newlines must not make us hold it
/// whole): the privacy filter chooses where each piece ends (`LineFilter::apply_partial`), so
/// no key, value or address is cut, and the rules see each piece as a window that starts with
/// the last [`WINDOW_OVERLAP`] bytes of the window before.
pub const MAX_LINE: usize = 1 << 20;
/// How much of a long line's previous window the rules see again at the start of the next: a
/// match shorter than this is never cut in two (every rule pattern's match is far shorter).
pub const WINDOW_OVERLAP: usize = 64 * 1024;
const OUT_BATCH: usize = 256 * 1024;
const IN_BUFFER: usize = 1 << 20;

/// Who reads every kept line before redaction: the rule scan.
///
/// `line_no` counts the source's real newlines, 1-based. A line longer than [`MAX_LINE`] comes
/// to `line` as several windows with the same number, one after the other: a window given the
/// number of the call just before continues that line, and starts with the last
/// [`WINDOW_OVERLAP`] bytes of the window before.
pub trait LineSink {
    /// One line as the rules see it ([`for_rules`]), or a window of a long one.
    fn line(&mut self, bundle_path: &str, line_no: u64, line: &[u8]);

    /// Whole lines, each ending in `\n`, the first numbered `first_line_no`: a sink that can
    /// search many lines at once overrides this (the scan's prefilter).
    fn lines(&mut self, bundle_path: &str, first_line_no: u64, block: &[u8]) {
        each_line(block, first_line_no, |line_no, line| {
            self.line(bundle_path, line_no, line)
        });
    }
}

/// Calls `each` with every line of `block` (numbered from `first_line_no`) as the rules see it.
pub fn each_line(block: &[u8], first_line_no: u64, mut each: impl FnMut(u64, &[u8])) {
    for (i, line) in block.split_inclusive(|&b| b == b'\n').enumerate() {
        each(first_line_no + i as u64, for_rules(line));
    }
}

pub struct Since {
    pub at: DateTime<Utc>,
    pub clock: LineClock,
}

pub struct Pipeline<'a, R: Read> {
    source: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    out: Vec<u8>,
    out_pos: usize,
    since: Option<Since>,
    keeping: bool,
    filter: Option<LineFilter<'a>>,
    scan: Option<(&'a mut dyn LineSink, String)>,
    line_no: u64,
    /// A piece of the current line has been passed on: what follows up to its newline belongs
    /// to it (same number, no new `--since` decision).
    in_long_line: bool,
    /// The rules' window of the long line being passed on: after each window, its last
    /// [`WINDOW_OVERLAP`] bytes.
    rules_window: Vec<u8>,
    /// Lines left out by `--since`.
    pub dropped_lines: u64,
    /// Nobody reads the output (`drain`): lines only go to the sink.
    discard: bool,
}

impl<'a, R: Read> Pipeline<'a, R> {
    pub fn new(source: R) -> Self {
        Pipeline {
            source,
            buf: vec![0; IN_BUFFER],
            start: 0,
            end: 0,
            eof: false,
            out: Vec::with_capacity(OUT_BATCH + MAX_LINE),
            out_pos: 0,
            since: None,
            keeping: true,
            filter: None,
            scan: None,
            line_no: 0,
            in_long_line: false,
            rules_window: Vec::new(),
            dropped_lines: 0,
            discard: false,
        }
    }

    pub fn since(mut self, since: Option<Since>) -> Self {
        self.since = since;
        self
    }

    pub fn filter(mut self, filter: Option<LineFilter<'a>>) -> Self {
        self.filter = filter;
        self
    }

    pub fn scan(mut self, scan: Option<&'a mut dyn LineSink>, bundle_path: &str) -> Self {
        self.scan = scan.map(|s| (s, bundle_path.to_string()));
        self
    }

    pub fn redactions(&self) -> u64 {
        self.filter.as_ref().map(|f| f.redactions()).unwrap_or(0)
    }

    /// Reads the whole source for the sink alone, without copying any output (inspect).
    pub fn drain(mut self) -> io::Result<()> {
        self.discard = true;
        // With nothing kept, one call goes to the end of the source.
        while self.refill()? {}
        Ok(())
    }

    /// Fills `self.out` with the next batch; false at the end of the source.
    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.out_pos = 0;
        while self.out.len() < OUT_BATCH {
            if crate::platform::interrupted().is_some() {
                return Err(stopped());
            }
            if self.since.is_none() && !self.in_long_line {
                // Fast path: every whole line already buffered, as one batch.
                if let Some(last) = memchr::memrchr(b'\n', &self.buf[self.start..self.end]) {
                    let (start, end) = (self.start, self.start + last + 1);
                    let end = end.min(start + OUT_BATCH);
                    let end = match memchr::memrchr(b'\n', &self.buf[start..end]) {
                        Some(at) => start + at + 1,
                        None => self.start + last + 1,
                    };
                    self.start = end;
                    self.handle_lines(start, end);
                    continue;
                }
            }
            let Some((line_start, line_end, partial)) = self.next_line()? else {
                return Ok(!self.out.is_empty());
            };
            self.handle_line(line_start, line_end, partial);
        }
        Ok(true)
    }

    /// Whole lines `buf[start..end]` when nothing is dropped by `--since`: the rules see each
    /// line, the privacy filter the batch.
    fn handle_lines(&mut self, start: usize, end: usize) {
        let lines = &self.buf[start..end];
        if let Some((scan, path)) = &mut self.scan {
            scan.lines(path, self.line_no + 1, lines);
        }
        self.line_no += memchr::memchr_iter(b'\n', lines).count() as u64;
        if self.discard {
            return;
        }
        match &mut self.filter {
            Some(filter) => filter.apply_lines(lines, &mut self.out),
            None => self.out.extend_from_slice(lines),
        }
    }

    /// The next line (with its newline) as a range of `self.buf`, and whether it is only a piece
    /// of a longer line (then `handle_line` decides how much of it is consumed).
    fn next_line(&mut self) -> io::Result<Option<(usize, usize, bool)>> {
        loop {
            if let Some(pos) = memchr(b'\n', &self.buf[self.start..self.end]) {
                let line = (self.start, self.start + pos + 1, false);
                self.start += pos + 1;
                return Ok(Some(line));
            }
            let pending = self.end - self.start;
            if self.eof {
                if pending == 0 {
                    return Ok(None);
                }
                let line = (self.start, self.end, false);
                self.start = self.end;
                return Ok(Some(line));
            }
            if pending >= MAX_LINE {
                let line = (self.start, self.start + MAX_LINE, true);
                self.start += MAX_LINE;
                return Ok(Some(line));
            }
            // Move the partial line to the front and read more behind it.
            self.buf.copy_within(self.start..self.end, 0);
            self.end = pending;
            self.start = 0;
            let n = loop {
                match self.source.read(&mut self.buf[self.end..]) {
                    Ok(n) => break n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                        if crate::platform::interrupted().is_some() {
                            return Err(stopped());
                        }
                    }
                    Err(err) => return Err(err),
                }
            };
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
    }

    fn handle_line(&mut self, start: usize, mut end: usize, partial: bool) {
        if partial {
            if let Some(filter) = &mut self.filter {
                // The filter consumes up to a safe place; the rest is read again with what follows.
                let mut piece = Vec::new();
                let used = filter.apply_partial(&self.buf[start..end], &mut piece);
                end = start + used.max(1);
                self.start = end;
                // The rules see the source bytes, the output gets the transformed piece.
                if self.admit(start, end, true) && !self.discard {
                    self.out.extend_from_slice(&piece);
                }
                return;
            }
        }
        if self.admit(start, end, partial) && !self.discard {
            let line = &self.buf[start..end];
            match &mut self.filter {
                Some(filter) => filter.apply(line, &mut self.out),
                None => self.out.extend_from_slice(line),
            }
        }
    }

    /// `buf[start..end]`, a line or a piece of a long one (`partial`: the line goes on after
    /// it), past `--since` (false: left out) and shown to the rules. A line is counted, and
    /// judged by `--since`, once: at its first piece.
    fn admit(&mut self, start: usize, end: usize, partial: bool) -> bool {
        let continued = std::mem::replace(&mut self.in_long_line, partial);
        let line = &self.buf[start..end];
        if !continued {
            if let Some(since) = &mut self.since {
                if let Some(at) = since.clock.time_of(line) {
                    self.keeping = at >= since.at;
                }
            }
        }
        if !self.keeping {
            if !continued {
                self.dropped_lines += 1;
            }
            return false;
        }
        if !continued {
            self.line_no += 1;
        }
        let Some((scan, path)) = &mut self.scan else {
            return true;
        };
        if !continued && !partial {
            scan.line(path, self.line_no, for_rules(line));
            return true;
        }
        // A long line: the window is the end of the one before and this piece.
        let window = &mut self.rules_window;
        if !continued {
            window.clear();
        }
        window.extend_from_slice(line);
        scan.line(path, self.line_no, for_rules(window));
        if partial {
            window.drain(..window.len().saturating_sub(WINDOW_OVERLAP));
        } else {
            window.clear();
        }
        true
    }
}

/// What the rules see of a line: without its newline. Lines up to [`MAX_LINE`] are whole,
/// longer ones come in windows (see [`LineSink`]).
pub fn for_rules(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

impl<R: Read> Read for Pipeline<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if crate::platform::interrupted().is_some() {
            return Err(stopped());
        }
        if self.out_pos == self.out.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Not `ErrorKind::Interrupted`: `read_to_end` and `io::copy` retry those forever.
fn stopped() -> io::Error {
    io::Error::other("the run was interrupted")
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(needle, haystack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn run<'i>(
        input: &'i [u8],
        configure: impl FnOnce(Pipeline<'static, &'i [u8]>) -> Pipeline<'static, &'i [u8]>,
    ) -> Vec<u8> {
        let mut pipeline = configure(Pipeline::new(input));
        let mut out = Vec::new();
        pipeline.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn passes_bytes_through_unchanged() {
        let input = b"a\r\nb\n\nlast line without newline";
        assert_eq!(run(input, |p| p), input);
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(run(&big, |p| p), big);
    }

    #[test]
    fn since_keeps_newer_lines_and_their_continuations() {
        let reference = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let since = Since {
            at: Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap(),
            clock: LineClock::new(FixedOffset::east_opt(0).unwrap(), reference),
        };
        let input =
            b"Nov 20 10:00:00 old\n  old continuation\nNov 23 10:00:00 new\n  new continuation\n";
        assert_eq!(
            run(input, |p| p.since(Some(since))),
            b"Nov 23 10:00:00 new\n  new continuation\n"
        );
    }
}

/// Issue 24 item 20: the rules see whole lines, long ones in overlapping windows of bounded
/// size, numbered by real newlines.
#[cfg(test)]
mod window_tests {
    use super::*;
    use crate::redact::{Privacy, PrivacyOptions};

    /// Every call the rules get: (line number, bytes).
    #[derive(Default)]
    struct Record(Vec<(u64, Vec<u8>)>);

    impl LineSink for Record {
        fn line(&mut self, _path: &str, line_no: u64, line: &[u8]) {
            self.0.push((line_no, line.to_vec()));
        }
    }

    /// The calls for `input`, read for the sink alone (inspect) or through the privacy filter
    /// (collect).
    fn record(input: &[u8], filtered: bool) -> Vec<(u64, Vec<u8>)> {
        let mut sink = Record::default();
        let mut privacy = Privacy::new(PrivacyOptions {
            redact: true,
            obfuscate: false,
            map_file: None,
        })
        .unwrap();
        let pipeline = Pipeline::new(input).scan(Some(&mut sink), "files/var/log/messages");
        if filtered {
            let mut pipeline = pipeline.filter(Some(privacy.filter("files/var/log/messages")));
            let mut out = Vec::new();
            pipeline.read_to_end(&mut out).unwrap();
        } else {
            pipeline.drain().unwrap();
        }
        sink.0
    }

    #[test]
    fn a_needle_far_into_a_line_is_seen_and_lines_count_real_newlines() {
        let needle = b"Split-Brain detected but unresolved, dropping connection!";
        for filtered in [false, true] {
            // Past 4 KiB; and lines of 3 MiB, of exactly MAX_LINE and just over it before.
            let mut input = b"first\n".to_vec();
            input.extend(std::iter::repeat_n(b'x', 5_000));
            input.extend_from_slice(needle);
            input.push(b'\n');
            for long in [3 * MAX_LINE + 17, MAX_LINE, MAX_LINE + 1, 2 * MAX_LINE] {
                input.extend(std::iter::repeat_n(b'y', long));
                input.push(b'\n');
            }
            input.extend_from_slice(b"after\n");
            let calls = record(&input, filtered);
            let seen = |no: u64| calls.iter().filter(move |(n, _)| *n == no);
            assert!(
                seen(2).any(|(_, l)| l.windows(needle.len()).any(|w| w == needle)),
                "filtered {filtered}"
            );
            let last = calls.last().unwrap();
            assert_eq!(
                (last.0, &last.1[..]),
                (7, &b"after"[..]),
                "filtered {filtered}"
            );
            let numbers: Vec<u64> = calls.iter().map(|(n, _)| *n).collect();
            assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{numbers:?}");
            // Each line's windows cover it: bytes seen, minus the overlaps, are the line.
            for no in 3..=6 {
                let windows: Vec<&Vec<u8>> = seen(no).map(|(_, l)| l).collect();
                let total: usize = windows.iter().map(|w| w.len()).sum();
                let overlaps = (windows.len() - 1) * WINDOW_OVERLAP;
                let expected =
                    [3 * MAX_LINE + 17, MAX_LINE, MAX_LINE + 1, 2 * MAX_LINE][no as usize - 3];
                assert_eq!(total - overlaps, expected, "line {no}, filtered {filtered}");
                assert!(windows.iter().all(|w| w.len() <= MAX_LINE + WINDOW_OVERLAP));
            }
        }
    }

    /// A text shorter than the overlap is whole in some window wherever the pieces are cut.
    #[test]
    fn a_needle_across_a_piece_boundary_is_whole_in_a_window() {
        let needle = b"split-brain detected, dropping connection";
        for filtered in [false, true] {
            for at in [
                MAX_LINE - 20,
                MAX_LINE - 1,
                MAX_LINE / 2 - 7,
                2 * MAX_LINE - 30,
                5 * MAX_LINE / 2,
            ] {
                let mut input = vec![b'z'; at];
                input.extend_from_slice(needle);
                input.resize(3 * MAX_LINE + 5, b'z');
                input.push(b'\n');
                let calls = record(&input, filtered);
                assert!(calls.iter().all(|(n, _)| *n == 1));
                assert!(
                    calls
                        .iter()
                        .any(|(_, l)| l.windows(needle.len()).any(|w| w == needle)),
                    "at {at}, filtered {filtered}"
                );
            }
        }
    }

    /// `--since` judges a long line once, by its start, and counts it once when it drops it.
    #[test]
    fn since_judges_a_long_line_by_its_start() {
        use chrono::{FixedOffset, TimeZone};
        let reference = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let since = || Since {
            at: Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap(),
            clock: LineClock::new(FixedOffset::east_opt(0).unwrap(), reference),
        };
        let mut old = b"Nov 20 10:00:00 old ".to_vec();
        old.resize(3 * MAX_LINE, b'o');
        // A later piece of the old line that starts like a new timestamp must not keep it.
        old[MAX_LINE..MAX_LINE + 20].copy_from_slice(b"Nov 23 11:00:00 new ");
        old.extend_from_slice(b"\nNov 23 10:00:00 kept\n");
        let mut pipeline = Pipeline::new(&old[..]).since(Some(since()));
        let mut out = Vec::new();
        pipeline.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"Nov 23 10:00:00 kept\n");
        assert_eq!(pipeline.dropped_lines, 1);
    }
}

#[cfg(test)]
mod privacy_tests {
    use super::*;
    use crate::redact::{Privacy, PrivacyOptions};

    #[test]
    fn regression_a_line_longer_than_the_buffer_is_redacted_whole() {
        // The secret straddles the 1 MiB piece boundary at several offsets.
        for shift in [0usize, 5, 9, 13, 20, 31] {
            let mut line = vec![b'a'; MAX_LINE - 12 + shift];
            line.extend_from_slice(b" password=Sup3r-secret-value ");
            line.resize(3 * MAX_LINE, b'b');
            line.extend_from_slice(b"\nnext password=Another-secret1\n");
            let mut privacy = Privacy::new(PrivacyOptions {
                redact: true,
                obfuscate: false,
                map_file: None,
            })
            .unwrap();
            let mut pipeline =
                Pipeline::new(&line[..]).filter(Some(privacy.filter("files/var/log/x.log")));
            let mut out = Vec::new();
            pipeline.read_to_end(&mut out).unwrap();
            let text = String::from_utf8_lossy(&out);
            assert!(!text.contains("Sup3r"), "shift {shift}");
            assert!(!text.contains("secret-value"), "shift {shift}");
            assert!(text.contains("password=[REDACTED]"), "shift {shift}");
            assert!(text.ends_with("\nnext password=[REDACTED]\n"));
        }
    }
}
