//! Test helpers: build honest and hostile bundles in memory, byte by byte where the `tar` and
//! `zip` writers would refuse (`..`, absolute names, devices).
use std::io::{Cursor, Write};

use sha2::{Digest, Sha256};

use crate::digest::hex;

pub const TOP: &str = "drx-collect-node1-20261124T100000Z";

#[derive(Debug, Clone)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
    CharDevice,
}

#[derive(Debug, Clone)]
pub struct Ent {
    pub name: Vec<u8>,
    pub kind: Kind,
}

pub fn file(name: &str, content: &[u8]) -> Ent {
    Ent {
        name: name.as_bytes().to_vec(),
        kind: Kind::File(content.to_vec()),
    }
}

pub fn dir(name: &str) -> Ent {
    Ent {
        name: name.as_bytes().to_vec(),
        kind: Kind::Dir,
    }
}

pub fn ent(name: &[u8], kind: Kind) -> Ent {
    Ent {
        name: name.to_vec(),
        kind,
    }
}

pub fn sha(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The files of an honest bundle (paths relative to the top directory), SHA256SUMS included.
pub fn honest_files() -> Vec<(String, Vec<u8>)> {
    honest_files_of("node1")
}

/// [`honest_files`] of the node `host`.
pub fn honest_files_of(host: &str) -> Vec<(String, Vec<u8>)> {
    let hosts = format!("127.0.0.1 localhost\n10.0.0.1 {host}\n").into_bytes();
    let uname = format!("Linux {host} 3.10.0-1160.el7.x86_64\n").into_bytes();
    let index = serde_json::json!({
        "schema": "drx-collect/index/v1",
        "tool": {"name": "drx-collect", "version": "0.1.0"},
        "host": {"hostname": host, "os": "linux"},
        "items": [
            {"id": "hosts", "kind": "file", "source": "/etc/hosts", "path": "files/etc/hosts",
             "status": "ok", "bytes": hosts.len(), "sha256": sha(&hosts)},
            {"id": "uname", "kind": "command", "source": "uname -a", "path": "commands/uname.txt",
             "status": "ok", "bytes": uname.len(), "sha256": sha(&uname)},
            {"id": "shadow", "kind": "file", "source": "/etc/shadow", "status": "denied"},
            {"id": "drbd", "kind": "file", "source": "/proc/drbd", "status": "missing"}
        ]
    });
    let mut files = vec![
        (
            "index.json".to_string(),
            serde_json::to_vec_pretty(&index).unwrap_or_default(),
        ),
        (
            "SUMMARY.txt".to_string(),
            format!("host {host}\n").into_bytes(),
        ),
        ("collector.log".to_string(), b"started\n".to_vec()),
        ("files/etc/hosts".to_string(), hosts),
        ("commands/uname.txt".to_string(), uname),
    ];
    let sums = sums_for(&files);
    files.insert(2, ("SHA256SUMS".to_string(), sums));
    files
}

pub fn sums_for(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut sums = String::new();
    for (path, data) in files {
        sums.push_str(&format!("{}  {path}\n", sha(data)));
    }
    sums.into_bytes()
}

/// Entries for `files` under the top directory, with directory entries first like `tar` makes.
pub fn entries(files: &[(String, Vec<u8>)]) -> Vec<Ent> {
    let mut out = vec![dir(&format!("{TOP}/"))];
    for (path, data) in files {
        out.push(file(&format!("{TOP}/{path}"), data));
    }
    out
}

/// An honest `.tgz` bundle of the node `host`, and its file name.
pub fn honest_bundle(host: &str) -> (String, Vec<u8>) {
    let top = format!("drx-collect-{host}-20261124T100000Z");
    let mut out = vec![dir(&format!("{top}/"))];
    for (path, data) in honest_files_of(host) {
        out.push(file(&format!("{top}/{path}"), &data));
    }
    (format!("{top}.tgz"), tgz(&out))
}

/// The top directory of the case files made here.
pub const CASE_TOP: &str = "drx-case-node1-node2-20261124T100000Z";

/// A case file's entries (SPEC §9): `members` (paths relative to its top directory) in this
/// order, then a SHA256SUMS of them all, as `peer::pair` writes it.
pub fn case_entries(members: &[(String, Vec<u8>)]) -> Vec<Ent> {
    let mut out = vec![dir(&format!("{CASE_TOP}/"))];
    for (path, data) in members {
        out.push(file(&format!("{CASE_TOP}/{path}"), data));
    }
    out.push(file(&format!("{CASE_TOP}/SHA256SUMS"), &sums_for(members)));
    out
}

/// A case.json naming `bundles`: (role, host, file name under `bundles/`, content).
pub fn case_json(bundles: &[(&str, &str, &str, &[u8])]) -> Vec<u8> {
    let listed: Vec<serde_json::Value> = bundles
        .iter()
        .map(|(role, host, name, data)| {
            serde_json::json!({"role": role, "host": host, "path": format!("bundles/{name}"),
                "sha256": sha(data), "size": data.len()})
        })
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({
        "schema": "drx-collect/case/v1",
        "tool": {"name": "drx-collect", "version": "0.1.0"},
        "created_at": "2026-11-24T10:00:00Z",
        "bundles": listed,
    }))
    .unwrap_or_default()
}

