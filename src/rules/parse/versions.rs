//! Version evidence: `/proc/drbd`, `modinfo drbd`, `drbdadm -V`, `rpm -qa`, `dpkg -l`,
//! `drx --version`, and the kernel's "drbd: initialized. Version: ..." log line.
use std::sync::OnceLock;

use regex::Regex;

use crate::rules::model::{Located, Place, Version};

fn located(path: &str, index: usize, line: &str, version: Version) -> Located<Version> {
    Located {
        value: version,
        place: Place::new(path, index as u64 + 1, line),
    }
}

/// `/proc/drbd` first line: `version: 8.4.5 (api:1/proto:86-101)`.
pub fn proc_drbd(path: &str, text: &str) -> Option<Located<Version>> {
    text.lines().enumerate().find_map(|(i, line)| {
        let rest = line.trim_start().strip_prefix("version:")?;
        Version::parse(rest).map(|v| located(path, i, line, v))
    })
}

/// `modinfo drbd`: the `version:` field (not `srcversion:` / `vermagic:`).
pub fn modinfo(path: &str, text: &str) -> Option<Located<Version>> {
    proc_drbd(path, text)
}

/// What `drbdadm -V` / `bsradm -V` say.
#[derive(Debug, Clone, Default)]
pub struct AdmVersion {
    /// The loaded kernel module (`DRBD_KERNEL_VERSION_CODE`, 0 = not loaded → None).
    pub kernel: Option<Located<Version>>,
    /// The utilities (`DRBDADM_VERSION`).
    pub utils: Option<Located<Version>>,
}

pub fn drbdadm_v(path: &str, text: &str) -> AdmVersion {
    let mut out = AdmVersion::default();
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match key.trim() {
            "DRBD_KERNEL_VERSION_CODE" => {
                let hex = value.trim_start_matches("0x").trim_start_matches("0X");
                if let Some(v) = u64::from_str_radix(hex, 16)
                    .ok()
                    .and_then(Version::from_code)
                {
                    out.kernel = Some(located(path, i, line, v));
                }
            }
            // `0` when the module is not loaded, like the code line.
            "DRBD_KERNEL_VERSION" if out.kernel.is_none() && value != "0" => {
                if let Some(v) = Version::parse(value) {
                    out.kernel = Some(located(path, i, line, v));
                }
            }
            "DRBDADM_VERSION" => {
                if let Some(v) = Version::parse(value) {
                    out.utils = Some(located(path, i, line, v));
                }
            }
            _ => {}
        }
    }
    out
}

/// drbd packages found in `rpm -qa` or `dpkg -l`.
#[derive(Debug, Clone, Default)]
pub struct Packages {
    pub kmod: Option<Located<Version>>,
    pub utils: Option<Located<Version>>,
}

fn rpm_utils() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // drbd84-utils-8.9.5-1.el7.elrepo.x86_64, drbd-utils-9.5.0-1.el7.x86_64 (not -sysvinit-).
    RE.get_or_init(|| Regex::new(r"^drbd\d*-utils-(\d+\.\d+[\d.]*)-").expect("static regex"))
}

fn rpm_kmod() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // kmod-drbd84-8.4.11-1.el7_5.elrepo.x86_64, kmod-drbd90-9.0.22-2.el8, kmod-drbd-9.1.7_...
    // (LINBIT), drbd-kmdl-..., drbd-km-<kernel>-8.4.x (LINBIT's per-kernel name: the version is
    // the last dotted number before the release).
    RE.get_or_init(|| Regex::new(r"^kmod-drbd\d*-(\d+\.\d+[\d.]*)[-_]").expect("static regex"))
}

fn rpm_old_utils() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // DRBD 8.3 era userland: drbd-8.3.16-1.el6, drbd83-8.3.16-1.el5.centos (CentOS extras).
    RE.get_or_init(|| Regex::new(r"^drbd(?:8\d)?-(8\.\d+[\d.]*)-").expect("static regex"))
}

pub fn rpm_qa(path: &str, text: &str) -> Packages {
    let mut out = Packages::default();
    for (i, line) in text.lines().enumerate() {
        let name = line.trim();
        if let Some(v) = rpm_utils()
            .captures(name)
            .and_then(|c| Version::parse(&c[1]))
        {
            keep_newest(&mut out.utils, located(path, i, line, v));
        } else if let Some(v) = rpm_kmod()
            .captures(name)
            .and_then(|c| Version::parse(&c[1]))
        {
            keep_newest(&mut out.kmod, located(path, i, line, v));
        } else if let Some(v) = rpm_old_utils()
            .captures(name)
            .and_then(|c| Version::parse(&c[1]))
        {
            keep_newest(&mut out.utils, located(path, i, line, v));
        }
    }
    out
}

