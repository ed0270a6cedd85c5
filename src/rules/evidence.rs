//! `Evidence`: what one node's bundle showed, parsed once in `Scan::finish` from the files kept
//! whole and the line hits. The checks read it; `findings` turns their verdicts into `Finding`s.
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use glob::{MatchOptions, Pattern};

use super::catalogue::Catalogue;
use super::checks::{self, Raw};
use super::model::{Located, Place, Version};
use super::parse::{
    firewalld, interfaces, iptables, netsh, resfile, setup_show, sockets, versions, windows,
};
use super::paths;
use crate::index::{sort_findings, Finding, Host, Item};
use crate::lang::Lang;

/// What the collector (or the bundle's index.json) knows besides file contents.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub host: Host,
    pub items: Vec<Item>,
    pub collected_at: Option<DateTime<Utc>>,
}

/// One line a pattern rule (or the BOM check) fired on.
#[derive(Debug, Clone)]
pub struct Hit {
    pub rule: String,
    pub place: Place,
}

/// Which replication engine a configuration is for: decides defaults and host-name matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Bsr,
    Drbd,
    Unknown,
}

/// A resource as this node configures it, with the flavour its file implies.
#[derive(Debug, Clone)]
pub struct NodeResource {
    pub resource: resfile::Resource,
    pub flavour: Flavour,
}

#[derive(Debug, Clone, Default)]
pub struct Firewalld {
    pub runtime: Option<(String, Vec<firewalld::Zone>)>,
    pub permanent: Option<(String, Vec<firewalld::Zone>)>,
}

#[derive(Debug, Clone)]
pub struct WindowsFirewall {
    /// The profile blocks of `netsh advfirewall show allprofiles`.
    pub profiles: Vec<netsh::ProfileState>,
    /// The profiles in use (`show currentprofile`), when it was collected and readable.
    pub current: Option<u8>,
    /// The rules: from the registry (language-neutral) when collected, else from netsh.
    pub rules: Option<(String, Vec<netsh::FirewallRule>)>,
}

impl WindowsFirewall {
    /// The profiles a connection from the peer is filtered by: the current ones when known,
    /// else every profile; with a note saying which.
    pub fn considered(&self) -> (u8, Option<String>) {
        match self.current {
            Some(mask) => (mask, None),
            None => (
                netsh::ALL_PROFILES,
                Some("current profile unknown (show currentprofile not collected or not readable): any profile that is on counts".to_string()),
            ),
        }
    }

    /// Considered profiles that are on and filter inbound connections.
    pub fn filtering(&self, considered: u8) -> Vec<&netsh::ProfileState> {
        self.profiles
            .iter()
            .filter(|p| p.mask.is_some_and(|m| m & considered != 0))
            .filter(|p| p.on == Some(true) && !p.allows_inbound)
            .collect()
    }
}

#[derive(Debug, Clone, Default)]
pub struct WindowsInfo {
    pub release: Option<(windows::WindowsRelease, Place)>,
    /// Where an installed-updates list was read (wmic qfe or systeminfo).
    pub updates_list: Option<String>,
    pub kb_ids: BTreeSet<String>,
    /// Update lists that were collected but are not whole (cut short, timed out).
    pub incomplete_update_sources: Vec<String>,
    pub dotnet35: Option<(bool, String)>,
}

/// What one node's bundle showed.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub(crate) catalogue: Catalogue,
    pub(crate) host: Host,
    pub(crate) gaps: Vec<Item>,
    pub(crate) hits: Vec<Hit>,
    pub(crate) config_files: Vec<resfile::ConfigFile>,
    pub(crate) resources: Vec<NodeResource>,
    /// BSR `global { hostname }`, which replaces the system host name for matching.
    pub(crate) global_hostname: Option<String>,
    pub(crate) loaded: Vec<setup_show::LoadedResource>,
    pub(crate) drbd_kernel: Option<Located<Version>>,
    pub(crate) drbd_utils: Option<Located<Version>>,
    pub(crate) drx_version: Option<String>,
    /// Module names from `lsmod`, when it was collected.
    pub(crate) lsmod: Option<(String, Vec<String>)>,
    pub(crate) proc_module: bool,
    pub(crate) sockets: Option<Vec<sockets::Socket>>,
    pub(crate) local_ips: Option<Vec<IpAddr>>,
    pub(crate) iptables: Option<iptables::Ruleset>,
    pub(crate) firewalld: Option<Firewalld>,
    pub(crate) windows_firewall: Option<WindowsFirewall>,
    pub(crate) drx_running: Option<Place>,
    pub(crate) windows: WindowsInfo,
}

