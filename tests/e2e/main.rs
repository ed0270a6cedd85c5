//! End-to-end tests: the real binary against fixture sysroots (`--root`) with stand-in commands
//! first on PATH, checked with the real tools users have (tar, sha256sum, unzip).
mod case;
mod case_file;
#[cfg(feature = "cases")]
mod cases;
mod collect;
mod diagnose;
mod diff;
mod gi;
mod hostile_files;
mod hostile_privacy;
mod hostile_reader;
mod html;
mod inspect;
mod journal;
mod peer;
mod privacy;
mod realworld;
mod schedule;
mod sealed;
mod shell;
mod split;
mod util;
mod watch;
mod windows;
