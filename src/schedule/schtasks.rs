//! The Windows schedule: one task in the Task Scheduler, made, deleted and queried with
//! `schtasks` (Windows Server 2008 R2 and newer have no other scripting interface we can rely on).
use super::{every_of, say, settings_argv, status, times, Action, Every, Offset, Settings};
use crate::error::{Error, ExitStatus, Result};
use std::path::PathBuf;

const TASK: &str = "drx-collect";

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

/// The recorder's task: `drx-collect record` at every start-up, as SYSTEM (`record` itself
/// runs at low priority), replacing ours.
const RECORD_TASK: &str = "drx-collect-record";

pub fn record_create_argv(argv: &[String]) -> Vec<String> {
    let run: Vec<String> = argv.iter().map(|w| windows_quote(w)).collect();
    [
        "schtasks",
        "/Create",
        "/SC",
        "ONSTART",
        "/TN",
        RECORD_TASK,
        "/TR",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([run.join(" "), "/RU".into(), "SYSTEM".into(), "/F".into()])
    .collect()
}

/// `schedule install|remove|status --record` on Windows.
pub(super) fn run_record(settings: &Settings, record: Vec<String>) -> Result<ExitStatus> {
    let argv: Vec<String> = match settings.action {
        Action::Install => {
            super::warn_about_binary(&record);
            record_create_argv(&record)
        }
        Action::Remove => ["schtasks", "/Delete", "/TN", RECORD_TASK, "/F"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Action::Status => [
            "schtasks",
            "/Query",
            "/TN",
            RECORD_TASK,
            "/V",
            "/FO",
            "LIST",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    };
    let output = schtasks(&argv)?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if settings.action == Action::Status {
        if !output.status.success() {
            text =
                "recorder: not installed (no drx-collect-record task in Task Scheduler)\n".into();
        }
    } else if !output.status.success() {
        return Err(schtasks_failed(&output));
    }
    say(&text)?;
    Ok(ExitStatus::Success)
}

fn schtasks(argv: &[String]) -> Result<std::process::Output> {
    std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|err| {
            Error::failed(format!(
                "cannot run schtasks: {}; run drx-collect as Administrator on Windows Server 2008 R2 or newer",
                crate::error::describe_io(&err)
            ))
        })
}

fn schtasks_failed(output: &std::process::Output) -> Error {
    Error::failed(format!(
        "schtasks failed: {}; run drx-collect as Administrator",
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

fn windows_quote(word: &str) -> String {
    if !word.is_empty() && !word.contains([' ', '\t', '"']) {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('"', "\\\""))
    }
}

pub(super) fn run(settings: &Settings) -> Result<ExitStatus> {
    let argv: Vec<String> = match settings.action {
        Action::Install => {
            let collect = settings_argv(settings)?;
            super::warn_about_binary(&collect);
            schtasks_create_argv(every_of(settings)?, Offset::random(), &collect)
        }
        Action::Remove => ["schtasks", "/Delete", "/TN", TASK, "/F"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Action::Status => ["schtasks", "/Query", "/TN", TASK, "/V", "/FO", "LIST"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let output = schtasks(&argv)?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if settings.action == Action::Status {
        if !output.status.success() {
            text = "not installed (no drx-collect task in Task Scheduler)\n".into();
        }
        let dir = settings
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData\drx-collect"));
        text.push_str(&status::latest_snapshot(&dir));
    } else if !output.status.success() {
        return Err(schtasks_failed(&output));
    }
    say(&text)?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::collect_argv;
    use std::path::Path;

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

    #[test]
    fn the_recorders_task_runs_record_at_start_up_as_system() {
        let argv: Vec<String> = [
            r"C:\Program Files\drx\drx-collect.exe",
            "record",
            "--output",
            r"C:\ProgramData\drx-collect",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            record_create_argv(&argv),
            [
                "schtasks",
                "/Create",
                "/SC",
                "ONSTART",
                "/TN",
                "drx-collect-record",
                "/TR",
                r#""C:\Program Files\drx\drx-collect.exe" record --output C:\ProgramData\drx-collect"#,
                "/RU",
                "SYSTEM",
                "/F"
            ]
        );
    }
}
