//! The addresses the kernel runs with (`bsrsetup show` / `drbdsetup show`) against the resource
//! file: a difference means the file was changed and not applied (or the other way round).
use super::Raw;
use crate::rules::evidence::{Evidence, NodeResource};
use crate::rules::model::{Endpoint, Located};

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let by_name: std::collections::HashMap<&str, &NodeResource> = evidence
        .resources
        .iter()
        .map(|r| (r.resource.name.as_str(), r))
        .collect();
    for loaded in &evidence.loaded {
        let Some(configured) = by_name.get(loaded.name.as_str()).copied() else {
            continue;
        };
        let this = evidence.this_host(configured);
        let all: Vec<Endpoint> = addresses(configured, |_| true);
        let (local, remote): (Vec<Endpoint>, Vec<Endpoint>) = match this {
            Some(this) => {
                let mine = this.address.as_ref().map(|a| a.value);
                // A proxied connection: the kernel's peer is this node's own proxy `inside`
                // (drbdadm passes it as the peer address), not the remote node's address.
                let remote = match &this.proxy_inside {
                    Some(inside) => vec![inside.value],
                    None => addresses(configured, |h| !std::ptr::eq(h, this)),
                };
                (mine.into_iter().collect(), remote)
            }
            None => (all.clone(), all.clone()),
        };
        let mut report = |side: &str, found: &Located<Endpoint>, expected: &[Endpoint]| {
            if expected.is_empty() || expected.contains(&found.value) {
                return;
            }
            let list: Vec<String> = expected.iter().map(|e| e.to_string()).collect();
            out.push(Raw::new(
                "BSR-ADDRESS-MISMATCH",
                Some(found.place.clone()),
                Some(format!(
                    "resource {}: loaded {side} address {} but the resource file ({}) says {}",
                    loaded.name,
                    found.value,
                    configured.resource.place.path,
                    list.join(", ")
                )),
            ));
        };
        for found in &loaded.this_host {
            report("local", found, &local);
        }
        for found in &loaded.remote_host {
            report("peer", found, &remote);
        }
    }
}

fn addresses(
    resource: &NodeResource,
    keep: impl Fn(&crate::rules::parse::resfile::HostSection) -> bool,
) -> Vec<Endpoint> {
    resource
        .resource
        .hosts
        .iter()
        .filter(|h| keep(h))
        .filter_map(|h| h.address.as_ref().map(|a| a.value))
        .collect()
}
