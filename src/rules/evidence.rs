//! `Evidence`: what one node's bundle showed, parsed once in `Scan::finish` from the files kept
//! whole and the line hits. The checks read it; `findings` turns their verdicts into `Finding`s.
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use glob::{MatchOptions, Pattern};

use super::catalogue::Catalogue;
use super::checks::{self, Raw};
use super::inputs::{self, Cmd};
use super::model::{Located, Place, Version};
use super::parse::{
    firewalld, gi, interfaces, iptables, netsh, resfile, setup_show, sockets, versions, windows,
};
use super::uuid_compare::Kernel;
use crate::index::{sort_findings, Finding, Host, Item};
use crate::lang::Lang;
use crate::layout;

/// What the collector (or the bundle's index.json) knows besides file contents.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub host: Host,
    pub items: Vec<Item>,
    pub collected_at: Option<DateTime<Utc>>,
}

/// Versions the line scan read from logs (not kept whole): the drbd kernel's start line, and the
/// newest DRX version a DRX log names.
#[derive(Debug, Clone, Default)]
pub struct LogVersions {
    pub drbd_kernel: Option<Located<Version>>,
    pub drx: Option<Located<Version>>,
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

/// How the installed tool compares an `on` name with the node's host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// DRBD 8.3 / 8.4 drbdadm: `strcmp`.
    Exact,
    /// BSR and DRBD 9 (`hostnames_equal`): case-insensitive; when either name is short, only the
    /// parts before the first dot are compared.
    Hostnames,
}

impl Matching {
    pub fn describe(self) -> &'static str {
        match self {
            Matching::Exact => "compared exactly, as DRBD 8.4 does",
            Matching::Hostnames => "compared as BSR/DRBD 9 do: case-insensitive, short name",
        }
    }
}

/// How this node's section of a resource was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// By the host name (or a `stacked-on-top-of` whose lower resource is this node's).
    Name,
    /// By one of this node's own addresses (a `floating` section, or an `on` section whose
    /// name is not this host's).
    Address(IpAddr),
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
    /// The permanent zone files, read when firewalld was not running (it applies them when it
    /// starts): where they were read, and the zones that apply.
    pub zone_files: Option<(String, Vec<firewalld::Zone>)>,
    pub services: firewalld::Services,
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
    /// DRX's version: the newest any source shows (`drx --version`, the rpm/dpkg package, a
    /// DRX log's start line, Windows' installed programs or the programs' file version).
    pub(crate) drx_version: Option<Located<Version>>,
    /// Module names from `lsmod`, when it was collected.
    pub(crate) lsmod: Option<(String, Vec<String>)>,
    pub(crate) proc_module: bool,
    pub(crate) sockets: Option<Vec<sockets::Socket>>,
    pub(crate) local_ips: Option<Vec<IpAddr>>,
    /// Addresses this node holds or is configured with (`ip a`, `ipconfig /all`, ifcfg files):
    /// used to recognise this node's section of a resource.
    pub(crate) own_ips: Option<BTreeSet<IpAddr>>,
    /// `commands/probe.txt`: the probes this node ran (`--probe`), and where they were read.
    pub(crate) probes: Option<(String, Vec<crate::probe::ProbeResult>)>,
    /// The DRBD generation the bundle shows (8 or 9), from the kernel module or the utilities.
    pub(crate) drbd_generation: Option<u64>,
    /// `bsradm dump` / `drbdadm dump` exited non-zero with a message: (command id, exit code,
    /// first error line, its place).
    pub(crate) dump_rejections: Vec<(String, i32, Place)>,
    /// Resource name → index in `resources` (stacked lookups stay linear overall).
    pub(crate) by_name: std::collections::HashMap<String, usize>,
    pub(crate) iptables: Option<iptables::Ruleset>,
    pub(crate) firewalld: Option<Firewalld>,
    pub(crate) windows_firewall: Option<WindowsFirewall>,
    pub(crate) drx_running: Option<Place>,
    pub(crate) windows: WindowsInfo,
    /// Generation identifiers: `get-gi` records and the handshakes the logs show.
    pub(crate) gi: GiEvidence,
    /// `watch/series.jsonl`: what `watch` / `record` sampled, and where it was read.
    pub(crate) series: Option<(String, crate::series::Series)>,
}

fn text(whole: &BTreeMap<String, Vec<u8>>, path: &str) -> Option<String> {
    whole
        .get(path)
        .map(|b| super::decode::text(b).into_owned())
        .filter(|t| !t.trim().is_empty())
}

fn command(whole: &BTreeMap<String, Vec<u8>>, cmd: Cmd) -> Option<(String, String)> {
    let path = cmd.path();
    text(whole, &path).map(|t| (path, t))
}

