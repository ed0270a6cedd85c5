use std::fs::OpenOptions;
use std::process::{Child, Command};

/// Windows: Ctrl-C ends the process; the temporary bundle is left with a `.part` name and removed
/// by the next run in that directory.
pub fn install_interrupt_handler() {}

pub fn own_process_group(command: &mut Command) {
    use std::os::windows::process::CommandExt;
    // CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW
    command.creation_flags(0x0000_0200 | 0x0800_0000);
}

pub fn register_child(_child: &Child) {}
pub fn unregister_child(_child: &Child) {}

/// Kills the child and, through `taskkill /T`, what it started.
pub fn kill_tree(child: &mut Child) {
    let _ = Command::new("taskkill")
        .args(["/F", "/T", "/PID", &child.id().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let _ = child.kill();
}

pub fn kill_all_children() {}

pub fn private_file(_options: &mut OpenOptions) {}

pub fn set_public_mode(_path: &std::path::Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

pub fn live_hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty())
}

pub fn live_kernel() -> Option<String> {
    None
}

pub const EXTRA_COMMAND_DIRS: &[&str] = &[r"C:\Windows\System32", r"C:\Windows\System32\wbem"];

pub const EXECUTABLE_SUFFIXES: &[&str] = &[".exe", ".com", ".bat", ".cmd", ""];

pub fn be_nice() {}
