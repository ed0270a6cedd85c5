//! Running one command (a collect item, a probe): found through PATH (then the usual sbin
//! directories), in a process group of its own, with a timeout after which the whole group is killed. A command that cannot
//! be killed (stuck in the kernel, "D" state) is abandoned, never waited on forever.
use crate::index::Status;
use crate::platform;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What a command produced.
#[derive(Debug, Default)]
pub struct CommandOutput {
    pub status: Option<Status>,
    pub exit_code: Option<i32>,
    pub duration: Duration,
    pub stdout: Vec<u8>,
    /// Bytes the command printed on stdout, including what the cap left out.
    pub stdout_total: u64,
    /// Only the newest part of stdout was kept (the cap). Decided on the raw bytes: decoding
    /// UTF-16 or CP949 output changes its length, so the lengths cannot be compared afterwards.
    pub stdout_cut: bool,
    pub stderr: Vec<u8>,
    /// One sentence when the status is not `ok`.
    pub error: Option<String>,
}

/// How long to wait for a killed command to go away before abandoning it.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for the output pipes after the command exited (a background grandchild may
/// hold them open).
const PIPE_GRACE: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(5);

/// Finds `program` in PATH, then (unless `path_only`) in the platform's usual directories. Under
/// `--root` only PATH counts: the sysroot is not this machine, and its stand-in commands are put
/// first on PATH by whoever set it up.
pub fn find_program(program: &str, path_only: bool) -> Option<PathBuf> {
    let as_path = Path::new(program);
    if as_path.components().count() > 1 {
        return platform::is_executable(as_path).then(|| as_path.to_path_buf());
    }
    let path_dirs = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let extra = platform::EXTRA_COMMAND_DIRS
        .iter()
        .filter(|_| !path_only)
        .map(PathBuf::from);
    for dir in path_dirs.into_iter().chain(extra) {
        for suffix in platform::EXECUTABLE_SUFFIXES {
            let candidate = dir.join(format!("{program}{suffix}"));
            if platform::is_executable(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

/// Keeps the newest `cap` bytes of a stream: the end of a command's output is what matters.
struct TailBuffer {
    data: Vec<u8>,
    cap: usize,
    total: u64,
}

impl TailBuffer {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        self.data.extend_from_slice(chunk);
        if self.data.len() > self.cap {
            // Drop in large steps so the copy cost stays linear.
            let excess = self.data.len() - self.cap;
            let drop = excess.max(self.cap / 4).min(self.data.len());
            self.data.drain(..drop);
        }
    }
}

fn pump(
    mut source: impl Read + Send + 'static,
    cap: usize,
) -> (Arc<Mutex<TailBuffer>>, thread::JoinHandle<()>) {
    let buffer = Arc::new(Mutex::new(TailBuffer {
        data: Vec::new(),
        cap,
        total: 0,
    }));
    let sink = Arc::clone(&buffer);
    let handle = thread::spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match source.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut tail = sink.lock().unwrap_or_else(|p| p.into_inner());
                    tail.push(&chunk[..n]);
                }
            }
        }
    });
    (buffer, handle)
}

fn take(buffer: &Arc<Mutex<TailBuffer>>) -> (Vec<u8>, u64) {
    let mut tail = buffer.lock().unwrap_or_else(|p| p.into_inner());
    (std::mem::take(&mut tail.data), tail.total)
}

