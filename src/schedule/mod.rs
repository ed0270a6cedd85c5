//! `drx-collect schedule install|remove|status`: periodic snapshots from cron (one marked block in
//! a cron file), a systemd timer, or the Windows Task Scheduler. Every run calls this binary by its
//! absolute path with `--quiet --keep N --output DIR`, at low priority, at a minute (and hour)
//! chosen at random on install so a fleet of nodes does not collect at the same moment.
mod cron;
mod record;
mod schtasks;
mod status;
mod systemd;

use crate::error::{Error, ExitStatus, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_OUTPUT: &str = "/var/lib/drx-collect";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Install,
    Remove,
    Status,
}

/// Checked settings of `schedule`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub action: Action,
    pub every: Duration,
    pub keep: usize,
    pub keep_size: Option<u64>,
    /// `None`: status reads it from the installed entry; install uses [`DEFAULT_OUTPUT`].
    pub output: Option<PathBuf>,
    pub cron_file: PathBuf,
    pub systemd: bool,
    pub unit_dir: PathBuf,
    /// Where the recorder's init script goes (`--record` without `--systemd`).
    pub init_dir: PathBuf,
    /// `--record`: the recorder's service instead of the snapshots' schedule.
    pub record: bool,
}

/// How often, in the units cron and systemd can express evenly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// A divisor of 60, below 60.
    Minutes(u32),
    /// A divisor of 24, below 24.
    Hours(u32),
    Daily,
}

impl Every {
    /// Only periods that divide the hour or the day evenly: cron's fields restart every hour and
    /// every day, so 45m or 5h would not repeat evenly.
    pub fn parse(every: Duration) -> Result<Every, String> {
        let secs = every.as_secs();
        let bad = || {
            format!(
                "--every {} cannot be scheduled evenly; use minutes that divide 60 (5m, 10m, 15m, 30m), hours that divide 24 (1h, 2h, 6h, 12h) or 1d",
                describe(every)
            )
        };
        if every.subsec_nanos() != 0 || secs == 0 || !secs.is_multiple_of(60) {
            return Err(bad());
        }
        let minutes = secs / 60;
        if minutes < 60 {
            return if 60 % minutes == 0 {
                Ok(Every::Minutes(minutes as u32))
            } else {
                Err(bad())
            };
        }
        if !minutes.is_multiple_of(60) {
            return Err(bad());
        }
        match minutes / 60 {
            24 => Ok(Every::Daily),
            hours if hours < 24 && 24 % hours == 0 => Ok(Every::Hours(hours as u32)),
            _ => Err(bad()),
        }
    }

    pub fn text(self) -> String {
        match self {
            Every::Minutes(n) => format!("{n}m"),
            Every::Hours(n) => format!("{n}h"),
            Every::Daily => "1d".into(),
        }
    }

    fn period_secs(self) -> u64 {
        match self {
            Every::Minutes(n) => n as u64 * 60,
            Every::Hours(n) => n as u64 * 3600,
            Every::Daily => 86400,
        }
    }
}

fn describe(every: Duration) -> String {
    let secs = every.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{}s", every.as_secs())
    } else {
        format!("{secs}s")
    }
}

/// The random part of the schedule, chosen once at install time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    /// 0..60
    pub minute: u32,
    /// 0..24
    pub hour: u32,
}

impl Offset {
    pub fn random() -> Offset {
        // std's hasher keys are random per process: enough to spread a fleet, no crate needed.
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let value = hasher.finish();
        Offset {
            minute: (value % 60) as u32,
            hour: ((value >> 8) % 24) as u32,
        }
    }
}

/// The minutes and hours the job fires at (cron's first two fields, as lists).
pub(super) fn times(every: Every, offset: Offset) -> (Vec<u32>, Option<Vec<u32>>) {
    match every {
        Every::Minutes(n) => ((offset.minute % n..60).step_by(n as usize).collect(), None),
        Every::Hours(1) => (vec![offset.minute % 60], None),
        Every::Hours(n) => (
            vec![offset.minute % 60],
            Some((offset.hour % n..24).step_by(n as usize).collect()),
        ),
        Every::Daily => (vec![offset.minute % 60], Some(vec![offset.hour % 24])),
    }
}

