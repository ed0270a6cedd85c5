//! `drx-collect schedule install|remove|status`: periodic snapshots from cron (one marked block in
//! a cron file), a systemd timer, or the Windows Task Scheduler. Every run calls this binary by its
//! absolute path with `--quiet --keep N --output DIR`, at low priority, at a minute (and hour)
//! chosen at random on install so a fleet of nodes does not collect at the same moment.
use crate::collect::retention;
use crate::error::{Error, ExitStatus, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_OUTPUT: &str = "/var/lib/drx-collect";
const BEGIN: &str = "# BEGIN drx-collect schedule";
const END: &str = "# END drx-collect schedule";
/// First line of the systemd units we write: `remove` deletes only files that carry it.
const UNIT_MARKER: &str =
    "# Written by `drx-collect schedule install --systemd`; `drx-collect schedule remove --systemd` deletes it.";
const SERVICE: &str = "drx-collect.service";
const TIMER: &str = "drx-collect.timer";
const TASK: &str = "drx-collect";

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
fn times(every: Every, offset: Offset) -> (Vec<u32>, Option<Vec<u32>>) {
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

fn join(list: &[u32], width: usize) -> String {
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

/// Quotes one word for /bin/sh, which cron runs the command with.
fn sh_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Undoes [`sh_quote`] for the words we wrote (status reads `--output` back).
fn sh_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The block written into the cron file: markers, a comment, and one `/etc/cron.d` line (with the
/// user column). `%` is escaped because cron turns it into a newline.
pub fn cron_block(every: Every, offset: Offset, priority: &[String], argv: &[String]) -> String {
    let (minutes, hours) = times(every, offset);
    let hour_field = hours.map(|h| join(&h, 1)).unwrap_or_else(|| "*".into());
    let command: Vec<String> = priority
        .iter()
        .chain(argv.iter())
        .map(|w| sh_quote(w).replace('%', "\\%"))
        .collect();
    format!(
        "{BEGIN} (written by `drx-collect schedule install`; `drx-collect schedule remove` deletes it)\n\
         # every {}: a support snapshot at low priority\n\
         {} {hour_field} * * * root {}\n\
         {END}\n",
        every.text(),
        join(&minutes, 1),
        command.join(" ")
    )
}

/// `nice -n 19` and, when present, `ionice -c3` (idle I/O), by absolute path since cron's PATH
/// is short; nothing when `nice` cannot be found.
fn priority_prefix() -> Vec<String> {
    let mut prefix = Vec::new();
    if let Some(nice) = find_program("nice") {
        prefix.extend([nice.display().to_string(), "-n".into(), "19".into()]);
    }
    if let Some(ionice) = find_program("ionice") {
        prefix.extend([ionice.display().to_string(), "-c3".into()]);
    }
    prefix
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `text` without our block (and the blank line that may precede nothing else).
fn strip_block(text: &str) -> (String, Option<String>) {
    let mut kept = String::new();
    let mut block = String::new();
    let mut inside = false;
    let mut found = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with(BEGIN) {
            inside = true;
            found = true;
        }
        if inside {
            block.push_str(line);
        } else {
            kept.push_str(line);
        }
        if inside && line.starts_with(END) {
            inside = false;
        }
    }
    (kept, found.then_some(block))
}

/// The cron line of an installed block (the one line that is not a comment).
fn block_line(block: &str) -> Option<&str> {
    block
        .lines()
        .find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
}

/// `systemd`: the service and the timer.
pub fn systemd_units(every: Every, offset: Offset, argv: &[String]) -> (String, String) {
    let exec: Vec<String> = argv.iter().map(|w| systemd_quote(w)).collect();
    let service = format!(
        "{UNIT_MARKER}\n\
         [Unit]\n\
         Description=drx-collect support snapshot\n\
         Documentation=man:drx-collect(1)\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         Nice=19\n\
         IOSchedulingClass=idle\n\
         ExecStart={}\n",
        exec.join(" ")
    );
    let (minutes, hours) = times(every, offset);
    let hour_field = hours.map(|h| join(&h, 2)).unwrap_or_else(|| "*".into());
    // A fixed random minute spreads the fleet (as in cron); the small randomized delay on top
    // keeps nodes booted from one image apart even if they drew the same minute.
    let delay = (every.period_secs() / 10).clamp(30, 300);
    let timer = format!(
        "{UNIT_MARKER}\n\
         [Unit]\n\
         Description=drx-collect support snapshot every {}\n\
         \n\
         [Timer]\n\
         OnCalendar=*-*-* {hour_field}:{}:00\n\
         RandomizedDelaySec={delay}\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        every.text(),
        join(&minutes, 2),
    );
    (service, timer)
}

/// systemd's command-line quoting: double quotes, `%` doubled (specifiers), `$` doubled.
fn systemd_quote(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| !c.is_whitespace() && c != '"' && c != '\'' && c != '\\' && c != ';');
    if plain {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// `schtasks /Create ...` for Windows: same schedule, run as SYSTEM, replacing our task.
pub fn schtasks_create_argv(every: Every, offset: Offset, argv: &[String]) -> Vec<String> {
    let (schedule, modifier) = match every {
        Every::Minutes(n) => ("MINUTE", n),
        Every::Hours(n) => ("HOURLY", n),
        Every::Daily => ("DAILY", 1),
    };
    let (minutes, hours) = times(every, offset);
    let start = format!(
        "{:02}:{:02}",
        hours.and_then(|h| h.first().copied()).unwrap_or(0),
        minutes.first().copied().unwrap_or(0)
    );
    let run: Vec<String> = argv.iter().map(|w| windows_quote(w)).collect();
    ["schtasks", "/Create", "/SC", schedule, "/MO"]
        .iter()
        .map(|s| s.to_string())
        .chain([
            modifier.to_string(),
            "/ST".into(),
            start,
            "/TN".into(),
            TASK.into(),
            "/TR".into(),
            run.join(" "),
            "/RU".into(),
            "SYSTEM".into(),
            "/F".into(),
        ])
        .collect()
}

fn windows_quote(word: &str) -> String {
    if !word.is_empty() && !word.contains([' ', '\t', '"']) {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('"', "\\\""))
    }
}

pub fn run(settings: &Settings) -> Result<ExitStatus> {
    if cfg!(windows) {
        return run_windows(settings);
    }
    match (settings.action, settings.systemd) {
        (Action::Install, false) => install_cron(settings),
        (Action::Install, true) => install_systemd(settings),
        (Action::Remove, false) => remove_cron(settings),
        (Action::Remove, true) => remove_systemd(settings),
        (Action::Status, _) => status(settings),
    }
}

fn every_of(settings: &Settings) -> Result<Every> {
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

fn settings_argv(settings: &Settings) -> Result<Vec<String>> {
    if settings.keep == 0 {
        return Err(Error::usage("--keep must be at least 1"));
    }
    Ok(collect_argv(
        &exe()?,
        settings.keep,
        settings.keep_size,
        &output_of(settings)?,
    ))
}

fn say(text: &str) -> Result<()> {
    crate::stdout::write_human(&mut std::io::stdout().lock(), text)
}

fn read_optional(path: &Path) -> Result<Option<String>> {
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
fn write_public(path: &Path, text: &str, hint: &str) -> Result<()> {
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

fn install_cron(settings: &Settings) -> Result<ExitStatus> {
    let every = every_of(settings)?;
    let argv = settings_argv(settings)?;
    let path = &settings.cron_file;
    let existing = read_optional(path)?.unwrap_or_default();
    let (mut kept, previous) = strip_block(&existing);
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    let block = cron_block(every, Offset::random(), &priority_prefix(), &argv);
    kept.push_str(&block);
    write_public(
        path,
        &kept,
        "run as root, or choose another file with --cron-file (or use --systemd)",
    )?;
    let line = block_line(&block).unwrap_or_default();
    say(&format!(
        "{} {}:\n  {line}\nsnapshots go to {}; `drx-collect schedule status` shows the latest\n",
        if previous.is_some() {
            "Replaced the drx-collect entry in"
        } else {
            "Installed a drx-collect entry in"
        },
        path.display(),
        argv[argv.len() - 1]
    ))?;
    Ok(ExitStatus::Success)
}

fn remove_cron(settings: &Settings) -> Result<ExitStatus> {
    let path = &settings.cron_file;
    let Some(existing) = read_optional(path)? else {
        say(&format!(
            "not installed: {} does not exist\n",
            path.display()
        ))?;
        return Ok(ExitStatus::Success);
    };
    let (kept, block) = strip_block(&existing);
    if block.is_none() {
        say(&format!(
            "not installed: {} holds no drx-collect entry; nothing was changed\n",
            path.display()
        ))?;
        return Ok(ExitStatus::Success);
    }
    if kept.trim().is_empty() {
        std::fs::remove_file(path)
            .map_err(|err| Error::io("remove", path, &err, "run as root to change cron files"))?;
    } else {
        write_public(path, &kept, "run as root to change cron files")?;
    }
    say(&format!(
        "Removed the drx-collect entry from {}\n",
        path.display()
    ))?;
    Ok(ExitStatus::Success)
}

fn ours(path: &Path) -> Result<Option<bool>> {
    Ok(read_optional(path)?.map(|text| text.starts_with(UNIT_MARKER)))
}

fn install_systemd(settings: &Settings) -> Result<ExitStatus> {
    let every = every_of(settings)?;
    let argv = settings_argv(settings)?;
    let (service, timer) = systemd_units(every, Offset::random(), &argv);
    let hint = "run as root, or choose another directory with --unit-dir";
    for name in [SERVICE, TIMER] {
        let path = settings.unit_dir.join(name);
        if ours(&path)? == Some(false) {
            return Err(Error::failed(format!(
                "{} exists and was not written by drx-collect; move it away first, or choose another directory with --unit-dir",
                path.display()
            )));
        }
    }
    write_public(&settings.unit_dir.join(SERVICE), &service, hint)?;
    write_public(&settings.unit_dir.join(TIMER), &timer, hint)?;
    say(&format!(
        "Wrote {} and {} (every {}).\nTo start it, run:\n  systemctl daemon-reload && systemctl enable --now {TIMER}\n",
        settings.unit_dir.join(SERVICE).display(),
        settings.unit_dir.join(TIMER).display(),
        every.text()
    ))?;
    Ok(ExitStatus::Success)
}

fn remove_systemd(settings: &Settings) -> Result<ExitStatus> {
    let mut removed = Vec::new();
    for name in [TIMER, SERVICE] {
        let path = settings.unit_dir.join(name);
        match ours(&path)? {
            Some(true) => {
                std::fs::remove_file(&path).map_err(|err| {
                    Error::io("remove", &path, &err, "run as root to change systemd units")
                })?;
                removed.push(path);
            }
            Some(false) => {
                return Err(Error::failed(format!(
                    "{} was not written by drx-collect, so it was left alone",
                    path.display()
                )))
            }
            None => {}
        }
    }
    // What `systemctl enable` made: without the unit it would be a dangling link.
    let wants = settings.unit_dir.join("timers.target.wants").join(TIMER);
    if std::fs::symlink_metadata(&wants).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = std::fs::remove_file(&wants);
    }
    if removed.is_empty() {
        say(&format!(
            "not installed: no drx-collect units in {}\n",
            settings.unit_dir.display()
        ))?;
    } else {
        let names: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
        say(&format!(
            "Removed {}.\nTo stop a timer that is still loaded, run:\n  systemctl stop {TIMER}; systemctl daemon-reload\n",
            names.join(" and ")
        ))?;
    }
    Ok(ExitStatus::Success)
}

/// The `--output` of an installed command line.
fn output_in(words: &[String]) -> Option<PathBuf> {
    words
        .iter()
        .position(|w| w == "--output")
        .and_then(|i| words.get(i + 1))
        .map(PathBuf::from)
}

fn status(settings: &Settings) -> Result<ExitStatus> {
    let mut text = String::new();
    let mut installed_output = None;
    if let Some(existing) = read_optional(&settings.cron_file)? {
        if let (_, Some(block)) = strip_block(&existing) {
            let line = block_line(&block).unwrap_or_default();
            text.push_str(&format!(
                "cron entry in {}:\n  {line}\n",
                settings.cron_file.display()
            ));
            installed_output = output_in(&sh_words(line));
        }
    }
    let timer = settings.unit_dir.join(TIMER);
    if ours(&timer)? == Some(true) {
        let service = read_optional(&settings.unit_dir.join(SERVICE))?.unwrap_or_default();
        let calendar = read_optional(&timer)?
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("OnCalendar="))
            .unwrap_or_default()
            .to_string();
        let exec = service
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_default()
            .to_string();
        text.push_str(&format!(
            "systemd timer {}: {calendar}\n  {exec}\n",
            timer.display()
        ));
        if installed_output.is_none() {
            let words: Vec<String> = exec
                .split_whitespace()
                .map(|w| w.trim_matches('"').replace("%%", "%"))
                .collect();
            installed_output = output_in(&words);
        }
    }
    if text.is_empty() {
        text.push_str(&format!(
            "not installed (no drx-collect entry in {}, no timer in {})\n",
            settings.cron_file.display(),
            settings.unit_dir.display()
        ));
    }
    let output = settings
        .output
        .clone()
        .or(installed_output)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT));
    text.push_str(&latest_snapshot(&output));
    say(&text)?;
    Ok(ExitStatus::Success)
}

/// What `status` says about the newest snapshot of this host in `dir`.
fn latest_snapshot(dir: &Path) -> String {
    let facts = crate::host::facts(None, crate::manifest::Os::current());
    let host = crate::host::file_safe(&facts.hostname);
    if !dir.is_dir() {
        return format!("no snapshots yet: {} does not exist\n", dir.display());
    }
    let all = match retention::snapshots(dir, &host) {
        Ok(all) => all,
        Err(err) => return format!("cannot list snapshots: {err}\n"),
    };
    let Some(newest) = all.last() else {
        return format!("no snapshots of {host} in {} yet\n", dir.display());
    };
    let total: u64 = all.iter().map(|s| s.bytes).sum();
    let mut text = format!(
        "{} snapshot(s) of {host} in {} ({})\nlatest: {}{}\n  taken {}, {}\n",
        all.len(),
        dir.display(),
        crate::units::human_size(total),
        newest.name,
        if newest.is_split() {
            format!(" ({} parts)", newest.files.len())
        } else {
            String::new()
        },
        stamp_text(&newest.stamp),
        crate::units::human_size(newest.bytes)
    );
    text.push_str(&format!("  checksum: {}\n", check_sidecar(dir, newest)));
    text.push_str(&format!("  {}\n", findings_line(newest)));
    text
}

fn stamp_text(stamp: &str) -> String {
    match chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ") {
        Ok(at) => {
            let at = at.and_utc();
            let age = chrono::Utc::now().signed_duration_since(at);
            let ago = if age.num_hours() >= 48 {
                format!("{} days ago", age.num_days())
            } else if age.num_minutes() >= 120 {
                format!("{} hours ago", age.num_hours())
            } else {
                format!("{} minutes ago", age.num_minutes().max(0))
            };
            format!("{} ({ago})", at.format("%Y-%m-%d %H:%M:%S UTC"))
        }
        Err(_) => stamp.to_string(),
    }
}

/// Compares the bundle (or its joined parts) with the sha256 its sidecar records.
fn check_sidecar(dir: &Path, snapshot: &retention::Snapshot) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let sidecar = dir.join(format!("{}.sha256", snapshot.name));
    let Ok(listing) = std::fs::read_to_string(&sidecar) else {
        return format!("no sidecar {} to check against", sidecar.display());
    };
    let suffix = format!("  {}", snapshot.name);
    let Some(expected) = listing
        .lines()
        .find(|l| l.ends_with(&suffix))
        .and_then(|l| l.split_whitespace().next())
    else {
        return format!("{} has no line for {}", sidecar.display(), snapshot.name);
    };
    let mut reader = crate::archive::split::Chain::new(snapshot.files.clone());
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(err) => return format!("cannot read it: {err}"),
        }
    }
    let actual = crate::digest::hex(&hasher.finalize());
    if actual.eq_ignore_ascii_case(expected) {
        "ok (matches its .sha256)".into()
    } else {
        format!("MISMATCH: the file's sha256 is {actual}, its .sha256 says {expected}")
    }
}

