//! One host must not use an address:port twice across resources. Compared per host name (each
//! `on` section's host), so the same port on the two nodes of a pair is fine. BSR's parser does
//! not catch this; the kernel later fails with "address already in use".
use std::collections::BTreeMap;

use super::Raw;
use crate::rules::evidence::{Evidence, Matching};
use crate::rules::model::{Endpoint, Place};

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    // (host key, endpoint) → first use (resource, role, place).
    let mut first_use: BTreeMap<(String, Endpoint), (String, &'static str, Place)> =
        BTreeMap::new();
    for node_resource in &evidence.resources {
        let resource = &node_resource.resource;
        for host in &resource.hosts {
            let key = match &host.stacked_on {
                Some(lower) => format!("stacked-on-top-of {lower}"),
                None => host_key(
                    evidence.matching(node_resource),
                    host.names.first().map(String::as_str),
                ),
            };
            for (role, endpoint) in host.endpoints() {
                let slot = (key.clone(), endpoint.value);
                match first_use.get(&slot) {
                    Some((other, other_role, other_place)) if *other != resource.name => {
                        out.push(Raw::new(
                            "CONFIG-DUPLICATE-PORT",
                            Some(endpoint.place.clone()),
                            Some(format!(
                                "{} is the {role} of resource {} and the {other_role} of resource {other} ({}:{})",
                                endpoint.value,
                                resource.name,
                                other_place.path,
                                other_place.line.unwrap_or(0)
                            )),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        first_use
                            .insert(slot, (resource.name.clone(), role, endpoint.place.clone()));
                    }
                }
            }
        }
    }
}

/// How the engine would tell hosts apart: BSR and DRBD 9 ignore case and domain.
fn host_key(matching: Matching, name: Option<&str>) -> String {
    let name = name.unwrap_or("");
    match matching {
        Matching::Exact => name.to_string(),
        _ => name
            .to_lowercase()
            .split('.')
            .next()
            .unwrap_or("")
            .to_string(),
    }
}