fn text(whole: &BTreeMap<String, Vec<u8>>, path: &str) -> Option<String> {
    whole
        .get(path)
        .map(|b| super::decode::text(b).into_owned())
        .filter(|t| !t.trim().is_empty())
}

fn command(whole: &BTreeMap<String, Vec<u8>>, id: &str) -> Option<(String, String)> {
    let path = format!("commands/{id}.txt");
    text(whole, &path).map(|t| (path, t))
}

impl Evidence {
    pub(crate) fn gather(
        catalogue: Catalogue,
        facts: &Facts,
        whole: &BTreeMap<String, Vec<u8>>,
        hits: Vec<Hit>,
        kernel_log_version: Option<Located<Version>>,
    ) -> Evidence {
        let mut host = facts.host.clone();
        // "unknown": the collector could not tell (a Windows sysroot under --root).
        if host.hostname.trim().is_empty() || host.hostname == "unknown" {
            host.hostname = command(whole, "hostname")
                .map(|(_, t)| t)
                .or_else(|| text(whole, "files/etc/hostname"))
                .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
                .unwrap_or_default();
        }
        let windows_host = host.os.eq_ignore_ascii_case("windows")
            || command(whole, "systeminfo").is_some()
            || whole.keys().any(|p| p.starts_with("files/C/"));

        // Versions, most authoritative first: what is loaded, then what is installed, then logs.
        let adm = command(whole, "drbdadm-version")
            .map(|(p, t)| versions::drbdadm_v(&p, &t))
            .unwrap_or_default();
        let proc_drbd = text(whole, "files/proc/drbd");
        let mut packages = command(whole, "rpm-qa")
            .map(|(p, t)| versions::rpm_qa(&p, &t))
            .unwrap_or_default();
        if let Some(dpkg) = command(whole, "dpkg-l").map(|(p, t)| versions::dpkg_l(&p, &t)) {
            packages.utils = packages.utils.or(dpkg.utils);
        }
        let drbd_kernel = proc_drbd
            .as_deref()
            .and_then(|t| versions::proc_drbd("files/proc/drbd", t))
            .or(adm.kernel)
            .or_else(|| command(whole, "modinfo-drbd").and_then(|(p, t)| versions::modinfo(&p, &t)))
            .or(packages.kmod)
            .or(kernel_log_version);
        let drbd_utils = adm.utils.or(packages.utils);

        let lsmod = command(whole, "lsmod").map(|(p, t)| {
            let modules: Vec<String> = t
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string)
                .collect();
            (p, modules)
        });
        let has_module = |name: &str| {
            lsmod
                .as_ref()
                .is_some_and(|(_, m)| m.iter().any(|x| x == name))
        };
        let proc_module = proc_drbd.is_some() || text(whole, "files/proc/bsr").is_some();
        let drbd_engine = proc_drbd.is_some()
            || has_module("drbd")
            || command(whole, "drbdadm-version").is_some()
            || command(whole, "modinfo-drbd").is_some();
        let bsr_engine = text(whole, "files/proc/bsr").is_some()
            || has_module("bsr")
            || command(whole, "bsradm-version").is_some()
            || command(whole, "bsrsetup-show").is_some()
            || windows_host;

        let (config_files, resources, global_hostname) =
            read_configuration(whole, drbd_engine, bsr_engine);

        let mut loaded = Vec::new();
        for id in ["bsrsetup-show", "drbdsetup-show"] {
            if let Some((p, t)) = command(whole, id) {
                loaded.extend(setup_show::parse(&p, t.as_bytes()));
            }
        }

        let mut socket_list: Option<Vec<sockets::Socket>> = None;
        for id in ["netstat-nap", "ss-tanp", "netstat-ano"] {
            if let Some((p, t)) = command(whole, id) {
                socket_list
                    .get_or_insert_with(Vec::new)
                    .extend(sockets::parse(&p, &t));
            }
        }
        let local_ips = match (command(whole, "ip-a"), command(whole, "ipconfig-all")) {
            (None, None) => None,
            (a, b) => {
                let mut ips = a.map(|(_, t)| interfaces::ip_a(&t)).unwrap_or_default();
                ips.extend(b.map(|(_, t)| interfaces::ipconfig(&t)).unwrap_or_default());
                Some(ips)
            }
        };