/// Runs `argv` with `timeout`, keeping at most `cap` bytes of each output stream (the newest).
pub fn run(
    argv: &[String],
    timeout: Duration,
    cap: usize,
    ok_exit_codes: &[i32],
    path_only: bool,
) -> CommandOutput {
    let started = Instant::now();
    let mut output = CommandOutput::default();
    let Some(program) = find_program(&argv[0], path_only) else {
        output.status = Some(Status::Missing);
        output.error = Some(format!("{} is not installed (not found in PATH)", argv[0]));
        return output;
    };
    let mut command = Command::new(&program);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    platform::plain_output(&mut command);
    platform::own_process_group(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            output.status = Some(if err.kind() == std::io::ErrorKind::PermissionDenied {
                Status::Denied
            } else {
                Status::Failed
            });
            output.error = Some(format!(
                "could not start {}: {}",
                program.display(),
                crate::error::describe_io(&err)
            ));
            output.duration = started.elapsed();
            return output;
        }
    };
    platform::register_child(&child);
    let (stdout, stdout_thread) = pump(child.stdout.take().expect("stdout is piped"), cap);
    let (stderr, stderr_thread) = pump(
        child.stderr.take().expect("stderr is piped"),
        cap.min(1 << 20),
    );

    let deadline = started + timeout;
    let mut exit = None;
    let mut stopped_by = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                exit = Some(status);
                break;
            }
            Ok(None) => {}
            Err(_) => break,
        }
        if let Some(signal) = platform::interrupted() {
            stopped_by = Some(format!(
                "stopped by {}",
                platform::interruption_name(signal)
            ));
            break;
        }
        if Instant::now() >= deadline {
            stopped_by = Some(format!(
                "did not finish within {:.1} s; its process group was killed",
                timeout.as_secs_f64()
            ));
            break;
        }
        thread::sleep(POLL);
    }

    if let Some(reason) = stopped_by {
        platform::kill_tree(&mut child);
        let killed_at = Instant::now();
        let mut gone = false;
        while killed_at.elapsed() < KILL_GRACE {
            if let Ok(Some(_)) = child.try_wait() {
                gone = true;
                break;
            }
            thread::sleep(POLL);
        }
        output.status = Some(Status::Timeout);
        output.error = Some(if gone {
            reason
        } else {
            format!("{reason}, but it would not die (stuck in the kernel?) and was abandoned")
        });
        if gone {
            platform::unregister_child(&child);
        }
    } else {
        platform::unregister_child(&child);
        // A grandchild that went to the background can keep the pipes open; give the readers a
        // moment, then kill what is left of the group.
        let pipes_until = Instant::now() + PIPE_GRACE;
        while !(stdout_thread.is_finished() && stderr_thread.is_finished())
            && Instant::now() < pipes_until
        {
            thread::sleep(POLL);
        }
        if !(stdout_thread.is_finished() && stderr_thread.is_finished()) {
            platform::kill_tree(&mut child);
        }
    }
    // Readers of an abandoned command stay detached; what they gathered so far is kept.
    let wait_readers = Instant::now() + Duration::from_millis(200);
    while !(stdout_thread.is_finished() && stderr_thread.is_finished())
        && Instant::now() < wait_readers
    {
        thread::sleep(POLL);
    }
    let (out, total) = take(&stdout);
    let (err, _) = take(&stderr);
    let cut = total > out.len() as u64;
    // Windows tools write their console code page (CP949 on Korean servers) or UTF-16.
    output.stdout = platform::decode_output(out);
    output.stdout_total = total;
    output.stdout_cut = cut;
    output.stderr = platform::decode_output(err);
    output.duration = started.elapsed();

    if output.status.is_none() {
        match exit {
            Some(status) => {
                output.exit_code = status.code();
                let ok = status
                    .code()
                    .map(|code| ok_exit_codes.contains(&code))
                    .unwrap_or(false);
                if ok {
                    output.status = Some(if cut { Status::Truncated } else { Status::Ok });
                } else {
                    let how = match status.code() {
                        Some(code) => format!("exited with status {code}"),
                        None => "was killed by a signal".to_string(),
                    };
                    // The command's own first words on stderr say why; a refusal for lack of
                    // privilege is `denied` (run as root), not a failure of the node.
                    let said = first_line(&output.stderr);
                    output.status = Some(if said.as_deref().is_some_and(says_denied) {
                        Status::Denied
                    } else {
                        Status::Failed
                    });
                    output.error = Some(match said {
                        Some(line) => format!("{how}: {line}"),
                        None => how,
                    });
                }
            }
            None => {
                output.status = Some(Status::Failed);
                output.error = Some("could not be waited for".to_string());
            }
        }
    }
    output
}

/// Characters of a failed command's stderr line kept in its item's error.
const SAID_CHARS: usize = 200;

/// The first non-blank line of a command's stderr, trimmed and shortened.
fn first_line(stderr: &[u8]) -> Option<String> {
    let line = stderr
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).trim().to_string())
        .find(|l| !l.is_empty())?;
    Some(match line.char_indices().nth(SAID_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    })
}

