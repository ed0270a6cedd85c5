//! `schedule install --record --systemd`: `drx-collect record` as a systemd service (restarted
//! when it ends, at idle priority), marked as ours like the snapshot units. An init script and a
//! Windows task for the recorder are not written yet.
use super::{read_optional, say, write_public, Settings};
use crate::error::{Error, ExitStatus, Result};
use std::path::Path;

const UNIT_MARKER: &str =
    "# Written by `drx-collect schedule install --record --systemd`; `drx-collect schedule remove --record --systemd` deletes it.";

pub(super) const SERVICE: &str = "drx-collect-record.service";

/// The recorder's service unit for `argv` (this binary's `record` command line).
pub fn record_unit(argv: &[String]) -> String {
    let exec: Vec<String> = argv
        .iter()
        .map(|w| super::systemd::systemd_quote(w))
        .collect();
    format!(
        "{UNIT_MARKER}\n\
         [Unit]\n\
         Description=drx-collect incident recorder (a ring of samples; a bundle around each incident)\n\
         Documentation=man:drx-collect-record(1)\n\
         \n\
         [Service]\n\
         Type=simple\n\
         Nice=19\n\
         IOSchedulingClass=idle\n\
         Restart=always\n\
         RestartSec=10\n\
         ExecStart={}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        exec.join(" ")
    )
}

fn record_argv(settings: &Settings) -> Result<Vec<String>> {
    let mut argv = super::settings_argv(settings)?;
    // The snapshot's argv with `record` as its command.
    argv.insert(1, "record".into());
    Ok(argv)
}

fn ours(path: &Path) -> Result<Option<bool>> {
    Ok(read_optional(path)?.map(|text| text.starts_with(UNIT_MARKER)))
}

pub(super) fn run(settings: &Settings) -> Result<ExitStatus> {
    if !settings.systemd || cfg!(windows) {
        return Err(Error::usage(
            "--record is written as a systemd service only (add --systemd); an init script and a Windows task for the recorder are not available yet",
        ));
    }
    let path = settings.unit_dir.join(SERVICE);
    match settings.action {
        super::Action::Install => {
            if ours(&path)? == Some(false) {
                return Err(Error::failed(format!(
                    "{} exists and was not written by drx-collect; move it away first, or choose another directory with --unit-dir",
                    path.display()
                )));
            }
            let unit = record_unit(&record_argv(settings)?);
            write_public(
                &path,
                &unit,
                "run as root, or choose another directory with --unit-dir",
            )?;
            say(&format!(
                "Wrote {}.\nTo start it, run:\n  systemctl daemon-reload && systemctl enable --now {SERVICE}\n",
                path.display()
            ))?;
        }
        super::Action::Remove => match ours(&path)? {
            Some(true) => {
                std::fs::remove_file(&path).map_err(|err| {
                    Error::io("remove", &path, &err, "run as root to change systemd units")
                })?;
                say(&format!(
                    "Removed {}.\nTo stop a recorder that is still running, run:\n  systemctl stop {SERVICE}; systemctl daemon-reload\n",
                    path.display()
                ))?;
            }
            Some(false) => {
                return Err(Error::failed(format!(
                    "{} was not written by drx-collect, so it was left alone",
                    path.display()
                )))
            }
            None => say(&format!("not installed: no {}\n", path.display()))?,
        },
        super::Action::Status => {
            let state = match ours(&path)? {
                Some(true) => "installed",
                Some(false) => "present but not written by drx-collect",
                None => "not installed",
            };
            say(&format!("recorder: {state} ({})\n", path.display()))?;
        }
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_record_restarted_at_idle_priority_with_quoted_words() {
        let argv: Vec<String> = ["/usr/bin/drx-collect", "record", "--output", "/srv/my dir"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let unit = record_unit(&argv);
        assert!(unit.starts_with(UNIT_MARKER));
        assert!(unit.contains("ExecStart=/usr/bin/drx-collect record --output \"/srv/my dir\"\n"));
        assert!(unit.contains("Restart=always\n") && unit.contains("Nice=19\n"));
    }
}