        let gaps: Vec<Item> = facts
            .items
            .iter()
            .filter(|i| i.status.is_gap())
            .cloned()
            .collect();
        let windows_info = read_windows(whole, &facts.host, &gaps);
        Evidence {
            host,
            gaps,
            hits,
            config_files,
            resources,
            global_hostname,
            loaded,
            drbd_kernel,
            drbd_utils,
            drx_version: command(whole, "drx-version").and_then(|(_, t)| versions::drx_version(&t)),
            lsmod,
            proc_module,
            sockets: socket_list,
            local_ips,
            iptables: read_iptables(whole),
            firewalld: read_firewalld(whole),
            windows_firewall: read_windows_firewall(whole),
            drx_running: drx_running(whole),
            windows: windows_info,
            catalogue,
        }
    }

    /// Single-node findings in `lang`, sorted worst first.
    pub fn findings(&self, lang: Lang) -> Vec<Finding> {
        let mut raws = Vec::new();
        checks::single_node(self, &mut raws);
        let mut findings = to_findings(&self.catalogue, raws, lang);
        sort_findings(&mut findings);
        findings
    }

    /// The DRX version this node reported (`drx --version`).
    pub fn drx_version(&self) -> Option<&str> {
        self.drx_version.as_deref()
    }

    /// The host name bsradm/drbdadm match `on` sections against.
    pub(crate) fn match_name(&self, flavour: Flavour) -> Option<&str> {
        let name = match (flavour, &self.global_hostname) {
            (Flavour::Bsr | Flavour::Unknown, Some(global)) => global.as_str(),
            _ => self.host.hostname.as_str(),
        };
        let name = name.trim();
        (!name.is_empty()).then_some(name)
    }

    /// This node's section of a resource.
    pub(crate) fn this_host<'a>(
        &self,
        resource: &'a NodeResource,
    ) -> Option<&'a resfile::HostSection> {
        let name = self.match_name(resource.flavour)?;
        resource.resource.hosts.iter().find(|h| {
            h.names
                .iter()
                .any(|n| host_matches(resource.flavour, n, name))
        })
    }
}

/// bsradm compares case-insensitively and, when either name is short, only the part before the
/// first dot; DRBD 8.4's drbdadm compares exactly.
pub fn host_matches(flavour: Flavour, configured: &str, hostname: &str) -> bool {
    if flavour == Flavour::Drbd {
        return configured == hostname;
    }
    let a = configured.to_lowercase();
    let b = hostname.to_lowercase();
    if a == b {
        return true;
    }
    if !a.contains('.') || !b.contains('.') {
        let short = |s: &str| s.split('.').next().unwrap_or("").to_string();
        return short(&a) == short(&b);
    }
    false
}

pub(crate) fn to_findings(catalogue: &Catalogue, raws: Vec<Raw>, lang: Lang) -> Vec<Finding> {
    raws.into_iter()
        .filter_map(|raw| {
            let rule = catalogue.get(&raw.rule)?;
            let place = raw.place.unwrap_or_default();
            Some(Finding {
                rule: rule.id.clone(),
                severity: rule.severity,
                title: rule.title(lang).to_string(),
                path: (!place.path.is_empty()).then_some(place.path),
                line: place.line,
                excerpt: place.excerpt,
                remedy: rule.remedy(lang).to_string(),
                node: raw.node,
                detail: raw.detail,
            })
        })
        .collect()
}

const GLOB_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// The bundle path an `include` refers to, as a glob over bundle paths.
fn include_glob(including: &str, include: &str) -> Option<Pattern> {
    let include = include.replace('\\', "/");
    let target = if let Some(absolute) = include.strip_prefix('/') {
        format!("files/{absolute}")
    } else if include.len() > 2 && include.as_bytes()[1] == b':' {
        // Windows `C:/Program Files/...` → `files/C/Program Files/...`.
        format!("files/{}{}", &include[..1], &include[2..])
    } else {
        let dir = including.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        format!("{dir}/{include}")
    };
    Pattern::new(&target).ok()
}

type Configuration = (Vec<resfile::ConfigFile>, Vec<NodeResource>, Option<String>);

