use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Mutex;

/// Process groups of commands still running, so an interruption can kill them all.
static LIVE_GROUPS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);
/// The marker (`super::CHILD_MARKER`'s value) each running command was started with, by its pid.
static MARKERS: Mutex<Option<HashMap<i32, String>>> = Mutex::new(None);
/// Numbers the markers of one run.
static NEXT_MARKER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only an atomic store here: anything else is not async-signal-safe.
    super::set_interrupted(signal);
}

/// Ctrl-C, SIGTERM (cron, systemd) and SIGHUP set the interruption flag instead of killing us, so
/// the run can remove its temporary file and kill its children first.
pub fn install_interrupt_handler() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only stores to an atomic.
        unsafe {
            libc::signal(signal, handler);
        }
    }
}

/// Runs the command in a process group of its own, so that a timeout kills everything it started,
/// and a Ctrl-C on the terminal reaches us only (we then kill the group ourselves).
///
/// A process group is not enough: a command may start a grandchild in a session of its own
/// (`setsid`, a daemonizing helper). Each command therefore carries a marker in its environment,
/// `DRX_COLLECT_CHILD=<our pid>-<n>`, which its descendants inherit; `kill_tree` kills every
/// process that carries the command's marker or descends from it (`/proc` scan).
pub fn own_process_group(command: &mut Command) {
    command.process_group(0);
    let marker = format!(
        "{}-{}",
        std::process::id(),
        NEXT_MARKER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    command.env(super::CHILD_MARKER, &marker);
    // The same thread spawns the command and registers it right after.
    PENDING_MARKER.with(|pending| *pending.borrow_mut() = Some(marker));
}

thread_local! {
    /// The marker of the command this thread is about to start (see `own_process_group`).
    static PENDING_MARKER: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

pub fn register_child(child: &Child) {
    let mut live = LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    live.get_or_insert_with(HashSet::new)
        .insert(child.id() as i32);
    drop(live);
    if let Some(marker) = PENDING_MARKER.with(|pending| pending.borrow_mut().take()) {
        let mut markers = MARKERS.lock().unwrap_or_else(|p| p.into_inner());
        markers
            .get_or_insert_with(HashMap::new)
            .insert(child.id() as i32, marker);
    }
}

pub fn unregister_child(child: &Child) {
    let mut live = LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    if let Some(set) = live.as_mut() {
        set.remove(&(child.id() as i32));
    }
    drop(live);
    let mut markers = MARKERS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(map) = markers.as_mut() {
        map.remove(&(child.id() as i32));
    }
}

/// Kills the child's whole process group, then every process that carries its marker or
/// descends from it, whatever session or group it moved to.
pub fn kill_tree(child: &mut Child) {
    let pid = child.id() as i32;
    let marker = MARKERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|map| map.get(&pid).cloned());
    // Descendants are found before the group is killed: once their parent is gone they are
    // reparented and only the marker still ties them to the command.
    let before = descendants(&[pid], marker.as_deref().map(Marker::Exact));
    // SAFETY: plain syscalls on a process group we created.
    unsafe {
        libc::killpg(pid, libc::SIGKILL);
    }
    let _ = child.kill();
    kill_pids(&before);
    // A process may have forked between the scan and the kill: look again, a few times.
    for _ in 0..3 {
        let again = descendants(&[pid], marker.as_deref().map(Marker::Exact));
        if again.is_empty() {
            break;
        }
        kill_pids(&again);
    }
}

/// Kills every process group still registered, and every process carrying a marker of this run
/// (on interruption).
pub fn kill_all_children() {
    let groups: Vec<i32> = LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .as_ref()
        .map(|set| set.iter().copied().collect())
        .unwrap_or_default();
    let prefix = format!("{}-", std::process::id());
    let before = descendants(&groups, Some(Marker::Prefix(&prefix)));
    for &group in &groups {
        // SAFETY: plain syscall on process groups we created.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
    kill_pids(&before);
    for _ in 0..3 {
        let again = descendants(&groups, Some(Marker::Prefix(&prefix)));
        if again.is_empty() {
            break;
        }
        kill_pids(&again);
    }
}

#[derive(Clone, Copy)]
enum Marker<'a> {
    Exact(&'a str),
    Prefix(&'a str),
}

fn kill_pids(pids: &[i32]) {
    let me = std::process::id() as i32;
    for &pid in pids {
        if pid > 1 && pid != me {
            // SAFETY: plain syscall; the pid was seen carrying our marker or our command's
            // ancestry a moment ago.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// The value of the marker variable in a process's environment, if it has one.
fn proc_environ_marker(pid: i32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let key = format!("{}=", super::CHILD_MARKER);
    environ
        .split(|&b| b == 0)
        .find_map(|entry| entry.strip_prefix(key.as_bytes()))
        .map(|value| String::from_utf8_lossy(value).into_owned())
}

/// The parent pid of a process, from `/proc/PID/stat` (the field after the `)` of the name).
fn proc_parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// Processes (other than us) that descend from one of `roots` or carry the marker. Bounded: one
/// pass over `/proc` (at most 1 << 16 entries).
fn descendants(roots: &[i32], marker: Option<Marker>) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut parents: HashMap<i32, i32> = HashMap::new();
    let mut found: HashSet<i32> = HashSet::new();
    let carries = |value: &str| match marker {
        Some(Marker::Exact(m)) => value == m,
        Some(Marker::Prefix(p)) => value.starts_with(p),
        None => false,
    };
    // A root counts only while it is still our command (carries its marker): a pid that was
    // reaped and reused by someone else's process must not take that process's tree with it.
    let roots: Vec<i32> = roots
        .iter()
        .copied()
        .filter(|&pid| proc_environ_marker(pid).is_some_and(|v| carries(&v)))
        .collect();
    for entry in entries.filter_map(|e| e.ok()).take(1 << 16) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(parent) = proc_parent(pid) {
            parents.insert(pid, parent);
        }
        if proc_environ_marker(pid).is_some_and(|value| carries(&value)) {
            found.insert(pid);
        }
    }
    for &pid in parents.keys() {
        let mut at = pid;
        // The chain is at most as long as the table; a loop (pid reuse mid-scan) stops there.
        for _ in 0..parents.len().min(4096) {
            if roots.contains(&at) {
                found.insert(pid);
                break;
            }
            match parents.get(&at) {
                Some(&parent) if parent > 1 && parent != at => at = parent,
                _ => break,
            }
        }
    }
    let me = std::process::id() as i32;
    found.remove(&me);
    let mut list: Vec<i32> = found.into_iter().collect();
    list.sort_unstable();
    list
}

/// True when a process with this id exists (it may belong to someone else).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Unix removes the lock file itself, while still holding it (`DirLock::drop`).
pub fn lock_file_options(_options: &mut OpenOptions) {}

pub fn lock_open_is_busy(_err: &std::io::Error) -> bool {
    false
}

/// Files that may hold customer data are readable by their owner only.
pub fn private_file(options: &mut OpenOptions) {
    options.mode(0o600);
}

pub fn set_public_mode(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Opens a file for reading. Unix has no share modes: a file another process writes is readable.
/// `O_NONBLOCK`: a FIFO put where a file was expected does not block the open (the caller then
/// sees it is not a regular file); regular files ignore the flag.
pub fn open_shared(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

/// Command output is stored as the command wrote it (commands run with LC_ALL=C).
pub fn decode_output(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

/// Terminals on Unix interpret ANSI escapes.
pub fn ansi_on_stderr() -> bool {
    true
}

/// The live OS release comes from files (/etc/redhat-release, /etc/os-release).
pub fn live_os_release() -> Option<String> {
    None
}

/// The live host's name (the kernel's nodename).
pub fn live_hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// The live kernel release (`uname -r`).
pub fn live_kernel() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Extra directories searched after PATH: cron runs with a short PATH without the sbin
/// directories where ip, iptables, bsrsetup and drbdadm live.
pub const EXTRA_COMMAND_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/sbin",
    "/sbin",
    "/usr/local/bin",
    "/usr/bin",
    "/bin",
];

pub const EXECUTABLE_SUFFIXES: &[&str] = &[""];

/// Lower the priority of this process (cron snapshots should not disturb replication).
pub fn be_nice() {
    // SAFETY: plain syscall on our own process.
    unsafe {
        libc::nice(10);
    }
}

/// True when `path` can be run (an executable regular file).
pub fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// True when the open `file` is still the one at `path` (not removed and replaced meanwhile).
pub fn is_same_file(file: &std::fs::File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(held), Ok(named)) => held.dev() == named.dev() && held.ino() == named.ino(),
        _ => false,
    }
}

/// Unix removes the lock file while still holding it (see `collect::lock`).
pub const REMOVE_LOCK_FILE_ON_DROP: bool = true;

/// Bytes available to an unprivileged writer on the file system holding `dir`.
pub fn available_space(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a valid NUL-terminated path and a zeroed out-struct that statvfs fills.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    if rc != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// The Unix permission bits of a file, for listings.
pub fn file_mode(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.mode())
}

/// Makes `file` readable by its owner only, whatever mode it was created with.
pub fn make_private(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// Parsable, English output: the rules read it.
pub fn plain_output(command: &mut Command) {
    command.env("LC_ALL", "C").env("LANG", "C");
}

/// Creates a new file for writing, readable by its owner only (0600). Never opens an existing
/// file and never follows a link (`O_EXCL | O_NOFOLLOW`): in a directory others can write, a
/// planted link cannot make us create or truncate a file elsewhere.
pub fn create_new_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Opens the output directory's lock file, creating it (0600) if missing. Never through a link,
/// never a file with other names (a hard link planted to a victim), never another user's file.
pub fn open_lock_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::MetadataExt;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    // SAFETY: plain syscall without arguments.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.nlink() != 1 || meta.uid() != me {
        return Err(std::io::Error::other(
            "it is not a lock file drx-collect made (a link, or another user's file)",
        ));
    }
    Ok(file)
}

/// Refuses an output directory that every user may write without the sticky bit: anyone could
/// replace the bundle, its sidecar or the lock between our steps. `/tmp` (sticky) is fine.
pub fn check_output_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Err(format!(
            "{} is writable by every user and has no sticky bit, so another user could replace what drx-collect writes there; choose a private directory with --output, or make it safe (chmod o-w or chmod +t)",
            dir.display()
        ));
    }
    Ok(())
}

/// The user id owning a file (to tell our own leftovers from someone else's).
pub fn file_owner(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.uid())
}

/// Our effective user id.
pub fn current_owner() -> Option<u32> {
    // SAFETY: plain syscall without arguments.
    Some(unsafe { libc::geteuid() })
}

/// The bytes of a path as the file system holds them (names need not be UTF-8 on Unix).
pub fn path_bytes(path: &std::path::Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

/// What an entry that is neither a regular file nor a directory is, for a message.
pub fn special_file_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_file() || kind.is_dir() {
        None
    } else {
        Some("a special file")
    }
}

/// How many names the file has (a hard link planted to another file has more than one).
pub fn file_links(meta: &std::fs::Metadata) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.nlink())
}