/// What a tool prints when it lacks privilege: EACCES and EPERM as strerror words them, the
/// "must be root" of drbdsetup/bsrsetup-like tools, and Windows' "Access is denied".
fn says_denied(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    [
        "permission denied",
        "operation not permitted",
        "must be root",
        "are you root",
        "access is denied",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn captures_output_and_exit_code() {
        let out = run(
            &sh("echo hello; echo oops >&2; exit 0"),
            Duration::from_secs(5),
            1 << 20,
            &[0],
            false,
        );
        assert_eq!(out.status, Some(Status::Ok));
        assert_eq!(out.stdout, b"hello\n");
        assert_eq!(out.stderr, b"oops\n");
        assert_eq!(out.exit_code, Some(0));
    }

    #[test]
    fn nonzero_exit_is_failed_unless_accepted() {
        let out = run(&sh("exit 3"), Duration::from_secs(5), 1024, &[0], false);
        assert_eq!(out.status, Some(Status::Failed));
        let out = run(&sh("exit 3"), Duration::from_secs(5), 1024, &[0, 3], false);
        assert_eq!(out.status, Some(Status::Ok));
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let started = Instant::now();
        // The grandchild `sleep` would keep the pipe open if only the shell were killed.
        let out = run(
            &sh("sleep 30 & sleep 30; wait"),
            Duration::from_millis(300),
            1024,
            &[0],
            false,
        );
        assert_eq!(out.status, Some(Status::Timeout));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn missing_program_is_missing() {
        let out = run(
            &["no-such-program-xyz".to_string()],
            Duration::from_secs(1),
            1024,
            &[0],
            false,
        );
        assert_eq!(out.status, Some(Status::Missing));
    }

    #[test]
    fn big_output_keeps_the_tail() {
        let out = run(
            &sh("seq 1 200000"),
            Duration::from_secs(10),
            4096,
            &[0],
            false,
        );
        assert_eq!(out.status, Some(Status::Truncated));
        assert!(out.stdout.len() <= 4096);
        assert!(out.stdout.ends_with(b"199999\n200000\n"));
        assert!(out.stdout_total > 1_000_000);
    }

    fn alive(pid: i32) -> bool {
        // A zombie waiting for its reaper has finished too.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    #[test]
    fn timeout_kills_a_grandchild_that_left_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!(
            "setsid sh -c 'echo $$ > {0}; exec sleep 30' </dev/null >/dev/null 2>&1 & sleep 30",
            pid_file.display()
        );
        let out = run(&sh(&script), Duration::from_millis(500), 1024, &[0], false);
        assert_eq!(out.status, Some(Status::Timeout));
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(3);
        while alive(pid) && Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !alive(pid),
            "the setsid grandchild {pid} survived the timeout"
        );
    }
}

/// A command that runs for as long as its reader wants (`drbdsetup events2`): in its own process
/// group like every command, its stdout delivered line by line (each line cut at `max_line`
/// bytes, with the instant it arrived) to a channel, and the whole group killed when the
/// `Stream` is dropped.
pub struct Stream {
    child: std::process::Child,
    pub lines: std::sync::mpsc::Receiver<(Instant, Vec<u8>)>,
}

/// Lines a stream may have waiting before its reader blocks (the child then blocks on its pipe).
const STREAM_BACKLOG: usize = 4096;

impl Stream {
    /// Starts `argv` (stderr discarded). `Err` is one sentence: not installed, or could not start.
    pub fn start(argv: &[String], max_line: usize, path_only: bool) -> Result<Stream, String> {
        let program = find_program(&argv[0], path_only)
            .ok_or_else(|| format!("{} is not installed (not found in PATH)", argv[0]))?;
        let mut command = Command::new(&program);
        command
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        platform::plain_output(&mut command);
        platform::own_process_group(&mut command);
        let mut child = command.spawn().map_err(|err| {
            format!(
                "could not start {}: {}",
                program.display(),
                crate::error::describe_io(&err)
            )
        })?;
        platform::register_child(&child);
        let stdout = child.stdout.take().expect("stdout is piped");
        let (send, lines) = std::sync::mpsc::sync_channel(STREAM_BACKLOG);
        thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            while let Some(line) = read_line_capped(&mut reader, max_line) {
                if send.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Ok(Stream { child, lines })
    }

    /// How the command ended, once it has.
    pub fn ended(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            }),
            Ok(None) => None,
            Err(err) => Some(format!("could not be waited for: {err}")),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        platform::kill_tree(&mut self.child);
        let until = Instant::now() + KILL_GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                platform::unregister_child(&self.child);
                return;
            }
            thread::sleep(POLL);
        }
    }
}

/// One line without its end (`\n`, `\r\n`), at most `max_line` bytes of it: the rest of a
/// longer line is read and dropped, so memory stays bounded whatever the command prints.
/// `None` at the end of the stream.
pub fn read_line_capped(reader: &mut impl std::io::BufRead, max_line: usize) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut started = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => return started.then_some(line),
            Ok(chunk) => chunk,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return started.then_some(line),
        };
        started = true;
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(at) => (at, true),
            None => (chunk.len(), false),
        };
        let room = max_line.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(if done { take + 1 } else { take });
        if done {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Some(line);
        }
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn lines_are_capped_and_the_rest_dropped() {
        let text = format!("short\r\n{}\nlast", "x".repeat(100_000));
        let mut reader = std::io::BufReader::with_capacity(1024, text.as_bytes());
        assert_eq!(read_line_capped(&mut reader, 10).unwrap(), b"short");
        assert_eq!(read_line_capped(&mut reader, 10).unwrap(), b"xxxxxxxxxx");
        assert_eq!(read_line_capped(&mut reader, 10).unwrap(), b"last");
        assert_eq!(read_line_capped(&mut reader, 10), None);
    }
}
