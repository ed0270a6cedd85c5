//! Windows: the embedded Windows manifest against a Windows sysroot (`--root` maps `C:\` to
//! `ROOT/C/`), first with the Linux binary (fast, always runs), then the real `.exe` under wine
//! (`#[ignore]`d here; `scripts/test-windows.sh` builds the .exe, installs wine and runs it).
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The guide's §1 Burn log of a failed VC++ 2013 redistributable install on 2008 R2.
const BURN_LOG: &str = "\
[0AD8:05C0][2018-07-26T15:33:03]i001: Burn v3.7.3813.0, Windows v6.1 (Build 7601: Service Pack 1), path: C:\\Users\\admin\\Downloads\\vcredist_x64.exe, cmdline: '/q /norestart'\r
[0AD8:05C0][2018-07-26T15:33:04]e000: Error 0x800b010a: Failed authenticode verification of payload: C:\\ProgramData\\Package Cache\\.unverified\\vcRuntimeMinimum_x64\r
[0AD8:05C0][2018-07-26T15:33:04]e000: Error 0x800b010a: Failed to verify signature of payload: vcRuntimeMinimum_x64\r
[0AD8:05C0][2018-07-26T15:33:04]e310: Failed to verify payload: vcRuntimeMinimum_x64 at path: C:\\ProgramData\\Package Cache\\.unverified\\vcRuntimeMinimum_x64, error: 0x800b010a. Deleting file.\r
[0AD8:05C0][2018-07-26T15:33:05]i399: Apply complete, result: 0x800b010a, restart: None, ba requested restart:  No\r
";

const SYSTEMINFO: &str = "\
Host Name:                 WINNODE1\r
OS Name:                   Microsoft Windows Server 2008 R2 Enterprise \r
OS Version:                6.1.7601 Service Pack 1 Build 7601\r
System Type:               x64-based PC\r
Hotfix(s):                 2 Hotfix(s) Installed.\r
                           [01]: KB2533623\r
                           [02]: KB976902\r
";

/// `reg query "HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP" /s` without .NET 3.5.
const DOTNET_WITHOUT_35: &str = "\
\r
HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\r
\r
HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full\r
    Install    REG_DWORD    0x1\r
    Release    REG_DWORD    0x6040e\r
";

/// A directory chain that makes the full path longer than Windows' 260-character MAX_PATH.
fn long_dir() -> String {
    let segment = "a-directory-name-of-fifty-characters-for-long-paths";
    format!("{segment}/{segment}/{segment}/{segment}/{segment}")
}

/// A Windows Server 2008 R2 node with DRX and BSR installed, whose VC++ redistributable install
/// failed with 0x800b010a, and whose drx.conf was saved by Notepad with a BOM.
fn windows_node() -> Fixture {
    let f = Fixture::new();
    let mut conf = BOM.to_vec();
    conf.extend_from_slice(b"loglevel-file = info\r\nlisten = 10.0.0.1:7700\r\n");
    f.file("/C/Program Files/DRX/drx.conf", conf)
        .file(
            "/C/Program Files/DRX/logs/main.log",
            "E1120 16:37:02.690660 t42053 config] Failed to load [C:\\Program Files\\DRX\\drx.conf]. C:\\Program Files\\DRX\\drx.conf(1): '=' character not found in line\r\n",
        )
        .file(
            &format!("/C/Program Files/DRX/logs/{}/deep.log", long_dir()),
            "I1120 16:37:03.000000 t42054 r0] deep\r\n",
        )
        .file(
            "/C/Program Files/bsr/etc/bsr.d/r0.res",
            "resource r0 {\r\n    on WINNODE1 {\r\n        device e minor 2;\r\n        disk e;\r\n        address 10.0.0.1:7789;\r\n        meta-disk internal;\r\n    }\r\n    on WINNODE2 {\r\n        device e minor 2;\r\n        disk e;\r\n        address 10.0.0.2:7789;\r\n        meta-disk internal;\r\n    }\r\n}\r\n",
        )
        .file("/C/Program Files/bsr/log/bsr.log", "00000001 11/20/2026 16:37:02.0000000 [bsr_init] [bsr:0] bsr_info started\r\n")
        .file("/C/Program Files/bsr/bin/bsrService.log", "service started\r\n")
        .file(
            "/C/Users/admin/AppData/Local/Temp/dd_vcredist_amd64_20180726153304.log",
            BURN_LOG,
        )
        .file("/C/Users/admin/AppData/Local/Temp/unrelated.log", "not an installer log\r\n")
        .file("/C/Windows/Temp/DRX_setup.log", "DRX setup finished\r\n")
        .file("/C/Windows/System32/drivers/etc/hosts", "10.0.0.1 WINNODE1\r\n10.0.0.2 WINNODE2\r\n");
    f
}

