//! `record`'s ring on disk: a fixed number of segment files (`seg-NN.jsonl`) of at most
//! `size / SEGMENTS` bytes each, written in turn; the oldest segment is emptied when the ring
//! moves on, so the ring never holds more than its size. Each write is whole lines in one
//! `write` (a kill -9 leaves at most one cut line, which readers count as unreadable); a write
//! that fails (a full disk) is counted and recorded as a gap once writing works again.
use crate::series::Record;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SEGMENTS: usize = 16;

pub struct Ring {
    dir: PathBuf,
    segment_size: u64,
    current: usize,
    file: Option<File>,
    written: u64,
    /// Records a failed write lost since `lost_since` (the `t` of the first).
    lost: u64,
    lost_since: Option<(String, u64)>,
}

fn segment_path(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("seg-{n:02}.jsonl"))
}

fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut last = [0u8; 1];
    File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::End(-1))?;
            f.read_exact(&mut last)
        })
        .map_or(true, |_| last[0] == b'\n')
}

impl Ring {
    /// Opens (or creates) the ring in `dir`, continuing in the newest segment.
    pub fn open(dir: &Path, size: u64) -> std::io::Result<Ring> {
        crate::platform::create_private_dir(dir).or_else(|err| {
            if dir.is_dir() {
                Ok(())
            } else {
                Err(err)
            }
        })?;
        let newest = (0..SEGMENTS)
            .filter_map(|n| {
                let modified = std::fs::metadata(segment_path(dir, n))
                    .and_then(|m| m.modified())
                    .ok()?;
                Some((modified, n))
            })
            .max()
            .map_or(0, |(_, n)| n);
        let mut ring = Ring {
            dir: dir.to_path_buf(),
            segment_size: (size / SEGMENTS as u64).max(4096),
            current: newest,
            file: None,
            written: 0,
            lost: 0,
            lost_since: None,
        };
        ring.open_current(false);
        Ok(ring)
    }

    fn open_current(&mut self, empty: bool) {
        let path = segment_path(&self.dir, self.current);
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        if empty {
            // Emptied before it is written again: the ring's size stays fixed.
            let _ = std::fs::remove_file(&path);
        }
        crate::platform::private_file(&mut options);
        self.file = options.open(&path).ok();
        self.written = std::fs::metadata(&path).map_or(0, |m| m.len());
        if self.written > 0 && !ends_with_newline(&path) {
            // A line cut by a kill -9: end it, so the next record starts a line of its own.
            if let Some(file) = self.file.as_mut() {
                if file.write_all(b"\n").is_ok() {
                    self.written += 1;
                }
            }
        }
    }

    /// Writes `records` (one tick's) as whole lines; a failure is counted, never fatal.
    pub fn write(&mut self, records: &[Record]) {
        if records.is_empty() {
            return;
        }
        if let Some((t, ms)) = self.lost_since.clone() {
            // Writing works again: first say what was lost.
            let gap = Record::Gap {
                t,
                ms,
                sampler: "ring".into(),
                for_ms: records[0].ms().saturating_sub(ms),
                lost: self.lost,
                reason: "the ring could not be written (disk full or unwritable)".into(),
            };
            if self.append(&gap.to_line()) {
                self.lost = 0;
                self.lost_since = None;
            }
        }
        let text: String = records.iter().map(Record::to_line).collect();
        if !self.append(&text) {
            self.lost += records.len() as u64;
            self.lost_since
                .get_or_insert_with(|| (records[0].t().to_string(), records[0].ms()));
        }
    }