fn read_configuration(
    whole: &BTreeMap<String, Vec<u8>>,
    drbd_engine: bool,
    bsr_engine: bool,
) -> Configuration {
    let mut chosen: BTreeSet<&str> = whole
        .keys()
        .map(String::as_str)
        .filter(|p| paths::is_replication_config(p))
        .collect();
    // Follow includes (a few rounds: includes may include).
    for _ in 0..4 {
        let mut added = Vec::new();
        for path in &chosen {
            let Some(content) = whole.get(*path) else {
                continue;
            };
            for include in resfile::parse(path, content).includes {
                if let Some(glob) = include_glob(path, &include.value) {
                    added.extend(
                        whole
                            .keys()
                            .map(String::as_str)
                            .filter(|p| paths::may_be_included(p))
                            .filter(|p| glob.matches_with(p, GLOB_OPTIONS)),
                    );
                }
            }
        }
        let before = chosen.len();
        chosen.extend(added);
        if chosen.len() == before {
            break;
        }
    }
    let mut files: Vec<resfile::ConfigFile> = chosen
        .iter()
        .filter_map(|p| whole.get(*p).map(|c| resfile::parse(p, c)))
        .collect();
    if files.iter().all(|f| f.resources.is_empty()) {
        // No resource files in the bundle: the dumped configuration is the next best thing.
        for id in ["bsradm-dump", "drbdadm-dump"] {
            let path = format!("commands/{id}.txt");
            if let Some(content) = whole.get(&path) {
                files.push(resfile::parse(&path, content));
            }
        }
    }
    let common_net: Vec<resfile::Setting> =
        files.iter().flat_map(|f| f.common_net.clone()).collect();
    let common_startup: Vec<resfile::Setting> = files
        .iter()
        .flat_map(|f| f.common_startup.clone())
        .collect();
    let global_hostname = files.iter().find_map(|f| f.global_hostname.clone());
    let mut resources: Vec<NodeResource> = Vec::new();
    for file in &files {
        let lower = file.path.to_ascii_lowercase();
        let flavour = if lower.contains("bsr") {
            Flavour::Bsr
        } else if drbd_engine {
            Flavour::Drbd
        } else if bsr_engine {
            Flavour::Bsr
        } else if lower.contains("drbd") {
            Flavour::Drbd
        } else {
            Flavour::Unknown
        };
        for resource in &file.resources {
            if resources.iter().any(|r| r.resource.name == resource.name) {
                continue;
            }
            let mut resource = resource.clone();
            // `common` settings apply where the resource sets nothing itself.
            for setting in &common_net {
                if !resource.net.iter().any(|s| s.key == setting.key) {
                    resource.net.push(setting.clone());
                }
            }
            for setting in &common_startup {
                if !resource.startup.iter().any(|s| s.key == setting.key) {
                    resource.startup.push(setting.clone());
                }
            }
            resources.push(NodeResource { resource, flavour });
        }
    }
    (files, resources, global_hostname)
}

fn read_iptables(whole: &BTreeMap<String, Vec<u8>>) -> Option<iptables::Ruleset> {
    if let Some((p, t)) = command(whole, "iptables-s") {
        return Some(iptables::parse_rules(&p, &t));
    }
    if let Some((p, t)) = command(whole, "iptables-service-status") {
        return Some(iptables::parse_status(&p, &t));
    }
    // The saved rules say what iptables loads at boot; used only when no runtime view exists.
    let saved = "files/etc/sysconfig/iptables";
    let status_collected = whole.contains_key("commands/iptables-service-status.txt")
        || whole.contains_key("commands/iptables-s.txt");
    if status_collected {
        return None;
    }
    text(whole, saved).map(|t| iptables::parse_rules(saved, &t))
}

fn read_firewalld(whole: &BTreeMap<String, Vec<u8>>) -> Option<Firewalld> {
    let (_, state) = command(whole, "firewalld-state")?;
    if !firewalld::is_running(&state) {
        return None;
    }
    let runtime = command(whole, "firewalld-list-all-zones")
        .or_else(|| command(whole, "firewalld-list-all"))
        .map(|(p, t)| {
            let zones = firewalld::parse(&p, &t);
            (p, zones)
        });
    let permanent = command(whole, "firewalld-permanent-list-all").map(|(p, t)| {
        let zones = firewalld::parse(&p, &t);
        (p, zones)
    });
    Some(Firewalld { runtime, permanent })
}

