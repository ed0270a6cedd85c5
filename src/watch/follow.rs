//! Logs as they grow: a file followed from where it ended when watching began (`tail -F`: a
//! rotated or truncated file is read again from its start), and the live kernel log
//! (`/dev/kmsg`, which every reader reads on its own without taking records from others, unlike
//! the guide's `/proc/kmsg`).
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The longest line kept (the rest of a longer one is dropped).
pub const MAX_LINE: usize = 16 * 1024;
/// The most bytes one poll reads from one file: a log that grows faster is read over several
/// polls, never lost, and one poll's work stays bounded.
const MAX_POLL_READ: usize = 1 << 20;

/// What a poll found.
#[derive(Debug, Default)]
pub struct Polled {
    pub lines: Vec<String>,
    /// The file was rotated or truncated since the last poll (its new content is read from the
    /// start; what was written to the old one after the last poll may be lost).
    pub restarted: bool,
    pub error: Option<String>,
}

/// One followed file.
pub struct Follower {
    pub path: PathBuf,
    file: Option<File>,
    pos: u64,
    partial: Vec<u8>,
    /// The first open reads from the end (only what is new); a file that appears later is read
    /// from its start.
    seen: bool,
}

impl Follower {
    pub fn new(path: PathBuf) -> Follower {
        Follower {
            path,
            file: None,
            pos: 0,
            partial: Vec::new(),
            seen: false,
        }
    }

    /// Starts at the file's current end (nothing old is reported); a missing file is fine.
    pub fn start_at_end(&mut self) {
        if let Ok(meta) = std::fs::metadata(&self.path) {
            self.pos = meta.len();
        }
        self.seen = true;
    }

    pub fn poll(&mut self) -> Polled {
        let mut polled = Polled::default();
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return polled,
            Err(_) => {
                // Gone (rotated away): the next file by that name is read from its start.
                self.file = None;
                if self.seen && self.pos > 0 {
                    self.pos = 0;
                    polled.restarted = true;
                }
                self.seen = true;
                return polled;
            }
        };
        self.seen = true;
        let replaced = self
            .file
            .as_ref()
            .is_some_and(|f| !crate::platform::is_same_file(f, &self.path));
        if meta.len() < self.pos || replaced {
            self.pos = 0;
            self.partial.clear();
            self.file = None;
            polled.restarted = true;
        }
        if meta.len() == self.pos {
            return polled;
        }
        if self.file.is_none() {
            match crate::platform::open_shared(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(err) => {
                    polled.error = Some(format!(
                        "cannot read {}: {}",
                        self.path.display(),
                        crate::error::describe_io(&err)
                    ));
                    return polled;
                }
            }
        }
        let Some(file) = self.file.as_mut() else {
            return polled;
        };
        let mut buf = Vec::new();
        let read = file
            .seek(SeekFrom::Start(self.pos))
            .and_then(|_| file.take(MAX_POLL_READ as u64).read_to_end(&mut buf));
        if let Err(err) = read {
            polled.error = Some(format!(
                "cannot read {}: {}",
                self.path.display(),
                crate::error::describe_io(&err)
            ));
            self.file = None;
            return polled;
        }
        self.pos += buf.len() as u64;
        self.split(&buf, &mut polled.lines);
        polled
    }

    fn split(&mut self, buf: &[u8], lines: &mut Vec<String>) {
        let mut rest = buf;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            let room = MAX_LINE.saturating_sub(self.partial.len());
            self.partial.extend_from_slice(&rest[..at.min(room)]);
            rest = &rest[at + 1..];
            let line = std::mem::take(&mut self.partial);
            let text = String::from_utf8_lossy(&line);
            lines.push(text.trim_end_matches('\r').to_string());
        }
        let room = MAX_LINE.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&rest[..rest.len().min(room)]);
    }
}

/// What the kernel log thread sends.
pub enum KernelMsg {
    Line(String),
    /// Records the kernel overwrote before they were read.
    Lost(String),
    /// The source cannot be read (any more).
    Failed(String),
}

/// Reads `/dev/kmsg` from its end in a thread of its own (a read blocks until the next
/// record); the thread ends when the receiver is dropped and the next record arrives, or at exit.
pub fn kmsg(path: &Path) -> Result<std::sync::mpsc::Receiver<KernelMsg>, String> {
    let mut file = File::open(path).map_err(|err| {
        format!(
            "cannot read {}: {}",
            path.display(),
            crate::error::describe_io(&err)
        )
    })?;
    let _ = file.seek(SeekFrom::End(0));
    let (send, receive) = std::sync::mpsc::sync_channel(4096);
    std::thread::spawn(move || {
        // One read returns one record: `PRI,SEQ,USEC,FLAGS;message` then continuation lines.
        let mut buf = vec![0u8; 8192];
        loop {
            let msg = match file.read(&mut buf) {
                Ok(0) => KernelMsg::Failed("the kernel log ended".into()),
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let first = text.lines().next().unwrap_or_default();
                    let message = first.split_once(';').map_or(first, |(_, m)| m);
                    KernelMsg::Line(message.to_string())
                }
                // EPIPE: records were overwritten before this reader got them.
                Err(err) if err.raw_os_error() == Some(32) => {
                    KernelMsg::Lost("the kernel overwrote records before they were read".into())
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => KernelMsg::Failed(crate::error::describe_io(&err)),
            };
            let stop = matches!(msg, KernelMsg::Failed(_));
            if send.send(msg).is_err() || stop {
                return;
            }
        }
    });
    Ok(receive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_followed_file_gives_new_lines_and_survives_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "old line\n").unwrap();
        let mut follower = Follower::new(path.clone());
        follower.start_at_end();
        assert!(follower.poll().lines.is_empty());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"new one\npart").unwrap();
        assert_eq!(follower.poll().lines, ["new one"]);
        f.write_all(b"ial\r\n").unwrap();
        assert_eq!(follower.poll().lines, ["partial"]);
        drop(f);
        std::fs::write(&path, "after\n").unwrap();
        let polled = follower.poll();
        assert!(polled.restarted);
        assert_eq!(polled.lines, ["after"]);
        std::fs::remove_file(&path).unwrap();
        assert!(follower.poll().restarted);
        std::fs::write(&path, "rotated in\n").unwrap();
        assert_eq!(follower.poll().lines, ["rotated in"]);
    }

    #[test]
    fn a_huge_line_is_cut_and_a_fast_log_read_over_several_polls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut follower = Follower::new(path.clone());
        follower.start_at_end();
        let mut text = "y".repeat(3 * MAX_POLL_READ);
        text.push('\n');
        text.push_str("next\n");
        std::fs::write(&path, &text).unwrap();
        let mut lines = Vec::new();
        for _ in 0..10 {
            lines.extend(follower.poll().lines);
        }
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1], "next");
    }
}
