//! Socket states against the configuration: connections stuck in SYN_SENT towards a replication
//! port, and local replication endpoints that nothing listens on.
use std::collections::BTreeSet;

use super::Raw;
use crate::rules::evidence::Evidence;
use crate::rules::model::Endpoint;
use crate::rules::parse::sockets::TcpState;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let Some(sockets) = &evidence.sockets else {
        return;
    };
    // Every port any resource uses, on any host (the SYN may go to the peer or to local DRX).
    let replication_ports: BTreeSet<u16> = evidence
        .resources
        .iter()
        .flat_map(|r| r.resource.hosts.iter())
        .flat_map(|h| h.endpoints().map(|(_, e)| e.value.port))
        .collect();
    let mut seen: BTreeSet<Endpoint> = BTreeSet::new();
    for socket in sockets {
        let Some(remote) = socket.remote else {
            continue;
        };
        if socket.state == TcpState::SynSent
            && replication_ports.contains(&remote.port)
            && seen.insert(remote)
        {
            out.push(Raw::new(
                "NET-SYN-SENT",
                Some(socket.place.clone()),
                Some(format!("SYN_SENT from {} to {remote}", socket.local)),
            ));
        }
    }

    let drx_runs = evidence.drx_running.is_some();
    for node_resource in &evidence.resources {
        let Some(this) = evidence.this_host(node_resource) else {
            continue;
        };
        let peers: Vec<Endpoint> = node_resource
            .resource
            .hosts
            .iter()
            .filter(|h| !std::ptr::eq(*h, this))
            .flat_map(|h| h.endpoints().map(|(_, e)| e.value))
            .collect();
        for (role, endpoint) in evidence.local_endpoints(node_resource, this) {
            if role != "address" && !drx_runs {
                continue;
            }
            let target = endpoint.value;
            // An address this host does not hold is a different problem (VIP rule), not ours.
            if let Some(ips) = &evidence.local_ips {
                if !target.is_unspecified() && !ips.contains(&target.ip) {
                    continue;
                }
            }
            let in_use = sockets.iter().any(|s| {
                (s.is_live() && s.local.covers(&target))
                    || (s.state == TcpState::Established
                        && s.remote.is_some_and(|r| peers.contains(&r)))
            });
            if !in_use {
                out.push(Raw::new(
                    "NET-NOT-LISTENING",
                    Some(endpoint.place.clone()),
                    Some(format!(
                        "{target} ({role} of resource {}) is neither listening nor connected",
                        node_resource.resource.name
                    )),
                ));
            }
        }
    }
}
