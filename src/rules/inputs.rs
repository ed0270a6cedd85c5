//! What the rules read whole: the command outputs the parsers in `evidence` read (the [`Cmd`]
//! list, one place, checked against the manifests by a test), a few fixed files, and the
//! configuration files `layout` recognises. Everything else reaches the rules line by line only.
use crate::layout;

/// Declares [`Cmd`]: each variant is a command item whose whole stdout a parser reads, with its
/// manifest id. `Cmd::ALL` is the list `wants_whole` keeps, so reading an output and keeping it
/// are one declaration.
macro_rules! commands {
    ($($variant:ident = $id:literal,)*) => {
        /// A command item whose whole output the rules parse.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Cmd {
            $($variant,)*
        }

        impl Cmd {
            pub const ALL: &'static [Cmd] = &[$(Cmd::$variant,)*];

            /// The item id (manifests/linux.toml, windows.toml; `probe` is the collector's own).
            pub fn id(self) -> &'static str {
                match self {
                    $(Cmd::$variant => $id,)*
                }
            }
        }
    };
}

commands! {
    Probe = "probe",
    IpA = "ip-a",
    Lsmod = "lsmod",
    NetstatNap = "netstat-nap",
    SsTanp = "ss-tanp",
    IptablesServiceStatus = "iptables-service-status",
    IptablesS = "iptables-s",
    FirewalldState = "firewalld-state",
    FirewalldListAll = "firewalld-list-all",
    FirewalldListAllZones = "firewalld-list-all-zones",
    FirewalldPermanentListAll = "firewalld-permanent-list-all",
    BsrsetupShow = "bsrsetup-show",
    BsradmDump = "bsradm-dump",
    BsradmVersion = "bsradm-version",
    DrbdadmDump = "drbdadm-dump",
    DrbdsetupShow = "drbdsetup-show",
    DrbdsetupEvents2 = "drbdsetup-events2",
    BsrsetupEvents2 = "bsrsetup-events2",
    DrbdadmVersion = "drbdadm-version",
    DrbdadmGetGi = "drbdadm-get-gi",
    BsradmGetGi = "bsradm-get-gi",
    ModinfoDrbd = "modinfo-drbd",
    DrxsvcServiceStatus = "drxsvc-service-status",
    DrxsvcSystemctlStatus = "drxsvc-systemctl-status",
    DrxVersion = "drx-version",
    RegUninstall = "reg-uninstall",
    RegUninstallWow64 = "reg-uninstall-wow64",
    DrxFileVersion = "drx-file-version",
    Hostname = "hostname",
    Ps = "ps",
    RpmQa = "rpm-qa",
    DpkgL = "dpkg-l",
    Systeminfo = "systeminfo",
    IpconfigAll = "ipconfig-all",
    NetstatAno = "netstat-ano",
    NetshFirewallProfiles = "netsh-firewall-profiles",
    NetshFirewallRules = "netsh-firewall-rules",
    NetshFirewallCurrentprofile = "netsh-firewall-currentprofile",
    RegFirewallRules = "reg-firewall-rules",
    RegFirewallPolicyRules = "reg-firewall-policy-rules",
    WmicQfe = "wmic-qfe",
    DotnetVersions = "dotnet-versions",
    ScQueryDrx = "sc-query-drx",
}

impl Cmd {
    /// `commands/<id>.txt`.
    pub fn path(self) -> String {
        layout::command_path(self.id())
    }

    /// Whether `id` (an index item's) is this command.
    pub fn is(self, id: &str) -> bool {
        self.id() == id
    }
}

/// The dumps whose stderr is read whole: what the tool says when it rejects a configuration.
pub const DUMPS: [Cmd; 2] = [Cmd::BsradmDump, Cmd::DrbdadmDump];

pub const PROC_DRBD: &str = "files/proc/drbd";
pub const PROC_BSR: &str = "files/proc/bsr";
pub const ETC_HOSTNAME: &str = "files/etc/hostname";
pub const SYSCONFIG_IPTABLES: &str = "files/etc/sysconfig/iptables";

/// Files read whole at a fixed path.
const WHOLE_FILES: &[&str] = &[PROC_DRBD, PROC_BSR, ETC_HOSTNAME, SYSCONFIG_IPTABLES];

/// Any configuration a BOM breaks.
pub fn is_bom_sensitive(path: &str) -> bool {
    layout::is_replication_config(path) || layout::is_drx_config(path)
}

/// Whether the rules keep this file whole (configs, command outputs, /proc files; not logs).
pub fn wants_whole(path: &str) -> bool {
    if let Some(id) = layout::command_id(path) {
        return Cmd::ALL.iter().any(|c| c.is(id));
    }
    if let Some(id) = layout::stderr_command_id(path) {
        return DUMPS.iter().any(|c| c.is(id));
    }
    WHOLE_FILES.contains(&path)
        || path == layout::WATCH_SERIES
        || layout::is_interface_config(path)
        || layout::is_firewalld_config(path)
        || is_bom_sensitive(path)
        || layout::may_be_included(path)
        || layout::is_servicing_package(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{embedded, Os};

    #[test]
    fn every_command_read_is_a_manifest_item() {
        let mut ids: Vec<String> = [Os::Linux, Os::Windows]
            .into_iter()
            .flat_map(|os| embedded(os).items)
            .map(|item| item.id)
            .collect();
        ids.push(layout::PROBE_ID.to_string());
        for cmd in Cmd::ALL {
            assert!(
                ids.iter().any(|id| cmd.is(id)),
                "{cmd:?} reads `{}`, which no manifest item has",
                cmd.id()
            );
        }
    }

    #[test]
    fn whole_files_are_what_the_parsers_read() {
        assert!(wants_whole("commands/iptables-s.txt"));
        assert!(wants_whole("commands/probe.txt"));
        assert!(wants_whole("commands/bsradm-dump.stderr.txt"));
        assert!(!wants_whole("commands/ip-a.stderr.txt"));
        assert!(!wants_whole("commands/dmesg.txt"));
        assert!(!wants_whole("files/var/log/messages"));
        assert!(!wants_whole("files/opt/DRX/logs/main.log"));
        assert!(!wants_whole("files/var/log/bsr/bsr.conf"));
        assert!(wants_whole("files/proc/drbd"));
        assert!(wants_whole("files/etc/resolv.conf"));
        assert!(wants_whole(
            "files/etc/sysconfig/network-scripts/ifcfg-eth0"
        ));
        assert!(wants_whole("files/etc/firewalld/zones/public.xml"));
        assert!(wants_whole(
            "files/C/Windows/servicing/Packages/Package_for_KB2883200~31bf3856ad364e35~amd64~~6.3.1.0.mum"
        ));
        assert!(is_bom_sensitive("files/opt/DRX/drx.conf"));
        assert!(is_bom_sensitive("files/etc/bsr.d/r0.res"));
        assert!(!is_bom_sensitive("files/etc/resolv.conf"));
    }
}