impl Evidence {
    pub(crate) fn gather(
        catalogue: Catalogue,
        facts: &Facts,
        whole: &BTreeMap<String, Vec<u8>>,
        hits: Vec<Hit>,
        log_versions: LogVersions,
    ) -> Evidence {
        let mut host = facts.host.clone();
        // "unknown": the collector could not tell (a Windows sysroot under --root).
        if host.hostname.trim().is_empty() || host.hostname == "unknown" {
            host.hostname = command(whole, Cmd::Hostname)
                .map(|(_, t)| t)
                .or_else(|| text(whole, inputs::ETC_HOSTNAME))
                .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
                .unwrap_or_default();
        }
        let windows_host = host.os.eq_ignore_ascii_case("windows")
            || command(whole, Cmd::Systeminfo).is_some()
            || whole.keys().any(|p| p.starts_with("files/C/"));

        // Versions, most authoritative first: what is loaded, then what is installed, then logs.
        let adm = command(whole, Cmd::DrbdadmVersion)
            .map(|(p, t)| versions::drbdadm_v(&p, &t))
            .unwrap_or_default();
        let proc_drbd = text(whole, inputs::PROC_DRBD);
        let mut packages = command(whole, Cmd::RpmQa)
            .map(|(p, t)| versions::rpm_qa(&p, &t))
            .unwrap_or_default();
        if let Some(dpkg) = command(whole, Cmd::DpkgL).map(|(p, t)| versions::dpkg_l(&p, &t)) {
            packages.utils = packages.utils.or(dpkg.utils);
        }
        let drbd_kernel = proc_drbd
            .as_deref()
            .and_then(|t| versions::proc_drbd(inputs::PROC_DRBD, t))
            .or(adm.kernel)
            .or_else(|| {
                command(whole, Cmd::ModinfoDrbd).and_then(|(p, t)| versions::modinfo(&p, &t))
            })
            .or(packages.kmod)
            .or(log_versions.drbd_kernel);
        let drbd_utils = adm.utils.or(packages.utils);

        let lsmod = command(whole, Cmd::Lsmod).map(|(p, t)| {
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
        let proc_module = proc_drbd.is_some() || text(whole, inputs::PROC_BSR).is_some();
        let drbd_engine = proc_drbd.is_some()
            || has_module("drbd")
            || command(whole, Cmd::DrbdadmVersion).is_some()
            || command(whole, Cmd::ModinfoDrbd).is_some();
        // /proc/bsr and `bsradm -V` carry BSR's own version: it tells the engine, and is never
        // compared with DRBD's minimums.
        let bsr_version = text(whole, inputs::PROC_BSR)
            .and_then(|t| versions::proc_bsr(inputs::PROC_BSR, &t))
            .or_else(|| {
                command(whole, Cmd::BsradmVersion).and_then(|(p, t)| versions::bsradm_v(&p, &t))
            });
        let bsr_engine = bsr_version.is_some()
            || text(whole, inputs::PROC_BSR).is_some()
            || has_module("bsr")
            || command(whole, Cmd::BsradmVersion).is_some()
            || command(whole, Cmd::BsrsetupShow).is_some()
            || windows_host;

        let (config_files, resources, global_hostname) =
            read_configuration(whole, drbd_engine, bsr_engine);

        let mut loaded = Vec::new();
        for id in [Cmd::BsrsetupShow, Cmd::DrbdsetupShow] {
            if let Some((p, t)) = command(whole, id) {
                loaded.extend(setup_show::parse(&p, t.as_bytes()));
            }
        }

        let mut socket_list: Option<Vec<sockets::Socket>> = None;
        for id in [Cmd::NetstatNap, Cmd::SsTanp, Cmd::NetstatAno] {
            if let Some((p, t)) = command(whole, id) {
                socket_list
                    .get_or_insert_with(Vec::new)
                    .extend(sockets::parse(&p, &t));
            }
        }
        let local_ips = match (command(whole, Cmd::IpA), command(whole, Cmd::IpconfigAll)) {
            (None, None) => None,
            (a, b) => {
                let mut ips = a.map(|(_, t)| interfaces::ip_a(&t)).unwrap_or_default();
                ips.extend(b.map(|(_, t)| interfaces::ipconfig(&t)).unwrap_or_default());
                Some(ips)
            }
        };

        let mut own: Option<BTreeSet<IpAddr>> =
            local_ips.as_ref().map(|v| v.iter().copied().collect());
        for (path, content) in whole.iter().filter(|(p, _)| layout::is_interface_config(p)) {
            let ips = interfaces::configured(path, &String::from_utf8_lossy(content));
            own.get_or_insert_with(BTreeSet::new).extend(ips);
        }
        if let Some(own) = own.as_mut() {
            own.retain(|ip| !ip.is_loopback() && !ip.is_unspecified());
        }
        let drbd_generation = drbd_kernel
            .as_ref()
            .and_then(|v| v.value.major())
            .or_else(|| {
                // drbd-utils 8.x drive only 8.x kernels; 9.x utilities drive either.
                drbd_utils
                    .as_ref()
                    .and_then(|v| v.value.major())
                    .filter(|m| *m < 9)
            });

        let by_name = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.resource.name.clone(), i))
            .collect();
        let gaps: Vec<Item> = facts
            .items
            .iter()
            .filter(|i| i.status.is_gap())
            .cloned()
            .collect();
        let windows_info = read_windows(whole, &facts.host, &gaps);
        Evidence {
            by_name,
            own_ips: own,
            drbd_generation,
            dump_rejections: dump_rejections(whole, &facts.items),
            host,
            gaps,
            hits,
            config_files,
            resources,
            global_hostname,
            loaded,
            drbd_kernel,
            drbd_utils,
            drx_version: drx_version(whole, log_versions.drx),
            probes: command(whole, Cmd::Probe).map(|(p, t)| (p, crate::probe::parse(&t))),
            lsmod,
            proc_module,
            sockets: socket_list,
            local_ips,
            iptables: read_iptables(whole),
            firewalld: read_firewalld(whole),
            windows_firewall: read_windows_firewall(whole),
            drx_running: drx_running(whole),
            windows: windows_info,
            gi: GiEvidence::gather(whole),
            series: text(whole, layout::WATCH_SERIES)
                .map(|t| (layout::WATCH_SERIES.to_string(), crate::series::read(&t))),
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

    /// Records the probes run at collection time (the same as reading `commands/probe.txt`).
    pub fn set_probes(&mut self, results: Vec<crate::probe::ProbeResult>) {
        self.probes = Some((Cmd::Probe.path(), results));
    }

    /// What `--probe` tests, from this node's own configuration only (guide §3.1, §3.5):
    /// loopback, each address of this node's sections, and each peer section's address (ping)
    /// and the endpoint this node connects to there (TCP): the peer's DRX `outside` when the
    /// connection is proxied, else its `address`. Resources of other clusters are not probed.
    pub fn probe_targets(&self) -> Vec<crate::probe::Target> {
        use crate::probe::{Role, Target};
        let mut targets = vec![Target::Ping {
            ip: IpAddr::from([127, 0, 0, 1]),
            role: Role::Loopback,
            why: "loopback".into(),
        }];
        for resource in &self.resources {
            let Some(mine) = self.this_host(resource) else {
                continue;
            };
            let name = &resource.resource.name;
            for (role, endpoint) in self.local_endpoints(resource, mine) {
                let ip = endpoint.value.ip;
                if !ip.is_loopback() && !ip.is_unspecified() {
                    targets.push(Target::Ping {
                        ip,
                        role: Role::Local,
                        why: format!("{role} of resource {name} on this node"),
                    });
                }
            }
            for peer in resource
                .resource
                .hosts
                .iter()
                .filter(|h| !std::ptr::eq(*h, mine))
            {
                let label = peer.names.first().map(String::as_str).unwrap_or("peer");
                let proxied = mine.proxy_outside.is_some() && peer.proxy_outside.is_some();
                let (role, endpoint) = if proxied {
                    ("DRX outside", &peer.proxy_outside)
                } else {
                    ("address", &peer.address)
                };
                let Some(endpoint) = endpoint else {
                    continue;
                };
                let value = endpoint.value;
                if value.ip.is_loopback() || value.ip.is_unspecified() {
                    continue;
                }
                targets.push(Target::Ping {
                    ip: value.ip,
                    role: Role::Peer,
                    why: format!("{role} of {label} in resource {name}"),
                });
                targets.push(Target::Tcp {
                    addr: std::net::SocketAddr::new(value.ip, value.port),
                    why: format!("{role} of {label} in resource {name}"),
                });
            }
        }
        targets
    }

    /// The DRX version this node shows (the newest of its sources).
    pub fn drx_version(&self) -> Option<&str> {
        self.drx_version.as_ref().map(|v| v.value.as_str())
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

    /// How the installed tool matches names for this resource: BSR and DRBD 9 like
    /// `hostnames_equal`, DRBD 8.3/8.4 exactly. The version the bundle shows decides; without
    /// one, DRBD 9 syntax in the resource means DRBD 9, and otherwise the lenient comparison is
    /// used (an unknown version must not produce a mismatch the tool would not see).
    pub(crate) fn matching(&self, resource: &NodeResource) -> Matching {
        match resource.flavour {
            Flavour::Drbd => match self.drbd_generation {
                Some(g) if g < 9 && !resource.resource.drbd9_syntax => Matching::Exact,
                _ => Matching::Hostnames,
            },
            Flavour::Bsr | Flavour::Unknown => Matching::Hostnames,
        }
    }

    /// The endpoints of this node's section that live on this node: the `address`, and the
    /// proxy's when the proxy runs here (`proxy on` names this node, or names nothing). A proxy
    /// on a separate host (DRBD 9 `via proxy on site1-pxy`) is that host's business.
    pub(crate) fn local_endpoints<'a>(
        &self,
        resource: &NodeResource,
        section: &'a resfile::HostSection,
    ) -> Vec<(&'static str, &'a Located<crate::rules::model::Endpoint>)> {
        let matching = self.matching(resource);
        let name = self.match_name(resource.flavour).unwrap_or("");
        let proxy_here = section.proxy_on.is_empty()
            || section
                .proxy_on
                .iter()
                .any(|p| host_matches(matching, p, name) || section.names.contains(p));
        section
            .endpoints()
            .filter(|(role, _)| *role == "address" || proxy_here)
            .collect()
    }

    /// The resource is another cluster's: neither this node's name nor its addresses are in it
    /// (only decidable when the addresses were collected).
    pub(crate) fn foreign(&self, resource: &NodeResource) -> bool {
        if self.own_ips.is_none() || self.locate(resource).is_some() {
            return false;
        }
        let matching = self.matching(resource);
        let name = self.match_name(resource.flavour).unwrap_or("");
        !resource
            .resource
            .mesh_hosts
            .iter()
            .any(|m| host_matches(matching, m, name))
    }

    /// This node's section of a resource.
    pub(crate) fn this_host<'a>(
        &self,
        resource: &'a NodeResource,
    ) -> Option<&'a resfile::HostSection> {
        self.locate(resource).map(|(h, _)| h)
    }

