//! One collect at a time per output directory. Cron may start a run while the previous one is
//! still writing (a slow disk, a hung command waiting for its timeout); two runs in one directory
//! would race on names and on `--keep`. The second run waits briefly, then gives up with exit 1.
use crate::error::{Error, Result};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const LOCK_NAME: &str = ".drx-collect.lock";
/// How long a second run waits for the first before giving up.
pub const WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);

/// Held for the whole run; released (and the lock file removed) on drop.
#[derive(Debug)]
pub struct DirLock {
    // Kept open: the lock lives as long as the handle.
    _file: File,
    path: PathBuf,
}

/// Takes the exclusive lock of `dir`, waiting up to `wait`.
pub fn acquire(dir: &Path, wait: Duration) -> Result<DirLock> {
    let path = dir.join(LOCK_NAME);
    let start = Instant::now();
    loop {
        let file =
            match crate::platform::open_lock_file(&path) {
                Ok(file) => Some(file),
                Err(err) if crate::platform::lock_open_is_busy(&err) => None,
                Err(err) => return Err(Error::io(
                    "create the lock file",
                    &path,
                    &err,
                    "check that the output directory is writable, or choose another with --output",
                )),
            };
        let Some(file) = file else {
            if start.elapsed() >= wait {
                return Err(busy(dir, &path));
            }
            std::thread::sleep(POLL);
            continue;
        };
        match file.try_lock() {
            // The holder before us may have removed the file after we opened it: then our lock is
            // on a name nobody else will find, so start over with the file now at the path.
            Ok(()) if crate::platform::is_same_file(&file, &path) => {
                return Ok(DirLock { _file: file, path })
            }
            Ok(()) => continue,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(err)) => {
                return Err(Error::io(
                    "lock",
                    &path,
                    &err,
                    "the file system may not support locks; choose another place with --output",
                ))
            }
        }
        drop(file);
        if start.elapsed() >= wait {
            return Err(busy(dir, &path));
        }
        std::thread::sleep(POLL);
    }
}

fn busy(dir: &Path, path: &Path) -> Error {
    Error::failed(format!(
        "another drx-collect run holds {}; wait for it to finish, or remove {} if no drx-collect is running",
        dir.display(),
        path.display()
    ))
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still locked, so nobody can lock the old file after us unnoticed
        // (`platform::is_same_file`); the directory is left as we found it.
        if crate::platform::REMOVE_LOCK_FILE_ON_DROP {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_then_fails_naming_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path(), WAIT).unwrap();
        let start = Instant::now();
        let err = acquire(dir.path(), Duration::from_millis(300)).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(
            err.message().contains("another drx-collect run holds"),
            "{err}"
        );
        assert!(err.message().contains(&dir.path().display().to_string()));
        drop(held);
        assert!(
            !dir.path().join(LOCK_NAME).exists(),
            "lock file left behind"
        );
        let again = acquire(dir.path(), Duration::ZERO).unwrap();
        drop(again);
    }

    #[test]
    fn a_waiting_run_gets_the_lock_when_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path(), WAIT).unwrap();
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || acquire(&path, Duration::from_secs(5)).is_ok());
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
        assert!(waiter.join().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_lock_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        // A dangling link: following it would create a file elsewhere (`/etc/nologin`).
        let target = elsewhere.path().join("nologin");
        std::os::unix::fs::symlink(&target, dir.path().join(LOCK_NAME)).unwrap();
        let err = acquire(dir.path(), Duration::ZERO).unwrap_err();
        assert!(err.message().contains(LOCK_NAME), "{err}");
        assert!(!target.exists(), "created through the link");
        // A hard link to someone's file is not our lock file either.
        std::fs::remove_file(dir.path().join(LOCK_NAME)).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "data").unwrap();
        std::fs::hard_link(&victim, dir.path().join(LOCK_NAME)).unwrap();
        assert!(acquire(dir.path(), Duration::ZERO).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "data");
    }
}
