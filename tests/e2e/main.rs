//! End-to-end tests: the real binary against fixture sysroots (`--root`) with stand-in commands
//! first on PATH, checked with the real tools users have (tar, sha256sum, unzip).
#[cfg(feature = "cases")]
mod cases;
mod collect;
mod diagnose;
mod diff;
mod html;
mod inspect;
mod privacy;
mod schedule;
mod split;
mod util;
mod windows;
