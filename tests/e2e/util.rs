//! A small builder: fixture tree → run the real binary → look at the bundle.
#![allow(dead_code)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_drx-collect");

pub struct Fixture {
    pub root: TempDir,
    pub bin: TempDir,
    pub out: TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let fixture = Fixture {
            root: tempfile::tempdir().unwrap(),
            bin: tempfile::tempdir().unwrap(),
            out: tempfile::tempdir().unwrap(),
        };
        fixture.file("/etc/hostname", "node1\n");
        fixture.file(
            "/etc/redhat-release",
            "CentOS Linux release 7.9.2009 (Core)\n",
        );
        fixture
    }

    /// A file in the sysroot at its absolute path.
    pub fn file(&self, path: &str, content: impl AsRef<[u8]>) -> &Self {
        let full = self.root.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
        self
    }

    /// A stand-in command: a shell script first on PATH.
    pub fn command(&self, name: &str, script: &str) -> &Self {
        let path = self.bin.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\nPATH=/usr/bin:/bin\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    /// A stand-in command that prints `text` whatever its arguments.
    pub fn prints(&self, name: &str, text: &str) -> &Self {
        let data = self.bin.path().join(format!(".{name}.out"));
        std::fs::write(&data, text).unwrap();
        self.command(name, &format!("cat '{}'", data.display()))
    }

    /// A stand-in command that prints the text of the first matching argument pattern
    /// (`case` patterns of sh, matched against all arguments joined by spaces).
    pub fn prints_by_args(&self, name: &str, cases: &[(&str, &str)]) -> &Self {
        let mut script = String::from("case \"$*\" in\n");
        for (i, (pattern, text)) in cases.iter().enumerate() {
            let data = self.bin.path().join(format!(".{name}.{i}.out"));
            std::fs::write(&data, text).unwrap();
            script.push_str(&format!("  {pattern}) cat '{}' ;;\n", data.display()));
        }
        script.push_str("  *) exit 1 ;;\nesac");
        self.command(name, &script)
    }

    /// The binary, with a clean environment: PATH holds only the stand-ins.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", self.bin.path())
            .env("LANG", "C")
            .stdin(Stdio::null());
        cmd
    }

    /// `collect --root ROOT -o OUT` plus `args`.
    pub fn collect(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd();
        cmd.arg("collect")
            .arg("--root")
            .arg(self.root.path())
            .arg("-o")
            .arg(self.out.path())
            .args(args);
        cmd.output().unwrap()
    }

    /// The one bundle in the output directory.
    pub fn bundle(&self) -> Bundle {
        let bundles = self.bundles();
        assert_eq!(bundles.len(), 1, "expected one bundle, found {bundles:?}");
        Bundle::open(&bundles[0])
    }

    pub fn bundles(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with("drx-collect-")
                    && (name.ends_with(".tgz") || name.ends_with(".zip"))
            })
            .collect();
        found.sort();
        found
    }
}

/// Runs this tool with `args` (strings or paths), its environment inherited, as a user would.
pub fn drx(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap()
}

/// Runs `inspect` with `args` (bundle paths included).
pub fn inspect(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(BIN)
        .env_clear()
        .env("LANG", "C")
        .arg("inspect")
        .args(args)
        .output()
        .unwrap()
}

/// The decompressed content of a .tgz, as one byte string (names and data).
pub fn tgz_bytes(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A bundle unpacked with the real `tar`/`unzip`.
pub struct Bundle {
    pub path: PathBuf,
    pub unpacked: TempDir,
    pub top: PathBuf,
    pub index: serde_json::Value,
}

impl Bundle {
    pub fn open(path: &Path) -> Bundle {
        let unpacked = tempfile::tempdir().unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let status = if name.ends_with(".zip") {
            Command::new("unzip")
                .arg("-q")
                .arg(path)
                .arg("-d")
                .arg(unpacked.path())
                .status()
        } else {
            Command::new("tar")
                .arg("xzf")
                .arg(path)
                .arg("-C")
                .arg(unpacked.path())
                .status()
        }
        .unwrap();
        assert!(status.success(), "could not unpack {name}");
        let stem = name.trim_end_matches(".tgz").trim_end_matches(".zip");
        let top = unpacked.path().join(stem);
        assert!(top.is_dir(), "no top directory {stem}");
        let index =
            serde_json::from_slice(&std::fs::read(top.join("index.json")).unwrap()).unwrap();
        Bundle {
            path: path.to_path_buf(),
            unpacked,
            top,
            index,
        }
    }

    /// The bundle's file name (`drx-collect-<host>-<time>.tgz`).
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    pub fn read(&self, path: &str) -> String {
        String::from_utf8_lossy(
            &std::fs::read(self.top.join(path)).unwrap_or_else(|e| panic!("{path}: {e}")),
        )
        .into_owned()
    }

    pub fn exists(&self, path: &str) -> bool {
        self.top.join(path).exists()
    }

    /// The index entries of one item id.
    pub fn items(&self, id: &str) -> Vec<serde_json::Value> {
        self.index["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["id"] == id)
            .cloned()
            .collect()
    }

    pub fn status(&self, id: &str) -> String {
        let items = self.items(id);
        assert!(!items.is_empty(), "no item {id}");
        items[0]["status"].as_str().unwrap().to_string()
    }

    /// `sha256sum -c SHA256SUMS` inside, and `sha256sum -c` of the sidecar beside the bundle.
    pub fn assert_verifies(&self) {
        let inside = Command::new("sha256sum")
            .args(["-c", "--strict", "--quiet", "SHA256SUMS"])
            .current_dir(&self.top)
            .output()
            .unwrap();
        assert!(
            inside.status.success(),
            "sha256sum -c SHA256SUMS: {}",
            String::from_utf8_lossy(&inside.stdout)
        );
        let sidecar = format!(
            "{}.sha256",
            self.path.file_name().unwrap().to_string_lossy()
        );
        let outside = Command::new("sha256sum")
            .args(["-c", "--strict", &sidecar])
            .current_dir(self.path.parent().unwrap())
            .output()
            .unwrap();
        assert!(
            outside.status.success(),
            "sha256sum -c {sidecar}: {}",
            String::from_utf8_lossy(&outside.stdout)
        );
        // Every file but SHA256SUMS is listed.
        let sums = self.read("SHA256SUMS");
        let listed = sums.lines().count();
        let files = walkdir::WalkDir::new(&self.top)
            .into_iter()
            .filter(|e| e.as_ref().unwrap().file_type().is_file())
            .count();
        assert_eq!(listed + 1, files, "SHA256SUMS must list every other file");
    }
}

/// The `rule` of each finding in a JSON array of findings (inspect's `findings`, a case's
/// `finding_list`, a diff's `findings_resolved`).
pub fn rule_ids(findings: &serde_json::Value) -> Vec<&str> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}
