//! Free-space check before a run: a support bundle must never be what fills a node's disk (a full
//! /var stops replication metadata and logs). The estimate is rough on purpose; the margin does
//! the real work.
use crate::error::{Error, Result};
use std::path::Path;

/// Always left free, whatever the estimate says.
pub const MARGIN: u64 = 64 << 20;

/// Bytes available to us (not root's reserve) on the file system holding `dir`; `None` when the
/// platform cannot say, and then no check is made.
pub fn available(dir: &Path) -> Option<u64> {
    crate::platform::available_space(dir)
}

/// A rough size of the bundle: the files as capped by `--max-file-size`, compressed about 4:1
/// (text logs do better, binary files worse), and a little per command.
pub fn estimate(sources: &[super::plan::Source], max_file_size: u64) -> u64 {
    let mut raw = 0u64;
    for source in sources {
        raw = raw.saturating_add(match source {
            super::plan::Source::File(file) => std::fs::metadata(&file.fs_path)
                .map(|m| m.len().min(max_file_size))
                .unwrap_or(0),
            super::plan::Source::Command(_) => 64 << 10,
            super::plan::Source::Absent { .. } => 0,
        });
    }
    raw / 4
}

/// Refuses to start when less than the estimate plus [`MARGIN`] is free.
pub fn check(dir: &Path, estimate: u64, available: Option<u64>) -> Result<()> {
    let Some(free) = available else {
        return Ok(());
    };
    let needed = estimate.saturating_add(MARGIN);
    if free < needed {
        return Err(Error::failed(format!(
            "only {} is free in {}, and this bundle needs about {} plus a {} margin; free some space there or choose another place with --output",
            crate::units::human_size(free),
            dir.display(),
            crate::units::human_size(estimate),
            crate::units::human_size(MARGIN)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_the_margin_and_names_the_directory() {
        let dir = Path::new("/var/snap");
        assert!(check(dir, 10 << 20, Some(1 << 30)).is_ok());
        let err = check(dir, 10 << 20, Some(70 << 20)).unwrap_err();
        assert!(err.message().contains("/var/snap"), "{err}");
        assert!(err.message().contains("free some space"), "{err}");
        assert!(check(dir, 0, Some(MARGIN - 1)).is_err());
        assert!(
            check(dir, u64::MAX, None).is_ok(),
            "unknown free space is not an error"
        );
    }

    #[test]
    fn reads_the_free_space_of_a_real_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(available(dir.path()).is_some_and(|n| n > 0));
        assert!(available(&dir.path().join("missing")).is_none());
    }
}
