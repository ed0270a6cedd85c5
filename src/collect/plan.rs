//! Turns manifest items into concrete sources: globs expanded under `--root`, `dir/**` walked,
//! Windows paths mapped (`C:\x\y` → `ROOT/C/x/y`, bundle path `files/C/x/y`), conditions checked.
use super::names;
use crate::index::{ItemKind, Status};
use crate::layout;
use crate::manifest::{Item, Manifest, Os, What};
use crate::platform;
use std::collections::BTreeSet;
use std::io::Read;
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
    /// `cp949` or `bytes` when the file's name is not UTF-8 (see `names`).
    pub name_encoding: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct CommandSource {
    pub id: String,
    pub argv: Vec<String>,
    pub timeout: Option<Duration>,
    pub ok_exit_codes: Vec<i32>,
    /// Its output is a log: `--since` applies to its lines.
    pub log: bool,
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
        let with_drive = layout::windows_logical(&slashed).unwrap_or(slashed);
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

    /// The logical path of a file found on this machine (`found` as matched, links not
    /// resolved: the name the user knows), as the bundle and the index name it.
    fn name_of_found(&self, found: &Path) -> names::Name {
        let relative = match self.root {
            Some(root) => found.strip_prefix(root).unwrap_or(found).to_path_buf(),
            None => found.to_path_buf(),
        };
        let mut raw = platform::path_bytes(&relative);
        // Only this machine's own separator is one: on Linux a backslash is part of a file name.
        if std::path::MAIN_SEPARATOR == '\\' {
            for byte in &mut raw {
                if *byte == b'\\' {
                    *byte = b'/';
                }
            }
        }
        if let [drive, b':', ..] = raw.as_mut_slice() {
            if drive.is_ascii_alphabetic() {
                drive.make_ascii_uppercase();
                raw.remove(1);
            }
        }
        let start = raw.iter().position(|&b| b != b'/').unwrap_or(raw.len());
        let mut logical = vec![b'/'];
        logical.extend_from_slice(&raw[start..]);
        names::name_of(&logical)
    }

    fn logical_of(&self, found: &Path) -> String {
        self.name_of_found(found).source
    }

    /// Every file system entry matching a logical pattern, as `(as matched, where it really
    /// is)`. Under `--root` each component is resolved inside the root: a link's absolute target
    /// is taken relative to the root and `..` stops at it, so nothing outside the root is ever
    /// named (`ROOT/etc/bsr.d/x.res -> /etc/passwd` is `ROOT/etc/passwd`).
    fn find(&self, logical: &str) -> Vec<(PathBuf, PathBuf)> {
        match self.root {
            Some(root) => self.find_in_root(root, logical),
            None => self
                .glob(logical)
                .into_iter()
                .map(|p| (p.clone(), p))
                .collect(),
        }
    }

    fn find_in_root(&self, root: &Path, logical: &str) -> Vec<(PathBuf, PathBuf)> {
        let options = self.match_options();
        // (as matched, relative to the root; resolved, relative to the root)
        let mut states: Vec<(PathBuf, PathBuf)> = vec![(PathBuf::new(), PathBuf::new())];
        for component in logical.split('/').filter(|c| !c.is_empty()) {
            let mut next = Vec::new();
            let wild = component.contains(['*', '?', '[']);
            let pattern = if wild {
                match glob::Pattern::new(component) {
                    Ok(pattern) => Some(pattern),
                    Err(_) => return Vec::new(),
                }
            } else {
                None
            };
            for (matched, resolved) in &states {
                let dir = root.join(resolved);
                let mut names: Vec<std::ffi::OsString> = Vec::new();
                match &pattern {
                    None => {
                        let exact = std::ffi::OsString::from(component);
                        if !options.case_sensitive && dir.join(&exact).symlink_metadata().is_err() {
                            // Windows names compare without case.
                            if let Ok(entries) = std::fs::read_dir(&dir) {
                                names.extend(
                                    entries
                                        .filter_map(|e| e.ok())
                                        .map(|e| e.file_name())
                                        .filter(|n| {
                                            n.to_string_lossy().eq_ignore_ascii_case(component)
                                        })
                                        .take(1),
                                );
                            }
                        }
                        if names.is_empty() {
                            names.push(exact);
                        }
                    }
                    Some(pattern) => {
                        if let Ok(entries) = std::fs::read_dir(&dir) {
                            names.extend(
                                entries
                                    .filter_map(|e| e.ok())
                                    .map(|e| e.file_name())
                                    .filter(|n| {
                                        pattern.matches_with(&n.to_string_lossy(), options)
                                    }),
                            );
                            names.sort();
                        }
                    }
                }
                for name in names {
                    let Some(real) = resolve_in_root(root, &resolved.join(&name)) else {
                        continue;
                    };
                    if real.symlink_metadata().is_err() {
                        continue;
                    }
                    let real = real.strip_prefix(root).unwrap_or(&real).to_path_buf();
                    next.push((matched.join(&name), real));
                    if next.len() >= MAX_MATCHES {
                        break;
                    }
                }
            }
            states = next;
            if states.is_empty() {
                break;
            }
        }
        states
            .into_iter()
            .filter(|(matched, _)| !matched.as_os_str().is_empty())
            .map(|(matched, real)| (root.join(matched), root.join(real)))
            .collect()
    }

    fn match_options(&self) -> glob::MatchOptions {
        glob::MatchOptions {
            case_sensitive: self.os == Os::Linux,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        }
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
        match glob::glob_with(&base, self.match_options()) {
            Ok(paths) => paths.filter_map(|p| p.ok()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Most links followed resolving one path (the kernel's limit too); more is a loop.
const MAX_LINKS: usize = 40;
/// Most entries one pattern may match while it is expanded (a bound on work, above the per-item
/// file cap).
const MAX_MATCHES: usize = 200_000;

/// Resolves `relative` inside `root` as if `root` were `/`: every link on the way is followed,
/// an absolute target is taken from the root, `..` never climbs above the root. The result is
/// under `root` and has no link in it (its last component may not exist). `None` on a loop.
pub fn resolve_in_root(root: &Path, relative: &Path) -> Option<PathBuf> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    let mut done: Vec<OsString> = Vec::new();
    let mut todo: VecDeque<OsString> = VecDeque::new();
    let push_front = |todo: &mut VecDeque<OsString>, path: &Path| {
        let mut parts: Vec<OsString> = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(name) => parts.push(name.to_os_string()),
                Component::ParentDir => parts.push(OsString::from("..")),
                // `C:` of a Windows target: the drive is the first directory under the root.
                Component::Prefix(prefix) => {
                    let text = prefix.as_os_str().to_string_lossy();
                    if let Some(drive) = text.strip_suffix(':').filter(|d| d.len() == 1) {
                        parts.push(OsString::from(drive.to_ascii_uppercase()));
                    }
                }
                Component::RootDir | Component::CurDir => {}
            }
        }
        for part in parts.into_iter().rev() {
            todo.push_front(part);
        }
    };
    push_front(&mut todo, relative);
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            done.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&done);
        candidate.push(&part);
        let is_link = candidate
            .symlink_metadata()
            .is_ok_and(|meta| meta.file_type().is_symlink());
        if !is_link {
            done.push(part);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return None;
        }
        let target = std::fs::read_link(&candidate).ok()?;
        if target.has_root()
            || target
                .components()
                .next()
                .is_some_and(|c| matches!(c, Component::Prefix(_)))
        {
            done.clear();
        }
        push_front(&mut todo, &target);
    }
    let mut resolved = root.to_path_buf();
    resolved.extend(&done);
    Some(resolved)
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
        // Where the variable starts, the length of its opening mark, and its closing mark.
        let (at, open, close) = match (percent, dollar) {
            (Some(p), d) if d.is_none_or(|d| p < d) => (p, 1, '%'),
            (_, Some(d)) => (d, 2, '}'),
            _ => {
                out.push_str(rest);
                return Some(out);
            }
        };
        let after = &rest[at + open..];
        let end = after.find(close)?;
        let value = std::env::var(&after[..end])
            .ok()
            .filter(|v| !v.is_empty())?;
        out.push_str(&rest[..at]);
        out.push_str(&value);
        rest = &after[end + 1..];
    }
}

