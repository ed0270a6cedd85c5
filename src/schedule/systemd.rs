//! The systemd schedule: a oneshot service at idle priority and its timer, both marked as ours
//! so `remove` never deletes a unit someone else wrote.
use super::{
    every_of, join, read_optional, say, settings_argv, times, write_public, Every, Offset, Settings,
};
use crate::error::{Error, ExitStatus, Result};
use std::path::Path;

/// First line of the systemd units we write: `remove` deletes only files that carry it.
const UNIT_MARKER: &str =
    "# Written by `drx-collect schedule install --systemd`; `drx-collect schedule remove --systemd` deletes it.";

pub(super) const SERVICE: &str = "drx-collect.service";

pub(super) const TIMER: &str = "drx-collect.timer";

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
pub(super) fn systemd_quote(word: &str) -> String {
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

/// The words systemd makes of an `ExecStart=` value (systemd.syntax(7) "Quoting", then the
/// specifiers of systemd.unit(5) and the `$$` of systemd.service(5)), for the quoting
/// [`systemd_quote`] writes: status reads the output directory back with it, and install checks
/// the unit it wrote. None when the line holds something we never write.
pub(super) fn systemd_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            break;
        };
        let quote = (first == '"' || first == '\'').then(|| {
            chars.next();
            first
        });
        let mut word = String::new();
        loop {
            let Some(c) = chars.next() else {
                if quote.is_some() {
                    return None; // unbalanced quoting: systemd ignores the line
                }
                break;
            };
            match c {
                '\\' => word.push(match chars.next()? {
                    '\\' => '\\',
                    '"' => '"',
                    '\'' => '\'',
                    's' => ' ',
                    't' => '\t',
                    'n' => '\n',
                    _ => return None,
                }),
                c if Some(c) == quote => {
                    // A closing quote must end the word.
                    if chars.peek().is_some_and(|n| !n.is_whitespace()) {
                        return None;
                    }
                    break;
                }
                c if quote.is_none() && c.is_whitespace() => break,
                c => word.push(c),
            }
        }
        words.push(unspecify(&word)?);
    }
    Some(words)
}

/// `%%` to `%` and `$$` to `$`; None for any other specifier or variable, which we never write.
fn unspecify(word: &str) -> Option<String> {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if (c == '%' || c == '$') && chars.next()? != c {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// The `ExecStart=` value of a service unit.
pub(super) fn exec_start(service: &str) -> Option<&str> {
    service.lines().find_map(|l| l.strip_prefix("ExecStart="))
}

pub(super) fn ours(path: &Path) -> Result<Option<bool>> {
    Ok(read_optional(path)?.map(|text| text.starts_with(UNIT_MARKER)))
}

/// How long `systemd-analyze verify` may take.
const VERIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Checks the units before they are installed: the service's command line, as systemd reads it,
/// is the command meant; and `systemd-analyze verify` (when this host has it) finds no error in
/// the pair, written for it to a private temporary directory. Err: what is wrong.
fn check_units(service: &str, timer: &str, meant: &[String]) -> std::result::Result<(), String> {
    let read = exec_start(service).and_then(systemd_words);
    if read.as_deref() != Some(meant) {
        return Err(format!(
            "systemd would read its command line as {read:?} instead of {meant:?}"
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "drx-collect-units-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    crate::platform::create_private_dir(&dir).map_err(|e| {
        format!(
            "cannot make a directory to verify them in ({}): {}",
            dir.display(),
            crate::error::describe_io(&e)
        )
    })?;
    let result = analyze(&dir, service, timer);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn analyze(dir: &Path, service: &str, timer: &str) -> std::result::Result<(), String> {
    let written = [(SERVICE, service), (TIMER, timer)]
        .iter()
        .try_for_each(|(name, text)| std::fs::write(dir.join(name), text));
    written.map_err(|e| {
        format!(
            "cannot write them to verify: {}",
            crate::error::describe_io(&e)
        )
    })?;
    let argv: Vec<String> = ["systemd-analyze", "verify", "--man=no"]
        .iter()
        .map(|s| s.to_string())
        .chain(
            [SERVICE, TIMER]
                .iter()
                .map(|n| dir.join(n).display().to_string()),
        )
        .collect();
    let output = crate::process::run(&argv, VERIFY_TIMEOUT, 64 << 10, &[0], false);
    match output.status {
        Some(crate::index::Status::Ok | crate::index::Status::Truncated) => Ok(()),
        // Not installed (a host without systemd, or a minimal image): the command-line check
        // above is all there is.
        Some(crate::index::Status::Missing) => Ok(()),
        _ => {
            let said = String::from_utf8_lossy(&output.stderr);
            // An old systemd-analyze without --man: nothing to learn from it.
            if said.contains("--man") && said.contains("unrecognized") {
                return Ok(());
            }
            let said: Vec<&str> = said
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            Err(format!(
                "systemd-analyze verify finds errors in them: {}",
                if said.is_empty() {
                    output.error.unwrap_or_else(|| "(no message)".into())
                } else {
                    said.join("; ")
                }
            ))
        }
    }
}

pub(super) fn install(settings: &Settings) -> Result<ExitStatus> {
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
    check_units(&service, &timer, &argv).map_err(|problem| {
        Error::failed(format!(
            "the systemd units were not written: {problem}; nothing was changed"
        ))
    })?;
    write_public(&settings.unit_dir.join(SERVICE), &service, hint)?;
    write_public(&settings.unit_dir.join(TIMER), &timer, hint)?;
    say(&format!(
        "Wrote {} and {} (every {}).\nTo start it, run:\n  systemctl daemon-reload && systemctl enable --now {TIMER}\n",
        settings.unit_dir.join(SERVICE).display(),
        settings.unit_dir.join(TIMER).display(),
        every.text()
    ))?;
    super::warn_about_binary(&argv);
    // systemd marks itself running as the init system with this directory (sd_booted(3)).
    if !Path::new("/run/systemd/system").is_dir() {
        super::warn(
            super::lang().ui("schedule.no_systemd"),
            &settings.unit_dir.join(TIMER).display().to_string(),
        );
    }
    Ok(ExitStatus::Success)
}

pub(super) fn remove(settings: &Settings) -> Result<ExitStatus> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::tests_support::argv;

    #[test]
    fn every_word_comes_back_as_systemd_reads_it() {
        for word in [
            "/var/lib/drx snap%",
            "%n%H",
            "%%",
            "$HOME",
            "${X}",
            "$$",
            "it's",
            "\"q\"",
            "back\\slash\\",
            "a;b",
            "two  spaces",
        ] {
            let argv = vec!["/usr/local/bin/drx-collect".to_string(), word.to_string()];
            let (service, _) = systemd_units(Every::Hours(1), Offset { minute: 1, hour: 2 }, &argv);
            let exec = exec_start(&service).unwrap();
            assert_eq!(systemd_words(exec), Some(argv), "{word:?}: {exec}");
        }
        // What we never write is not guessed at.
        assert_eq!(systemd_words("/x \"open"), None);
        assert_eq!(systemd_words("/x %n"), None);
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
}
