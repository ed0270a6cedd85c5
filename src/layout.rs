//! The bundle layout (SPEC §3) and what a path in it is. Every module that asks "is this a meta
//! file, a command's output, a log, a replication configuration?" asks here, so the layout and
//! its vocabulary live in one place.
//!
//! ```text
//! drx-collect-<hostname>-<stamp>/     the top directory (paths below are relative to it)
//!   index.json  SUMMARY.txt  SHA256SUMS  collector.log      meta: the collector about itself
//!   commands/<id>.txt          stdout of the command item <id>
//!   commands/<id>.stderr.txt   its stderr, when not empty
//!   files/<absolute path>      copied files (Windows: files/C/...)
//!   watch/series.jsonl         what `watch` / `record` sampled (only in their bundles)
//! ```
//!
//! Paths are bundle paths: relative to the top directory, `/`-separated. The predicates on file
//! names compare case-insensitively (Windows paths keep their case) and read `\` as `/`.

/// The machine-readable index (SPEC §4).
pub const INDEX: &str = "index.json";
/// `sha256sum -c` lines for every other file.
pub const SUMS: &str = "SHA256SUMS";
/// The same as the index, for people.
pub const SUMMARY: &str = "SUMMARY.txt";
/// What the collector itself did.
pub const COLLECTOR_LOG: &str = "collector.log";
/// The files the collector writes about itself: they say nothing about the node.
pub const META: [&str; 4] = [INDEX, SUMS, SUMMARY, COLLECTOR_LOG];

/// The command id of the probes' results (`--probe`): written by the collector, not a manifest
/// item.
pub const PROBE_ID: &str = "probe";

/// The series `drx-collect watch` / `record` sampled (docs/watch.md), when the bundle has one.
pub const WATCH_SERIES: &str = "watch/series.jsonl";

const COMMANDS: &str = "commands/";
const FILES: &str = "files/";
const STDOUT: &str = ".txt";
const STDERR: &str = ".stderr.txt";

/// What a bundle path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind<'a> {
    /// One of [`META`].
    Meta,
    /// `commands/<id>.txt`: a command item's stdout.
    CommandOutput { id: &'a str },
    /// `commands/<id>.stderr.txt`: its stderr.
    CommandStderr { id: &'a str },
    /// `files/<path>`, a log ([`is_log`]).
    Log,
    /// `files/<path>`, anything else copied from the node.
    File,
    /// Not part of the SPEC §3 layout.
    Other,
}

impl PathKind<'_> {
    pub fn of(path: &str) -> PathKind<'_> {
        if is_meta(path) {
            return PathKind::Meta;
        }
        if let Some(id) = command_id(path) {
            return PathKind::CommandOutput { id };
        }
        if let Some(id) = stderr_command_id(path) {
            return PathKind::CommandStderr { id };
        }
        if path.starts_with(FILES) {
            return if is_log(path) {
                PathKind::Log
            } else {
                PathKind::File
            };
        }
        PathKind::Other
    }
}

/// One of the files the collector writes about itself ([`META`]).
pub fn is_meta(path: &str) -> bool {
    META.contains(&path)
}

/// `commands/<id>.txt`.
pub fn command_path(id: &str) -> String {
    format!("{COMMANDS}{id}{STDOUT}")
}

/// `commands/<id>.stderr.txt`.
pub fn stderr_path(id: &str) -> String {
    format!("{COMMANDS}{id}{STDERR}")
}

/// In `commands/` (stdout or stderr of a command item).
pub fn is_command(path: &str) -> bool {
    path.starts_with(COMMANDS)
}

/// In `files/` (copied from the node).
pub fn is_file(path: &str) -> bool {
    path.starts_with(FILES)
}

/// `commands/<id>.txt` → `<id>` (stdout only; `<id>.stderr.txt` is not a command's output).
pub fn command_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix(COMMANDS)?.strip_suffix(STDOUT)?;
    (!id.ends_with(".stderr") && !id.contains('/')).then_some(id)
}