pub fn expand(manifest: &Manifest, roots: &Roots) -> Vec<Source> {
    let mut sources = Vec::new();
    // Every name any item waits for, looked up in one pass over /proc when first needed.
    let wanted: BTreeSet<&str> = manifest
        .items
        .iter()
        .flat_map(|item| item.when_running.iter().map(String::as_str))
        .collect();
    let found = std::cell::OnceCell::new();
    let running = || found.get_or_init(|| running_processes(roots, &wanted));
    for item in &manifest.items {
        expand_item(item, roots, &running, &mut sources);
    }
    make_bundle_paths_unique(&mut sources);
    sources
}

/// Two different files never share a bundle path: a name decoded from CP949 can equal a UTF-8
/// name beside it, an escaped name can equal a name that is literally written so. The later one
/// then takes its escaped form, else a `~N` suffix. The same file named by two items is stored
/// once, by the first (a second archive member of one name breaks `sha256sum -c`).
fn make_bundle_paths_unique(sources: &mut [Source]) {
    use std::collections::HashMap;
    type Owner = (String, Option<&'static str>, String);
    let mut owners: HashMap<String, Owner> = HashMap::new();
    for source in sources.iter_mut() {
        let Source::File(file) = source else { continue };
        let me = (file.source.clone(), file.name_encoding);
        let same = |owner: &Owner| owner.0 == me.0 && owner.1 == me.1;
        match owners.get(&file.bundle_path) {
            None => {}
            Some(owner) if same(owner) => {
                let already = Source::Absent {
                    id: file.id.clone(),
                    kind: ItemKind::File,
                    source: file.source.clone(),
                    status: Status::Skipped,
                    reason: format!(
                        "already collected by item {} as {}",
                        owner.2, file.bundle_path
                    ),
                };
                *source = already;
                continue;
            }
            Some(_) => {
                let escaped = match file.name_encoding {
                    Some(_) => format!("files{}", file.source),
                    None => format!("files{}", names::escape(&file.bundle_path.as_bytes()[5..])),
                };
                let mut candidate = escaped.clone();
                let mut n = 2;
                while owners.get(&candidate).is_some_and(|owner| !same(owner)) {
                    candidate = format!("{escaped}~{n}");
                    n += 1;
                }
                file.bundle_path = candidate;
            }
        }
        owners.insert(file.bundle_path.clone(), (me.0, me.1, file.id.clone()));
    }
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

/// Which of `wanted` name a running process, read from `/proc` (under `--root`, the root's).
/// A process counts by its `comm`, by the file name of the program it runs (`argv[0]`: `comm`
/// is cut at 15 bytes), and, when that program is a script interpreter, by the script it runs
/// (`python3 -s /usr/sbin/firewalld`); any other argument is only an argument (`tail -f
/// /var/log/firewalld` is tail). Under `--root` nothing is followed through a link: a `proc/`,
/// a process directory or a `comm` linked to the collecting machine's own `/proc` would report
/// this machine's processes as the root's. Only regular files are read, and only their first
/// bytes: a planted FIFO or a huge file under `--root` cannot stall the run.
pub(crate) fn running_processes(roots: &Roots, wanted: &BTreeSet<&str>) -> BTreeSet<String> {
    const MAX_COMM: u64 = 64;
    const MAX_CMDLINE: u64 = 4096;
    let mut found = BTreeSet::new();
    let proc_dir = roots.fs_path("/proc");
    let linked = |path: &Path| {
        std::fs::symlink_metadata(path).map_or(true, |meta| meta.file_type().is_symlink())
    };
    if roots.root.is_some() && linked(&proc_dir) {
        return found;
    }
    let Ok(entries) = std::fs::read_dir(&proc_dir) else {
        return found;
    };
    let read_head = |path: PathBuf, max: u64| {
        let mut bytes = Vec::new();
        if let Ok(file) = platform::open_regular_not_linked(&path) {
            let _ = file.take(max).read_to_end(&mut bytes);
        }
        bytes
    };
    for entry in entries.flatten() {
        if found.len() == wanted.len() {
            break;
        }
        let pid = entry.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // `/proc/self` and the like are links, and so is anything planted to look like one.
        if entry.file_type().map_or(true, |kind| kind.is_symlink()) {
            continue;
        }
        let dir = entry.path();
        let comm = read_head(dir.join("comm"), MAX_COMM);
        let cmdline = read_head(dir.join("cmdline"), MAX_CMDLINE);
        let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
        for name in std::iter::once(comm).chain(program_names(&cmdline)) {
            if let Some(&name) = std::str::from_utf8(name).ok().and_then(|n| wanted.get(n)) {
                found.insert(name.to_string());
            }
        }
    }
    found
}

/// The names a command line (`/proc/N/cmdline`: words ended by NUL) runs under: the file name
/// of `argv[0]`, and when that is a script interpreter, the file name of the script (its first
/// word that is not an option). An interpreter given code instead of a script (`sh -c`,
/// `perl -e`, `python3 -m`) runs no script file.
fn program_names(cmdline: &[u8]) -> impl Iterator<Item = &[u8]> {
    let base =
        |word: &[u8]| -> usize { word.iter().rposition(|&b| b == b'/').map_or(0, |at| at + 1) };
    let mut words = cmdline.split(|&b| b == 0);
    let program = words.next().filter(|w| !w.is_empty());
    let program = program.map(|w| &w[base(w)..]);
    let script = program.filter(|p| is_interpreter(p)).and_then(|_| {
        for word in words.by_ref() {
            match word {
                b"-c" | b"-e" | b"-E" | b"-m" | b"-" => return None,
                _ if word.starts_with(b"-") => continue,
                _ if word.is_empty() || word.iter().any(u8::is_ascii_whitespace) => return None,
                _ => return Some(&word[base(word)..]),
            }
        }
        None
    });
    program.into_iter().chain(script)
}

/// Programs that run the script file named by their first argument that is not an option
/// (`python3.11`, `bash`): their version digits do not matter.
fn is_interpreter(program: &[u8]) -> bool {
    const INTERPRETERS: &[&[u8]] = &[
        b"python", b"perl", b"ruby", b"sh", b"bash", b"dash", b"ksh", b"zsh", b"node", b"php",
        b"lua", b"tclsh",
    ];
    let bare = program
        .iter()
        .rposition(|b| !(b.is_ascii_digit() || *b == b'.'))
        .map_or(program, |last| &program[..=last]);
    INTERPRETERS.contains(&bare)
}

fn expand_item<'r>(
    item: &Item,
    roots: &Roots,
    running: &dyn Fn() -> &'r BTreeSet<String>,
    out: &mut Vec<Source>,
) {
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
                .is_some_and(|logical| !roots.find(&logical).is_empty())
        });
        if !any {
            out.push(absent(
                Status::Skipped,
                format!("none of {} exists", item.when_exists.join(", ")),
            ));
            return;
        }
    }
    if !item.when_running.is_empty() {
        let running = running();
        if !item.when_running.iter().any(|name| running.contains(name)) {
            out.push(absent(
                Status::Skipped,
                format!("{} is not running", item.when_running.join(" or ")),
            ));
            return;
        }
    }
    match &item.what {
        What::Command {
            argv,
            timeout,
            ok_exit_codes,
            log,
        } => out.push(Source::Command(CommandSource {
            id: item.id.clone(),
            argv: argv.clone(),
            timeout: *timeout,
            ok_exit_codes: ok_exit_codes.clone(),
            log: *log,
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
            // (as matched, where it really is)
            let mut found: Vec<(PathBuf, PathBuf)> = Vec::new();
            let mut specials: Vec<(PathBuf, &'static str)> = Vec::new();
            for path in paths {
                let Some(logical) = roots.logical(path) else {
                    continue;
                };
                let (base, recursive) = match logical.strip_suffix("/**") {
                    Some(base) => (base.to_string(), true),
                    None => (logical.clone(), false),
                };
                for (matched, real) in roots.find(&base) {
                    let Ok(meta) = std::fs::metadata(&real) else {
                        continue;
                    };
                    if recursive && meta.is_dir() {
                        walk(&matched, &real, &mut found, &mut specials, out, item, roots);
                    } else if meta.is_file() {
                        found.push((matched, real));
                    } else if let Some(what) = special_kind(&meta) {
                        specials.push((matched, what));
                    }
                }
            }
            found.sort();
            found.dedup_by(|a, b| a.0 == b.0);
            let file_name = |path: &Path| {
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            found.retain(|(matched, _)| {
                let name = file_name(matched);
                !excluded.iter().any(|pattern| pattern.matches(&name))
            });
            specials.retain(|(matched, _)| {
                let name = file_name(matched);
                !excluded.iter().any(|pattern| pattern.matches(&name))
            });
            let mut capped = 0;
            if found.len() > MAX_FILES_PER_ITEM {
                // Keep the newest: for date-named logs the alphabetical order is the oldest first.
                let mut dated: Vec<(std::time::SystemTime, (PathBuf, PathBuf))> = found
                    .into_iter()
                    .map(|pair| {
                        let mtime = std::fs::metadata(&pair.1)
                            .and_then(|m| m.modified())
                            .unwrap_or(std::time::UNIX_EPOCH);
                        (mtime, pair)
                    })
                    .collect();
                dated.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1 .0.cmp(&a.1 .0)));
                capped = dated.len() - MAX_FILES_PER_ITEM;
                dated.truncate(MAX_FILES_PER_ITEM);
                found = dated.into_iter().map(|(_, pair)| pair).collect();
                found.sort();
            }
            for (matched, what) in &specials {
                out.push(Source::Absent {
                    id: item.id.clone(),
                    kind: ItemKind::File,
                    source: roots.logical_of(matched),
                    status: Status::Skipped,
                    reason: format!("{what}, not a regular file: not read"),
                });
            }
            let taken = found.len();
            for (matched, fs_path) in found {
                let name = roots.name_of_found(&matched);
                out.push(Source::File(FileSource {
                    id: item.id.clone(),
                    source: name.source,
                    fs_path,
                    bundle_path: format!("files{}", name.bundle),
                    log: *log,
                    skip_binary: *skip_binary,
                    name_encoding: name.encoding,
                }));
            }
            if capped > 0 {
                out.push(absent(
                    Status::Skipped,
                    format!(
                        "more than {MAX_FILES_PER_ITEM} files: the newest {MAX_FILES_PER_ITEM} were kept, the {capped} oldest (by modification time) left out"
                    ),
                ));
            }
            if taken == 0 && specials.is_empty() {
                out.push(absent(Status::Missing, "no such file".to_string()));
            }
        }
    }
}

/// What a file system entry is when it is not a regular file or a directory. FIFOs, sockets and
/// devices are never opened (a FIFO blocks, a device reads without end): they are named instead.
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    platform::special_file_kind(meta)
}

