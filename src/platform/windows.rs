//! Windows (Server 2008 R2 and newer; built for the `x86_64-win7-windows-gnu` target, so only
//! functions Windows 7 has may be called here).
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::Duration;

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Globalization::{GetOEMCP, MultiByteToWideChar};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
};
use windows_sys::Win32::System::Console::{
    GetConsoleMode, GetConsoleOutputCP, GetStdHandle, SetConsoleCtrlHandler, SetConsoleMode,
    CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_C_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
    ENABLE_VIRTUAL_TERMINAL_PROCESSING, STD_ERROR_HANDLE,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Registry::{RegGetValueW, HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ};
use windows_sys::Win32::System::Threading::{
    OpenThread, ResumeThread, TerminateProcess, CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW,
    CREATE_SUSPENDED, THREAD_SUSPEND_RESUME,
};

use super::{
    INTERRUPTED_BY_BREAK, INTERRUPTED_BY_CLOSE, INTERRUPTED_BY_CTRL_C, INTERRUPTED_BY_SHUTDOWN,
};

/// The job object of each running command, by process id. A job holds the command and every
/// process it starts, so a timeout kills the whole tree; `KILL_ON_JOB_CLOSE` also ends the tree
/// when we exit without cleaning up.
static JOBS: Mutex<Option<HashMap<u32, usize>>> = Mutex::new(None);

fn jobs() -> std::sync::MutexGuard<'static, Option<HashMap<u32, usize>>> {
    JOBS.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// How long the console-close handler holds the process open so the main thread can remove its
/// temporary file and kill its children (Windows ends the process when the handler returns, and
/// at the latest after about 5 s).
const CLOSE_GRACE: Duration = Duration::from_secs(3);

unsafe extern "system" fn on_console_event(event: u32) -> windows_sys::core::BOOL {
    let code = match event {
        CTRL_C_EVENT => INTERRUPTED_BY_CTRL_C,
        CTRL_BREAK_EVENT => INTERRUPTED_BY_BREAK,
        CTRL_CLOSE_EVENT => INTERRUPTED_BY_CLOSE,
        CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT => INTERRUPTED_BY_SHUTDOWN,
        _ => return 0,
    };
    super::set_interrupted(code);
    if matches!(
        event,
        CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT
    ) {
        // The handler runs on its own thread; the process ends when it returns.
        std::thread::sleep(CLOSE_GRACE);
    }
    1
}

/// Ctrl-C, Ctrl-Break, closing the console window, log-off and shutdown set the interruption flag
/// instead of ending the process, so the run removes its temporary file and kills its commands.
pub fn install_interrupt_handler() {
    // SAFETY: registers a handler that stores to an atomic (and sleeps, for close events).
    unsafe {
        SetConsoleCtrlHandler(Some(on_console_event), 1);
    }
}

/// Prepares a command to run in a job of its own. CREATE_SUSPENDED: the command starts frozen and
/// `register_child` (which every caller must call right after a successful spawn) puts it into
/// its job before letting it run, so nothing it starts can escape the job.
/// CREATE_NEW_PROCESS_GROUP: a Ctrl-C on our console reaches us only (we then kill the job).
/// CREATE_NO_WINDOW: console tools run without flashing a window.
pub fn own_process_group(command: &mut Command) {
    use std::os::windows::process::CommandExt;
    command.creation_flags(CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
}

/// A new job object that kills its processes when its last handle closes.
fn new_job() -> Option<HANDLE> {
    // SAFETY: plain Win32 calls with valid arguments; the handle is closed on every error path.
    unsafe {
        let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
        if job.is_null() {
            return None;
        }
        let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        let ok = SetInformationJobObject(
            job,
            JobObjectExtendedLimitInformation,
            &limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION as *const std::ffi::c_void,
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        );
        if ok == 0 {
            CloseHandle(job);
            return None;
        }
        Some(job)
    }
}

/// Puts the just-started (suspended) command into a job of its own, then lets it run; processes
/// it starts join the job too. When a job is not possible (Windows 7 / 2008 R2 cannot nest jobs,
/// so a collector started inside a job without breakaway rights gets "access denied"), the
/// command runs without one and `kill_tree` falls back to `taskkill /T`.
pub fn register_child(child: &Child) {
    let process = child.as_raw_handle() as HANDLE;
    if let Some(job) = new_job() {
        // SAFETY: both handles are valid: the job was just created, the process handle is owned
        // by `child`, which outlives this call.
        let assigned = unsafe { AssignProcessToJobObject(job, process) } != 0;
        if assigned {
            jobs()
                .get_or_insert_with(HashMap::new)
                .insert(child.id(), job as usize);
        } else {
            // SAFETY: closing the handle we created; the job holds no process.
            unsafe {
                CloseHandle(job);
            }
        }
    }
    if !resume(child.id()) {
        // A command that cannot be resumed would only wait for its timeout: end it now, and it
        // is recorded as failed.
        // SAFETY: the process handle is owned by `child`.
        unsafe {
            TerminateProcess(process, 1);
        }
    }
}

/// Resumes the threads of a process started with CREATE_SUSPENDED (it has one: its main thread).
fn resume(pid: u32) -> bool {
    // SAFETY: a thread snapshot walked with a correctly sized entry; every handle opened here is
    // closed here.
    unsafe {
        let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
        if snapshot.is_null() || snapshot == INVALID_HANDLE_VALUE {
            return false;
        }
        let mut entry: THREADENTRY32 = std::mem::zeroed();
        entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
        let mut resumed = false;
        let mut more = Thread32First(snapshot, &mut entry) != 0;
        while more {
            if entry.th32OwnerProcessID == pid {
                let thread = OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID);
                if !thread.is_null() {
                    resumed |= ResumeThread(thread) != u32::MAX;
                    CloseHandle(thread);
                }
            }
            more = Thread32Next(snapshot, &mut entry) != 0;
        }
        CloseHandle(snapshot);
        resumed
    }
}

/// Forgets the command's job. Closing the job's handle ends any process of the tree still
/// running (a background grandchild), as on Unix the group is killed when its pipes stay open.
pub fn unregister_child(child: &Child) {
    let job = jobs().as_mut().and_then(|map| map.remove(&child.id()));
    if let Some(job) = job {
        // SAFETY: a job handle we created and no longer use.
        unsafe {
            CloseHandle(job as HANDLE);
        }
    }
}

/// Kills the command and everything it started: the whole job, else through `taskkill /T`.
pub fn kill_tree(child: &mut Child) {
    let job = jobs()
        .as_ref()
        .and_then(|map| map.get(&child.id()).copied());
    match job {
        // SAFETY: a job handle we created and still hold.
        Some(job) => unsafe {
            TerminateJobObject(job as HANDLE, 1);
        },
        None => {
            let _ = Command::new("taskkill")
                .args(["/F", "/T", "/PID", &child.id().to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    let _ = child.kill();
}

/// Kills every command still running (on interruption).
pub fn kill_all_children() {
    if let Some(map) = jobs().as_ref() {
        for &job in map.values() {
            // SAFETY: job handles we created and still hold.
            unsafe {
                TerminateJobObject(job as HANDLE, 1);
            }
        }
    }
}

pub fn private_file(_options: &mut OpenOptions) {}

pub fn set_public_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Opens a file for reading while other processes keep it open for writing, or rename or delete
/// it (DRX and BSR hold their logs open; log rotation renames them). A file opened by its writer
/// without read sharing still fails with a sharing violation, which Windows does not let anyone
/// bypass. Long paths: std adds the `\\?\` prefix itself for paths beyond the 260-character limit.
pub fn open_shared(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .open(path)
}

/// The output directory's lock file goes away when its last handle closes, whatever way the run
/// ends: Windows cannot remove a file that is still open, as Unix does in `DirLock::drop`.
pub fn lock_file_options(options: &mut OpenOptions) {
    const FILE_FLAG_DELETE_ON_CLOSE: u32 = 0x0400_0000;
    options
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .custom_flags(FILE_FLAG_DELETE_ON_CLOSE);
}

/// Opening a lock file that is being deleted (its holder just closed it) fails with access
/// denied: that is a busy lock, to be retried.
pub fn lock_open_is_busy(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::PermissionDenied
}

/// Command output as UTF-8. Console tools write in the console's code page (the OEM code page
/// when there is no console: 949 on Korean Windows, 437 on US English), or UTF-16 (`wmic`).
/// UTF-16 (with or without a byte-order mark) is converted, a UTF-8 BOM dropped, other valid
/// UTF-8 kept as it is.
pub fn decode_output(bytes: Vec<u8>) -> Vec<u8> {
    // UTF-16 first: pure-ASCII UTF-16 without a BOM is also valid UTF-8 (NUL bytes included).
    if let Some(text) = crate::rules::decode::command_output(&bytes) {
        return text.into_bytes();
    }
    // SAFETY: plain calls without arguments.
    let code_page = match unsafe { GetConsoleOutputCP() } {
        0 => unsafe { GetOEMCP() },
        cp => cp,
    };
    match from_code_page(&bytes, code_page) {
        Some(text) => text.into_bytes(),
        None => bytes,
    }
}

/// Converts text in `code_page` to a String (invalid sequences become U+FFFD).
fn from_code_page(bytes: &[u8], code_page: u32) -> Option<String> {
    if bytes.is_empty() {
        return Some(String::new());
    }
    let length = i32::try_from(bytes.len()).ok()?;
    // SAFETY: the input pointer and length describe `bytes`; the first call only measures.
    let needed = unsafe {
        MultiByteToWideChar(
            code_page,
            0,
            bytes.as_ptr(),
            length,
            std::ptr::null_mut(),
            0,
        )
    };
    if needed <= 0 {
        return None;
    }
    let mut wide = vec![0u16; needed as usize];
    // SAFETY: `wide` has room for exactly `needed` UTF-16 units.
    let written = unsafe {
        MultiByteToWideChar(
            code_page,
            0,
            bytes.as_ptr(),
            length,
            wide.as_mut_ptr(),
            needed,
        )
    };
    if written <= 0 {
        return None;
    }
    wide.truncate(written as usize);
    Some(String::from_utf16_lossy(&wide))
}

/// A progress line may use ANSI escapes only where the console interprets them: Windows 10 and
/// newer after switching on virtual-terminal processing. The consoles of Server 2008 R2 and
/// 2012 R2 would print the escapes as text.
pub fn ansi_on_stderr() -> bool {
    // SAFETY: plain console calls on our own standard error handle.
    unsafe {
        let handle = GetStdHandle(STD_ERROR_HANDLE);
        if handle.is_null() || handle as isize == -1 {
            return false;
        }
        let mut mode = 0u32;
        if GetConsoleMode(handle, &mut mode) == 0 {
            return false;
        }
        mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0
            || SetConsoleMode(handle, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING) != 0
    }
}

pub fn live_hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty())
}

const CURRENT_VERSION: &str = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion";

/// A string value under HKLM (the 64-bit view: this is a 64-bit program).
fn registry_string(key: &str, value: &str) -> Option<String> {
    let wide = |s: &str| s.encode_utf16().chain(Some(0)).collect::<Vec<u16>>();
    let (key, value) = (wide(key), wide(value));
    let mut buffer = vec![0u16; 512];
    let mut size = (buffer.len() * 2) as u32;
    // SAFETY: NUL-terminated names; the buffer and its size in bytes match.
    let status = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            value.as_ptr(),
            RRF_RT_REG_SZ,
            std::ptr::null_mut(),
            buffer.as_mut_ptr() as *mut std::ffi::c_void,
            &mut size,
        )
    };
    if status != ERROR_SUCCESS {
        return None;
    }
    buffer.truncate(size as usize / 2);
    let text = String::from_utf16_lossy(&buffer);
    let text = text.trim_end_matches('\0').trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The NT version and build, `6.1.7601` (2008 R2 SP1) or `6.3.9600` (2012 R2).
fn nt_version() -> Option<String> {
    let version = registry_string(CURRENT_VERSION, "CurrentVersion")?;
    let build = registry_string(CURRENT_VERSION, "CurrentBuild")?;
    Some(format!("{version}.{build}"))
}

/// `Windows Server 2008 R2 Enterprise 6.1.7601 Service Pack 1`, from the registry.
pub fn live_os_release() -> Option<String> {
    let product = registry_string(CURRENT_VERSION, "ProductName")?;
    let mut release = product;
    if let Some(version) = nt_version() {
        release = format!("{release} {version}");
    }
    if let Some(service_pack) = registry_string(CURRENT_VERSION, "CSDVersion") {
        release = format!("{release} {service_pack}");
    }
    Some(release)
}

/// The NT kernel's version and build (`6.3.9600`).
pub fn live_kernel() -> Option<String> {
    nt_version()
}

pub const EXTRA_COMMAND_DIRS: &[&str] = &[r"C:\Windows\System32", r"C:\Windows\System32\wbem"];

pub const EXECUTABLE_SUFFIXES: &[&str] = &[".exe", ".com", ".bat", ".cmd", ""];

pub fn be_nice() {}

pub fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// While the lock file is open nobody can replace it (Windows refuses to remove open files).
pub fn is_same_file(_file: &File, _path: &Path) -> bool {
    true
}

/// The lock file goes away by itself on close (`lock_file_options`).
pub const REMOVE_LOCK_FILE_ON_DROP: bool = false;

/// Bytes available to this user on the volume holding `dir` (GetDiskFreeSpaceExW, which takes
/// any directory on the volume and honours quotas).
pub fn available_space(dir: &Path) -> Option<u64> {
    use std::os::windows::ffi::OsStrExt;
    let wide: Vec<u16> = dir.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut available = 0u64;
    // SAFETY: a NUL-terminated wide path and a valid out-pointer; the other outputs are optional.
    let ok = unsafe {
        windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW(
            wide.as_ptr(),
            &mut available,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    (ok != 0).then_some(available)
}

pub fn file_mode(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

/// NTFS permissions are inherited from the directory; nothing to narrow here.
pub fn make_private(_file: &File) -> std::io::Result<()> {
    Ok(())
}

/// Windows tools print in the system's language whatever the environment says; the rules key on
/// tokens that do not translate, and the output is decoded from the OEM code page.
pub fn plain_output(_command: &mut Command) {}

/// Creates a new file for writing, never opening an existing one (a link planted at the name
/// exists too, so it is refused).
pub fn create_new_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Opens the output directory's lock file (removed by Windows when its last handle closes).
pub fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    lock_file_options(&mut options);
    options.open(path)
}

/// Windows directories have ACLs, not a world-writable bit: nothing to refuse here.
pub fn check_output_dir(_dir: &Path) -> Result<(), String> {
    Ok(())
}

/// Owners are ACL principals on Windows; leftovers are told apart by their name and process only.
pub fn file_owner(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

pub fn current_owner() -> Option<u32> {
    None
}

/// True when a process with this id exists (or may: when in doubt, yes, so a leftover is never
/// removed while its run may be alive).
pub fn process_alive(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::{GetLastError, ERROR_INVALID_PARAMETER, STILL_ACTIVE};
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    // SAFETY: plain Win32 calls; the handle opened here is closed here.
    unsafe {
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if process.is_null() {
            // No such process; any other failure (access denied) means it exists.
            return GetLastError() != ERROR_INVALID_PARAMETER;
        }
        let mut code = 0u32;
        let known = GetExitCodeProcess(process, &mut code) != 0;
        CloseHandle(process);
        !known || code == STILL_ACTIVE as u32
    }
}

/// The bytes of a path: Windows names are UTF-16, so UTF-8 (an unpaired surrogate, which no
/// Windows tool writes, becomes U+FFFD).
pub fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

/// What an entry that is neither a regular file nor a directory is, for a message.
pub fn special_file_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let kind = meta.file_type();
    (!kind.is_file() && !kind.is_dir()).then_some("a special file (a device or a pipe)")
}

/// Link counts need an open handle on Windows; unknown here.
pub fn file_links(_meta: &std::fs::Metadata) -> Option<u64> {
    None
}