pub fn tar(entries: &[Ent]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_gnu();
        // Names are written raw: `set_path` refuses `..` and absolute paths, which the tests need.
        let name = &mut header.as_old_mut().name;
        let len = e.name.len().min(100);
        name[..len].copy_from_slice(&e.name[..len]);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        let (data, link): (&[u8], Option<&str>) = match &e.kind {
            Kind::File(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                (data, None)
            }
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                (&[], None)
            }
            Kind::Symlink(t) => {
                header.set_entry_type(tar::EntryType::Symlink);
                (&[], Some(t))
            }
            Kind::Hardlink(t) => {
                header.set_entry_type(tar::EntryType::Link);
                (&[], Some(t))
            }
            Kind::CharDevice => {
                header.set_entry_type(tar::EntryType::Char);
                (&[], None)
            }
        };
        if let Some(link) = link {
            let field = &mut header.as_old_mut().linkname;
            field[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn tgz(entries: &[Ent]) -> Vec<u8> {
    gzip(&tar(entries))
}

pub fn zip(entries: &[Ent]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for e in entries {
        let name = String::from_utf8(e.name.clone()).unwrap();
        match &e.kind {
            Kind::File(data) => {
                w.start_file(name, opts).unwrap();
                w.write_all(data).unwrap();
            }
            Kind::Dir => w.add_directory(name, opts).unwrap(),
            Kind::Symlink(t) => w.add_symlink(name, t, opts).unwrap(),
            Kind::Hardlink(_) | Kind::CharDevice => panic!("zip has no {:?}", e.kind),
        }
    }
    w.finish().unwrap().into_inner()
}

/// One entry read back: name, kind, content.
pub type ReadBack = (String, crate::archive::reader::EntryKind, Vec<u8>);

/// Reads every entry.
pub fn read_all(
    reader: &mut crate::archive::reader::BundleReader,
) -> crate::error::Result<Vec<ReadBack>> {
    let mut out = Vec::new();
    reader.for_each(&mut |meta, content| {
        let mut data = Vec::new();
        content
            .read_to_end(&mut data)
            .map_err(|e| crate::error::Error::failed(e.to_string()))?;
        out.push((meta.name.clone(), meta.kind.clone(), data));
        Ok(())
    })?;
    Ok(out)
}

/// Writes the fuzz target's seed corpus (`fuzz/seeds/bundle_reader`): honest bundles in every
/// container, hostile and damaged ones. Run `cargo test -- --ignored write_fuzz_seeds` after
/// changing the builders above, and commit the result.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/bundle_reader");
    std::fs::create_dir_all(&out).unwrap();
    let honest = entries(&honest_files());
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![
        ("honest.tgz", tgz(&honest)),
        ("honest.zip", zip(&honest)),
        ("honest.tar", tar(&honest)),
    ];
    let minimal = vec![
        file("t/index.json", br#"{"schema":"drx-collect/index/v1"}"#),
        file(
            "t/SHA256SUMS",
            format!(
                "{} *./index.json\r\n",
                sha(br#"{"schema":"drx-collect/index/v1"}"#)
            )
            .as_bytes(),
        ),
    ];
    seeds.push(("minimal.zip", zip(&minimal)));
    let mut bad = b"t/files/".to_vec();
    bad.extend_from_slice(b"\xff\xfe");
    seeds.push((
        "hostile.tgz",
        tgz(&[
            dir("t/"),
            file("../../etc/x", b"evil"),
            file("/etc/passwd", b"evil"),
            ent(b"t/link", Kind::Symlink("/etc/passwd".into())),
            ent(b"t/hard", Kind::Hardlink("/etc/shadow".into())),
            ent(b"t/dev", Kind::CharDevice),
            file("t/dup", b"1"),
            file("t/dup", b"2"),
            ent(&bad, Kind::File(b"x".to_vec())),
        ]),
    ));
    seeds.push((
        "symlink.zip",
        zip(&[dir("t/"), ent(b"t/l", Kind::Symlink("../../x".into()))]),
    ));
    let whole = tgz(&honest);
    seeds.push(("truncated.tgz", whole[..whole.len() / 2].to_vec()));
    let plain = tar(&honest);
    let (a, b) = plain.split_at(1024);
    let mut multi = gzip(a);
    multi.extend(gzip(b));
    seeds.push(("multi-member.tgz", multi));
    let mut garbage = vec![0x1f, 0x8b, 8, 0];
    garbage.extend((0..200u8).map(|i| i.wrapping_mul(37)));
    seeds.push(("garbage.gz", garbage));
    // A header claiming 1 GiB, followed by 64 KiB of zeros: a bomb in miniature.
    let mut header = tar::Header::new_gnu();
    header.set_path("t/zeros").unwrap();
    header.set_size(1 << 30);
    header.set_cksum();
    let mut bomb = header.as_bytes().to_vec();
    bomb.extend(vec![0u8; 64 * 1024]);
    seeds.push(("bomb.tgz", gzip(&bomb)));
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_pax_extensions([("path", &b"t/from-pax"[..])])
        .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_path("t/short").unwrap();
    h.set_size(2);
    h.set_cksum();
    builder.append(&h, &b"ok"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    builder
        .append_data(&mut h, format!("t/{}", "long".repeat(40)), &b"x"[..])
        .unwrap();
    seeds.push((
        "pax-and-long-names.tgz",
        gzip(&builder.into_inner().unwrap()),
    ));
    seeds.push((
        "index.json",
        honest_files()
            .into_iter()
            .find(|f| f.0 == "index.json")
            .unwrap()
            .1,
    ));
    for (name, bytes) in seeds {
        std::fs::write(out.join(name), bytes).unwrap();
    }
}