    fn append(&mut self, text: &str) -> bool {
        if self.written + text.len() as u64 > self.segment_size && self.written > 0 {
            self.current = (self.current + 1) % SEGMENTS;
            self.open_current(true);
        }
        let Some(file) = self.file.as_mut() else {
            self.open_current(false);
            return false;
        };
        // A batch larger than a segment is cut to whole lines that fit.
        let mut text = text;
        if text.len() as u64 > self.segment_size {
            let cut = text[..self.segment_size as usize]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            text = &text[..cut];
        }
        match file.write_all(text.as_bytes()) {
            Ok(()) => {
                self.written += text.len() as u64;
                true
            }
            Err(_) => {
                // What was partly written (a full disk takes part of a write) goes: the file
                // keeps whole lines only.
                if file.set_len(self.written).is_err() {
                    let _ = file.write_all(b"\n");
                    self.open_current(false);
                }
                false
            }
        }
    }

    /// Every line of the ring, oldest segment first.
    pub fn read_all(dir: &Path) -> String {
        let mut segments: Vec<(std::time::SystemTime, PathBuf)> = (0..SEGMENTS)
            .filter_map(|n| {
                let path = segment_path(dir, n);
                let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
                Some((modified, path))
            })
            .collect();
        segments.sort();
        let mut text = String::new();
        for (_, path) in segments {
            if let Ok(bytes) = std::fs::read(&path) {
                text.push_str(&String::from_utf8_lossy(&bytes));
                if !text.ends_with('\n') {
                    text.push('\n');
                }
            }
        }
        text
    }

    /// Bytes the ring takes on disk now.
    pub fn bytes(dir: &Path) -> u64 {
        (0..SEGMENTS)
            .filter_map(|n| std::fs::metadata(segment_path(dir, n)).ok())
            .map(|m| m.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(ms: u64) -> Record {
        Record::Kernel {
            t: format!("2026-12-07T10:00:00.{:03}Z", ms % 1000),
            ms,
            line: format!("drbd r0: line {ms} {}", "x".repeat(80)),
        }
    }

    #[test]
    fn a_ring_filled_past_its_size_keeps_its_size_and_the_newest_records() {
        let dir = tempfile::tempdir().unwrap();
        let size = 16 * 8192;
        let mut ring = Ring::open(dir.path(), size).unwrap();
        for ms in 0..20_000 {
            ring.write(&[kernel(ms)]);
        }
        assert!(
            Ring::bytes(dir.path()) <= size,
            "{}",
            Ring::bytes(dir.path())
        );
        let series = crate::series::read(&Ring::read_all(dir.path()));
        assert_eq!(series.bad_count, 0);
        assert_eq!(series.records.last().map(Record::ms), Some(19_999));
        assert!(series.records.len() > 500, "{}", series.records.len());
        assert!(
            series.records.first().unwrap().ms() > 10_000,
            "the oldest went"
        );
        // Reopened (a restart): it continues where it was, and stays within its size.
        drop(ring);
        let mut ring = Ring::open(dir.path(), size).unwrap();
        for ms in 20_000..21_000 {
            ring.write(&[kernel(ms)]);
        }
        assert!(Ring::bytes(dir.path()) <= size);
        let series = crate::series::read(&Ring::read_all(dir.path()));
        assert_eq!(series.records.last().map(Record::ms), Some(20_999));
    }

    #[test]
    fn a_cut_last_line_is_unreadable_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = Ring::open(dir.path(), 1 << 20).unwrap();
        ring.write(&[kernel(1), kernel(2)]);
        drop(ring);
        // What a kill -9 in the middle of a write leaves.
        let mut f = OpenOptions::new()
            .append(true)
            .open(segment_path(dir.path(), 0))
            .unwrap();
        f.write_all(b"{\"kind\":\"kernel\",\"t\":\"x\",\"ms\":3,\"li")
            .unwrap();
        let mut ring = Ring::open(dir.path(), 1 << 20).unwrap();
        ring.write(&[Record::End {
            t: "t".into(),
            ms: 4,
            reason: "r".into(),
        }]);
        let series = crate::series::read(&Ring::read_all(dir.path()));
        assert_eq!(series.bad_count, 1);
        assert_eq!(series.records.len(), 3);
    }
}