pub(super) fn join(list: &[u32], width: usize) -> String {
    list.iter()
        .map(|n| format!("{n:0width$}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The command each run executes: this binary by its absolute path, quiet, with retention.
pub fn collect_argv(exe: &Path, keep: usize, keep_size: Option<u64>, output: &Path) -> Vec<String> {
    let mut argv = vec![
        exe.display().to_string(),
        "--quiet".into(),
        "--keep".into(),
        keep.to_string(),
    ];
    if let Some(size) = keep_size {
        argv.push("--keep-size".into());
        argv.push(size.to_string());
    }
    argv.push("--output".into());
    argv.push(output.display().to_string());
    argv
}

pub fn run(settings: &Settings) -> Result<ExitStatus> {
    if settings.record {
        return record::run(settings);
    }
    if cfg!(windows) {
        return schtasks::run(settings);
    }
    match (settings.action, settings.systemd) {
        (Action::Install, false) => cron::install(settings),
        (Action::Install, true) => systemd::install(settings),
        (Action::Remove, false) => cron::remove(settings),
        (Action::Remove, true) => systemd::remove(settings),
        (Action::Status, _) => status::run(settings),
    }
}

pub(super) fn every_of(settings: &Settings) -> Result<Every> {
    Every::parse(settings.every).map_err(Error::usage)
}

fn output_of(settings: &Settings) -> Result<PathBuf> {
    let output = settings
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT));
    // cron starts jobs in the user's home: a relative directory would land somewhere else.
    std::path::absolute(&output).map_err(|err| {
        Error::io(
            "resolve",
            &output,
            &err,
            "give --output as an absolute directory",
        )
    })
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|err| {
        Error::failed(format!(
            "cannot find the path of this drx-collect binary: {}; run it by its full path",
            crate::error::describe_io(&err)
        ))
    })
}

pub(super) fn settings_argv(settings: &Settings) -> Result<Vec<String>> {
    if settings.keep == 0 {
        return Err(Error::usage("--keep must be at least 1"));
    }
    let exe = exe()?;
    let output = output_of(settings)?;
    carried(
        &output,
        "--output",
        "give a directory whose name has no line break or other control character",
    )?;
    carried(
        &exe,
        "the path of this drx-collect binary",
        "copy the binary to a path without one (/usr/local/bin/drx-collect) and install from there",
    )?;
    Ok(collect_argv(
        &exe,
        settings.keep,
        settings.keep_size,
        &output,
    ))
}

/// Refuses a path that a cron line or a unit file cannot carry as one word of one line: a line
/// break would start a second cron line (run as root) or a second unit setting, and the other
/// control characters are as unsafe on a terminal and in a log. A path that is not UTF-8 would
/// be written with U+FFFD in it, naming another directory.
fn carried(path: &Path, what: &str, hint: &str) -> Result<()> {
    let Some(text) = path.to_str() else {
        return Err(Error::usage(format!(
            "{what} {} is not valid UTF-8, which a schedule entry cannot name exactly; {hint}",
            crate::escape::field(&path.to_string_lossy())
        )));
    };
    if text.chars().any(crate::escape::is_unsafe) {
        return Err(Error::usage(format!(
            "{what} '{}' holds a line break or another control character, which would break the schedule entry; {hint}",
            crate::escape::field(text)
        )));
    }
    Ok(())
}

/// The language of what `schedule` says beyond its fixed lines (the warnings).
pub(super) fn lang() -> crate::lang::Lang {
    crate::lang::Lang::from_env()
}

/// One warning on stderr, in the user's language: `warning: TEXT: DETAIL`.
pub(super) fn warn(text: &str, detail: &str) {
    eprintln!(
        "{}: {text}: {}",
        lang().ui("schedule.warning"),
        crate::escape::field(detail)
    );
}

