//! Writes COUNT valid, distinct bundles for the case database's tests and benchmark:
//!
//!     cargo run --release --example gen-cases -- OUT_DIR COUNT [HOSTS]
//!
//! Bundle i is snapshot i / HOSTS of host `node<i % HOSTS>` (default HOSTS = 50), one day after
//! the previous one (so months fill up), and verifies like a real one: SHA256SUMS lists every
//! file, index.json's items match them. What varies, deterministically: BSR or DRBD, the DRBD and
//! DRBD-utils versions (old enough for VERSION-DRBD-OLD on some), the DRX version (upgraded over
//! time), a UTF-8 BOM in the resource file (CONFIG-BOM, fixed in later snapshots), DRX log lines
//! with "connection refused" (DRX-CONNECTION-REFUSED), a case id on some bundles, and the resources.
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Entry {
    id: String,
    kind: &'static str,
    source: String,
    path: String,
    content: Vec<u8>,
}

fn file(id: &str, source: &str, content: impl Into<Vec<u8>>) -> Entry {
    Entry {
        id: id.into(),
        kind: "file",
        source: source.into(),
        path: format!("files{source}"),
        content: content.into(),
    }
}

fn command(id: &str, source: &str, content: impl Into<Vec<u8>>) -> Entry {
    Entry {
        id: id.into(),
        kind: "command",
        source: source.into(),
        path: format!("commands/{id}.txt"),
        content: content.into(),
    }
}