    /// This node's section of a resource and how it was found: by name as the installed tool
    /// matches it, through a `stacked-on-top-of` lower resource, or else by this node's own
    /// addresses (the resource `address` first, then DRX proxy addresses).
    pub(crate) fn locate<'a>(
        &self,
        resource: &'a NodeResource,
    ) -> Option<(&'a resfile::HostSection, Found)> {
        self.locate_depth(resource, 0)
    }

    fn locate_depth<'a>(
        &self,
        resource: &'a NodeResource,
        depth: usize,
    ) -> Option<(&'a resfile::HostSection, Found)> {
        let hosts = &resource.resource.hosts;
        if let Some(name) = self.match_name(resource.flavour) {
            let matching = self.matching(resource);
            if let Some(h) = hosts
                .iter()
                .find(|h| h.names.iter().any(|n| host_matches(matching, n, name)))
            {
                return Some((h, Found::Name));
            }
        }
        if depth < 4 {
            for h in hosts {
                let Some(lower) = h.stacked_on.as_deref() else {
                    continue;
                };
                let lower = self.by_name.get(lower).and_then(|i| self.resources.get(*i));
                if lower.is_some_and(|l| self.locate_depth(l, depth + 1).is_some()) {
                    return Some((h, Found::Name));
                }
            }
        }
        let own = self.own_ips.as_ref()?;
        let holds = |e: &Option<Located<crate::rules::model::Endpoint>>| {
            e.as_ref().map(|e| e.value.ip).filter(|ip| own.contains(ip))
        };
        for pick in [
            |h: &resfile::HostSection| h.address.clone(),
            |h: &resfile::HostSection| h.proxy_outside.clone(),
            |h: &resfile::HostSection| h.proxy_inside.clone(),
        ] {
            if let Some((h, ip)) = hosts.iter().find_map(|h| holds(&pick(h)).map(|ip| (h, ip))) {
                return Some((h, Found::Address(ip)));
            }
        }
        None
    }
}