/// Stand-ins for the Windows commands, as shell scripts for the Linux binary.
fn shell_stand_ins(f: &Fixture) {
    f.command("systeminfo", &format!("printf '%s' '{SYSTEMINFO}'"))
        .command("reg", &format!("printf '%s' '{DOTNET_WITHOUT_35}'"))
        .command(
            "sc",
            "echo 'SERVICE_NAME: drxsvc'; echo '        STATE              : 4  RUNNING'",
        )
        .command("hostname", "echo WINNODE1");
}

fn windows_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/windows.toml")
}

fn findings(bundle: &Bundle) -> Vec<serde_json::Value> {
    bundle.index["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn finding<'a>(all: &'a [serde_json::Value], rule: &str) -> &'a serde_json::Value {
    all.iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {all:#?}"))
}

/// What every collection of the fixture must show, whichever binary made it.
fn assert_windows_bundle(bundle: &Bundle) {
    bundle.assert_verifies();
    assert_eq!(bundle.index["host"]["os"], "windows");

    // C:\x\y is stored at files/C/x/y, spaces kept.
    let conf = std::fs::read(bundle.top.join("files/C/Program Files/DRX/drx.conf")).unwrap();
    assert!(conf.starts_with(BOM), "the BOM is kept as evidence");
    assert!(bundle
        .read("files/C/Program Files/bsr/etc/bsr.d/r0.res")
        .contains("10.0.0.1:7789"));
    assert!(bundle.exists("files/C/Program Files/bsr/log/bsr.log"));
    assert!(bundle.exists("files/C/Program Files/bsr/bin/bsrService.log"));
    assert!(bundle.exists("files/C/Windows/System32/drivers/etc/hosts"));
    assert!(bundle.exists(&format!(
        "files/C/Program Files/DRX/logs/{}/deep.log",
        long_dir()
    )));
    // Installer logs: the Burn log and the DRX installer's, not any *.log of TEMP.
    assert!(bundle
        .read("files/C/Users/admin/AppData/Local/Temp/dd_vcredist_amd64_20180726153304.log")
        .contains("0x800b010a"));
    assert!(bundle.exists("files/C/Windows/Temp/DRX_setup.log"));
    assert!(!bundle.exists("files/C/Users/admin/AppData/Local/Temp/unrelated.log"));
    assert_eq!(bundle.status("servicing-packages"), "missing");

    let all = findings(bundle);
    let install = finding(&all, "INSTALL-0X800B010A");
    assert_eq!(
        install["path"],
        "files/C/Users/admin/AppData/Local/Temp/dd_vcredist_amd64_20180726153304.log"
    );
    let bom = finding(&all, "CONFIG-BOM");
    assert_eq!(bom["path"], "files/C/Program Files/DRX/drx.conf");
    assert!(
        all.iter().all(|f| f["rule"] != "CONFIG-BOM"
            || f["path"] != "files/C/Program Files/bsr/etc/bsr.d/r0.res"),
        "r0.res has no BOM"
    );
}

#[test]
fn the_linux_binary_collects_a_windows_sysroot_with_the_windows_manifest() {
    let f = windows_node();
    shell_stand_ins(&f);
    let manifest = windows_manifest();
    let output = f.collect(&["-m", manifest.to_str().unwrap()]);
    assert_success(&output);
    let bundle = f.bundle();
    assert_windows_bundle(&bundle);

    // Commands keep the ids the rules read.
    assert!(bundle.read("commands/systeminfo.txt").contains("6.1.7601"));
    assert_eq!(bundle.status("sc-query-drx"), "ok");
    assert_eq!(bundle.status("dotnet-versions"), "ok");
    assert_eq!(bundle.status("wmic-qfe"), "missing");
    assert_eq!(bundle.status("wevtutil-system"), "missing");
    // 2008 R2 (from systeminfo) without .NET 3.5 in the registry dump.
    let all = findings(&bundle);
    finding(&all, "INSTALL-DOTNET351-MISSING");
    assert!(all.iter().all(|f| f["rule"] != "INSTALL-KB2883200-MISSING"));
}

#[test]
fn a_2012_r2_sysroot_without_kb2883200_is_diagnosed_and_the_servicing_package_clears_it() {
    let f = windows_node();
    f.command(
        "systeminfo",
        "printf 'OS 이름:  Microsoft Windows Server 2012 R2 Standard\\r\\nOS 버전:  6.3.9600 N/A 빌드 9600\\r\\n핫픽스:  1\\r\\n   [01]: KB2919442\\r\\n네트워크 카드:  1\\r\\n'",
    );
    let manifest = windows_manifest();
    assert_success(&f.collect(&["-m", manifest.to_str().unwrap()]));
    let all = findings(&f.bundle());
    finding(&all, "INSTALL-KB2883200-MISSING");

    // The servicing package is evidence that needs no command.
    let f = windows_node();
    f.command(
        "systeminfo",
        "printf 'OS Name: Microsoft Windows Server 2012 R2 Standard\\r\\n'",
    )
    .file(
        "/C/Windows/servicing/Packages/Package_for_KB2883200~31bf3856ad364e35~amd64~~6.3.1.0.mum",
        "<?xml version=\"1.0\"?>\r\n",
    );
    assert_success(&f.collect(&["-m", manifest.to_str().unwrap()]));
    let bundle = f.bundle();
    assert_eq!(bundle.status("servicing-packages"), "ok");
    assert!(findings(&bundle)
        .iter()
        .all(|f| f["rule"] != "INSTALL-KB2883200-MISSING"));
}

const NETSH_PROFILES: &str = "\
\r
Domain Profile Settings:\r
----------------------------------------------------------------------\r
State                                 ON\r
Firewall Policy                       BlockInbound,AllowOutbound\r
\r
Private Profile Settings:\r
----------------------------------------------------------------------\r
State                                 ON\r
Firewall Policy                       BlockInbound,AllowOutbound\r
Ok.\r
";

/// `netsh advfirewall firewall show rule name=all verbose` with one rule for `port`.
fn netsh_rules(port: u16) -> String {
    format!(
        "\r\nRule Name:                            BSR replication\r\n\
         ----------------------------------------------------------------------\r\n\
         Enabled:                              Yes\r\n\
         Direction:                            In\r\n\
         Profiles:                             Domain,Private,Public\r\n\
         LocalIP:                              Any\r\n\
         RemoteIP:                             Any\r\n\
         Protocol:                             TCP\r\n\
         LocalPort:                            {port}\r\n\
         RemotePort:                           Any\r\n\
         Action:                               Allow\r\n\
         Ok.\r\n"
    )
}

fn with_firewall(f: &Fixture, allowed_port: u16) {
    f.command(
        "netsh",
        &format!(
            "if [ \"$2\" = show ]; then printf '%s' '{NETSH_PROFILES}'; else printf '%s' '{}'; fi",
            netsh_rules(allowed_port)
        ),
    );
}

#[test]
fn windows_firewall_rules_from_netsh_decide_whether_the_replication_port_is_open() {
    let manifest = windows_manifest();
    let blocked = windows_node();
    shell_stand_ins(&blocked);
    with_firewall(&blocked, 7700);
    assert_success(&blocked.collect(&["-m", manifest.to_str().unwrap()]));
    let bundle = blocked.bundle();
    assert!(bundle
        .read("commands/netsh-firewall-rules.txt")
        .contains("LocalPort"));
    let all = findings(&bundle);
    let blocked = finding(&all, "FIREWALL-PORT-BLOCKED");
    assert!(
        blocked["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("tcp/7789"),
        "{blocked:#?}"
    );

    // Near miss: an inbound allow rule for 7789.
    let open = windows_node();
    shell_stand_ins(&open);
    with_firewall(&open, 7789);
    assert_success(&open.collect(&["-m", manifest.to_str().unwrap()]));
    let all = findings(&open.bundle());
    assert!(
        all.iter().all(|f| f["rule"] != "FIREWALL-PORT-BLOCKED"),
        "{all:#?}"
    );
}

/// Real outputs (tests/realworld/windows/SOURCES.md): the current profile is Public; the only
/// inbound rule is the one Windows creates when a user allows an application, in Domain,Private.
const CURRENT_PUBLIC: &str =
    include_str!("../realworld/windows/netsh-currentprofile-public.en.txt");
const APP_RULE: &str = include_str!("../realworld/windows/netsh-rules-app-rule.en.txt");

/// The Public profile's block, which `show allprofiles` prints after Domain and Private.
const NETSH_PUBLIC: &str = "\r\nPublic Profile Settings:\r\n----------------------------------------------------------------------\r\nState                                 ON\r\nFirewall Policy                       BlockInbound,AllowOutbound\r\nOk.\r\n";

/// A `netsh` stand-in answering `show allprofiles`, `show currentprofile` and `firewall show`.
fn netsh_stand_in(f: &Fixture, current: &str, rules: &str) {
    f.command(
        "netsh",
        &format!(
            "case \"$2 $3\" in\n\
             'show allprofiles') printf '%s' '{NETSH_PROFILES}{NETSH_PUBLIC}' ;;\n\
             'show currentprofile') printf '%s' '{current}' ;;\n\
             *) printf '%s' '{rules}' ;;\n\
             esac"
        ),
    );
}

#[test]
fn an_application_rule_of_a_profile_that_is_not_current_opens_no_replication_port() {
    let manifest = windows_manifest();
    let f = windows_node();
    shell_stand_ins(&f);
    netsh_stand_in(&f, CURRENT_PUBLIC, APP_RULE);
    assert_success(&f.collect(&["-m", manifest.to_str().unwrap()]));
    let bundle = f.bundle();
    assert_eq!(bundle.status("netsh-firewall-currentprofile"), "ok");
    let all = findings(&bundle);
    let blocked = finding(&all, "FIREWALL-PORT-BLOCKED");
    let detail = blocked["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("tcp/7789") && detail.contains("Public"),
        "{blocked:#?}"
    );

    // Near miss: the same rule while the Domain profile is current opens every port.
    let f = windows_node();
    shell_stand_ins(&f);
    netsh_stand_in(
        &f,
        &CURRENT_PUBLIC.replace("Public Profile", "Domain Profile"),
        APP_RULE,
    );
    assert_success(&f.collect(&["-m", manifest.to_str().unwrap()]));
    let all = findings(&f.bundle());
    assert!(
        all.iter().all(|f| f["rule"] != "FIREWALL-PORT-BLOCKED"),
        "{all:#?}"
    );
}

/// A 2012 R2 systeminfo that ends before its hotfix section (cut short).
const SYSTEMINFO_2012_CUT: &str = "Host Name:                 WINNODE1\r\nOS Name:                   Microsoft Windows Server 2012 R2 Standard\r\nOS Version:                6.3.9600 N/A Build 9600\r\n";

#[test]
fn a_systeminfo_cut_short_is_no_update_list_and_the_gap_is_named() {
    let manifest = windows_manifest();
    let f = windows_node();
    f.command("systeminfo", &format!("printf '{SYSTEMINFO_2012_CUT}'"));
    assert_success(&f.collect(&["-m", manifest.to_str().unwrap()]));
    let all = findings(&f.bundle());
    assert!(
        all.iter().all(|f| f["rule"] != "INSTALL-KB2883200-MISSING"),
        "{all:#?}"
    );
    assert!(
        all.iter().any(|f| f["rule"] == "COLLECT-INCOMPLETE"
            && f["detail"]
                .as_str()
                .is_some_and(|d| d.contains("systeminfo") && d.contains("KB2883200"))),
        "{all:#?}"
    );
}

/// `printf` octal escapes for arbitrary bytes (a stand-in that writes UTF-16).
fn printf_bytes(bytes: &[u8]) -> String {
    let escaped: String = bytes.iter().map(|b| format!("\\{b:03o}")).collect();
    format!("printf '{escaped}'")
}

#[test]
fn utf16_wmic_output_without_a_byte_order_mark_is_read() {
    let manifest = windows_manifest();
    let qfe = "Caption                                     HotFixID   InstalledOn\r\nhttp://support.microsoft.com/?kbid=2883200  KB2883200  10/1/2014\r\n";
    let wide =
        |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect() };
    let f = windows_node();
    f.command("systeminfo", &format!("printf '{SYSTEMINFO_2012_CUT}'"))
        .command("wmic", &printf_bytes(&wide(qfe)));
    assert_success(&f.collect(&["-m", manifest.to_str().unwrap()]));
    let all = findings(&f.bundle());
    assert!(
        all.iter()
            .all(|f| f["rule"] != "INSTALL-KB2883200-MISSING" && f["rule"] != "COLLECT-INCOMPLETE"),
        "{all:#?}"
    );
    // The same list without the update: now an absence that counts.
    let f = windows_node();
    f.command("systeminfo", &format!("printf '{SYSTEMINFO_2012_CUT}'"))
        .command(
            "wmic",
            &printf_bytes(&wide(&qfe.replace("2883200", "2919442"))),
        );
    assert_success(&f.collect(&["-m", manifest.to_str().unwrap()]));
    finding(&findings(&f.bundle()), "INSTALL-KB2883200-MISSING");
}

#[test]
fn the_windows_manifest_has_the_item_ids_the_rules_read() {
    let text = std::fs::read_to_string(windows_manifest()).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(manifest["os"].as_str(), Some("windows"));
    let items = manifest["item"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    for id in [
        "systeminfo",
        "ipconfig-all",
        "netstat-ano",
        "route-print",
        "netsh-firewall-profiles",
        "netsh-firewall-rules",
        "netsh-firewall-currentprofile",
        "reg-firewall-rules",
        "reg-firewall-policy-rules",
        "wmic-qfe",
        "dotnet-versions",
        "sc-query-drx",
        "sc-query-bsr",
        "bsrsetup-show",
        "bsradm-dump",
        "wevtutil-system",
        "wevtutil-application",
        "drx-conf",
        "drx-logs",
        "bsr-etc",
        "bsr-logs",
        "installer-logs",
        "servicing-packages",
    ] {
        assert!(ids.contains(&id), "manifests/windows.toml lacks item {id}");
    }
    // Event logs: the text form of the last days, oldest first (the output cap keeps the tail).
    for log in ["wevtutil-system", "wevtutil-application"] {
        let item = items
            .iter()
            .find(|i| i["id"].as_str() == Some(log))
            .unwrap();
        let argv: Vec<&str> = item["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert_eq!(argv[..2], ["wevtutil", "qe"]);
        assert!(argv
            .iter()
            .any(|a| a.starts_with("/q:*[System[TimeCreated[timediff(@SystemTime) <= ")));
        assert!(argv.contains(&"/f:text"));
        assert!(!argv.iter().any(|a| a.starts_with("/rd:true")));
    }
}

#[test]
fn zip_names_use_forward_slashes() {
    let f = windows_node();
    shell_stand_ins(&f);
    let manifest = windows_manifest();
    assert_success(&f.collect(&["-m", manifest.to_str().unwrap(), "--format", "zip"]));
    let bundle = f.bundle();
    let listing = Command::new("unzip")
        .arg("-Z1")
        .arg(&bundle.path)
        .output()
        .unwrap();
    let names = stdout(&listing);
    assert!(
        names.contains("/files/C/Program Files/DRX/drx.conf\n"),
        "{names}"
    );
    assert!(!names.contains('\\'), "{names}");
}

// --- The .exe under wine --------------------------------------------------------------------------

const WINE: &str = "/usr/lib/wine/wine64";

/// Runs the .exe under wine with a clean Windows-side environment: WINEPATH puts the stand-ins
/// first on PATH, WINEDEBUG silences wine.
fn wine(exe: &Path, stand_ins: &Path, args: &[&str]) -> Output {
    wine_in(exe, stand_ins, "C.UTF-8", args)
}

/// `wine` with a locale: wine derives the Windows code pages from it (ko_KR: OEM code page 949).
fn wine_in(exe: &Path, stand_ins: &Path, lang: &str, args: &[&str]) -> Output {
    wine_command(exe, stand_ins, lang, args).output().unwrap()
}

fn wine_command(exe: &Path, stand_ins: &Path, lang: &str, args: &[&str]) -> Command {
    assert!(
        Path::new(WINE).exists(),
        "{WINE} is missing; run scripts/test-windows.sh, which installs wine64"
    );
    let mut cmd = Command::new(WINE);
    cmd.arg(exe)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("WINEDEBUG", "-all")
        .env("WINEPATH", windows_path(stand_ins))
        .env("LANG", lang)
        .env("LC_ALL", lang)
        .stdin(Stdio::null());
    if let Some(prefix) = std::env::var_os("WINEPREFIX") {
        cmd.env("WINEPREFIX", prefix);
    }
    cmd
}

/// A Linux path as wine shows it to Windows programs (drive Z: is `/`).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

fn exe() -> PathBuf {
    let exe = std::env::var_os("DRX_COLLECT_EXE").unwrap_or_else(|| {
        panic!("DRX_COLLECT_EXE is not set; run scripts/test-windows.sh, which builds the .exe")
    });
    let exe = PathBuf::from(exe);
    assert!(
        exe.is_file(),
        "DRX_COLLECT_EXE {} is not a file",
        exe.display()
    );
    exe
}

/// Stand-ins for the Windows commands, as .cmd files run by wine's cmd.exe.
fn cmd_stand_ins(f: &Fixture) {
    let write = |name: &str, body: &str| {
        let lines: String = body
            .lines()
            .map(|line| {
                let line = line.trim_end_matches('\r');
                if line.trim().is_empty() {
                    "echo.\r\n".to_string()
                } else {
                    format!("echo {line}\r\n")
                }
            })
            .collect();
        std::fs::write(
            f.bin.path().join(format!("{name}.cmd")),
            format!("@echo off\r\n{lines}"),
        )
        .unwrap();
    };
    write("systeminfo", SYSTEMINFO);
    write("reg", DOTNET_WITHOUT_35);
    write("hostname", "WINNODE1");
    std::fs::write(
        f.bin.path().join("sc.cmd"),
        "@echo off\r\necho [SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\nexit /b 1060\r\n",
    )
    .unwrap();
    // A command that starts a child that never ends: the timeout must kill both (job object).
    std::fs::write(
        f.bin.path().join("hang.cmd"),
        "@echo off\r\necho started\r\ncmd /c spin.cmd\r\n",
    )
    .unwrap();
    std::fs::write(
        f.bin.path().join("spin.cmd"),
        "@echo off\r\n:again\r\ngoto again\r\n",
    )
    .unwrap();
}

/// Names of wine processes whose command line mentions `needle`.
fn wine_processes(needle: &str) -> Vec<String> {
    let ps = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    stdout(&ps)
        .lines()
        .filter(|l| l.contains(needle) && !l.contains("ps -eo"))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs wine and the .exe: run scripts/test-windows.sh"]
fn the_exe_under_wine_collects_a_windows_sysroot_into_a_verified_zip() {
    let exe = exe();
    let f = windows_node();
    cmd_stand_ins(&f);
    // The embedded (Windows) manifest, plus a hanging command to prove the process tree dies.
    let extra = f.out.path().join("hang.toml");
    std::fs::write(
        &extra,
        "name = \"hang\"\nos = \"windows\"\n[[item]]\nid = \"hang\"\ncommand = [\"hang\"]\ntimeout = \"3s\"\n",
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    // --root as a Linux path: wine resolves "/tmp/..." on the current drive (Z:, the Unix root).
    let output = wine(
        &exe,
        f.bin.path(),
        &[
            "collect",
            "--root",
            f.root.path().to_str().unwrap(),
            "-m",
            &windows_path(&windows_manifest()),
            "-m",
            &windows_path(&extra),
            "-o",
            &windows_path(out_dir.path()),
        ],
    );
    let took = started.elapsed();
    assert_success(&output);
    assert!(took < Duration::from_secs(120), "took {took:?}");

    let zips: Vec<PathBuf> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    assert_eq!(zips.len(), 1, "expected one zip: {zips:?}");
    let zip = &zips[0];
    let test = Command::new("unzip").arg("-t").arg(zip).output().unwrap();
    assert!(test.status.success(), "unzip -t: {}", stdout(&test));
    let sidecar = format!("{}.sha256", zip.file_name().unwrap().to_string_lossy());
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", &sidecar])
        .current_dir(out_dir.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "sha256sum -c: {}", stdout(&check));

    let bundle = Bundle::open(zip);
    assert_windows_bundle(&bundle);
    assert!(bundle.read("commands/systeminfo.txt").contains("6.1.7601"));
    // 1060 (no such service) is an answer, not a failure.
    assert_eq!(bundle.status("sc-query-drx"), "ok");
    finding(&findings(&bundle), "INSTALL-DOTNET351-MISSING");

    // The hanging command and the child it started were killed at the timeout.
    assert_eq!(bundle.status("hang"), "timeout");
    assert!(bundle.read("commands/hang.txt").contains("started"));
    std::thread::sleep(Duration::from_millis(500));
    let left = wine_processes("spin.cmd");
    assert!(
        left.is_empty(),
        "the hanging command's child survived: {left:?}"
    );

    // The Linux side reads the zip the .exe wrote: the bundle reader's one-pass verification...
    let mut reader = drx_collect::archive::reader::BundleReader::open(zip).unwrap();
    let verification =
        drx_collect::inspect::verify::verify(&mut reader, &mut |_, _| Ok(())).unwrap();
    assert!(verification.ok(), "{:?}", verification.problems);
    assert!(verification.files > 10);
    // ...and the Linux binary's `inspect` diagnoses it.
    let inspect = Command::new(BIN)
        .arg("inspect")
        .arg(zip)
        .env_clear()
        .env("LANG", "C")
        .output()
        .unwrap();
    assert_eq!(
        inspect.status.code(),
        Some(0),
        "inspect failed: {}",
        stderr(&inspect)
    );
    assert!(
        stdout(&inspect).contains("INSTALL-0X800B010A"),
        "{}",
        stdout(&inspect)
    );
}

#[test]
#[ignore = "needs wine and the .exe: run scripts/test-windows.sh"]
fn the_exe_under_wine_decodes_cp949_output_of_a_korean_windows() {
    let exe = exe();
    let f = Fixture::new();
    f.file(
        "/C/Windows/System32/drivers/etc/hosts",
        "10.0.0.1 WINNODE1\r\n",
    );
    // "호스트 이름:" (systeminfo's "Host Name:") in CP949, as a Korean systeminfo prints it.
    let korean: &[u8] = b"\xc8\xa3\xbd\xba\xc6\xae \xc0\xcc\xb8\xa7:   WINNODE1\r\n";
    std::fs::write(f.bin.path().join("ko.txt"), korean).unwrap();
    std::fs::write(
        f.bin.path().join("systeminfo.cmd"),
        format!(
            "@echo off\r\ntype {}\r\n",
            windows_path(&f.bin.path().join("ko.txt"))
        ),
    )
    .unwrap();
    let manifest = f.out.path().join("ko.toml");
    std::fs::write(
        &manifest,
        "name = \"ko\"\nos = \"windows\"\n[[item]]\nid = \"systeminfo\"\ncommand = [\"systeminfo\"]\n",
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let output = wine_in(
        &exe,
        f.bin.path(),
        "ko_KR.UTF-8",
        &[
            "collect",
            "--root",
            &windows_path(f.root.path()),
            "-m",
            &windows_path(&manifest),
            "-o",
            &windows_path(out_dir.path()),
            "--quiet",
        ],
    );
    assert_success(&output);
    let zip = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .expect("a zip");
    let bundle = Bundle::open(&zip);
    bundle.assert_verifies();
    assert_eq!(
        bundle.read("commands/systeminfo.txt"),
        "호스트 이름:   WINNODE1\r\n"
    );
}

#[test]
#[ignore = "needs wine and the .exe: run scripts/test-windows.sh"]
fn the_exe_under_wine_decodes_utf16_output_without_a_byte_order_mark() {
    // Pure-ASCII UTF-16LE without a BOM (as a redirected wmic writes) is also valid UTF-8: it
    // must still be decoded, or KB look-ups meet a NUL between every letter.
    let exe = exe();
    let f = Fixture::new();
    f.file(
        "/C/Windows/System32/drivers/etc/hosts",
        "10.0.0.1 WINNODE1\r\n",
    );
    // `cmd /u` writes its built-in commands' output as UTF-16LE without a BOM, as wmic does.
    std::fs::write(
        f.bin.path().join("wmic.cmd"),
        "@echo off\r\ncmd /u /c echo HotFixID\r\ncmd /u /c echo KB2883200\r\n",
    )
    .unwrap();
    let qfe = "HotFixID\r\nKB2883200\r\n";
    let manifest = f.out.path().join("qfe.toml");
    std::fs::write(
        &manifest,
        "name = \"qfe\"\nos = \"windows\"\n[[item]]\nid = \"wmic-qfe\"\ncommand = [\"wmic\", \"qfe\"]\n",
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let output = wine(
        &exe,
        f.bin.path(),
        &[
            "collect",
            "--root",
            &windows_path(f.root.path()),
            "-m",
            &windows_path(&manifest),
            "-o",
            &windows_path(out_dir.path()),
            "--quiet",
        ],
    );
    assert_success(&output);
    let zip = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .expect("a zip");
    let bundle = Bundle::open(&zip);
    bundle.assert_verifies();
    assert_eq!(bundle.read("commands/wmic-qfe.txt"), qfe);
}

#[test]
#[ignore = "needs wine and the .exe: run scripts/test-windows.sh"]
fn the_exe_under_wine_stops_on_ctrl_c_without_a_partial_bundle_or_surviving_commands() {
    let exe = exe();
    let f = windows_node();
    cmd_stand_ins(&f);
    // A marker of this test's own: concurrent tests run spin.cmd too.
    std::fs::write(
        f.bin.path().join("hang.cmd"),
        "@echo off\r\necho started\r\ncmd /c spin-ctrl-c.cmd\r\n",
    )
    .unwrap();
    std::fs::write(
        f.bin.path().join("spin-ctrl-c.cmd"),
        "@echo off\r\n:again\r\ngoto again\r\n",
    )
    .unwrap();
    let manifest = f.out.path().join("hang.toml");
    std::fs::write(
        &manifest,
        "name = \"hang\"\nos = \"windows\"\n[[item]]\nid = \"hang\"\ncommand = [\"hang\"]\ntimeout = \"60s\"\n",
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let child = wine_command(
        &exe,
        f.bin.path(),
        "C.UTF-8",
        &[
            "collect",
            "--root",
            &windows_path(f.root.path()),
            "-m",
            &windows_path(&manifest),
            "-o",
            &windows_path(out_dir.path()),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while wine_processes("spin-ctrl-c.cmd").is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !wine_processes("spin-ctrl-c.cmd").is_empty(),
        "the hanging command never started"
    );
    // Wine turns SIGINT into the console's Ctrl-C event.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("Ctrl-C") && message.contains("no bundle was written"),
        "{message}"
    );
    let left: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left files behind: {left:?}");
    std::thread::sleep(Duration::from_millis(500));
    let survivors = wine_processes("spin-ctrl-c.cmd");
    assert!(
        survivors.is_empty(),
        "the hung command survived: {survivors:?}"
    );
}