#[allow(clippy::too_many_arguments)]
fn walk(
    matched_dir: &Path,
    real_dir: &Path,
    found: &mut Vec<(PathBuf, PathBuf)>,
    specials: &mut Vec<(PathBuf, &'static str)>,
    out: &mut Vec<Source>,
    item: &Item,
    roots: &Roots,
) {
    let as_matched = |path: &Path| match path.strip_prefix(real_dir) {
        Ok(rest) if rest.as_os_str().is_empty() => matched_dir.to_path_buf(),
        Ok(rest) => matched_dir.join(rest),
        Err(_) => path.to_path_buf(),
    };
    for entry in walkdir::WalkDir::new(real_dir)
        .follow_links(false)
        .max_depth(MAX_DEPTH)
        .sort_by_file_name()
    {
        match entry {
            Ok(entry) if entry.file_type().is_file() => {
                found.push((as_matched(entry.path()), entry.into_path()))
            }
            // A link to a file is read through (a resource file linked from elsewhere is still
            // configuration), resolved inside the root; links to directories are not followed,
            // so no loops.
            Ok(entry) if entry.path_is_symlink() => {
                let real = match roots.root {
                    Some(root) => entry
                        .path()
                        .strip_prefix(root)
                        .ok()
                        .and_then(|relative| resolve_in_root(root, relative)),
                    None => Some(entry.path().to_path_buf()),
                };
                if let Some(real) = real.filter(|real| real.is_file()) {
                    found.push((as_matched(entry.path()), real));
                }
            }
            Ok(entry) if !entry.file_type().is_dir() => {
                if let Some(what) = entry.metadata().ok().as_ref().and_then(special_kind) {
                    specials.push((as_matched(entry.path()), what));
                }
            }
            Ok(_) => {}
            Err(err) => {
                let at = err
                    .path()
                    .map(|p| roots.logical_of(&as_matched(p)))
                    .unwrap_or_default();
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
        // Absolute targets are paths of the sysroot.
        std::os::unix::fs::symlink("/srv/r0.res", dir.path().join("etc/drbd.d/r0.res")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc/drbd.d/loop")).unwrap();
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

    /// `when_running` looks at the root's `proc/`: a process counts by its `comm` or by the
    /// script an interpreter runs (firewalld is a Python script); an argument does not.
    #[test]
    fn when_running_finds_processes_by_name_or_script() {
        let manifest = "name='t'\nos='linux'\n[[item]]\nid='fw'\ncommand=['true']\nwhen_running=['firewalld']\n";
        let collected = |procs: &[(&str, &str, &[u8])]| {
            let dir = tempfile::tempdir().unwrap();
            for (pid, comm, cmdline) in procs {
                let proc_dir = dir.path().join("proc").join(pid);
                std::fs::create_dir_all(&proc_dir).unwrap();
                std::fs::write(proc_dir.join("comm"), format!("{comm}\n")).unwrap();
                std::fs::write(proc_dir.join("cmdline"), cmdline).unwrap();
            }
            match &plan(manifest, dir.path(), Os::Linux)[..] {
                [Source::Command(_)] => true,
                [Source::Absent { status, reason, .. }] => {
                    assert_eq!(*status, Status::Skipped);
                    assert_eq!(reason, "firewalld is not running");
                    false
                }
                other => panic!("{other:?}"),
            }
        };
        assert!(!collected(&[]));
        assert!(!collected(&[("1", "systemd", b"/sbin/init\0")]));
        assert!(collected(&[("812", "firewalld", b"")]));
        assert!(collected(&[(
            "812",
            "python3",
            b"/usr/bin/python3\0-s\0/usr/sbin/firewalld\0--nofork\0--nopid\0"
        )]));
        // Not a process directory, and a name only in later arguments.
        assert!(!collected(&[
            ("self", "firewalld", b""),
            ("9", "grep", b"grep\0-r\0x\0/etc/firewalld\0"),
        ]));
    }

    /// Issue 24 item 21: an argument is not a process. Only the program (its `comm`, its
    /// `argv[0]`) or the script an interpreter runs counts; code given to an interpreter
    /// (`sh -c`) names no script.
    #[test]
    fn when_running_an_argument_does_not_make_a_process() {
        let manifest = "name='t'\nos='linux'\n[[item]]\nid='fw'\ncommand=['true']\nwhen_running=['firewalld']\n";
        let collected = |comm: &str, cmdline: &[u8]| {
            let dir = tempfile::tempdir().unwrap();
            let proc_dir = dir.path().join("proc/4242");
            std::fs::create_dir_all(&proc_dir).unwrap();
            std::fs::write(proc_dir.join("comm"), format!("{comm}\n")).unwrap();
            std::fs::write(proc_dir.join("cmdline"), cmdline).unwrap();
            matches!(
                &plan(manifest, dir.path(), Os::Linux)[..],
                [Source::Command(_)]
            )
        };
        assert!(!collected("tail", b"tail\0-f\0/var/log/firewalld\0"));
        assert!(!collected(
            "less",
            b"/usr/bin/less\0/etc/firewalld/firewalld.conf\0"
        ));
        assert!(!collected("vim", b"vim\0firewalld\0"));
        assert!(!collected(
            "bash",
            b"/bin/bash\0-c\0exec firewalld --nofork\0"
        ));
        assert!(!collected("bash", b"bash\0-c\0firewalld\0"));
        assert!(!collected("python3", b"python3\0-m\0firewalld\0"));
        // The program itself, by comm or by argv[0], and a script run by an interpreter.
        assert!(collected(
            "firewalld",
            b"/usr/bin/python3\0-s\0/usr/sbin/firewalld\0"
        ));
        assert!(collected(
            "python3.11",
            b"/usr/bin/python3.11\0-s\0/usr/sbin/firewalld\0"
        ));
        assert!(collected("bash", b"/bin/bash\0/usr/sbin/firewalld\0"));
        assert!(collected(
            "firewalld-long-",
            b"/usr/sbin/firewalld\0--nofork\0"
        ));
    }

    /// Issue 24 item 21: under `--root`, the root's `proc/` linked to this machine's `/proc`,
    /// or a process directory linked to `/proc/self`, is not followed: the collecting
    /// machine's own processes must not decide what the root runs.
    #[cfg(target_os = "linux")]
    #[test]
    fn when_running_follows_no_link_out_of_the_root() {
        // This test process's own name: found if anything reads this machine's /proc.
        let own = std::fs::read_to_string("/proc/self/comm").unwrap();
        let own = own.trim_end();
        let manifest = format!(
            "name='t'\nos='linux'\n[[item]]\nid='me'\ncommand=['true']\nwhen_running=['{own}']\n"
        );
        let collected =
            |root: &Path| matches!(&plan(&manifest, root, Os::Linux)[..], [Source::Command(_)]);
        // The test's premise: a real process directory of ours is found.
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("proc/99");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("comm"), format!("{own}\n")).unwrap();
        assert!(collected(dir.path()));

        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/proc", dir.path().join("proc")).unwrap();
        assert!(!collected(dir.path()), "ROOT/proc -> /proc was followed");

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::os::unix::fs::symlink("/proc/self", dir.path().join("proc/77")).unwrap();
        assert!(
            !collected(dir.path()),
            "ROOT/proc/77 -> /proc/self was followed"
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/78")).unwrap();
        std::os::unix::fs::symlink("/proc/self/comm", dir.path().join("proc/78/comm")).unwrap();
        std::os::unix::fs::symlink("/proc/self/cmdline", dir.path().join("proc/78/cmdline"))
            .unwrap();
        assert!(
            !collected(dir.path()),
            "ROOT/proc/78/comm -> /proc/self/comm was read"
        );
    }

    /// Under `--root`, `proc/` is whatever the disk holds: a FIFO for a `comm` is not waited on,
    /// a huge one is not read whole, and items waiting for different names are each answered
    /// from the one pass.
    #[test]
    fn when_running_reads_only_the_head_of_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let proc_dir = dir.path().join("proc");
        std::fs::create_dir_all(proc_dir.join("5")).unwrap();
        let fifo = proc_dir.join("5/comm");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        std::fs::create_dir_all(proc_dir.join("6")).unwrap();
        // A "comm" of 8 MiB that starts with the name: only its head is looked at, and the head
        // is not the name followed by a newline.
        let mut huge = b"sshd".to_vec();
        huge.resize(8 << 20, b'x');
        std::fs::write(proc_dir.join("6/comm"), huge).unwrap();
        std::fs::create_dir_all(proc_dir.join("7")).unwrap();
        std::fs::write(proc_dir.join("7/comm"), "chronyd\n").unwrap();
        let manifest = "name='t'\nos='linux'\n[[item]]\nid='a'\ncommand=['true']\nwhen_running=['sshd']\n[[item]]\nid='b'\ncommand=['true']\nwhen_running=['chronyd']\n";
        let sources = plan(manifest, dir.path(), Os::Linux);
        assert!(
            matches!(&sources[0], Source::Absent { reason, .. } if reason == "sshd is not running"),
            "{sources:?}"
        );
        assert!(matches!(&sources[1], Source::Command(_)), "{sources:?}");
    }

    #[test]
    fn env_variables_expand_and_unset_ones_drop_the_path() {
        std::env::set_var("DRXC_TEST_DIR", "C:\\DRX");
        assert_eq!(
            expand_env("%DRXC_TEST_DIR%\\logs").as_deref(),
            Some("C:\\DRX\\logs")
        );
        assert_eq!(expand_env("%DRXC_TEST_UNSET_VAR%\\logs"), None);
        // Both forms, mixed, and text around them.
        assert_eq!(
            expand_env("a${DRXC_TEST_DIR}b%DRXC_TEST_DIR%c").as_deref(),
            Some("aC:\\DRXbC:\\DRXc")
        );
        assert_eq!(expand_env("${DRXC_TEST_UNSET_VAR}/x"), None);
        assert_eq!(expand_env("${DRXC_TEST_DIR"), None);
        assert_eq!(expand_env("/plain/path").as_deref(), Some("/plain/path"));
        let roots = Roots {
            root: None,
            os: Os::Windows,
        };
        assert_eq!(
            roots.logical("%DRXC_TEST_DIR%\\..\\etc").as_deref(),
            Some("/C/etc")
        );
    }

    #[cfg(unix)]
    fn files(sources: &[Source]) -> Vec<&FileSource> {
        sources
            .iter()
            .filter_map(|s| match s {
                Source::File(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn links_are_resolved_inside_the_root_never_on_this_machine() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(root, "etc/passwd", "root-of-the-sysroot\n");
        touch(root, "srv/real.d/r1.res", "x");
        std::fs::create_dir_all(root.join("etc/bsr.d")).unwrap();
        // Absolute: means the sysroot's /etc/passwd, not this machine's.
        symlink("/etc/passwd", root.join("etc/bsr.d/abs.res")).unwrap();
        // `..` stops at the root.
        symlink(
            "../../../../../../etc/passwd",
            root.join("etc/bsr.d/up.res"),
        )
        .unwrap();
        // Exists on this machine only.
        symlink("/etc/os-release", root.join("etc/bsr.d/host-only.res")).unwrap();
        // A directory reached through an absolute link, globbed and walked.
        symlink("/srv/real.d", root.join("etc/drbd.d")).unwrap();
        // A loop.
        symlink("/etc/bsr.d/loop.res", root.join("etc/bsr.d/loop.res")).unwrap();
        let sources = plan(
            "name='t'\nos='linux'\n[[item]]\nid='bsr'\nfiles=['/etc/bsr.d/*.res']\n[[item]]\nid='walk'\nfiles=['/etc/bsr.d/**']\n[[item]]\nid='drbd'\nfiles=['/etc/drbd.d/*.res']\n[[item]]\nid='drbd-walk'\nfiles=['/etc/drbd.d/**']\n",
            root,
            Os::Linux,
        );
        let found = files(&sources);
        for file in &found {
            assert!(
                file.fs_path.starts_with(root),
                "{} read from outside the root: {}",
                file.bundle_path,
                file.fs_path.display()
            );
        }
        let pairs: Vec<(&str, &str)> = found
            .iter()
            .map(|f| (f.id.as_str(), f.bundle_path.as_str()))
            .collect();
        // A file two items name is stored once, by the first.
        assert_eq!(
            pairs,
            [
                ("bsr", "files/etc/bsr.d/abs.res"),
                ("bsr", "files/etc/bsr.d/up.res"),
                ("drbd", "files/etc/drbd.d/r1.res"),
            ]
        );
        assert_eq!(found[0].fs_path, root.join("etc/passwd"));
        assert_eq!(found[1].fs_path, root.join("etc/passwd"));
        assert_eq!(found[2].fs_path, root.join("srv/real.d/r1.res"));
        let already = sources
            .iter()
            .filter(|s| matches!(s, Source::Absent { reason, .. } if reason.starts_with("already collected by item")))
            .count();
        assert_eq!(already, 3);
        assert_eq!(resolve_in_root(root, Path::new("etc/bsr.d/loop.res")), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_cap_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("var/log/drx");
        std::fs::create_dir_all(&logs).unwrap();
        let base = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let total = MAX_FILES_PER_ITEM + 3;
        for n in 0..total {
            // Date-named: alphabetical order is the oldest first.
            let path = logs.join(format!("drx-{n:06}.log"));
            let file = std::fs::File::create(&path).unwrap();
            file.set_modified(base + Duration::from_secs(n as u64))
                .unwrap();
        }
        let sources = plan(
            "name='t'\nos='linux'\n[[item]]\nid='logs'\nfiles=['/var/log/drx/*.log']\n",
            dir.path(),
            Os::Linux,
        );
        let paths = bundle_paths(&sources);
        assert_eq!(paths.len(), MAX_FILES_PER_ITEM);
        assert_eq!(paths[0], "files/var/log/drx/drx-000003.log");
        assert_eq!(
            paths.last().unwrap(),
            &format!("files/var/log/drx/drx-{:06}.log", total - 1)
        );
        let note = sources.iter().find_map(|s| match s {
            Source::Absent { reason, .. } => Some(reason.clone()),
            _ => None,
        });
        assert!(note.unwrap().contains("the 3 oldest"));
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_named_not_missing_and_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/log")).unwrap();
        let fifo = dir.path().join("var/log/messages");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let sources = plan(
            "name='t'\nos='linux'\n[[item]]\nid='messages'\nfiles=['/var/log/messages*']\n[[item]]\nid='walk'\nfiles=['/var/log/**']\n",
            dir.path(),
            Os::Linux,
        );
        let reasons: Vec<(Status, String)> = sources
            .iter()
            .map(|s| match s {
                Source::Absent { status, reason, .. } => (*status, reason.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        for (status, reason) in reasons {
            assert_eq!(status, Status::Skipped);
            assert!(reason.contains("FIFO"), "{reason}");
        }
        // On the live system too: /dev/null is a device.
        let manifest = parse(
            "name='t'\nos='linux'\n[[item]]\nid='null'\nfiles=['/dev/null']\n",
            "t",
        )
        .unwrap();
        let live = expand(
            &manifest,
            &Roots {
                root: None,
                os: Os::Linux,
            },
        );
        match &live[0] {
            Source::Absent { reason, .. } => {
                assert!(reason.contains("character device"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_stay_distinct_and_reversible() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("var/log/drx");
        std::fs::create_dir_all(&logs).unwrap();
        let names: [&[u8]; 4] = [
            b"\xBF\xC0\xB7\xF9.log", // 오류.log in CP949
            b"\xC1\xA4\xBA\xB8.log", // 정보.log in CP949
            "오류.log".as_bytes(),   // the same name in UTF-8
            b"\xFF\xFE.log",         // neither
        ];
        for name in names {
            std::fs::write(logs.join(std::ffi::OsStr::from_bytes(name)), name).unwrap();
        }
        let sources = plan(
            "name='t'\nos='linux'\n[[item]]\nid='logs'\nfiles=['/var/log/drx/*.log']\n",
            dir.path(),
            Os::Linux,
        );
        let found = files(&sources);
        assert_eq!(found.len(), 4);
        let mut paths: Vec<&str> = found.iter().map(|f| f.bundle_path.as_str()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), 4, "bundle paths collide: {paths:?}");
        for file in &found {
            let raw = std::fs::read(&file.fs_path).unwrap();
            let real = format!("/var/log/drx/{}", String::from_utf8_lossy(&raw));
            match file.name_encoding {
                None => assert_eq!(file.source, real),
                Some(_) => {
                    let back = names::unescape(&file.source).unwrap();
                    let mut expected = b"/var/log/drx/".to_vec();
                    expected.extend_from_slice(&raw);
                    assert_eq!(back, expected);
                }
            }
        }
        let decoded: Vec<&str> = found
            .iter()
            .filter(|f| f.name_encoding == Some("cp949"))
            .map(|f| f.bundle_path.as_str())
            .collect();
        assert!(
            decoded.contains(&"files/var/log/drx/정보.log"),
            "{decoded:?}"
        );
    }
}