/// Whether a configured `on` name is the node's host name, compared as the tool does
/// (drbd-utils/bsr-utils `hostnames_equal` for BSR and DRBD 9; `strcmp` for DRBD 8.4).
pub fn host_matches(matching: Matching, configured: &str, hostname: &str) -> bool {
    match matching {
        Matching::Exact => configured == hostname,
        Matching::Hostnames => resfile::hostnames_equal(configured, hostname),
    }
}

/// Dresses verdicts with the catalogue's texts. Every id a check reports is in the registry and
/// so in the catalogue (checked when it loads): an unknown id is an internal error, loud in
/// debug builds; a release build leaves that verdict out rather than show it without texts.
pub(crate) fn to_findings(catalogue: &Catalogue, raws: Vec<Raw>, lang: Lang) -> Vec<Finding> {
    raws.into_iter()
        .filter_map(|raw| {
            let rule = catalogue.get(&raw.rule);
            debug_assert!(
                rule.is_some(),
                "internal error: rule {} was reported but the catalogue has no entry for it",
                raw.rule
            );
            let rule = rule?;
            let place = raw.place.unwrap_or_default();
            Some(Finding {
                rule: rule.id.clone(),
                severity: raw.severity.unwrap_or(rule.severity),
                title: rule.title(lang).to_string(),
                path: (!place.path.is_empty()).then_some(place.path),
                line: place.line,
                excerpt: place.excerpt,
                remedy: rule.remedy(lang).to_string(),
                node: raw.node,
                detail: match lang {
                    Lang::Ko => raw.detail_ko.or(raw.detail),
                    Lang::En => raw.detail,
                },
            })
        })
        .collect()
}

