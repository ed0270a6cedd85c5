//! Evidence gaps: every item that timed out, failed or was denied. A `bsradm dump` /
//! `drbdadm dump` that exited non-zero with a message is not a gap: the tool rejected the
//! configuration, and that is reported as CONFIG-INVALID with its first error line.
use super::Raw;
use crate::rules::evidence::Evidence;
use crate::rules::model::Place;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    for (id, code, place) in &evidence.dump_rejections {
        let tool = id.split('-').next().unwrap_or(id);
        out.push(Raw::new(
            "CONFIG-INVALID",
            Some(place.clone()),
            Some(format!(
                "`{tool} dump` exited {code}: {}",
                place.excerpt.as_deref().unwrap_or("")
            )),
        ));
    }
    for item in &evidence.gaps {
        if evidence
            .dump_rejections
            .iter()
            .any(|(id, _, _)| *id == item.id)
        {
            continue;
        }
        let mut detail = format!("{} ({}): {}", item.id, item.source, item.status.as_str());
        if let Some(error) = &item.error {
            detail.push_str(" — ");
            detail.push_str(error);
        }
        let place = item.path.as_deref().map(Place::file);
        out.push(Raw::new("COLLECT-INCOMPLETE", place, Some(detail)));
    }
}