/// `dpkg -l`: `ii  drbd-utils  8.9.10-2  amd64  ...` (an epoch `2:` may precede the version).
pub fn dpkg_l(path: &str, text: &str) -> Packages {
    let mut out = Packages::default();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(state), Some(name), Some(version)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !state.starts_with('i') {
            continue;
        }
        let name = name.split(':').next().unwrap_or(name);
        let version = version.split_once(':').map(|(_, v)| v).unwrap_or(version);
        let Some(v) = Version::parse(version) else {
            continue;
        };
        match name {
            "drbd-utils" | "drbd8-utils" | "drbd9-utils" => {
                keep_newest(&mut out.utils, located(path, i, line, v))
            }
            // The module built by DKMS (LINBIT's PPA): what the kernel loads when nothing
            // better says so.
            "drbd-dkms" | "drbd8-module-source" => {
                keep_newest(&mut out.kmod, located(path, i, line, v))
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn keep_newest(slot: &mut Option<Located<Version>>, found: Located<Version>) {
    if slot.as_ref().is_none_or(|old| found.value > old.value) {
        *slot = Some(found);
    }
}

/// `drx --version`: the first dotted number in the output.
pub fn drx_version(path: &str, text: &str) -> Option<Located<Version>> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"\b(\d+\.\d+(?:\.\d+)*)\b").expect("static regex"));
    text.lines().enumerate().find_map(|(i, line)| {
        let found = re.captures(line)?;
        Version::parse(&found[1]).map(|v| located(path, i, line, v))
    })
}

/// The DRX package in `rpm -qa` (`drx-2.4.1-1.el7.x86_64`): the newest when several are listed.
pub fn drx_rpm(path: &str, text: &str) -> Option<Located<Version>> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"(?i)^drx-(\d+\.\d+[\d.]*)-").expect("static regex"));
    let mut newest = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(v) = re.captures(line.trim()).and_then(|c| Version::parse(&c[1])) {
            keep_newest(&mut newest, located(path, i, line, v));
        }
    }
    newest
}

/// The DRX package in `dpkg -l` (`ii  drx  2.4.1-1  amd64 ...`).
pub fn drx_dpkg(path: &str, text: &str) -> Option<Located<Version>> {
    let mut newest = None;
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(state), Some(name), Some(version)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let name = name.split(':').next().unwrap_or(name);
        if !state.starts_with('i') || !name.eq_ignore_ascii_case("drx") {
            continue;
        }
        let version = version.split_once(':').map(|(_, v)| v).unwrap_or(version);
        if let Some(v) = Version::parse(version) {
            keep_newest(&mut newest, located(path, i, line, v));
        }
    }
    newest
}

/// The DRX line of a DRX log that names its version: a start line ("DRX 2.4.1 starting",
/// "DRX v2.4.1 started", "drx 2.4.1 initialized") or a version statement ("DRX version
/// 2.4.1", "DRX ver. 2.4.1"). A bare "DRX 10.0.0.2" (an address) is not a version.
pub fn drx_log_line(line: &str) -> Option<Version> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(DRX_LOG_VERSION).expect("static regex"));
    let found = re.captures(line)?;
    let text = found.get(1).or_else(|| found.get(2))?;
    Version::parse(text.as_str())
}

/// The pattern of [`drx_log_line`], also given to the line scan of DRX logs.
pub const DRX_LOG_VERSION: &str = r"(?i)\bdrx\s*[:=]?\s*(?:(?:version|ver\.?)\s*[:=]?\s*v?|v)(\d+\.\d+(?:\.\d+){0,3})(?:[^:./\d]|$)|\bdrx\s+(\d+\.\d+(?:\.\d+){0,3})\s+(?:is\s+)?(?:start|starting|started|initiali[sz]ing|initiali[sz]ed|launching|launched|running|boot(?:ing|ed)?)\b";

