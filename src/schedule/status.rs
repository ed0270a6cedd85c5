//! `schedule status`: what is installed (cron block, systemd timer) and the newest snapshot of
//! this host, with its checksum checked and the result its index recorded.
use super::cron::{block_line, line_words, strip_block};
use super::systemd::{exec_start, ours, systemd_words, SERVICE, TIMER};
use super::{read_optional, say, Settings, DEFAULT_OUTPUT};
use crate::collect::retention;
use crate::error::{ExitStatus, Result};
use std::path::{Path, PathBuf};

/// The `--output` of an installed command line.
fn output_in(words: &[String]) -> Option<PathBuf> {
    words
        .iter()
        .position(|w| w == "--output")
        .and_then(|i| words.get(i + 1))
        .map(PathBuf::from)
}

pub(super) fn run(settings: &Settings) -> Result<ExitStatus> {
    let mut text = String::new();
    let mut installed_output = None;
    if let Some(existing) = read_optional(&settings.cron_file)? {
        if let (_, Some(block)) = strip_block(&existing) {
            let line = block_line(&block).unwrap_or_default();
            text.push_str(&format!(
                "cron entry in {}:\n  {line}\n",
                settings.cron_file.display()
            ));
            installed_output = output_in(&line_words(line));
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
        let exec = exec_start(&service).unwrap_or_default().to_string();
        text.push_str(&format!(
            "systemd timer {}: {calendar}\n  {exec}\n",
            timer.display()
        ));
        if installed_output.is_none() {
            installed_output = systemd_words(&exec).and_then(|words| output_in(&words));
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
pub(super) fn latest_snapshot(dir: &Path) -> String {
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
    let index = match crate::inspect::recorded_index(&mut reader) {
        Ok(index) => index,
        Err(err) => return format!("result: unreadable ({err})"),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_output_is_read_back_from_the_line() {
        let line = "37 * * * * root /x/drx-collect --quiet --keep 3 --output '/var/it'\\''s'";
        assert_eq!(
            output_in(&line_words(line)),
            Some(PathBuf::from("/var/it's"))
        );
    }
}
