//! End-to-end tests: the real binary against fixture sysroots (`--root`) with stand-in commands
//! first on PATH, checked with the real tools users have (tar, sha256sum, unzip).
mod collect;
mod util;
mod windows;