/// The DRX entry of Windows' installed programs (`reg query ...\Uninstall /s`): a key whose
/// `DisplayName` has the word DRX, and its `DisplayVersion`.
pub fn drx_installed_program(path: &str, text: &str) -> Option<Located<Version>> {
    let mut newest = None;
    // The current key: does its DisplayName say DRX, and its DisplayVersion.
    let mut key: (bool, Option<Located<Version>>) = (false, None);
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.to_ascii_uppercase().starts_with("HKEY_") {
            if let (true, Some(v)) = std::mem::take(&mut key) {
                keep_newest(&mut newest, v);
            }
            continue;
        }
        // `    DisplayName    REG_SZ    DRX 2.4` (the value may hold spaces).
        let mut words = t.split_whitespace();
        let (Some(name), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        if !kind.eq_ignore_ascii_case("REG_SZ") {
            continue;
        }
        let after_name = &t[name.len()..];
        let value = after_name
            .find(kind)
            .map_or("", |at| after_name[at + kind.len()..].trim());
        if name.eq_ignore_ascii_case("DisplayName") {
            key.0 = value
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w.eq_ignore_ascii_case("drx"));
        } else if name.eq_ignore_ascii_case("DisplayVersion") {
            key.1 = Version::parse(value).map(|v| located(path, i, line, v));
        }
    }
    if let (true, Some(v)) = key {
        keep_newest(&mut newest, v);
    }
    newest
}

/// File versions of DRX's programs (`<path>\tab<FileVersion>` lines of the PowerShell item).
pub fn drx_file_version(path: &str, text: &str) -> Option<Located<Version>> {
    let mut newest = None;
    for (i, line) in text.lines().enumerate() {
        let Some((file, version)) = line.rsplit_once('\t') else {
            continue;
        };
        let name = file
            .rsplit(['\\', '/'])
            .next()
            .unwrap_or(file)
            .to_ascii_lowercase();
        if !(name.starts_with("drx") && name.ends_with(".exe")) {
            continue;
        }
        // 0.0.0.0: the program carries no version resource.
        if let Some(v) =
            Version::parse(version).filter(|v| v.as_str().contains(|c| matches!(c, '1'..='9')))
        {
            keep_newest(&mut newest, located(path, i, line, v));
        }
    }
    newest
}

/// The kernel log line `drbd: initialized. Version: 8.4.5 (api:1/proto:86-101)` (DRBD 8.4 and
/// 9), or 8.3's `drbd: initialised. Version: 8.3.16 (api:88/proto:86-97)`. BSR's own lines
/// (`bsr: ...`) are not DRBD's and are not read.
pub fn kernel_log_line(line: &str) -> Option<Version> {
    let at = line.find("drbd: ")?;
    let rest = &line[at + "drbd: ".len()..];
    let rest = rest.strip_prefix("module ").unwrap_or(rest);
    let rest = rest
        .strip_prefix("initialized. Version:")
        .or_else(|| rest.strip_prefix("initialised. Version:"))?;
    Version::parse(rest)
}

/// `bsradm -V`: `BSR_KERNEL_VERSION=1.6.1` (loaded module), else `BSRADM_VERSION=...`.
pub fn bsradm_v(path: &str, text: &str) -> Option<Located<Version>> {
    let mut utils = None;
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match key.trim() {
            "BSR_KERNEL_VERSION" if value != "0" => {
                if let Some(v) = Version::parse(value) {
                    return Some(located(path, i, line, v));
                }
            }
            "BSRADM_VERSION" => utils = Version::parse(value).map(|v| located(path, i, line, v)),
            _ => {}
        }
    }
    utils
}

