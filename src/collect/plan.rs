//! Turns manifest items into concrete sources: globs expanded under `--root`, `dir/**` walked,
//! Windows paths mapped (`C:\x\y` → `ROOT/C/x/y`, bundle path `files/C/x/y`), conditions checked.
use crate::index::{ItemKind, Status};
use crate::manifest::{Item, Manifest, Os, What};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Most files one item may bring: a runaway glob must not swallow the disk.
const MAX_FILES_PER_ITEM: usize = 10_000;
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone)]
pub enum Source {
    File(FileSource),
    Command(CommandSource),
    /// Nothing to collect, with the reason (status `missing` or `skipped`).
    Absent {
        id: String,
        kind: ItemKind,
        source: String,
        status: Status,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct FileSource {
    pub id: String,
    /// The path as the user knows it (`/var/log/messages`, `C:/Program Files/DRX/drx.conf`).
    pub source: String,
    pub fs_path: PathBuf,
    /// `files/var/log/messages`.
    pub bundle_path: String,
    pub log: bool,
    pub skip_binary: bool,
}

#[derive(Debug, Clone)]
pub struct CommandSource {
    pub id: String,
    pub argv: Vec<String>,
    pub timeout: Option<Duration>,
    pub ok_exit_codes: Vec<i32>,
}

impl Source {
    pub fn id(&self) -> &str {
        match self {
            Source::File(f) => &f.id,
            Source::Command(c) => &c.id,
            Source::Absent { id, .. } => id,
        }
    }
}

/// Where files are read from: a sysroot, or the live system.
pub struct Roots<'a> {
    pub root: Option<&'a Path>,
    pub os: Os,
}

impl Roots<'_> {
    /// A manifest path as a logical absolute path with `/` separators: `/etc/x`, or `/C/x` for
    /// Windows' `C:\x`. `None` when it names an unset environment variable.
    pub fn logical(&self, path: &str) -> Option<String> {
        let expanded = expand_env(path)?;
        let slashed = match self.os {
            Os::Windows => expanded.replace('\\', "/"),
            Os::Linux => expanded,
        };
        let with_drive = match slashed.as_bytes() {
            [drive, b':', rest @ ..] if drive.is_ascii_alphabetic() => {
                format!(
                    "/{}/{}",
                    (*drive as char).to_ascii_uppercase(),
                    String::from_utf8_lossy(rest).trim_start_matches('/')
                )
            }
            _ => slashed,
        };
        Some(normalize(&with_drive))
    }

    /// Where a logical path lives on this machine.
    pub fn fs_path(&self, logical: &str) -> PathBuf {
        let relative = logical.trim_start_matches('/');
        match self.root {
            Some(root) => root.join(relative),
            None => match self.os {
                Os::Linux => PathBuf::from(logical),
                Os::Windows => {
                    let (drive, rest) = relative.split_once('/').unwrap_or((relative, ""));
                    PathBuf::from(format!("{drive}:/{rest}"))
                }
            },
        }
    }

    /// The logical path of a file found on this machine.
    fn logical_of(&self, found: &Path) -> String {
        let relative = match self.root {
            Some(root) => found.strip_prefix(root).unwrap_or(found).to_path_buf(),
            None => found.to_path_buf(),
        };
        // Only this machine's own separator is one: on Linux a backslash is part of a file name.
        let text = relative.to_string_lossy();
        let text = if std::path::MAIN_SEPARATOR == '\\' {
            text.replace('\\', "/")
        } else {
            text.into_owned()
        };
        let text = match text.as_bytes() {
            [drive, b':', ..] if drive.is_ascii_alphabetic() => {
                format!("{}{}", (*drive as char).to_ascii_uppercase(), &text[2..])
            }
            _ => text,
        };
        format!("/{}", text.trim_start_matches('/'))
    }

