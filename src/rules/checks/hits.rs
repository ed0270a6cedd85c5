//! Pattern-rule hits (and the BOM check's first-line hits) become findings as they are.
use super::Raw;
use crate::rules::evidence::Evidence;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    for hit in &evidence.hits {
        // A rejected dump's stderr is reported once, by code, with its exit code and first line.
        let reported = hit.rule == "CONFIG-INVALID"
            && evidence
                .dump_rejections
                .iter()
                .any(|(_, _, place)| place.path == hit.place.path);
        if !reported {
            out.push(Raw::new(&hit.rule, Some(hit.place.clone()), None));
        }
    }
}
