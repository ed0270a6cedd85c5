use std::collections::HashSet;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Mutex;

/// Process groups of commands still running, so an interruption can kill them all.
static LIVE_GROUPS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

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
pub fn own_process_group(command: &mut Command) {
    command.process_group(0);
}

pub fn register_child(child: &Child) {
    let mut live = LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    live.get_or_insert_with(HashSet::new)
        .insert(child.id() as i32);
}

pub fn unregister_child(child: &Child) {
    let mut live = LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    if let Some(set) = live.as_mut() {
        set.remove(&(child.id() as i32));
    }
}

/// Kills the child's whole process group.
pub fn kill_tree(child: &mut Child) {
    let group = child.id() as i32;
    // SAFETY: plain syscalls on a process group we created.
    unsafe {
        libc::killpg(group, libc::SIGKILL);
    }
    let _ = child.kill();
}

/// Kills every process group still registered (on interruption).
pub fn kill_all_children() {
    let live = LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    if let Some(set) = live.as_ref() {
        for &group in set {
            // SAFETY: plain syscall on process groups we created.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
    }
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
pub fn open_shared(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
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
