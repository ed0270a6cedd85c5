//! The replication module must be loaded on a Linux node that is configured to replicate.
use super::Raw;
use crate::rules::evidence::Evidence;
use crate::rules::model::Place;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    if evidence.host.os.eq_ignore_ascii_case("windows") {
        return;
    }
    let Some((path, modules)) = &evidence.lsmod else {
        return;
    };
    // `lsmod` output starts with a `Module Size Used by` header; without it, it is not lsmod.
    let own = evidence
        .resources
        .iter()
        .filter(|r| !evidence.foreign(r))
        .count();
    if !modules.iter().any(|m| m == "Module") || own == 0 {
        return;
    }
    let loaded = modules.iter().any(|m| m == "drbd" || m == "bsr");
    if !loaded && !evidence.proc_module {
        out.push(Raw::new(
            "MODULE-NOT-LOADED",
            Some(Place::file(path)),
            Some(format!(
                "{} resource(s) configured, but lsmod lists neither drbd nor bsr",
                own
            )),
        ));
    }
}
