//! Feeds arbitrary bytes to the DRBD/BSR configuration parser (resource files and the shared
//! `bsrsetup show` syntax), and through the whole rule pipeline as a resource file, a dump and a
//! `drbdsetup show` of one bundle. Anything but a panic, an abort or unbounded work is a pass.
#![no_main]

use drx_collect::rules::parse::{resfile, setup_show};
use drx_collect::rules::{Catalogue, Facts, Scan};
use drx_collect::lang::Lang;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = resfile::parse("files/etc/drbd.d/fuzz.res", data);
    // Parsing is capped: no more resources than bytes allow.
    assert!(file.resources.len() <= data.len().min(resfile::MAX_PARSE_BYTES));
    let _ = setup_show::parse("commands/drbdsetup-show.txt", data);

    let Ok(catalogue) = Catalogue::embedded() else {
        return;
    };
    let mut scan = Scan::new(&catalogue);
    for path in [
        "files/etc/drbd.conf",
        "files/etc/drbd.d/fuzz.res",
        "commands/drbdadm-dump.txt",
        "commands/drbdsetup-show.txt",
    ] {
        scan.add_file(path, data);
    }
    let evidence = scan.finish(&Facts::default());
    let _ = evidence.findings(Lang::En);
});
