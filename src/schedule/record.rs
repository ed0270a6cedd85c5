//! `schedule install --record`: `drx-collect record` as a service, marked as ours like the
//! snapshot entries: a systemd unit (`--systemd`: restarted when it ends, at idle priority), else
//! a SysV init script (CentOS 6: chkconfig headers, start/stop/status, a pid file, `nice` and
//! `ionice`), and on Windows a task run at start-up as SYSTEM.
use super::{read_optional, say, write_public, Settings};
use crate::error::{Error, ExitStatus, Result};
use std::path::Path;

const UNIT_MARKER: &str =
    "# Written by `drx-collect schedule install --record --systemd`; `drx-collect schedule remove --record --systemd` deletes it.";

pub(super) const SERVICE: &str = "drx-collect-record.service";

/// The init script's name in `--init-dir`, and the `chkconfig` / `service` name.
pub(super) const INIT_SCRIPT: &str = "drx-collect-record";

const INIT_MARKER: &str =
    "# Written by `drx-collect schedule install --record`; `drx-collect schedule remove --record` deletes it.";

/// The recorder's SysV init script for `argv`, each word quoted for /bin/sh by the cron
/// entries' quoting (one home for it: [`super::cron::cron_word`] writes words sh reads back
/// exactly). chkconfig reads the `# chkconfig:` line (CentOS 6), insserv/update-rc.d the LSB
/// block. `start` runs the recorder in the background at the lowest CPU priority (and idle I/O
/// where `ionice` exists) with its pid in the pid file; `stop` sends SIGTERM (the recorder
/// writes its end record) and waits up to 30 s; `status` exits 0 running, 3 not running (LSB).
pub fn init_script(argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|w| super::cron::cron_word(w)).collect();
    let command = words.join(" ");
    format!(
        r#"#!/bin/sh
{INIT_MARKER}
#
# chkconfig: 2345 99 01
# description: drx-collect incident recorder (a ring of samples; a bundle around each incident)
### BEGIN INIT INFO
# Provides:          {INIT_SCRIPT}
# Required-Start:    $local_fs $network
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: drx-collect incident recorder
### END INIT INFO

PIDFILE=/var/run/{INIT_SCRIPT}.pid

running() {{
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}}

case "$1" in
start)
    if running; then
        echo "{INIT_SCRIPT} is already running (pid $(cat "$PIDFILE"))"
        exit 0
    fi
    IDLE=
    if command -v ionice >/dev/null 2>&1; then IDLE="ionice -c 3"; fi
    nice -n 19 $IDLE {command} </dev/null >/dev/null 2>&1 &
    echo $! > "$PIDFILE"
    echo "{INIT_SCRIPT} started (pid $!)"
    ;;
stop)
    if ! running; then
        rm -f "$PIDFILE"
        echo "{INIT_SCRIPT} is not running"
        exit 0
    fi
    PID=$(cat "$PIDFILE")
    kill -TERM "$PID"
    n=0
    while kill -0 "$PID" 2>/dev/null && [ $n -lt 30 ]; do sleep 1; n=$((n + 1)); done
    if kill -0 "$PID" 2>/dev/null; then
        echo "{INIT_SCRIPT} (pid $PID) did not stop within 30 s"
        exit 1
    fi
    rm -f "$PIDFILE"
    echo "{INIT_SCRIPT} stopped"
    ;;
restart)
    "$0" stop && "$0" start
    ;;
status)
    if running; then
        echo "{INIT_SCRIPT} is running (pid $(cat "$PIDFILE"))"
        exit 0
    fi
    echo "{INIT_SCRIPT} is not running"
    exit 3
    ;;
*)
    echo "usage: $0 start|stop|restart|status" >&2
    exit 2
    ;;
esac
"#
    )
}

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

fn init_ours(path: &Path) -> Result<Option<bool>> {
    Ok(read_optional(path)?.map(|text| text.lines().nth(1) == Some(INIT_MARKER)))
}

#[cfg(unix)]
fn set_executable(path: &Path, hint: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|err| Error::io("make executable", path, &err, hint))
}

#[cfg(not(unix))]
fn set_executable(_: &Path, _: &str) -> Result<()> {
    Ok(())
}

/// The file the recorder's service is on this host: the systemd unit (`--systemd`) or the init
/// script, each marked as ours so that remove and status never touch another's file.
struct ServiceFile {
    path: std::path::PathBuf,
    is_ours: fn(&Path) -> Result<Option<bool>>,
    /// What makes the file, from the recorder's argv.
    contents: fn(&[String]) -> String,
    executable: bool,
    /// The option that chooses the file's directory.
    dir_option: &'static str,
    /// What root may change.
    what: &'static str,
    after_install: String,
    after_remove: String,
}