fn read_windows_firewall(whole: &BTreeMap<String, Vec<u8>>) -> Option<WindowsFirewall> {
    let (path, text) = command(whole, "netsh-firewall-profiles")?;
    let profiles = netsh::parse_profiles(&path, &text, true);
    if profiles.is_empty() {
        return None;
    }
    let current = command(whole, "netsh-firewall-currentprofile").and_then(|(p, t)| {
        let mask = netsh::parse_profiles(&p, &t, false)
            .iter()
            .filter_map(|s| s.mask)
            .fold(0, |a, m| a | m);
        (mask != 0).then_some(mask)
    });
    // The registry's rule values do not change with the display language: preferred.
    let mut registry: Option<(String, Vec<netsh::FirewallRule>)> = None;
    for id in ["reg-firewall-rules", "reg-firewall-policy-rules"] {
        if let Some((p, t)) = command(whole, id) {
            let parsed = netsh::parse_registry_rules(&p, &t);
            if !parsed.is_empty() {
                let entry = registry.get_or_insert_with(|| (p.clone(), Vec::new()));
                entry.1.extend(parsed);
            }
        }
    }
    let rules = registry.or_else(|| {
        command(whole, "netsh-firewall-rules").map(|(p, t)| {
            let rules = netsh::parse_rules(&p, &t);
            (p, rules)
        })
    });
    Some(WindowsFirewall {
        profiles,
        current,
        rules,
    })
}

/// DRX runs: a `drx` process in `ps -ef`, a running drxsvc service, or `sc query` RUNNING.
fn drx_running(whole: &BTreeMap<String, Vec<u8>>) -> Option<Place> {
    if let Some((p, t)) = command(whole, "ps") {
        for (i, line) in t.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            // `ps -ef`: UID PID PPID C STIME TTY TIME CMD...
            let Some(cmd) = words.get(7) else {
                continue;
            };
            let name = cmd.rsplit('/').next().unwrap_or(cmd);
            if name == "drx" || name == "drxsvc" {
                return Some(Place::new(&p, i as u64 + 1, line));
            }
        }
    }
    for id in [
        "drxsvc-systemctl-status",
        "drxsvc-service-status",
        "sc-query-drx",
    ] {
        if let Some((p, t)) = command(whole, id) {
            for (i, line) in t.lines().enumerate() {
                let l = line.trim();
                let running = l.starts_with("Active: active (running)")
                    || l.contains(" is running")
                    || (l.starts_with("STATE") && l.contains("RUNNING"));
                if running {
                    return Some(Place::new(&p, i as u64 + 1, line));
                }
            }
        }
    }
    None
}

fn read_windows(whole: &BTreeMap<String, Vec<u8>>, host: &Host, gaps: &[Item]) -> WindowsInfo {
    let mut info = WindowsInfo::default();
    let systeminfo = command(whole, "systeminfo");
    if let Some((p, t)) = &systeminfo {
        info.release = windows::release_in(t, p);
    }
    if info.release.is_none() && host.os.eq_ignore_ascii_case("windows") {
        info.release =
            windows::release(&host.os_release).map(|(r, _)| (r, Place::file("index.json")));
    }
    if let Some((p, t)) = command(whole, "wmic-qfe") {
        info.kb_ids.extend(windows::kb_ids(&t));
        if gaps.iter().any(|g| g.id == "wmic-qfe") {
            info.incomplete_update_sources.push(p);
        } else {
            info.updates_list = Some(p);
        }
    }
    if let Some((p, t)) = &systeminfo {
        info.kb_ids.extend(windows::kb_ids(t));
        // Only a systeminfo that reached the end of its hotfix section is an update list;
        // one cut short (timeout, truncation) shows nothing about absent updates.
        let cut_short = gaps.iter().any(|g| g.id == "systeminfo");
        if !cut_short && windows::systeminfo_hotfix_section_complete(t) {
            info.updates_list.get_or_insert_with(|| p.clone());
        } else {
            info.incomplete_update_sources.push(p.clone());
        }
    }
    for path in whole.keys().filter(|p| paths::is_servicing_package(p)) {
        info.kb_ids.extend(windows::kb_ids(path));
    }
    if let Some((p, t)) = command(whole, "dotnet-versions") {
        info.dotnet35 = Some((windows::dotnet35_installed(&t), p));
    }
    info
}