/// The finding counts recorded in the snapshot's index.json at collection time (reading only the
/// index keeps status fast; `inspect` re-runs the rules).
fn findings_line(snapshot: &retention::Snapshot) -> String {
    use std::io::Read;
    let first = &snapshot.files[0];
    let reader = if snapshot.is_split() {
        crate::archive::reader::BundleReader::open_parts(first, snapshot.files.clone())
    } else {
        crate::archive::reader::BundleReader::open(first)
    };
    let mut reader = match reader {
        Ok(reader) => reader,
        Err(err) => return format!("result: unreadable ({err})"),
    };
    let mut index: Option<crate::index::Index> = None;
    let walked = reader.for_each(&mut |meta, content| {
        if index.is_none()
            && meta.name.ends_with("/index.json")
            && meta.name.matches('/').count() == 1
        {
            let mut bytes = Vec::new();
            content
                .take(crate::inspect::verify::MAX_INDEX_BYTES as u64)
                .read_to_end(&mut bytes)
                .map_err(|err| Error::failed(crate::error::describe_io(&err)))?;
            index = serde_json::from_slice(&bytes).ok();
        }
        Ok(())
    });
    if let Err(err) = walked {
        return format!("result: unreadable ({err})");
    }
    let Some(index) = index else {
        return "result: no readable index.json in the bundle".into();
    };
    use crate::index::Severity;
    let count = |s| index.findings.iter().filter(|f| f.severity == s).count();
    let gaps = index.items.iter().filter(|i| i.status.is_gap()).count();
    format!(
        "result: {} item(s){}{}; findings: {} error(s), {} warning(s), {} info",
        index.items.len(),
        if gaps > 0 {
            format!(", {gaps} failed/timed out/denied")
        } else {
            String::new()
        },
        if index.partial { ", partial" } else { "" },
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    )
}

