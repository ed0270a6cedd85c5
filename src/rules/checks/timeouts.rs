//! Start-up and keep-alive timeouts: `wfc-timeout` must be set in a `startup {}` section, and the
//! effective `ping-timeout` must be at least 30 (3 s). Unset ping-timeout is 5 on DRBD 8.4 but
//! already 30 on BSR (bsr_limits.h), so an unset value fires only for DRBD.
use super::Raw;
use crate::rules::evidence::{Evidence, Flavour};

const MIN_PING_TIMEOUT: u32 = 30;
const DRBD_DEFAULT_PING_TIMEOUT: u32 = 5;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let misplaced = evidence
        .config_files
        .iter()
        .find_map(|f| f.wfc_in_global.clone());
    for node_resource in &evidence.resources {
        let resource = &node_resource.resource;
        if evidence.foreign(node_resource) {
            continue;
        }
        if !resource.startup.iter().any(|s| s.key == "wfc-timeout") {
            let (place, detail) = match &misplaced {
                Some(place) => (
                    place.clone(),
                    format!(
                        "resource {}: wfc-timeout is in global {{}}, where it does not apply",
                        resource.name
                    ),
                ),
                None => (
                    resource.place.clone(),
                    format!(
                        "resource {} has no startup {{ wfc-timeout }}",
                        resource.name
                    ),
                ),
            };
            out.push(Raw::new(
                "CONFIG-WFC-TIMEOUT-MISSING",
                Some(place),
                Some(detail),
            ));
        }

        match resource.net.iter().find(|s| s.key == "ping-timeout") {
            Some(setting) => {
                if let Ok(value) = setting.value.parse::<u32>() {
                    if value < MIN_PING_TIMEOUT {
                        out.push(Raw::new(
                            "CONFIG-PING-TIMEOUT",
                            Some(setting.place.clone()),
                            Some(format!(
                                "resource {}: ping-timeout {value} ({} ms) < {MIN_PING_TIMEOUT}",
                                resource.name,
                                value * 100
                            )),
                        ));
                    }
                }
            }
            None if node_resource.flavour == Flavour::Drbd => out.push(Raw::new(
                "CONFIG-PING-TIMEOUT",
                Some(resource.place.clone()),
                Some(format!(
                    "resource {}: ping-timeout unset, DRBD default {DRBD_DEFAULT_PING_TIMEOUT} (500 ms)",
                    resource.name
                )),
            )),
            None => {}
        }
    }
}
