//! Feeds arbitrary split sets to the split-set reader: the part-count logic on its own, then real
//! files (a listing `b.tgz.sha256`, numbered parts, strays) read through `BundleReader::open` and
//! verified. Anything but a panic, an abort (an allocation sized by a count) or a hang is a pass.
//!
//! Input: byte 0 = flags, then length-prefixed segments (u16 little-endian length, bytes):
//! segment 0 is the listing, segment 1 the number of a stray part (ASCII digits), the rest are
//! the parts' contents in order. Flags: 1 write the listing, 2 give the joined name `b.tgz`
//! instead of `b.tgz.001`, 4 leave part 2 out, 8 read in the background.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use drx_collect::archive::reader::{BundleReader, Limits};
use drx_collect::archive::split_set;
use drx_collect::inspect::verify;
use libfuzzer_sys::fuzz_target;

fn segments(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < 64 {
        let len = u16::from_le_bytes([data[0], data[1]]) as usize;
        let rest = &data[2..];
        let len = len.min(rest.len());
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    out
}

/// A fresh scratch directory per input, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("drx-fuzz-split-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let segs = segments(rest);
    let listing = segs.first().map(|s| String::from_utf8_lossy(s).into_owned());
    let stray = segs
        .get(1)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .filter(|s| !s.is_empty() && s.len() < 40 && !s.contains(['/', '\0']));
    let parts: Vec<&[u8]> = segs.iter().skip(2).copied().collect();

    // The pure logic, with names straight from the input.
    let mut names: Vec<(String, bool)> = (1..=parts.len())
        .filter(|&n| !(flags & 4 != 0 && n == 2))
        .map(|n| (format!("b.tgz.{n:03}"), true))
        .collect();
    if let Some(stray) = &stray {
        names.push((format!("b.tgz.{stray}"), flags & 16 == 0));
    }
    let _ = split_set::resolve("b.tgz", &names, listing.as_deref(), Path::new("."));

    // The same set on disk, through the real opening path.
    let scratch = Scratch::new();
    let dir = &scratch.0;
    if flags & 1 != 0 {
        if let Some(listing) = &listing {
            let _ = std::fs::write(dir.join("b.tgz.sha256"), listing);
        }
    }
    if let Some(stray) = &stray {
        let _ = std::fs::write(dir.join(format!("b.tgz.{stray}")), b"stray");
    }
    for (i, part) in parts.iter().enumerate() {
        if flags & 4 != 0 && i == 1 {
            continue;
        }
        let _ = std::fs::write(dir.join(format!("b.tgz.{:03}", i + 1)), part);
    }
    let given = if flags & 2 != 0 {
        dir.join("b.tgz")
    } else {
        dir.join("b.tgz.001")
    };
    let Ok(mut reader) = BundleReader::open(&given) else {
        return;
    };
    reader.set_limits(Limits {
        max_total_bytes: 4 << 20,
        max_entry_bytes: 1 << 20,
        max_entries: 10_000,
        ..Limits::default()
    });
    reader.set_background(flags & 8 != 0);
    let _ = verify::verify(&mut reader, &mut |_, _| Ok(()));
});
