//! Pattern-rule hits (and the BOM check's first-line hits) become findings as they are.
use super::Raw;
use crate::rules::evidence::Evidence;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    for hit in &evidence.hits {
        out.push(Raw::new(&hit.rule, Some(hit.place.clone()), None));
    }
}