pub(super) fn run(settings: &Settings) -> Result<ExitStatus> {
    if cfg!(windows) {
        return super::schtasks::run_record(settings, record_argv(settings)?);
    }
    let file = if settings.systemd {
        ServiceFile {
            path: settings.unit_dir.join(SERVICE),
            is_ours: ours,
            contents: record_unit,
            executable: false,
            dir_option: "--unit-dir",
            what: "systemd units",
            after_install: format!(
                "To start it, run:\n  systemctl daemon-reload && systemctl enable --now {SERVICE}\n"
            ),
            after_remove: format!(
                "To stop a recorder that is still running, run:\n  systemctl stop {SERVICE}; systemctl daemon-reload\n"
            ),
        }
    } else {
        ServiceFile {
            path: settings.init_dir.join(INIT_SCRIPT),
            is_ours: init_ours,
            contents: init_script,
            executable: true,
            dir_option: "--init-dir",
            what: "init scripts",
            after_install: format!(
                "To start it now and at boot, run:\n  chkconfig --add {INIT_SCRIPT} && service {INIT_SCRIPT} start\n(Debian-like systems: update-rc.d {INIT_SCRIPT} defaults && service {INIT_SCRIPT} start)\n"
            ),
            after_remove: format!(
                "Stop a recorder that is still running with its pid in /var/run/{INIT_SCRIPT}.pid (kill -TERM), and run chkconfig --del {INIT_SCRIPT} (update-rc.d {INIT_SCRIPT} remove) if you had added it\n"
            ),
        }
    };
    run_service_file(settings, &file)?;
    Ok(ExitStatus::Success)
}

fn run_service_file(settings: &Settings, file: &ServiceFile) -> Result<()> {
    let path = &file.path;
    let hint = format!(
        "run as root, or choose another directory with {}",
        file.dir_option
    );
    match settings.action {
        super::Action::Install => {
            if (file.is_ours)(path)? == Some(false) {
                return Err(Error::failed(format!(
                    "{} exists and was not written by drx-collect; move it away first, or choose another directory with {}",
                    path.display(),
                    file.dir_option
                )));
            }
            let argv = record_argv(settings)?;
            super::warn_about_binary(&argv);
            write_public(path, &(file.contents)(&argv), &hint)?;
            if file.executable {
                set_executable(path, &hint)?;
            }
            say(&format!(
                "Wrote {}.\n{}",
                path.display(),
                file.after_install
            ))
        }
        super::Action::Remove => match (file.is_ours)(path)? {
            Some(true) => {
                std::fs::remove_file(path).map_err(|err| {
                    Error::io(
                        "remove",
                        path,
                        &err,
                        &format!("run as root to change {}", file.what),
                    )
                })?;
                say(&format!(
                    "Removed {}.\n{}",
                    path.display(),
                    file.after_remove
                ))
            }
            Some(false) => Err(Error::failed(format!(
                "{} was not written by drx-collect, so it was left alone",
                path.display()
            ))),
            None => say(&format!("not installed: no {}\n", path.display())),
        },
        super::Action::Status => {
            let state = match (file.is_ours)(path)? {
                Some(true) => "installed",
                Some(false) => "present but not written by drx-collect",
                None => "not installed",
            };
            say(&format!("recorder: {state} ({})\n", path.display()))
        }
    }
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

    /// The init script's command is the argv word for word as sh reads it, whatever the
    /// words hold (the cron entries' quoting, checked by the same reader).
    #[test]
    fn the_init_script_runs_record_with_words_sh_reads_back_exactly() {
        let argv: Vec<String> = [
            "/usr/bin/drx-collect",
            "record",
            "--output",
            "/srv/it's a \"dir\" $(reboot) `x` 100%\\",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let script = init_script(&argv);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains("\n# chkconfig: 2345 99 01\n"));
        assert!(script.contains("\n### BEGIN INIT INFO\n"));
        let line = script
            .lines()
            .find(|l| l.trim_start().starts_with("nice -n 19 $IDLE "))
            .unwrap();
        let command = line
            .trim_start()
            .strip_prefix("nice -n 19 $IDLE ")
            .unwrap()
            .strip_suffix(" </dev/null >/dev/null 2>&1 &")
            .unwrap();
        assert_eq!(crate::schedule::cron::sh_words(command), argv);
    }
}
