//! The connections the kernel runs with (`bsrsetup show` / `drbdsetup show`) against the
//! resource file, connection by connection and path by path: a loaded path the file does not
//! configure, or a configured one that is not loaded, means the file was changed and not applied
//! (`drbdadm adjust` would `del-path` / `new-path` them).
use super::Raw;
use crate::rules::evidence::{Evidence, NodeResource};
use crate::rules::model::{Endpoint, Place};
use crate::rules::parse::resfile::{hostnames_equal, HostSection, Resource};
use crate::rules::parse::setup_show::{LoadedConnection, LoadedResource};

/// A path the file configures for this node: the peer's section, and the two addresses the
/// kernel is given (this node's, and the peer's or this node's own proxy `inside`).
struct Wanted<'a> {
    peer: &'a HostSection,
    local: Endpoint,
    remote: Endpoint,
    place: Place,
}

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
        let resource = &configured.resource;
        // This node's section as its tool finds it; else the one holding a loaded local address.
        let this = evidence.this_host(configured).or_else(|| {
            let locals: Vec<Endpoint> = loaded
                .connections
                .iter()
                .flat_map(|c| c.paths.iter().map(|p| p.local.value))
                .collect();
            resource.hosts.iter().find(|h| {
                h.address
                    .as_ref()
                    .is_some_and(|a| locals.contains(&a.value))
            })
        });
        match this {
            Some(this) => compare(loaded, resource, this, &wanted_paths(resource, this), out),
            None => unknown_addresses(loaded, resource, out),
        }
    }
}

/// The paths the file gives this node: those of its `connection` blocks that name it, or, with
/// none, one to each other section (two-node 8.4 and BSR files, DRBD 9 implicit meshes).
fn wanted_paths<'a>(resource: &'a Resource, this: &'a HostSection) -> Vec<Wanted<'a>> {
    let mut wanted = Vec::new();
    if resource.connections.is_empty() {
        let Some(local) = &this.address else {
            return wanted;
        };
        for peer in resource.hosts.iter().filter(|h| !std::ptr::eq(*h, this)) {
            let Some(address) = &peer.address else {
                continue;
            };
            // A proxied connection: the kernel's peer is this node's own proxy `inside`
            // (drbdadm passes it as the peer address), not the remote node's address.
            let remote = this.proxy_inside.as_ref().unwrap_or(address);
            wanted.push(Wanted {
                peer,
                local: local.value,
                remote: remote.value,
                place: address.place.clone(),
            });
        }
        return wanted;
    }
    let section = |name: &str| {
        resource
            .hosts
            .iter()
            .find(|h| h.names.iter().any(|n| hostnames_equal(n, name)))
    };
    for connection in &resource.connections {
        for path in &connection.paths {
            let Some(mine) = path
                .iter()
                .find(|h| section(&h.name).is_some_and(|s| std::ptr::eq(s, this)))
            else {
                continue;
            };
            let Some(other) = path.iter().find(|h| !std::ptr::eq(*h, mine)) else {
                continue;
            };
            let Some(peer) = section(&other.name) else {
                continue;
            };
            let local = mine.address.as_ref().or(this.address.as_ref());
            let remote = mine
                .proxy_inside
                .as_ref()
                .or(this.proxy_inside.as_ref())
                .or(other.address.as_ref())
                .or(peer.address.as_ref());
            if let (Some(local), Some(remote)) = (local, remote) {
                wanted.push(Wanted {
                    peer,
                    local: local.value,
                    remote: remote.value,
                    place: mine.place.clone(),
                });
            }
        }
    }
    wanted
}

/// The section a loaded connection goes to: by `_peer_node_id` when the file gives node ids
/// (an id the file lacks is a peer it does not configure, e.g. one left inside `skip {}`), by
/// the peer's name, by a remote address, or, when the kernel names no peer (8.4), the only peer
/// the file configures.
fn peer_of<'a>(
    connection: &LoadedConnection,
    resource: &'a Resource,
    this: &HostSection,
    wanted: &[Wanted<'a>],
) -> Option<&'a HostSection> {
    let others = move || {
        resource
            .hosts
            .iter()
            .filter(move |h| !std::ptr::eq(*h, this))
    };
    if let Some(id) = connection.peer_node_id {
        if others().any(|h| h.node_id.is_some()) {
            return others().find(|h| h.node_id == Some(id));
        }
    }
    if let Some(name) = &connection.peer_name {
        if let Some(h) = others().find(|h| h.names.iter().any(|n| hostnames_equal(n, name))) {
            return Some(h);
        }
    }
    let by_address = others().find(|h| {
        connection.paths.iter().any(|p| {
            h.endpoints()
                .any(|(_, e)| e.value == p.remote.value && !e.value.is_loopback())
        })
    });
    if by_address.is_some() || connection.peer_node_id.is_some() || connection.peer_name.is_some() {
        return by_address;
    }
    match peers(wanted).as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

fn label(section: &HostSection) -> String {
    if let Some(name) = section.names.first() {
        return name.clone();
    }
    match (&section.address, section.node_id) {
        (Some(a), _) => format!("floating {}", a.value),
        (None, Some(id)) => format!("node-id {id}"),
        (None, None) => "a section without a name".to_string(),
    }
}

