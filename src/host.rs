//! Facts about the host being collected: name, OS release, kernel. Under `--root` they come from
//! the sysroot's files, so a mounted disk or a test fixture describes itself.
use crate::index::Host;
use crate::manifest::Os;
use crate::platform;
use std::path::Path;

pub fn facts(root: Option<&Path>, os: Os) -> Host {
    let read = |path: &str| -> Option<String> {
        let full = match root {
            // Links resolve inside the sysroot (`/etc/os-release -> /usr/lib/os-release` is the
            // sysroot's), never to the collecting machine's files.
            Some(root) => crate::collect::plan::resolve_in_root(
                root,
                Path::new(path.trim_start_matches('/')),
            )?,
            None => Path::new(path).to_path_buf(),
        };
        // Bounded, and never blocking on a FIFO.
        let file = crate::platform::open_shared(&full).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, 1 << 20), &mut text).ok()?;
        Some(text)
    };
    let hostname = match os {
        Os::Linux => read("/etc/hostname")
            .and_then(|text| first_line(&text))
            .or_else(|| read("/etc/sysconfig/network").and_then(|t| shell_value(&t, "HOSTNAME")))
            .or_else(|| read("/proc/sys/kernel/hostname").and_then(|t| first_line(&t)))
            .or_else(|| {
                if root.is_none() {
                    platform::live_hostname()
                } else {
                    None
                }
            }),
        Os::Windows => {
            if root.is_none() {
                platform::live_hostname()
            } else {
                None
            }
        }
    }
    .unwrap_or_else(|| "unknown".to_string());
    let os_release = match os {
        Os::Linux => read("/etc/redhat-release")
            .and_then(|t| first_line(&t))
            .or_else(|| read("/etc/os-release").and_then(|t| shell_value(&t, "PRETTY_NAME")))
            .or_else(|| read("/etc/system-release").and_then(|t| first_line(&t)))
            .or_else(|| read("/etc/debian_version").map(|t| format!("Debian {}", t.trim()))),
        // Under --root the release is unknown here; the rules read it from commands/systeminfo.
        Os::Windows => root.is_none().then(platform::live_os_release).flatten(),
    }
    .unwrap_or_default();
    let kernel = match os {
        Os::Linux => read("/proc/sys/kernel/osrelease")
            .and_then(|t| first_line(&t))
            .or_else(|| {
                if root.is_none() {
                    platform::live_kernel()
                } else {
                    None
                }
            }),
        Os::Windows => root.is_none().then(platform::live_kernel).flatten(),
    }
    .unwrap_or_default();
    Host {
        hostname,
        os: os.as_str().to_string(),
        os_release,
        kernel,
    }
}

fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
}

/// `KEY=value` or `KEY="value"` from a shell-style file.
fn shell_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|line| {
            let (k, v) = line.trim().split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_string())
        })
        .filter(|v| !v.is_empty())
}

/// A host name made safe for a file name.
pub fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "unknown".into()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centos6_facts_come_from_sysconfig_and_redhat_release() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/sysconfig")).unwrap();
        std::fs::write(
            root.path().join("etc/sysconfig/network"),
            "NETWORKING=yes\nHOSTNAME=node6.example\n",
        )
        .unwrap();
        std::fs::write(
            root.path().join("etc/redhat-release"),
            "CentOS release 6.10 (Final)\n",
        )
        .unwrap();
        let host = facts(Some(root.path()), Os::Linux);
        assert_eq!(host.hostname, "node6.example");
        assert_eq!(host.os_release, "CentOS release 6.10 (Final)");
        assert_eq!(host.os, "linux");
    }

    #[test]
    fn hostname_file_wins_and_os_release_is_a_fallback() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/hostname"), "node1\n").unwrap();
        std::fs::write(
            root.path().join("etc/os-release"),
            "NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n",
        )
        .unwrap();
        let host = facts(Some(root.path()), Os::Linux);
        assert_eq!(host.hostname, "node1");
        assert_eq!(host.os_release, "Debian GNU/Linux 12");
    }

    #[test]
    fn names_are_made_file_safe() {
        assert_eq!(file_safe("node 1/x"), "node_1_x");
        assert_eq!(file_safe(""), "unknown");
    }

    #[cfg(unix)]
    #[test]
    fn sysroot_links_resolve_inside_the_sysroot() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
        std::fs::write(root.path().join("etc/hostname"), "node1\n").unwrap();
        std::fs::write(
            root.path().join("usr/lib/os-release"),
            "PRETTY_NAME=\"Sysroot Linux 9\"\n",
        )
        .unwrap();
        // Absolute, as some distributions ship it: the sysroot's file is meant.
        std::os::unix::fs::symlink("/usr/lib/os-release", root.path().join("etc/os-release"))
            .unwrap();
        let host = facts(Some(root.path()), Os::Linux);
        assert_eq!(host.os_release, "Sysroot Linux 9");
    }
}
