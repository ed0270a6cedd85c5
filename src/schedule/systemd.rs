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

pub(super) fn ours(path: &Path) -> Result<Option<bool>> {
    Ok(read_optional(path)?.map(|text| text.starts_with(UNIT_MARKER)))
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