fn loaded_label(connection: &LoadedConnection) -> String {
    match (&connection.peer_name, connection.peer_node_id) {
        (Some(name), _) => name.clone(),
        (None, Some(id)) => format!("node-id {id}"),
        (None, None) => connection
            .paths
            .first()
            .map_or("the peer".to_string(), |p| p.remote.value.to_string()),
    }
}

fn paths_text<'w, 'a: 'w>(paths: impl Iterator<Item = &'w Wanted<'a>>) -> String {
    paths
        .map(|w| format!("{} -> {}", w.local, w.remote))
        .collect::<Vec<_>>()
        .join(", ")
}

fn compare(
    loaded: &LoadedResource,
    resource: &Resource,
    this: &HostSection,
    wanted: &[Wanted],
    out: &mut Vec<Raw>,
) {
    let file = &resource.place.path;
    let name = &loaded.name;
    let mut peers_loaded: Vec<*const HostSection> = Vec::new();
    for connection in &loaded.connections {
        let peer = peer_of(connection, resource, this, wanted);
        if let Some(peer) = peer {
            peers_loaded.push(peer);
        }
        let for_peer: Vec<&Wanted> = wanted
            .iter()
            .filter(|w| peer.is_some_and(|p| std::ptr::eq(w.peer, p)))
            .collect();
        let is_loaded = |w: &Wanted| {
            connection
                .paths
                .iter()
                .any(|p| p.local.value == w.local && p.remote.value == w.remote)
        };
        let missing: Vec<&Wanted> = for_peer.iter().copied().filter(|w| !is_loaded(w)).collect();
        let mut stray = 0;
        for path in &connection.paths {
            if for_peer
                .iter()
                .any(|w| w.local == path.local.value && w.remote == path.remote.value)
            {
                continue;
            }
            stray += 1;
            let detail = if for_peer.is_empty() {
                let configured: Vec<String> = peers(wanted).into_iter().map(label).collect();
                let has = if configured.is_empty() {
                    "configures no connection for this node".to_string()
                } else {
                    format!("configures connections to {} only", configured.join(", "))
                };
                format!(
                    "resource {name}: the loaded connection to {} ({} -> {}) is not in the resource file ({file}), which {has}",
                    loaded_label(connection),
                    path.local.value,
                    path.remote.value
                )
            } else {
                let expected = if missing.is_empty() {
                    paths_text(for_peer.iter().copied())
                } else {
                    format!(
                        "{}, which is not loaded",
                        paths_text(missing.iter().copied())
                    )
                };
                format!(
                    "resource {name}: the loaded path {} -> {} to {} is not in the resource file ({file}), which configures {expected}",
                    path.local.value,
                    path.remote.value,
                    label(peer.unwrap_or(this))
                )
            };
            out.push(Raw::new(
                "BSR-ADDRESS-MISMATCH",
                Some(path.local.place.clone()),
                Some(detail),
            ));
        }
        if stray == 0 {
            for w in missing {
                out.push(Raw::new(
                    "BSR-ADDRESS-MISMATCH",
                    Some(w.place.clone()),
                    Some(format!(
                        "resource {name}: the configured path {} -> {} to {} ({file}) is not loaded",
                        w.local,
                        w.remote,
                        label(w.peer)
                    )),
                ));
            }
        }
    }
    // A resource the kernel runs without any connection (8.4 disconnected, StandAlone) is not a
    // difference of addresses; one that runs some connections but not all is.
    if loaded.connections.is_empty() {
        return;
    }
    for peer in peers(wanted) {
        if peers_loaded.contains(&(peer as *const _)) {
            continue;
        }
        let paths: Vec<&Wanted> = wanted
            .iter()
            .filter(|w| std::ptr::eq(w.peer, peer))
            .collect();
        out.push(Raw::new(
            "BSR-ADDRESS-MISMATCH",
            Some(paths[0].place.clone()),
            Some(format!(
                "resource {name}: the configured connection to {} ({}, {file}) is not loaded",
                label(peer),
                paths_text(paths.iter().copied())
            )),
        ));
    }
}

/// The peers of the wanted paths, each once, in order.
fn peers<'a>(wanted: &[Wanted<'a>]) -> Vec<&'a HostSection> {
    let mut out: Vec<&HostSection> = Vec::new();
    for w in wanted {
        if !out.iter().any(|p| std::ptr::eq(*p, w.peer)) {
            out.push(w.peer);
        }
    }
    out
}

/// This node's section is unknown (neither its name nor a loaded address is in the file): a
/// loaded address no section of the file has is still a difference.
fn unknown_addresses(loaded: &LoadedResource, resource: &Resource, out: &mut Vec<Raw>) {
    let known: Vec<Endpoint> = resource
        .hosts
        .iter()
        .flat_map(|h| h.endpoints().map(|(_, e)| e.value))
        .collect();
    if known.is_empty() {
        return;
    }
    let list: Vec<String> = known.iter().map(|e| e.to_string()).collect();
    for connection in &loaded.connections {
        for path in &connection.paths {
            for (side, found) in [("local", &path.local), ("peer", &path.remote)] {
                if known.contains(&found.value) {
                    continue;
                }
                out.push(Raw::new(
                    "BSR-ADDRESS-MISMATCH",
                    Some(found.place.clone()),
                    Some(format!(
                        "resource {}: loaded {side} address {} but the resource file ({}) says {}",
                        loaded.name,
                        found.value,
                        resource.place.path,
                        list.join(", ")
                    )),
                ));
            }
        }
    }
}
