//! Evidence gaps: every item that timed out, failed or was denied.
use super::Raw;
use crate::rules::evidence::Evidence;
use crate::rules::model::Place;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    for item in &evidence.gaps {
        let mut detail = format!("{} ({}): {}", item.id, item.source, item.status.as_str());
        if let Some(error) = &item.error {
            detail.push_str(" — ");
            detail.push_str(error);
        }
        let place = item.path.as_deref().map(Place::file);
        out.push(Raw::new("COLLECT-INCOMPLETE", place, Some(detail)));
    }
}