/// Warns when the binary the schedule runs (as root) may vanish or be replaced: it lies in a
/// temporary directory (cleaned out by tmpfiles and reboots, a place others may write), or it or
/// a directory above it may be changed by another user.
pub(super) fn warn_about_binary(argv: &[String]) {
    let Some(exe) = argv.first().map(PathBuf::from) else {
        return;
    };
    let temporary = [
        std::env::temp_dir(),
        PathBuf::from("/tmp"),
        PathBuf::from("/var/tmp"),
        PathBuf::from("/dev/shm"),
    ];
    if in_temporary_dir(&exe, &temporary) {
        warn(
            lang().ui("schedule.binary_in_temp"),
            &exe.display().to_string(),
        );
    } else if let Some(open) = writable_by_others(&exe) {
        warn(
            lang().ui("schedule.binary_writable"),
            &open.display().to_string(),
        );
    }
}

/// True when `exe` is inside one of `temporary` (compared as written and with links resolved).
fn in_temporary_dir(exe: &Path, temporary: &[PathBuf]) -> bool {
    temporary.iter().any(|dir| {
        let resolved = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        exe.starts_with(dir) || exe.starts_with(&resolved)
    })
}

/// The binary, or the first directory above it, that another user may change: group- or
/// world-writable (a directory with the sticky bit only lets owners replace files), or owned by
/// someone who is neither root nor this user.
fn writable_by_others(exe: &Path) -> Option<PathBuf> {
    let mut path = Some(exe);
    while let Some(current) = path {
        let meta = std::fs::metadata(current).ok()?;
        if let Some(mode) = crate::platform::file_mode(&meta) {
            let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
            if mode & 0o022 != 0 && !sticky_dir {
                return Some(current.to_path_buf());
            }
        }
        let owner = crate::platform::file_owner(&meta);
        let me = crate::platform::current_owner();
        if owner.is_some_and(|o| o != 0 && Some(o) != me) {
            return Some(current.to_path_buf());
        }
        path = current.parent().filter(|p| !p.as_os_str().is_empty());
    }
    None
}

pub(super) fn say(text: &str) -> Result<()> {
    crate::stdout::write_human(&mut std::io::stdout().lock(), text)
}

pub(super) fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::io(
            "read",
            path,
            &err,
            "run as root, or choose another file with --cron-file",
        )),
    }
}

/// Writes `text` to `path` with mode 0644 by renaming a complete temporary file into place, so
/// cron never reads half a file.
pub(super) fn write_public(path: &Path, text: &str, hint: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A leading dot: cron skips such names in /etc/cron.d while the file is incomplete.
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&temp, text)
        .and_then(|_| crate::platform::set_public_mode(&temp, 0o644))
        .and_then(|_| std::fs::rename(&temp, path));
    if let Err(err) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io("write", path, &err, hint));
    }
    Ok(())
}

/// What the tests of every scheduler install.
#[cfg(test)]
mod tests_support {
    use super::*;

    pub(crate) fn argv() -> Vec<String> {
        collect_argv(
            Path::new("/usr/local/bin/drx-collect"),
            24,
            None,
            Path::new("/var/lib/drx snap%"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn every_accepts_even_divisions_of_the_hour_and_day_only() {
        assert_eq!(Every::parse(secs(15 * 60)), Ok(Every::Minutes(15)));
        assert_eq!(Every::parse(secs(60 * 60)), Ok(Every::Hours(1)));
        assert_eq!(Every::parse(secs(6 * 3600)), Ok(Every::Hours(6)));
        assert_eq!(Every::parse(secs(86400)), Ok(Every::Daily));
        for bad in [0, 30, 45 * 60, 90 * 60, 5 * 3600, 2 * 86400, 61] {
            let err = Every::parse(secs(bad)).unwrap_err();
            assert!(err.contains("divide 60"), "{bad}: {err}");
        }
        assert!(Every::parse(Duration::from_millis(60_500)).is_err());
    }
}