    fn glob(&self, logical: &str) -> Vec<PathBuf> {
        let base = match self.root {
            Some(root) => format!(
                "{}/{}",
                glob::Pattern::escape(&root.to_string_lossy()),
                logical.trim_start_matches('/')
            ),
            None => self.fs_path(logical).to_string_lossy().into_owned(),
        };
        let options = glob::MatchOptions {
            case_sensitive: self.os == Os::Linux,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        match glob::glob_with(&base, options) {
            Ok(paths) => paths.filter_map(|p| p.ok()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Lexically resolves `.` and `..` (`%BSR_PATH%\..\etc`).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Expands `%VAR%` (Windows manifests) and `${VAR}`; `None` when a variable is unset.
fn expand_env(path: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = path;
    loop {
        let percent = rest.find('%');
        let dollar = rest.find("${");
        match (percent, dollar) {
            (Some(p), d) if d.is_none_or(|d| p < d) => {
                let after = &rest[p + 1..];
                let end = after.find('%')?;
                let value = std::env::var(&after[..end])
                    .ok()
                    .filter(|v| !v.is_empty())?;
                out.push_str(&rest[..p]);
                out.push_str(&value);
                rest = &after[end + 1..];
            }
            (_, Some(d)) => {
                let after = &rest[d + 2..];
                let end = after.find('}')?;
                let value = std::env::var(&after[..end])
                    .ok()
                    .filter(|v| !v.is_empty())?;
                out.push_str(&rest[..d]);
                out.push_str(&value);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(rest);
                return Some(out);
            }
        }
    }
}

pub fn expand(manifest: &Manifest, roots: &Roots) -> Vec<Source> {
    let mut sources = Vec::new();
    for item in &manifest.items {
        expand_item(item, roots, &mut sources);
    }
    sources
}

fn kind_of(item: &Item) -> ItemKind {
    match item.what {
        What::Files { .. } => ItemKind::File,
        What::Command { .. } => ItemKind::Command,
    }
}

fn describe(item: &Item) -> String {
    match &item.what {
        What::Files { paths, .. } => paths.join(", "),
        What::Command { argv, .. } => argv.join(" "),
    }
}

fn expand_item(item: &Item, roots: &Roots, out: &mut Vec<Source>) {
    let absent = |status: Status, reason: String| Source::Absent {
        id: item.id.clone(),
        kind: kind_of(item),
        source: describe(item),
        status,
        reason,
    };
    if item.os != roots.os {
        out.push(absent(
            Status::Skipped,
            format!("only for {}", item.os.as_str()),
        ));
        return;
    }
    if !item.when_exists.is_empty() {
        let any = item.when_exists.iter().any(|path| {
            roots
                .logical(path)
                .is_some_and(|logical| !roots.glob(&logical).is_empty())
        });
        if !any {
            out.push(absent(
                Status::Skipped,
                format!("none of {} exists", item.when_exists.join(", ")),
            ));
            return;
        }
    }
    match &item.what {
        What::Command {
            argv,
            timeout,
            ok_exit_codes,
        } => out.push(Source::Command(CommandSource {
            id: item.id.clone(),
            argv: argv.clone(),
            timeout: *timeout,
            ok_exit_codes: ok_exit_codes.clone(),
        })),
        What::Files {
            paths,
            exclude,
            log,
            skip_binary,
        } => {
            let excluded: Vec<glob::Pattern> = exclude
                .iter()
                .filter_map(|p| glob::Pattern::new(p).ok())
                .collect();
            let mut found: Vec<PathBuf> = Vec::new();
            for path in paths {
                let Some(logical) = roots.logical(path) else {
                    continue;
                };
                let (base, recursive) = match logical.strip_suffix("/**") {
                    Some(base) => (base.to_string(), true),
                    None => (logical.clone(), false),
                };
                for matched in roots.glob(&base) {
                    if recursive && matched.is_dir() {
                        walk(&matched, &mut found, out, item, roots);
                    } else if matched.is_file() || is_special_readable(&matched) {
                        found.push(matched);
                    }
                }
            }
            found.sort();
            found.dedup();
            let mut taken = 0;
            for fs_path in found {
                let name = fs_path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if excluded.iter().any(|pattern| pattern.matches(&name)) {
                    continue;
                }
                if taken == MAX_FILES_PER_ITEM {
                    out.push(absent(
                        Status::Skipped,
                        format!("more than {MAX_FILES_PER_ITEM} files; the rest were left out"),
                    ));
                    break;
                }
                taken += 1;
                let logical = roots.logical_of(&fs_path);
                out.push(Source::File(FileSource {
                    id: item.id.clone(),
                    source: logical.clone(),
                    fs_path,
                    bundle_path: format!("files{logical}"),
                    log: *log,
                    skip_binary: *skip_binary,
                }));
            }
            if taken == 0 {
                out.push(absent(Status::Missing, "no such file".to_string()));
            }
        }
    }
}

/// Character devices and FIFOs are never read (a FIFO would block forever); /proc files are
/// regular files of size 0 and pass `is_file`.
fn is_special_readable(_path: &Path) -> bool {
    false
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, out: &mut Vec<Source>, item: &Item, roots: &Roots) {
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .max_depth(MAX_DEPTH)
        .sort_by_file_name()
    {
        match entry {
            Ok(entry) if entry.file_type().is_file() => found.push(entry.into_path()),
            // A link to a file is read through (a resource file linked from elsewhere is still
            // configuration); links to directories are not followed, so no loops.
            Ok(entry) if entry.path_is_symlink() && entry.path().is_file() => {
                found.push(entry.into_path())
            }
            Ok(_) => {}
            Err(err) => {
                let at = err.path().map(|p| roots.logical_of(p)).unwrap_or_default();
                let denied = err
                    .io_error()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
                out.push(Source::Absent {
                    id: item.id.clone(),
                    kind: ItemKind::File,
                    source: at,
                    status: if denied {
                        Status::Denied
                    } else {
                        Status::Failed
                    },
                    reason: format!("could not list the directory: {err}"),
                });
            }
        }
    }
}

/// True when `path` has no `..` and is not absolute: safe to join under a root.
pub fn is_contained(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;

    fn touch(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    fn bundle_paths(sources: &[Source]) -> Vec<String> {
        sources
            .iter()
            .filter_map(|s| match s {
                Source::File(f) => Some(f.bundle_path.clone()),
                _ => None,
            })
            .collect()
    }

    fn plan(manifest: &str, root: &Path, os: Os) -> Vec<Source> {
        let manifest = parse(manifest, "test").unwrap();
        expand(
            &manifest,
            &Roots {
                root: Some(root),
                os,
            },
        )
    }

    #[test]
    fn globs_and_recursive_dirs_include_dotfiles() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "etc/bsr.d/r0.res", "x");
        touch(dir.path(), "etc/bsr.d/.log_level", "x");
        touch(dir.path(), "etc/bsr.d/sub/r1.res", "x");
        touch(dir.path(), "etc/sysconfig/network-scripts/ifcfg-eth0", "x");
        let sources = plan(
            "name='t'\nos='linux'\n[[item]]\nid='bsr'\nfiles=['/etc/bsr.d/**']\n[[item]]\nid='ifcfg'\nfiles=['/etc/sysconfig/network-scripts/ifcfg-*']\n[[item]]\nid='none'\nfiles=['/nope/*']\n",
            dir.path(),
            Os::Linux,
        );
        let paths = bundle_paths(&sources);
        assert_eq!(
            paths,
            [
                "files/etc/bsr.d/.log_level",
                "files/etc/bsr.d/r0.res",
                "files/etc/bsr.d/sub/r1.res",
                "files/etc/sysconfig/network-scripts/ifcfg-eth0"
            ]
        );
        assert!(matches!(
            sources.last(),
            Some(Source::Absent {
                status: Status::Missing,
                ..
            })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn links_to_files_are_read_but_links_to_directories_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "srv/r0.res", "x");
        touch(dir.path(), "etc/drbd.d/plain.res", "x");
        std::os::unix::fs::symlink(
            dir.path().join("srv/r0.res"),
            dir.path().join("etc/drbd.d/r0.res"),
        )
        .unwrap();
        std::os::unix::fs::symlink(dir.path().join("etc"), dir.path().join("etc/drbd.d/loop"))
            .unwrap();
        let sources = plan(
            "name='t'\nos='linux'\n[[item]]\nid='d'\nfiles=['/etc/drbd.d/**']\n",
            dir.path(),
            Os::Linux,
        );
        let paths = bundle_paths(&sources);
        assert_eq!(
            paths,
            ["files/etc/drbd.d/plain.res", "files/etc/drbd.d/r0.res"]
        );
    }

    #[test]
    fn windows_paths_map_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "C/Program Files/DRX/drx.conf", "x");
        let sources = plan(
            "name='t'\nos='windows'\n[[item]]\nid='drx'\nfiles=['C:\\Program Files\\DRX\\drx.conf']\n",
            dir.path(),
            Os::Windows,
        );
        match &sources[0] {
            Source::File(f) => {
                assert_eq!(f.bundle_path, "files/C/Program Files/DRX/drx.conf");
                assert_eq!(f.source, "/C/Program Files/DRX/drx.conf");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn conditions_and_os_skip_items() {
        let dir = tempfile::tempdir().unwrap();
        let sources = plan(
            "name='t'\nos='linux'\n[[item]]\nid='a'\ncommand=['true']\nwhen_exists=['/etc/nothing']\n[[item]]\nid='b'\ncommand=['true']\nos='windows'\n",
            dir.path(),
            Os::Linux,
        );
        assert!(sources.iter().all(|s| matches!(
            s,
            Source::Absent {
                status: Status::Skipped,
                ..
            }
        )));
    }

    #[test]
    fn env_variables_expand_and_unset_ones_drop_the_path() {
        std::env::set_var("DRXC_TEST_DIR", "C:\\DRX");
        assert_eq!(
            expand_env("%DRXC_TEST_DIR%\\logs").as_deref(),
            Some("C:\\DRX\\logs")
        );
        assert_eq!(expand_env("%DRXC_TEST_UNSET_VAR%\\logs"), None);
        let roots = Roots {
            root: None,
            os: Os::Windows,
        };
        assert_eq!(
            roots.logical("%DRXC_TEST_DIR%\\..\\etc").as_deref(),
            Some("/C/etc")
        );
    }
}