fn run_windows(settings: &Settings) -> Result<ExitStatus> {
    let argv: Vec<String> = match settings.action {
        Action::Install => schtasks_create_argv(
            every_of(settings)?,
            Offset::random(),
            &settings_argv(settings)?,
        ),
        Action::Remove => ["schtasks", "/Delete", "/TN", TASK, "/F"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Action::Status => ["schtasks", "/Query", "/TN", TASK, "/V", "/FO", "LIST"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let output = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|err| {
            Error::failed(format!(
                "cannot run schtasks: {}; run drx-collect as Administrator on Windows Server 2008 R2 or newer",
                crate::error::describe_io(&err)
            ))
        })?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if settings.action == Action::Status {
        if !output.status.success() {
            text = "not installed (no drx-collect task in Task Scheduler)\n".into();
        }
        let dir = settings
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData\drx-collect"));
        text.push_str(&latest_snapshot(&dir));
    } else if !output.status.success() {
        return Err(Error::failed(format!(
            "schtasks failed: {}; run drx-collect as Administrator",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    say(&text)?;
    Ok(ExitStatus::Success)
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

    fn argv() -> Vec<String> {
        collect_argv(
            Path::new("/usr/local/bin/drx-collect"),
            24,
            None,
            Path::new("/var/lib/drx snap%"),
        )
    }

    #[test]
    fn cron_lines_spread_the_minute_and_hour_and_quote_the_command() {
        let offset = Offset {
            minute: 37,
            hour: 5,
        };
        let prio: Vec<String> = ["/usr/bin/nice", "-n", "19", "/usr/bin/ionice", "-c3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let block = cron_block(Every::Hours(1), offset, &prio, &argv());
        let line = block_line(&block).unwrap();
        assert_eq!(
            line,
            "37 * * * * root /usr/bin/nice -n 19 /usr/bin/ionice -c3 /usr/local/bin/drx-collect --quiet --keep 24 --output '/var/lib/drx snap\\%'"
        );
        assert!(block.starts_with(BEGIN) && block.trim_end().ends_with(END));
        let minutes = cron_block(Every::Minutes(15), offset, &[], &argv());
        assert!(block_line(&minutes)
            .unwrap()
            .starts_with("7,22,37,52 * * * * root /usr/local"));
        let six = cron_block(Every::Hours(6), offset, &[], &argv());
        assert!(block_line(&six)
            .unwrap()
            .starts_with("37 5,11,17,23 * * * root"));
        let daily = cron_block(Every::Daily, offset, &[], &argv());
        assert!(block_line(&daily).unwrap().starts_with("37 5 * * * root"));
    }

    #[test]
    fn the_installed_output_is_read_back_from_the_line() {
        let line = "37 * * * * root /x/drx-collect --quiet --keep 3 --output '/var/it'\\''s'";
        assert_eq!(output_in(&sh_words(line)), Some(PathBuf::from("/var/it's")));
    }

    #[test]
    fn install_replaces_only_our_block() {
        let mine = cron_block(Every::Daily, Offset { minute: 1, hour: 2 }, &[], &argv());
        let text = format!("MAILTO=root\n{mine}0 0 * * * root /bin/true\n");
        let (kept, block) = strip_block(&text);
        assert_eq!(kept, "MAILTO=root\n0 0 * * * root /bin/true\n");
        assert_eq!(block.as_deref(), Some(mine.as_str()));
        assert!(strip_block("0 0 * * * root /bin/true\n").1.is_none());
    }

    #[test]
    fn systemd_units_run_idle_at_the_chosen_times() {
        let (service, timer) =
            systemd_units(Every::Hours(6), Offset { minute: 7, hour: 3 }, &argv());
        assert!(service.starts_with(UNIT_MARKER));
        assert!(service.contains("\nNice=19\n"));
        assert!(service.contains("\nIOSchedulingClass=idle\n"));
        assert!(service.contains(
            "\nExecStart=/usr/local/bin/drx-collect --quiet --keep 24 --output \"/var/lib/drx snap%%\"\n"
        ));
        assert!(
            timer.contains("\nOnCalendar=*-*-* 03,09,15,21:07:00\n"),
            "{timer}"
        );
        assert!(timer.contains("\nRandomizedDelaySec=300\n"));
        assert!(timer.contains("WantedBy=timers.target"));
        let (_, quarter) =
            systemd_units(Every::Minutes(15), Offset { minute: 7, hour: 3 }, &argv());
        assert!(
            quarter.contains("\nOnCalendar=*-*-* *:07,22,37,52:00\n"),
            "{quarter}"
        );
        assert!(quarter.contains("\nRandomizedDelaySec=90\n"));
    }

    #[test]
    fn schtasks_arguments_match_the_schedule() {
        let argv = collect_argv(
            Path::new(r"C:\Program Files\drx\drx-collect.exe"),
            5,
            None,
            Path::new(r"C:\ProgramData\drx-collect"),
        );
        let create = schtasks_create_argv(Every::Hours(6), Offset { minute: 7, hour: 3 }, &argv);
        assert_eq!(
            create,
            vec![
                "schtasks",
                "/Create",
                "/SC",
                "HOURLY",
                "/MO",
                "6",
                "/ST",
                "03:07",
                "/TN",
                "drx-collect",
                "/TR",
                r#""C:\Program Files\drx\drx-collect.exe" --quiet --keep 5 --output C:\ProgramData\drx-collect"#,
                "/RU",
                "SYSTEM",
                "/F"
            ]
        );
        let daily = schtasks_create_argv(Every::Daily, Offset { minute: 7, hour: 3 }, &argv);
        assert_eq!(&daily[2..6], ["/SC", "DAILY", "/MO", "1"]);
        let minutes =
            schtasks_create_argv(Every::Minutes(10), Offset { minute: 7, hour: 3 }, &argv);
        assert_eq!(
            &minutes[2..8],
            ["/SC", "MINUTE", "/MO", "10", "/ST", "00:07"]
        );
    }
}