fn bundle(i: u64, hosts: u64) -> (String, Vec<u8>) {
    let node = i % hosts;
    let snap = i / hosts;
    let host = format!("node{node:03}");
    let bsr = node.is_multiple_of(3);
    let started = chrono::DateTime::parse_from_rfc3339("2025-01-01T08:00:00Z")
        .expect("static time")
        .with_timezone(&chrono::Utc)
        + chrono::Duration::days(snap as i64)
        + chrono::Duration::minutes((node * 7 % 600) as i64)
        + chrono::Duration::seconds((i % 60) as i64);
    let stamp = started.format("%Y%m%dT%H%M%SZ").to_string();
    let top = format!("drx-collect-{host}-{stamp}");
    // Versions move up with time, at a pace that differs per node.
    let drbd_patch = 2 + (node % 7) + snap / (20 + node % 11);
    let utils_minor = 3 + (node % 5) + snap / 40;
    let drx_patch = 1 + snap / (3 + node % 5);
    let peer = format!("node{:03}", (node + 1) % hosts);
    let bom = node % 4 == 1 && snap < 3 + node % 5;
    let resources: Vec<String> = (0..1 + node % 3).map(|r| format!("r{r}")).collect();

    let mut res = String::new();
    for (r, name) in resources.iter().enumerate() {
        res.push_str(&format!(
            "resource {name} {{\n  on {host} {{\n    device /dev/drbd{r};\n    disk /dev/sdb{r};\n    address 10.0.{node}.1:{port};\n    meta-disk internal;\n  }}\n  on {peer} {{\n    device /dev/drbd{r};\n    disk /dev/sdb{r};\n    address 10.0.{node}.2:{port};\n    meta-disk internal;\n  }}\n}}\n",
            port = 7788 + r
        ));
    }
    let mut res_bytes = Vec::new();
    if bom {
        res_bytes.extend_from_slice(b"\xEF\xBB\xBF");
    }
    res_bytes.extend_from_slice(res.as_bytes());

    let mut entries = vec![
        file("hostname", "/etc/hostname", format!("{host}\n")),
        file(
            "redhat-release",
            "/etc/redhat-release",
            "CentOS Linux release 7.9.2009 (Core)\n",
        ),
        command(
            "uname",
            "uname -a",
            format!("Linux {host} 3.10.0-1160.el7.x86_64 #1 SMP x86_64 GNU/Linux\n"),
        ),
        command(
            "drx-version",
            "drx --version",
            format!("DRX version 3.2.{drx_patch}\n"),
        ),
        file(
            "drx-log",
            "/opt/DRX/logs/drx.log",
            if snap % 9 == 4 {
                format!("{stamp} INFO start\n{stamp} ERROR connect to {peer}:9000: Connection refused\n")
            } else {
                format!("{stamp} INFO start\n{stamp} INFO connected to {peer}\n")
            },
        ),
    ];
    if bsr {
        entries.push(file("bsr-res", "/etc/bsr.d/r0.res", res_bytes));
        entries.push(file(
            "proc-bsr",
            "/proc/bsr",
            format!("BSR:1.6.{drbd_patch} GIT-hash: 0123abcd build by root@build, 2024-05-01 10:00:00\n(api:2/proto:86-117)\n"),
        ));
        entries.push(command(
            "bsradm-version",
            "bsradm -V",
            format!("BSRADM_API_VERSION=2\nBSR_KERNEL_VERSION_CODE=0x00000000\nBSR_KERNEL_VERSION=1.6.{utils_minor}\nBSRADM_VERSION=1.6.{utils_minor}\n"),
        ));
    } else {
        entries.push(file("drbd-res", "/etc/drbd.d/r0.res", res_bytes));
        entries.push(file(
            "proc-drbd",
            "/proc/drbd",
            format!("version: 8.4.{drbd_patch} (api:1/proto:86-101)\nGIT-hash: 1d360bde0e095d495786eaeb2a1ac76888e4db96 build by root@c7, 2020-01-01 10:00:00\n"),
        ));
        entries.push(command(
            "drbdadm-version",
            "drbdadm -V",
            format!("DRBDADM_BUILDTAG=GIT-hash:\\ abc\nDRBDADM_API_VERSION=1\nDRBD_KERNEL_VERSION_CODE=0x0804{drbd_patch:02x}\nDRBDADM_VERSION_CODE=0x09{utils_minor:02x}00\nDRBDADM_VERSION=9.{utils_minor}.0\n"),
        ));
    }

    let finished = started + chrono::Duration::seconds(2);
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id, "kind": e.kind, "source": e.source, "path": e.path, "status": "ok",
                "bytes": e.content.len(), "sha256": hex(&Sha256::digest(&e.content)),
            })
        })
        .collect();
    let mut index = serde_json::json!({
        "schema": "drx-collect/index/v1",
        "tool": {"name": "drx-collect", "version": "0.1.0"},
        "host": {"hostname": host, "os": "linux", "os_release": "CentOS Linux release 7.9.2009 (Core)",
                 "kernel": "3.10.0-1160.el7.x86_64"},
        "started_at": started.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "finished_at": finished.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "manifest": {"name": "linux", "sha256": ""},
        "items": items,
        "findings": [],
    });
    if snap % 5 == 2 {
        index["case_id"] = serde_json::Value::String(format!("CASE-{}", 1000 + node));
    }
    // Labels for `cases search --label/--text`: a plain one, and one with LIKE's wildcards and
    // a non-ASCII capital (folded alike, i.e. not at all, by both engines).
    if snap % 4 == 1 {
        index["label"] = serde_json::Value::String("nightly".into());
    } else if snap % 4 == 3 && node.is_multiple_of(2) {
        index["label"] = serde_json::Value::String("50% off_x Ä".into());
    }
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "index.json".into(),
            serde_json::to_vec_pretty(&index).expect("json"),
        ),
        ("SUMMARY.txt".into(), format!("host {host}\n").into_bytes()),
        ("collector.log".into(), b"generated by gen-cases\n".to_vec()),
    ];
    files.extend(entries.into_iter().map(|e| (e.path, e.content)));
    let mut sums = String::new();
    for (path, content) in &files {
        sums.push_str(&format!("{}  {path}\n", hex(&Sha256::digest(content))));
    }
    files.push(("SHA256SUMS".into(), sums.into_bytes()));

    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mtime = started.timestamp().max(0) as u64;
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o700);
    dir.set_size(0);
    dir.set_mtime(mtime);
    tar.append_data(&mut dir, format!("{top}/"), std::io::empty())
        .expect("tar");
    for (path, content) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o600);
        header.set_size(content.len() as u64);
        header.set_mtime(mtime);
        tar.append_data(&mut header, format!("{top}/{path}"), &content[..])
            .expect("tar");
    }
    let bytes = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .expect("in-memory gzip");
    (format!("{top}.tgz"), bytes)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: gen-cases OUT_DIR COUNT [HOSTS]");
        std::process::exit(2);
    }
    let out = Path::new(&args[0]);
    let parse = |text: &str, what: &str| -> u64 {
        text.parse().unwrap_or_else(|_| {
            eprintln!("gen-cases: {what} must be a whole number, not '{text}'");
            std::process::exit(2)
        })
    };
    let count = parse(&args[1], "COUNT");
    let hosts = args.get(2).map(|h| parse(h, "HOSTS")).unwrap_or(50).max(1);
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("gen-cases: cannot create {}: {e}", out.display());
        std::process::exit(1);
    }
    for i in 0..count {
        let (name, bytes) = bundle(i, hosts);
        let path = out.join(&name);
        let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(&bytes));
        if let Err(e) = written {
            eprintln!("gen-cases: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
