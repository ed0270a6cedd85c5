//! Feeds arbitrary bytes to the bundle reader, the integrity verification (which parses
//! index.json and SHA256SUMS from inside the archive) and the index parser directly.
//! Anything but a panic, an abort or unbounded memory is a pass.
#![no_main]

use drx_collect::archive::reader::{BundleReader, Limits};
use drx_collect::index::Index;
use drx_collect::inspect::{extract, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Index>(data);

    let Ok(mut reader) = BundleReader::from_bytes(data.to_vec()) else {
        return;
    };
    // Small limits keep each run fast; the limit logic is the same at any size.
    reader.set_limits(Limits {
        max_total_bytes: 4 << 20,
        max_entry_bytes: 1 << 20,
        max_entries: 10_000,
        ..Limits::default()
    });
    // Both the inline and the threaded pipeline, chosen by the input so runs are reproducible.
    reader.set_background(data.len() % 2 == 1);
    let _ = verify::verify(&mut reader, &mut |_, content| {
        let mut head = [0u8; 100];
        let _ = content.read(&mut head);
        Ok(())
    });
    let _ = extract::list(&mut reader);
    // --cat verifies the whole bundle and holds the member back: same bounds.
    let _ = extract::cat(&mut reader, "files/etc/hosts", &mut std::io::sink());
});
