//! What a bundle path is (SPEC §3 layout): a command's stdout, a BSR/DRBD/DRX configuration file,
//! a /proc file... Every rule asks through here, so the layout is known in one place.

/// `commands/<id>.txt` → `<id>` (stdout only; `<id>.stderr.txt` is not a command's output).
pub fn command_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix("commands/")?.strip_suffix(".txt")?;
    (!id.ends_with(".stderr") && !id.contains('/')).then_some(id)
}

/// Commands whose whole output the checks parse. Not `dmesg`, `ps` stays (small), event logs are
/// read line by line only.
const WHOLE_COMMANDS: &[&str] = &[
    "probe",
    "ip-a",
    "lsmod",
    "netstat-nap",
    "ss-tanp",
    "iptables-service-status",
    "iptables-s",
    "firewalld-state",
    "firewalld-list-all",
    "firewalld-list-all-zones",
    "firewalld-permanent-list-all",
    "bsrsetup-show",
    "bsrsetup-status",
    "bsradm-dump",
    "bsradm-version",
    "drbdadm-dump",
    "drbdsetup-show",
    "drbdadm-version",
    "modinfo-drbd",
    "modinfo-bsr",
    "drxsvc-service-status",
    "drxsvc-systemctl-status",
    "drx-version",
    "hostname",
    "ps",
    "rpm-qa",
    "dpkg-l",
    "systeminfo",
    "ipconfig-all",
    "netstat-ano",
    "netsh-firewall-profiles",
    "netsh-firewall-rules",
    "netsh-firewall-currentprofile",
    "reg-firewall-rules",
    "reg-firewall-policy-rules",
    "wmic-qfe",
    "dotnet-versions",
    "sc-query-drx",
    "sc-query-bsr",
];

const WHOLE_FILES: &[&str] = &[
    "files/proc/drbd",
    "files/proc/bsr",
    "files/etc/hostname",
    "files/etc/sysconfig/network",
    "files/etc/sysconfig/iptables",
];

fn lower(path: &str) -> String {
    path.to_ascii_lowercase()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Inside a log directory: never configuration, whatever the extension.
fn in_log_dir(lower: &str) -> bool {
    lower.contains("/logs/") || lower.contains("/log/") || lower.starts_with("files/var/log/")
}

/// A BSR/DRBD configuration file: bsr.conf, bsr-*.conf, drbd.conf, drbd-*.conf,
/// global_common.conf, or a *.res / *.conf in a bsr.d / drbd.d tree or BSR's Windows `etc`.
pub fn is_replication_config(path: &str) -> bool {
    if !path.starts_with("files/") {
        return false;
    }
    let lower = lower(path);
    if in_log_dir(&lower) {
        return false;
    }
    let name = file_name(&lower);
    let conf_or_res = name.ends_with(".conf") || name.ends_with(".res");
    if !conf_or_res {
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
    path.starts_with("files/") && file_name(&lower(path)) == "drx.conf"
}

/// Any configuration a BOM breaks.
pub fn is_bom_sensitive(path: &str) -> bool {
    is_replication_config(path) || is_drx_config(path)
}

/// A file that may be included from bsr.conf/drbd.conf (any *.res, or *.conf outside logs).
pub fn may_be_included(path: &str) -> bool {
    let lower = lower(path);
    path.starts_with("files/")
        && !in_log_dir(&lower)
        && (lower.ends_with(".res") || lower.ends_with(".conf"))
}

/// Windows servicing package of a KB (`Package_for_KB2883200~31bf3856ad364e35~amd64~~6.3.1.0.mum`).
pub fn is_servicing_package(path: &str) -> bool {
    let lower = lower(path);
    lower.contains("/windows/servicing/packages/") && lower.ends_with(".mum")
}

/// Kernel / system logs that may carry the drbd version line.
pub fn is_system_log(path: &str) -> bool {
    let lower = lower(path);
    command_id(path) == Some("dmesg")
        || lower.starts_with("files/var/log/messages")
        || lower.starts_with("files/var/log/syslog")
        || lower.starts_with("files/var/log/kern")
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

/// The stderr of `bsradm dump` / `drbdadm dump`: what the tool says when it rejects a config.
const WHOLE_STDERR: &[&str] = &[
    "commands/bsradm-dump.stderr.txt",
    "commands/drbdadm-dump.stderr.txt",
];

pub fn wants_whole(path: &str) -> bool {
    if let Some(id) = command_id(path) {
        return WHOLE_COMMANDS.contains(&id);
    }
    WHOLE_STDERR.contains(&path)
        || is_interface_config(path)
        || is_firewalld_config(path)
        || WHOLE_FILES.contains(&path)
        || is_bom_sensitive(path)
        || may_be_included(path)
        || is_servicing_package(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_bundle_paths() {
        assert_eq!(command_id("commands/ip-a.txt"), Some("ip-a"));
        assert_eq!(command_id("commands/ip-a.stderr.txt"), None);
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
        assert!(is_drx_config("files/opt/DRX/drx.conf"));
        assert!(is_drx_config("files/C/Program Files/DRX/drx.conf"));
        assert!(wants_whole("commands/iptables-s.txt"));
        assert!(!wants_whole("commands/dmesg.txt"));
        assert!(!wants_whole("files/var/log/messages"));
        assert!(!wants_whole("files/opt/DRX/logs/main.log"));
        assert!(wants_whole("files/proc/drbd"));
        assert!(wants_whole("files/etc/resolv.conf"));
        assert!(wants_whole(
            "files/C/Windows/servicing/Packages/Package_for_KB2883200~31bf3856ad364e35~amd64~~6.3.1.0.mum"
        ));
        assert!(is_system_log("files/var/log/messages-20181122"));
    }
}