/// `/proc/bsr`: `BSR:1.6.1-...` or a `version: ...` line; BSR's own version (never DRBD's).
pub fn proc_bsr(path: &str, text: &str) -> Option<Located<Version>> {
    text.lines().enumerate().find_map(|(i, line)| {
        let t = line.trim_start();
        let rest = t
            .strip_prefix("BSR:")
            .or_else(|| t.strip_prefix("version:"))?;
        Version::parse(rest).map(|v| located(path, i, line, v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_drbd_and_modinfo() {
        let proc = "version: 8.4.5 (api:1/proto:86-101)\nGIT-hash: 1d360bde0e095d495786eaeb2a1ac76888e4db96 build by root@c65, 2016-02-01 10:00:00\n 0: cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----\n";
        let v = proc_drbd("files/proc/drbd", proc).expect("version");
        assert_eq!(v.value.to_string(), "8.4.5");
        assert_eq!(v.place.line, Some(1));
        let modinfo_text = "filename:       /lib/modules/3.10.0/extra/drbd84/drbd.ko\nalias:          block-major-147-*\nversion:        8.4.11-1\nsrcversion:     ABCDEF\nvermagic:       3.10.0 SMP mod_unload\n";
        let v = modinfo("commands/modinfo-drbd.txt", modinfo_text).expect("version");
        assert_eq!(v.value.to_string(), "8.4.11");
        assert_eq!(v.place.line, Some(3));
        assert!(proc_drbd("x", "garbage\n\u{0}").is_none());
    }

    #[test]
    fn drbdadm_version_lines() {
        let text = "DRBDADM_BUILDTAG=GIT-hash:\\ 2d5f7a1\\ build\\ by\\ mockbuild@\\,\\ 2016-01-28\nDRBDADM_API_VERSION=1\nDRBD_KERNEL_VERSION_CODE=0x080405\nDRBDADM_VERSION_CODE=0x080905\nDRBDADM_VERSION=8.9.5\n";
        let v = drbdadm_v("commands/drbdadm-version.txt", text);
        assert_eq!(
            v.kernel.as_ref().map(|k| k.value.to_string()).as_deref(),
            Some("8.4.5")
        );
        assert_eq!(
            v.utils.as_ref().map(|k| k.value.to_string()).as_deref(),
            Some("8.9.5")
        );
        assert_eq!(v.utils.as_ref().and_then(|k| k.place.line), Some(5));
        let unloaded = drbdadm_v(
            "x",
            "DRBD_KERNEL_VERSION_CODE=0x000000\nDRBD_KERNEL_VERSION=0\nDRBDADM_VERSION=9.22.0\n",
        );
        assert!(unloaded.kernel.is_none());
    }

    #[test]
    fn packages_from_rpm_and_dpkg() {
        let rpm = "bash-4.2.46-34.el7.x86_64\ndrbd84-utils-sysvinit-8.9.5-1.el7.elrepo.x86_64\ndrbd84-utils-8.9.5-1.el7.elrepo.x86_64\nkmod-drbd84-8.4.11-1.el7_5.elrepo.x86_64\n";
        let p = rpm_qa("commands/rpm-qa.txt", rpm);
        assert_eq!(
            p.utils.as_ref().map(|v| v.value.to_string()).as_deref(),
            Some("8.9.5")
        );
        assert_eq!(p.utils.as_ref().and_then(|v| v.place.line), Some(3));
        assert_eq!(
            p.kmod.as_ref().map(|v| v.value.to_string()).as_deref(),
            Some("8.4.11")
        );
        let old = rpm_qa(
            "r",
            "drbd83-8.3.16-1.el5.centos\nkmod-drbd83-8.3.16-3.el5.centos\ndrbd-bash-completion-9.5.0-1\n",
        );
        assert_eq!(
            old.utils.as_ref().map(|v| v.value.to_string()).as_deref(),
            Some("8.3.16")
        );
        assert_eq!(
            old.kmod.as_ref().map(|v| v.value.to_string()).as_deref(),
            Some("8.3.16")
        );
        let nine = rpm_qa("r", "kmod-drbd90-9.0.22-2.el8_2.elrepo.x86_64\ndrbd90-utils-9.13.1-1.el8.elrepo.x86_64\nbsr-1.6.3-1.el7.x86_64\n");
        assert_eq!(
            nine.kmod.as_ref().map(|v| v.value.to_string()).as_deref(),
            Some("9.0.22")
        );
        assert_eq!(
            nine.utils.as_ref().map(|v| v.value.to_string()).as_deref(),
            Some("9.13.1")
        );
        let dpkg = "Desired=Unknown/Install/Remove/Purge/Hold\n||/ Name   Version   Architecture Description\n+++-=====-=====-=====-=====\nii  drbd-utils     9.22.0-1     amd64        RAID 1 over TCP/IP for Linux (user utilities)\nrc  drbd8-utils  2:8.3.0-1  amd64  old\n";
        let p = dpkg_l("commands/dpkg-l.txt", dpkg);
        assert_eq!(
            p.utils.as_ref().map(|v| v.value.to_string()).as_deref(),
            Some("9.22.0")
        );
    }

    #[test]
    fn bsr_versions_are_bsr_only() {
        let v = bsradm_v("b", "BSR_KERNEL_VERSION_CODE=0x00010601\nBSR_KERNEL_VERSION=1.6.1\nBSRADM_VERSION_CODE=0x00010601\nBSRADM_VERSION=1.6.1\n");
        assert_eq!(v.map(|v| v.value.to_string()).as_deref(), Some("1.6.1"));
        // bsradm -V says nothing about DRBD.
        let d = drbdadm_v("b", "BSR_KERNEL_VERSION=1.6.1\nBSRADM_VERSION=1.6.1\n");
        assert!(d.kernel.is_none() && d.utils.is_none());
        let p = proc_bsr("files/proc/bsr", "BSR:1.6.1 (api:2/proto:86-113)\n").expect("v");
        assert_eq!(p.value.to_string(), "1.6.1");
    }

    /// Issue 24.24: DRX's version from every source, not only `drx --version`.
    #[test]
    fn drx_version_from_packages_logs_and_installed_programs() {
        let rpm = "bash-4.2.46-34.el7.x86_64\ndrx-2.3.0-1.el7.x86_64\ndrx-2.4.1-1.el7.x86_64\ndrxsim-9.9.9-1.x86_64\n";
        let v = drx_rpm("commands/rpm-qa.txt", rpm).expect("drx package");
        assert_eq!(
            (v.value.to_string(), v.place.line),
            ("2.4.1".into(), Some(3))
        );
        assert!(drx_rpm("r", "drbd84-utils-8.9.10-1.el7\n").is_none());
        let dpkg =
            "ii  drx   2.4.1-1   amd64   Data Replication Xcelerator\nii  drxsim 9.0 amd64 x\n";
        assert_eq!(
            drx_dpkg("d", dpkg).map(|v| v.value.to_string()).as_deref(),
            Some("2.4.1")
        );
        for (line, version) in [
            (
                "I1120 16:37:02.690660 t42053 main] DRX 2.4.1 starting",
                Some("2.4.1"),
            ),
            (
                "I1120 16:37:02.690660 t42053 main] DRX 2.3.0 starting",
                Some("2.3.0"),
            ),
            (
                "I1120 16:37:02.690660 t1 main] DRX version 2.4.1.2 (build 77)",
                Some("2.4.1.2"),
            ),
            (
                "I1120 16:37:02.690660 t1 main] drx v2.4 started",
                Some("2.4"),
            ),
            (
                "I1120 16:37:02.690660 t1 main] DRX: ver. 3.0.1",
                Some("3.0.1"),
            ),
            (
                "I1120 16:37:02.690660 t1 r0] DRX 10.0.0.2:7791 connected",
                None,
            ),
            (
                "I1120 16:37:02.690660 t1 r0] connect to DRX 10.0.0.2 failed",
                None,
            ),
            ("I1120 16:37:02.690660 t1 r0] state: bridged", None),
        ] {
            assert_eq!(
                drx_log_line(line).map(|v| v.to_string()).as_deref(),
                version,
                "{line}"
            );
        }
        let reg = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{1}\r\n    DisplayName    REG_SZ    Microsoft Visual C++ 2013 Redistributable (x64) - 12.0.30501\r\n    DisplayVersion    REG_SZ    12.0.30501.0\r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\DRX\r\n    DisplayVersion    REG_SZ    2.4.1\r\n    DisplayName    REG_SZ    DRX\r\n    Publisher    REG_SZ    MANTECH\r\n";
        let v = drx_installed_program("commands/reg-uninstall.txt", reg).expect("DRX entry");
        assert_eq!(v.value.to_string(), "2.4.1");
        assert!(drx_installed_program(
            "r",
            &reg.replace("    DisplayName    REG_SZ    DRX\r\n", "")
        )
        .is_none());
        let files = "C:\\Program Files\\DRX\\bin\\drx.exe\t2.4.1.0\r\nC:\\Program Files\\DRX\\bin\\drxsim.exe\t0.0.0.0\r\nC:\\Program Files\\DRX\\bin\\libz.dll\t3.2.11\r\n";
        assert_eq!(
            drx_file_version("f", files)
                .map(|v| v.value.to_string())
                .as_deref(),
            Some("2.4.1.0")
        );
    }

    #[test]
    fn drx_and_kernel_log() {
        assert_eq!(
            drx_version("d", "DRX version 1.2.3 (build 45)").map(|v| v.value.to_string()),
            Some("1.2.3".to_string())
        );
        assert!(drx_version("d", "no version").is_none());
        let line =
            "Nov 20 10:00:00 node1 kernel: drbd: initialized. Version: 8.4.5 (api:1/proto:86-101)";
        assert_eq!(
            kernel_log_line(line).map(|v| v.to_string()).as_deref(),
            Some("8.4.5")
        );
        assert!(kernel_log_line("drbd: initialized. Version: x").is_none());
        let old =
            "Jun  1 10:00:00 n1 kernel: drbd: initialised. Version: 8.3.16 (api:88/proto:86-97)";
        assert_eq!(
            kernel_log_line(old).map(|v| v.to_string()).as_deref(),
            Some("8.3.16")
        );
        assert!(kernel_log_line("bsr: initialized. Version: 1.6.1").is_none());
        let nine = "[    3.1] drbd: initialized. Version: 9.2.8 (api:2/proto:86-122)";
        assert_eq!(
            kernel_log_line(nine).map(|v| v.to_string()).as_deref(),
            Some("9.2.8")
        );
    }
}
