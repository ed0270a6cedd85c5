//! bsradm/drbdadm find this node's part of a resource by host name, compared as the installed
//! tool compares (BSR and DRBD 9: `hostnames_equal`; DRBD 8.4: exactly). When no name matches
//! but one of this node's own addresses is in a section, that section is this node's, named
//! otherwise: the tool will say "not defined for this host". A resource with neither this
//! node's name nor its address belongs to other nodes (shared configurations) and is not ours
//! to judge.
use super::Raw;
use crate::rules::evidence::{host_matches, Evidence, Found};

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let mut named_anywhere = false;
    let mut unplaced = None;
    let mut undecided = false;
    for node_resource in &evidence.resources {
        let resource = &node_resource.resource;
        if resource.host_names().next().is_none() && !resource.has_floating() {
            continue;
        }
        let Some(name) = evidence.match_name(node_resource.flavour) else {
            continue;
        };
        let matching = evidence.matching(node_resource);
        let in_mesh = resource
            .mesh_hosts
            .iter()
            .any(|m| host_matches(matching, m, name));
        match evidence.locate(node_resource) {
            Some((_, Found::Name)) => named_anywhere = true,
            _ if in_mesh => named_anywhere = true,
            Some((section, Found::Address(ip))) => {
                if section.floating || section.names.is_empty() {
                    // `floating` sections are found by address: that is how they work. A
                    // `stacked-on-top-of` section is chosen by its lower resource, which is
                    // judged by its own names.
                    named_anywhere = true;
                    continue;
                }
                let names = section.names.join(" ");
                out.push(Raw::new(
                    "CONFIG-HOSTNAME-MISMATCH",
                    Some(section.place.clone()),
                    Some(format!(
                        "this node's address {ip} is in the section `on {names}` of resource {}, but this node's host name is {name:?} ({})",
                        resource.name,
                        matching.describe()
                    )),
                ));
            }
            // A `floating` section is found by address only: without this node's addresses it
            // may be this node's, and no resource can be said to leave the node out.
            None if resource.has_floating() => undecided = true,
            None => {
                if unplaced.is_none() {
                    unplaced = Some(node_resource);
                }
            }
        }
    }
    // Without the node's addresses a resource cannot be told apart from another cluster's;
    // only when no resource at all names this node is that worth saying, once.
    if evidence.own_ips.is_none() && !named_anywhere && !undecided {
        if let (Some(r), Some(name)) = (
            unplaced,
            unplaced.and_then(|r| evidence.match_name(r.flavour)),
        ) {
            let mut names: Vec<&str> = Vec::new();
            for name in r.resource.host_names() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            out.push(Raw::new(
                "CONFIG-HOSTNAME-MISMATCH",
                Some(r.resource.place.clone()),
                Some(format!(
                    "no resource names this node ({name:?}; resource {} names {}; {}), and its addresses were not collected to tell which section is its own",
                    r.resource.name,
                    names.join(", "),
                    evidence.matching(r).describe()
                )),
            ));
        }
    }
}
