//! bsradm/drbdadm find this node's part of a resource by host name: a resource none of whose
//! `on` sections names this host is "not defined for this host".
use super::Raw;
use crate::rules::evidence::Evidence;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    for node_resource in &evidence.resources {
        let resource = &node_resource.resource;
        // `floating` sections are matched by address, not by name.
        if resource.has_floating() || resource.host_names().next().is_none() {
            continue;
        }
        let Some(name) = evidence.match_name(node_resource.flavour) else {
            continue;
        };
        let in_mesh = resource
            .mesh_hosts
            .iter()
            .any(|m| crate::rules::evidence::host_matches(node_resource.flavour, m, name));
        if evidence.this_host(node_resource).is_none() && !in_mesh {
            let names: Vec<&str> = resource.host_names().collect();
            out.push(Raw::new(
                "CONFIG-HOSTNAME-MISMATCH",
                Some(resource.place.clone()),
                Some(format!(
                    "host name {name:?} is not among the hosts of resource {} ({})",
                    resource.name,
                    names.join(", ")
                )),
            ));
        }
    }
}