/// `commands/<id>.stderr.txt` → `<id>`.
pub fn stderr_command_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix(COMMANDS)?.strip_suffix(STDERR)?;
    (!id.contains('/')).then_some(id)
}

/// A bundle member's name without the top directory (`top/files/x` → `files/x`).
pub fn strip_top(member: &str) -> &str {
    member.split_once('/').map_or(member, |(_, rest)| rest)
}

fn normalised(path: &str) -> String {
    path.replace('\\', "/").to_ascii_lowercase()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Inside a directory named `log` or `logs`, at any depth (`files/var/log/...`,
/// `files/opt/DRX/logs/...`, `files/C/Program Files/bsr/log/...`).
fn in_log_dir(lower: &str) -> bool {
    let dirs = lower.rsplit_once('/').map_or("", |(dirs, _)| dirs);
    dirs.split('/').any(|dir| dir == "log" || dir == "logs")
}

/// `messages`, `syslog` and their rotations (`messages-20181122`, `syslog.1`, `syslog.2.gz`),
/// but not `syslog.conf` or `syslog-ng.conf`.
fn is_system_log_name(name: &str) -> bool {
    ["messages", "syslog"].iter().any(|stem| {
        name.strip_prefix(stem).is_some_and(|rest| {
            let mut chars = rest.chars();
            match chars.next() {
                None => true,
                Some('-' | '.' | '_') => chars.next().is_some_and(|c| c.is_ascii_digit()),
                Some(_) => false,
            }
        })
    })
}

/// A Windows path with a drive (`c:\\Program Files\\x`, `C:/x`) as the logical path collect names
/// its file by: `/C/Program Files/x` (`/` separators, the drive upper-cased). `None` for a path
/// without a drive. Collect's plan and the rules' `include` resolution both ask here, so a
/// configuration that writes `c:\\...` finds the file collect stored as `files/C/...`.
pub fn windows_logical(path: &str) -> Option<String> {
    let slashed = path.replace('\\', "/");
    match slashed.as_bytes() {
        [drive, b':', ..] if drive.is_ascii_alphabetic() => Some(format!(
            "/{}/{}",
            (*drive as char).to_ascii_uppercase(),
            slashed[2..].trim_start_matches('/')
        )),
        _ => None,
    }
}

/// A file copied from a Windows node: `files/<drive letter>/...`. Windows file names compare
/// case-insensitively, so what names such a file must too.
pub fn is_windows_file(path: &str) -> bool {
    matches!(path.strip_prefix(FILES).map(str::as_bytes),
        Some([drive, b'/', ..]) if drive.is_ascii_uppercase())
}

/// How much a change of a bundle path tells about the node, in the order `diff` shows changes:
/// what an administrator changed first, what merely moves with time last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Volatility {
    /// A file copied from the node that is not a log: a configuration someone edited.
    Configuration,
    /// A command's output that reports state (connection, role, modules, packages).
    State,
    /// Changes on every run whatever anyone did: logs, the process and socket tables, uptime,
    /// the kernel ring buffer, event streams, disk usage.
    Volatile,
}

/// Command items whose output differs between any two runs (both manifests' ids; a prefix
/// covers the families: `netstat-nap` and `netstat-ano`, `journalctl-*`, `wevtutil-*`).
const VOLATILE_COMMANDS: [&str; 10] = [
    "ps",
    "tasklist",
    "uptime",
    "netstat-",
    "ss-",
    "dmesg",
    "journalctl-",
    "wevtutil-",
    "df-",
    PROBE_ID,
];

/// The [`Volatility`] of a bundle path.
pub fn volatility(path: &str) -> Volatility {
    let id = command_id(path).or_else(|| stderr_command_id(path));
    match id {
        Some(id) => {
            let volatile = VOLATILE_COMMANDS.iter().any(|v| {
                if v.ends_with('-') {
                    id.starts_with(v)
                } else {
                    id == *v
                }
            }) || id.ends_with("-events2");
            if volatile {
                Volatility::Volatile
            } else {
                Volatility::State
            }
        }
        None if is_log(path) || path == WATCH_SERIES => Volatility::Volatile,
        None if is_file(path) => Volatility::Configuration,
        None => Volatility::State,
    }
}

/// A log: a file in a `log`/`logs` directory, named `*.log` or rotated (`*.log.1`,
/// `*.log_20240101`), or a system log by name (`messages`, `syslog` and their rotations).
/// Logs grow between snapshots, are never configuration, and hold free text a secret guess may
/// be wrong about. `collector.log` is one by name but is [`PathKind::Meta`] first.
pub fn is_log(path: &str) -> bool {
    if is_command(path) {
        return false;
    }
    let lower = normalised(path);
    let name = file_name(&lower);
    in_log_dir(&lower)
        || name.ends_with(".log")
        || name.contains(".log.")
        || name.contains(".log_")
        || is_system_log_name(name)
}

/// A BSR/DRBD configuration file: bsr.conf, bsr-*.conf, drbd.conf, drbd-*.conf,
/// global_common.conf, or a *.res / *.conf in a bsr.d / drbd.d tree or BSR's Windows `etc`;
/// never a log.
pub fn is_replication_config(path: &str) -> bool {
    if !is_file(path) || is_log(path) {
        return false;
    }
    let lower = normalised(path);
    let name = file_name(&lower);
    if !(name.ends_with(".conf") || name.ends_with(".res")) {
        return false;
    }
    let known_name = name == "bsr.conf"
        || name == "drbd.conf"
        || name == "global_common.conf"
        || (name.starts_with("bsr-") && name.ends_with(".conf"))
        || (name.starts_with("drbd-") && name.ends_with(".conf"));
    known_name
        || lower.contains("/bsr.d/")
        || lower.contains("/drbd.d/")
        || lower.contains("/bsr/etc/")
}

/// DRX's own configuration (`drx.conf`, `key = value` lines).
pub fn is_drx_config(path: &str) -> bool {
    is_file(path) && file_name(&normalised(path)) == "drx.conf"
}

/// A file that may be included from bsr.conf/drbd.conf (any *.res, or *.conf, not a log).
pub fn may_be_included(path: &str) -> bool {
    let lower = normalised(path);
    is_file(path) && !is_log(path) && (lower.ends_with(".res") || lower.ends_with(".conf"))
}

/// Windows servicing package of a KB (`Package_for_KB2883200~31bf3856ad364e35~amd64~~6.3.1.0.mum`).
pub fn is_servicing_package(path: &str) -> bool {
    let lower = normalised(path);
    lower.contains("/windows/servicing/packages/") && lower.ends_with(".mum")
}

/// Kernel / system logs that may carry the drbd version line: `dmesg`, the kernel's journal,
/// /var/log/messages, syslog, kern.log (and their rotations).
pub fn is_system_log(path: &str) -> bool {
    let lower = normalised(path);
    matches!(command_id(path), Some("dmesg" | "journalctl-kernel"))
        || lower.starts_with("files/var/log/messages")
        || lower.starts_with("files/var/log/syslog")
        || lower.starts_with("files/var/log/kern")
}

/// Logs that may hold the kernel's sync-handshake lines: the system logs, and BSR's engine log
/// (Linux `/var/log/bsr/bsr.log*`, Windows `<install>\\log\\bsr.log*`).
pub fn may_hold_handshakes(path: &str) -> bool {
    if is_system_log(path) {
        return true;
    }
    let lower = normalised(path);
    is_log(path) && file_name(&lower).starts_with("bsr.log")
}

/// Interface configuration naming this node's addresses: RHEL ifcfg files, Debian
/// /etc/network/interfaces.
pub fn is_interface_config(path: &str) -> bool {
    path.starts_with("files/etc/sysconfig/network-scripts/ifcfg-")
        || path == "files/etc/network/interfaces"
        || path.starts_with("files/etc/network/interfaces.d/")
}

/// firewalld's permanent configuration: zone and service XML (/etc/firewalld, and the
/// packaged defaults under /usr/lib/firewalld), firewalld.conf.
pub fn is_firewalld_config(path: &str) -> bool {
    let in_tree = path.starts_with("files/etc/firewalld/")
        || path.starts_with("files/usr/lib/firewalld/")
        || path.starts_with("files/usr/share/firewalld/");
    in_tree && (path.ends_with(".xml") || path.ends_with("/firewalld.conf"))
}

/// Package lists and version outputs (`rpm -qa`, `dpkg -l`, `yum list`, `modinfo`, `... -V`):
/// a dotted number there is a version, not an address.
pub fn is_package_list(path: &str) -> bool {
    let lower = normalised(path);
    lower.contains(COMMANDS)
        && [
            "rpm", "dpkg", "yum", "dnf", "apt", "package", "modinfo", "version",
        ]
        .iter()
        .any(|w| file_name(&lower).contains(w))
}

/// A bundle name as drx-collect makes them: no directories, no odd characters.
pub fn is_bundle_name(name: &str) -> bool {
    name.starts_with("drx-collect-")
        && (name.ends_with(".tgz") || name.ends_with(".zip"))
        && name.len() < 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_comes_before_state_and_volatile_outputs_last() {
        use Volatility::*;
        for (path, want) in [
            ("files/etc/bsr.d/r0.res", Configuration),
            (
                "files/etc/sysconfig/network-scripts/ifcfg-eth0",
                Configuration,
            ),
            ("files/C/Program Files/bsr/etc/r0.res", Configuration),
            ("commands/bsrsetup-show.txt", State),
            ("commands/lsmod.txt", State),
            ("commands/ps.txt", Volatile),
            ("commands/uptime.txt", Volatile),
            ("commands/netstat-nap.txt", Volatile),
            ("commands/netstat-ano.stderr.txt", Volatile),
            ("commands/dmesg.txt", Volatile),
            ("commands/journalctl-kernel.txt", Volatile),
            ("commands/bsrsetup-events2.txt", Volatile),
            ("files/var/log/messages", Volatile),
            ("files/opt/DRX/logs/drx.log.1", Volatile),
            ("watch/series.jsonl", Volatile),
            // A prefix family is a family, not any id that starts with the letters.
            ("commands/psql-version.txt", State),
            ("commands/uptime-extra.txt", State),
        ] {
            assert_eq!(volatility(path), want, "{path}");
        }
        assert!(Configuration < State && State < Volatile);
    }

    #[test]
    fn kinds_follow_spec_section_3() {
        for meta in META {
            assert_eq!(PathKind::of(meta), PathKind::Meta, "{meta}");
        }
        assert_eq!(
            PathKind::of("commands/ip-a.txt"),
            PathKind::CommandOutput { id: "ip-a" }
        );
        assert_eq!(
            PathKind::of("commands/bsradm-dump.stderr.txt"),
            PathKind::CommandStderr { id: "bsradm-dump" }
        );
        assert_eq!(PathKind::of("files/var/log/messages"), PathKind::Log);
        assert_eq!(PathKind::of("files/etc/hosts"), PathKind::File);
        assert_eq!(PathKind::of("extra.txt"), PathKind::Other);
        assert_eq!(PathKind::of("commands/a/b.txt"), PathKind::Other);
        assert_eq!(command_path("ip-a"), "commands/ip-a.txt");
        assert_eq!(stderr_path("ip-a"), "commands/ip-a.stderr.txt");
        assert_eq!(command_id(&command_path("x")), Some("x"));
        assert_eq!(stderr_command_id(&stderr_path("x")), Some("x"));
        assert_eq!(strip_top("drx-collect-n-1/files/x"), "files/x");
    }

    #[test]
    fn logs_are_recognised_by_place_and_name() {
        for log in [
            "files/var/log/messages",
            "files/var/log/messages-20181122",
            "files/var/log/bsr/bsr.conf",
            "files/opt/DRX/logs/r0/r0.log",
            "files/opt/DRX/logs/main.txt",
            "files/C/Program Files/bsr/log/bsr.txt",
            "files/C/Program Files/DRX/Logs/Main.LOG",
            "files/C/Windows/Temp/dd_vcredist_amd64_1.log",
            "files/opt/x/main.log.1",
            "files/opt/x/main.log_20240101",
            "files/tmp/syslog.2.gz",
            "files/tmp/messages",
            "collector.log",
        ] {
            assert!(is_log(log), "{log}");
        }
        for not_log in [
            "files/etc/bsr.d/r0.res",
            "files/etc/syslog.conf",
            "files/etc/syslog-ng/syslog-ng.conf",
            "files/usr/share/messages.po",
            "files/opt/DRX/login.conf",
            "files/opt/blog/x.txt",
            "commands/bsrsetup-status.txt",
            "commands/journal.log",
        ] {
            assert!(!is_log(not_log), "{not_log}");
        }
    }

    #[test]
    fn rule_inputs_are_classified() {
        assert!(is_replication_config("files/etc/bsr.d/r0.res"));
        assert!(is_replication_config("files/etc/drbd.d/global_common.conf"));
        assert!(is_replication_config("files/etc/drbd.conf"));
        assert!(is_replication_config("files/opt/DRX/drbd.d/1/r0.res"));
        assert!(is_replication_config(
            "files/C/Program Files/bsr/etc/bsr.d/r0.res"
        ));
        assert!(!is_replication_config("files/opt/DRX/logs/main.log"));
        assert!(!is_replication_config("files/var/log/bsr/bsr.conf"));
        assert!(!is_replication_config("files/etc/resolv.conf"));
        assert!(!is_replication_config("commands/drbd.conf"));
        assert!(is_drx_config("files/opt/DRX/drx.conf"));
        assert!(is_drx_config("files/C/Program Files/DRX/drx.conf"));
        assert!(may_be_included("files/etc/resolv.conf"));
        assert!(!may_be_included("files/var/log/bsr/bsr.conf"));
        assert!(is_servicing_package(
            "files/C/Windows/servicing/Packages/Package_for_KB2883200~31bf3856ad364e35~amd64~~6.3.1.0.mum"
        ));
        assert!(is_system_log("files/var/log/messages-20181122"));
        assert!(is_system_log("commands/dmesg.txt"));
        assert!(is_system_log("commands/journalctl-kernel.txt"));
        assert!(!is_system_log("commands/journalctl-drx.txt"));
        assert!(is_package_list("commands/rpm-qa.txt"));
        assert!(is_package_list("top/commands/drbdadm-version.txt"));
        assert!(!is_package_list("files/var/lib/rpm/x"));
    }

    #[test]
    fn windows_paths_map_to_one_logical_path_whatever_the_drive_case() {
        for written in [
            "c:\\Program Files\\bsr",
            "C:/Program Files/bsr",
            "c:Program Files\\bsr",
        ] {
            assert_eq!(
                windows_logical(written).as_deref(),
                Some("/C/Program Files/bsr")
            );
        }
        assert_eq!(windows_logical("/etc/drbd.d"), None);
        assert_eq!(windows_logical("bsr.d/*.res"), None);
        assert!(is_windows_file("files/C/Program Files/bsr/etc/bsr.conf"));
        assert!(!is_windows_file("files/etc/drbd.conf"));
        assert!(!is_windows_file("commands/C/x"));
    }
}
