//! Firewall coverage, reasoned rather than grepped: for each port the peer must reach on this
//! host (a resource's non-loopback `address`, a DRX proxy `outside`), ask every active firewall
//! whether a new TCP connection from the peer would be accepted. No active firewall → silence.
use std::collections::BTreeSet;
use std::net::IpAddr;

use super::Raw;
use crate::rules::evidence::Evidence;
use crate::rules::model::{Endpoint, Place};
use crate::rules::parse::{firewalld, iptables, netsh};

/// A port the peer connects to, and from where.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub endpoint: Endpoint,
    pub sources: Vec<IpAddr>,
    pub what: String,
    pub place: Place,
}

/// The inbound ports this node's own configuration implies.
pub fn inbound_ports(evidence: &Evidence) -> Vec<Inbound> {
    let mut ports = Vec::new();
    for node_resource in &evidence.resources {
        let Some(this) = evidence.this_host(node_resource) else {
            continue;
        };
        let peers: Vec<_> = node_resource
            .resource
            .hosts
            .iter()
            .filter(|h| !std::ptr::eq(*h, this))
            .collect();
        let name = &node_resource.resource.name;
        if let Some(address) = &this.address {
            let sources = peers
                .iter()
                .filter_map(|h| h.address.as_ref().map(|a| a.value.ip))
                .collect();
            ports.push(Inbound {
                endpoint: address.value,
                sources,
                what: format!("address of resource {name}"),
                place: address.place.clone(),
            });
        }
        let proxy_here = evidence
            .local_endpoints(node_resource, this)
            .iter()
            .any(|(role, _)| *role == "proxy outside");
        if let Some(outside) = this.proxy_outside.as_ref().filter(|_| proxy_here) {
            let sources = peers
                .iter()
                .filter_map(|h| h.proxy_outside.as_ref().map(|a| a.value.ip))
                .collect();
            ports.push(Inbound {
                endpoint: outside.value,
                sources,
                what: format!("DRX proxy outside of resource {name}"),
                place: outside.place.clone(),
            });
        }
    }
    ports.retain(|p| !p.endpoint.is_loopback());
    ports
}

/// Each active firewall that would refuse the connection: (firewall, deciding place, reason).
pub fn refusals(evidence: &Evidence, inbound: &Inbound) -> Vec<(String, Option<Place>)> {
    let mut refused = Vec::new();
    let port = inbound.endpoint.port;
    let sources: Vec<Option<IpAddr>> = if inbound.sources.is_empty() {
        vec![None]
    } else {
        inbound.sources.iter().copied().map(Some).collect()
    };
    if let Some(rules) = evidence.iptables.as_ref().filter(|r| r.is_active()) {
        for source in &sources {
            let packet = iptables::Packet {
                dport: port,
                destination: inbound.endpoint.ip,
                source: *source,
            };
            let (accepted, place) = rules.verdict(&packet);
            if !accepted {
                let from = source.map(|s| format!(" from {s}")).unwrap_or_default();
                refused.push((format!("iptables drops tcp/{port}{from}"), place));
                break;
            }
        }
    }
    if let Some(fw) = &evidence.firewalld {
        for (view, zones) in [
            ("runtime", &fw.runtime),
            ("permanent", &fw.permanent),
            (
                "permanent zone files; firewalld was not running when collected and applies them when it starts",
                &fw.zone_files,
            ),
        ] {
            let Some((path, zones)) = zones else {
                continue;
            };
            if sources
                .iter()
                .any(|s| !firewalld::accepts(zones, &fw.services, port, *s))
            {
                refused.push((
                    format!("firewalld ({view}) does not open tcp/{port}"),
                    Some(Place::file(path)),
                ));
            }
        }
    }
    if let Some(windows) = &evidence.windows_firewall {
        let (considered, note) = windows.considered();
        let filtering = windows.filtering(considered);
        // No profile in use filters inbound connections, or without the rule list: silence.
        if let (Some(first), Some((path, rules))) = (filtering.first(), &windows.rules) {
            let mask = filtering
                .iter()
                .filter_map(|p| p.mask)
                .fold(0, |a, m| a | m);
            let always = filtering.iter().find(|p| p.block_always).map(|p| &p.place);
            for source in &sources {
                let decision = netsh::decide(rules, port, *source, mask, always);
                if decision.allowed {
                    continue;
                }
                let from = source.map(|s| format!(" from {s}")).unwrap_or_default();
                let mut reason = format!(
                    "Windows Firewall refuses tcp/{port}{from}: {} ({path})",
                    decision.reason
                );
                let notes: Vec<String> = note.iter().cloned().chain(decision.notes).collect();
                if !notes.is_empty() {
                    reason.push_str("; could not be decided: ");
                    reason.push_str(&notes.join("; "));
                }
                refused.push((
                    reason,
                    Some(decision.by.unwrap_or_else(|| first.place.clone())),
                ));
                break;
            }
        }
    }
    refused
}

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let mut reported: BTreeSet<(Endpoint, String)> = BTreeSet::new();
    for inbound in inbound_ports(evidence) {
        for (reason, decided_by) in refusals(evidence, &inbound) {
            if !reported.insert((inbound.endpoint, reason.clone())) {
                continue;
            }
            let decided = decided_by
                .as_ref()
                .map(|p| match p.line {
                    Some(line) => format!(" (decided by {}:{line})", p.path),
                    None => format!(" ({})", p.path),
                })
                .unwrap_or_default();
            out.push(Raw::new(
                "FIREWALL-PORT-BLOCKED",
                Some(
                    decided_by
                        .clone()
                        .filter(|p| p.line.is_some())
                        .unwrap_or_else(|| inbound.place.clone()),
                ),
                Some(format!(
                    "{} ({}): {reason}{decided}",
                    inbound.endpoint, inbound.what
                )),
            ));
        }
    }
}