const GLOB_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Windows file names compare case-insensitively (`C:\\program files\\bsr` is the file collect
/// stored as `files/C/Program Files/bsr`).
fn glob_options(candidate: &str) -> MatchOptions {
    MatchOptions {
        case_sensitive: !layout::is_windows_file(candidate),
        ..GLOB_OPTIONS
    }
}

/// The bundle path an `include` refers to, as a glob over bundle paths.
fn include_glob(including: &str, include: &str) -> Option<Pattern> {
    let include = include.replace('\\', "/");
    let target = if let Some(logical) = layout::windows_logical(&include) {
        // Windows `c:/Program Files/...` → `files/C/Program Files/...`, as collect stored it.
        format!("files{logical}")
    } else if let Some(absolute) = include.strip_prefix('/') {
        format!("files/{absolute}")
    } else {
        let dir = including.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        format!("{dir}/{include}")
    };
    Pattern::new(&target).ok()
}

/// Most configuration bytes parsed per bundle, over all files (each file also stops at
/// `resfile::MAX_PARSE_BYTES`).
pub const MAX_CONFIG_BYTES: usize = 4 << 20;

/// Most resources judged per node; real clusters have tens, DRBD's practical limit is far below.
pub const MAX_RESOURCES: usize = 10_000;

type Configuration = (Vec<resfile::ConfigFile>, Vec<NodeResource>, Option<String>);

fn read_configuration(
    whole: &BTreeMap<String, Vec<u8>>,
    drbd_engine: bool,
    bsr_engine: bool,
) -> Configuration {
    // Each file is parsed once; includes are followed from the parsed files (a few rounds:
    // includes may include). Include globs are matched against the candidate paths once per
    // glob, and a bounded number of globs is followed, so hostile include lists stay cheap.
    const MAX_INCLUDES: usize = 256;
    let candidates: Vec<&str> = whole
        .keys()
        .map(String::as_str)
        .filter(|p| layout::may_be_included(p))
        .collect();
    let mut parsed: BTreeMap<&str, resfile::ConfigFile> = BTreeMap::new();
    let mut queue: Vec<&str> = whole
        .keys()
        .map(String::as_str)
        .filter(|p| layout::is_replication_config(p))
        .collect();
    let mut globs_followed = 0usize;
    // All configuration files together are parsed up to a budget: real ones total a few KiB,
    // and what is parsed costs tens of times its size in memory.
    let mut budget = MAX_CONFIG_BYTES;
    for _ in 0..5 {
        let mut next = Vec::new();
        for path in queue.drain(..) {
            if parsed.contains_key(path) {
                continue;
            }
            let Some(content) = whole.get(path) else {
                continue;
            };
            let take = content.len().min(budget);
            budget -= take;
            let file = resfile::parse(path, &content[..take]);
            for include in &file.includes {
                if globs_followed >= MAX_INCLUDES {
                    break;
                }
                globs_followed += 1;
                if let Some(glob) = include_glob(path, &include.value) {
                    next.extend(
                        candidates
                            .iter()
                            .copied()
                            .filter(|p| !parsed.contains_key(p))
                            .filter(|p| glob.matches_with(p, glob_options(p))),
                    );
                }
            }
            parsed.insert(path, file);
        }
        if next.is_empty() {
            break;
        }
        queue = next;
    }
    let mut files: Vec<resfile::ConfigFile> = parsed.into_values().collect();
    if files.iter().all(|f| f.resources.is_empty()) {
        // No resource files in the bundle: the dumped configuration is the next best thing.
        for cmd in inputs::DUMPS {
            let path = cmd.path();
            if let Some(content) = whole.get(&path) {
                let take = content.len().min(budget);
                budget -= take;
                files.push(resfile::parse(&path, &content[..take]));
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
    let mut names: BTreeSet<String> = BTreeSet::new();
    // Resources move out of their files (the files keep what else they say): one copy only.
    for file in &mut files {
        let file_resources = std::mem::take(&mut file.resources);
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
        for mut resource in file_resources {
            if resources.len() >= MAX_RESOURCES {
                break;
            }
            if !names.insert(resource.name.clone()) {
                continue;
            }
            // `common` settings apply where the resource sets nothing itself.
            let mut net_keys: BTreeSet<String> =
                resource.net.iter().map(|s| s.key.clone()).collect();
            for setting in &common_net {
                if net_keys.insert(setting.key.clone()) {
                    resource.net.push(setting.clone());
                }
            }
            let mut startup_keys: BTreeSet<String> =
                resource.startup.iter().map(|s| s.key.clone()).collect();
            for setting in &common_startup {
                if startup_keys.insert(setting.key.clone()) {
                    resource.startup.push(setting.clone());
                }
            }
            resources.push(NodeResource { resource, flavour });
        }
    }
    (files, resources, global_hostname)
}

/// Exit codes that say the command did not run at all (not found, not executable), or was
/// killed: no verdict on the configuration.
const NOT_A_VERDICT: &[i32] = &[126, 127, 124, 137, 143];

/// `bsradm dump` / `drbdadm dump` that exited non-zero with a message: the tool rejected the
/// configuration, whatever the wording ("Parse error", "'node-id' keyword missing", "no
/// resources defined", "IP ... not found on this host", ...). The first line that is not shell
/// noise (a missing helper such as modinfo) is quoted.
fn dump_rejections(whole: &BTreeMap<String, Vec<u8>>, items: &[Item]) -> Vec<(String, i32, Place)> {
    let mut out = Vec::new();
    for item in items {
        if !inputs::DUMPS.iter().any(|c| c.is(&item.id))
            || item.status != crate::index::Status::Failed
        {
            continue;
        }
        let Some(code) = item
            .exit_code
            .filter(|c| *c != 0 && !NOT_A_VERDICT.contains(c))
        else {
            continue;
        };
        let stderr = item
            .stderr_path
            .clone()
            .unwrap_or_else(|| layout::stderr_path(&item.id));
        let Some(text) = text(whole, &stderr) else {
            continue;
        };
        if let Some((i, line)) = first_error_line(&text) {
            out.push((
                item.id.clone(),
                code,
                Place::new(&stderr, i as u64 + 1, line),
            ));
        }
    }
    out
}

/// The first line of a tool's stderr that is its own message: not blank, not a shell's
/// complaint about a helper (`sh: 1: modinfo: not found`), not the usage-count banner.
pub(crate) fn first_error_line(text: &str) -> Option<(usize, &str)> {
    let noise = |l: &str| {
        let t = l.trim();
        t.is_empty()
            || t.starts_with("sh:")
            || t.starts_with("bash:")
            || t.starts_with("--==")
            || t.starts_with('#')
            || t.contains("modinfo")
            // drbdadm's notice when __DRBD_NODE__ overrides the host name.
            || t.starts_with("found __DRBD_NODE__")
            || t.starts_with("PRETENDING that I am")
    };
    text.lines().enumerate().find(|(_, l)| !noise(l))
}

fn read_iptables(whole: &BTreeMap<String, Vec<u8>>) -> Option<iptables::Ruleset> {
    if let Some((p, t)) = command(whole, Cmd::IptablesS) {
        return Some(iptables::parse_rules(&p, &t));
    }
    if let Some((p, t)) = command(whole, Cmd::IptablesServiceStatus) {
        return Some(iptables::parse_status(&p, &t));
    }
    // The saved rules say what iptables loads at boot; used only when no runtime view exists.
    let saved = inputs::SYSCONFIG_IPTABLES;
    let status_collected = whole.contains_key(&Cmd::IptablesServiceStatus.path())
        || whole.contains_key(&Cmd::IptablesS.path());
    if status_collected {
        return None;
    }
    text(whole, saved).map(|t| iptables::parse_rules(saved, &t))
}

fn read_firewalld(whole: &BTreeMap<String, Vec<u8>>) -> Option<Firewalld> {
    let mut services = firewalld::Services::default();
    // Packaged definitions first, then the administrator's, which override them.
    for prefix in [
        "files/usr/lib/firewalld/services/",
        "files/usr/share/firewalld/services/",
        "files/etc/firewalld/services/",
    ] {
        for (path, content) in whole.range(prefix.to_string()..) {
            let Some(file) = path.strip_prefix(prefix) else {
                break;
            };
            if let Some(name) = file.strip_suffix(".xml").filter(|n| !n.contains('/')) {
                services.add_xml(name, &String::from_utf8_lossy(content));
            }
        }
    }
    let running =
        command(whole, Cmd::FirewalldState).map(|(_, state)| firewalld::is_running(&state));
    if running == Some(true) {
        let runtime = command(whole, Cmd::FirewalldListAllZones)
            .or_else(|| command(whole, Cmd::FirewalldListAll))
            .map(|(p, t)| {
                let zones = firewalld::parse(&p, &t);
                (p, zones)
            });
        let permanent = command(whole, Cmd::FirewalldPermanentListAll).map(|(p, t)| {
            let zones = firewalld::parse(&p, &t);
            (p, zones)
        });
        return Some(Firewalld {
            runtime,
            permanent,
            zone_files: None,
            services,
        });
    }
    // Not running (or not asked): the permanent zone files say what firewalld enforces once it
    // starts. Without the administrator's zone files there is nothing certain to say.
    let zone_files = permanent_zones(whole)?;
    Some(Firewalld {
        runtime: None,
        permanent: None,
        zone_files: Some(zone_files),
        services,
    })
}

/// The zones of /etc/firewalld that apply: the default zone (DefaultZone= of firewalld.conf,
/// else `public`) and every zone bound to an interface or a source. The default zone's file may
/// be the packaged one (/usr/lib/firewalld/zones); when neither is in the bundle, None.
fn permanent_zones(whole: &BTreeMap<String, Vec<u8>>) -> Option<(String, Vec<firewalld::Zone>)> {
    const ETC: &str = "files/etc/firewalld/zones/";
    let mut zones: Vec<firewalld::Zone> = Vec::new();
    for (path, content) in whole.range(ETC.to_string()..) {
        let Some(file) = path.strip_prefix(ETC) else {
            break;
        };
        if let Some(name) = file.strip_suffix(".xml").filter(|n| !n.contains('/')) {
            zones.push(firewalld::zone_xml(
                path,
                name,
                &String::from_utf8_lossy(content),
            ));
        }
    }
    if zones.is_empty() {
        return None;
    }
    let default = text(whole, "files/etc/firewalld/firewalld.conf")
        .and_then(|c| firewalld::default_zone(&c))
        .unwrap_or_else(|| "public".to_string());
    if !zones.iter().any(|z| z.name == default) {
        let packaged = [
            format!("files/usr/lib/firewalld/zones/{default}.xml"),
            format!("files/usr/share/firewalld/zones/{default}.xml"),
        ];
        let (path, content) = packaged.iter().find_map(|p| whole.get(p).map(|c| (p, c)))?;
        zones.push(firewalld::zone_xml(
            path,
            &default,
            &String::from_utf8_lossy(content),
        ));
    }
    for zone in &mut zones {
        zone.default = zone.name == default;
        zone.active = zone.default || !zone.interfaces.is_empty() || !zone.sources.is_empty();
    }
    zones.retain(|z| z.active);
    Some((ETC.trim_end_matches('/').to_string(), zones))
}

fn read_windows_firewall(whole: &BTreeMap<String, Vec<u8>>) -> Option<WindowsFirewall> {
    let (path, text) = command(whole, Cmd::NetshFirewallProfiles)?;
    let profiles = netsh::parse_profiles(&path, &text, true);
    if profiles.is_empty() {
        return None;
    }
    let current = command(whole, Cmd::NetshFirewallCurrentprofile).and_then(|(p, t)| {
        let mask = netsh::parse_profiles(&p, &t, false)
            .iter()
            .filter_map(|s| s.mask)
            .fold(0, |a, m| a | m);
        (mask != 0).then_some(mask)
    });
    // The registry's rule values do not change with the display language: preferred.
    let mut registry: Option<(String, Vec<netsh::FirewallRule>)> = None;
    for id in [Cmd::RegFirewallRules, Cmd::RegFirewallPolicyRules] {
        if let Some((p, t)) = command(whole, id) {
            let parsed = netsh::parse_registry_rules(&p, &t);
            if !parsed.is_empty() {
                let entry = registry.get_or_insert_with(|| (p.clone(), Vec::new()));
                entry.1.extend(parsed);
            }
        }
    }
    let rules = registry.or_else(|| {
        command(whole, Cmd::NetshFirewallRules).map(|(p, t)| {
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

/// DRX's version from every source the bundle has; the newest wins (an upgraded node's old log
/// lines and left-over packages show older ones).
fn drx_version(
    whole: &BTreeMap<String, Vec<u8>>,
    from_logs: Option<Located<Version>>,
) -> Option<Located<Version>> {
    type Read = fn(&str, &str) -> Option<Located<Version>>;
    let sources: [(Cmd, Read); 6] = [
        (Cmd::DrxVersion, versions::drx_version),
        (Cmd::RpmQa, versions::drx_rpm),
        (Cmd::DpkgL, versions::drx_dpkg),
        (Cmd::RegUninstall, versions::drx_installed_program),
        (Cmd::RegUninstallWow64, versions::drx_installed_program),
        (Cmd::DrxFileVersion, versions::drx_file_version),
    ];
    let mut newest = from_logs;
    for (cmd, read) in sources {
        if let Some(found) = command(whole, cmd).and_then(|(p, t)| read(&p, &t)) {
            versions::keep_newest(&mut newest, found);
        }
    }
    newest
}

/// DRX runs: a `drx` process in `ps -ef`, a running drxsvc service, or `sc query` RUNNING.
fn drx_running(whole: &BTreeMap<String, Vec<u8>>) -> Option<Place> {
    if let Some((p, t)) = command(whole, Cmd::Ps) {
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
        Cmd::DrxsvcSystemctlStatus,
        Cmd::DrxsvcServiceStatus,
        Cmd::ScQueryDrx,
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
    let systeminfo = command(whole, Cmd::Systeminfo);
    if let Some((p, t)) = &systeminfo {
        info.release = windows::release_in(t, p);
    }
    if info.release.is_none() && host.os.eq_ignore_ascii_case("windows") {
        info.release =
            windows::release(&host.os_release).map(|(r, _)| (r, Place::file("index.json")));
    }
    if let Some((p, t)) = command(whole, Cmd::WmicQfe) {
        info.kb_ids.extend(windows::kb_ids(&t));
        if gaps.iter().any(|g| Cmd::WmicQfe.is(&g.id)) {
            info.incomplete_update_sources.push(p);
        } else {
            info.updates_list = Some(p);
        }
    }
    if let Some((p, t)) = &systeminfo {
        info.kb_ids.extend(windows::kb_ids(t));
        // Only a systeminfo that reached the end of its hotfix section is an update list;
        // one cut short (timeout, truncation) shows nothing about absent updates.
        let cut_short = gaps.iter().any(|g| Cmd::Systeminfo.is(&g.id));
        if !cut_short && windows::systeminfo_hotfix_section_complete(t) {
            info.updates_list.get_or_insert_with(|| p.clone());
        } else {
            info.incomplete_update_sources.push(p.clone());
        }
    }
    for path in whole.keys().filter(|p| layout::is_servicing_package(p)) {
        info.kb_ids.extend(windows::kb_ids(path));
    }
    if let Some((p, t)) = command(whole, Cmd::DotnetVersions) {
        info.dotnet35 = Some((windows::dotnet35_installed(&t), p));
    }
    info
}

/// One node's generation identifiers: every record of its `get-gi` outputs (which tool printed
/// them decides the kernel's rule table), and the handshakes its logs show (the latest
/// `parse::gi::HandshakeScan::MAX`, with where their result line is).
#[derive(Debug, Clone, Default)]
pub struct GiEvidence {
    pub records: Vec<(Kernel, Place, gi::GiRecord)>,
    pub handshakes: Vec<(Place, gi::Handshake)>,
    /// Per resource (DRBD 9, BSR) or minor (8.4), the last log line where this node became
    /// Primary (files are read in bundle order).
    pub became_primary: Vec<(gi::RoleOwner, Place)>,
    /// The roles and connections now (`drbdsetup` / `bsrsetup events2 --now`): where, and what.
    pub now: Option<(String, Vec<crate::rules::parse::events2::ResourceNow>)>,
}

impl GiEvidence {
    fn gather(whole: &BTreeMap<String, Vec<u8>>) -> GiEvidence {
        let mut records = Vec::new();
        for (cmd, bsr) in [(Cmd::DrbdadmGetGi, false), (Cmd::BsradmGetGi, true)] {
            let Some((path, text)) = command(whole, cmd) else {
                continue;
            };
            for record in gi::records(&text) {
                let kernel = match (bsr, record.format) {
                    (true, _) => Kernel::Bsr,
                    (false, Some(gi::GiFormat::V84)) => Kernel::Drbd84,
                    (false, _) => Kernel::Drbd9,
                };
                let line = text
                    .lines()
                    .nth(record.line.saturating_sub(1) as usize)
                    .unwrap_or_default();
                let place = Place::new(&path, record.line, line);
                records.push((kernel, place, record));
            }
        }
        GiEvidence {
            records,
            handshakes: Vec::new(),
            became_primary: Vec::new(),
            now: [Cmd::DrbdsetupEvents2, Cmd::BsrsetupEvents2]
                .into_iter()
                .filter_map(|cmd| command(whole, cmd))
                .map(|(path, text)| (path, crate::rules::parse::events2::snapshot(&text)))
                .find(|(_, resources)| !resources.is_empty())
                .or_else(|| {
                    let text = text(whole, crate::rules::inputs::PROC_DRBD)?;
                    let resources = crate::rules::parse::events2::proc_drbd(&text);
                    (!resources.is_empty())
                        .then(|| (crate::rules::inputs::PROC_DRBD.to_string(), resources))
                }),
        }
    }
}
