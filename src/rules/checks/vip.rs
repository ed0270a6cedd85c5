//! DRX on the standby node of a VIP pair binds the VIP the active node holds: DRX runs here while
//! one of this host's proxy addresses is on no local interface.
use super::Raw;
use crate::rules::evidence::Evidence;

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let (Some(running), Some(local_ips)) = (&evidence.drx_running, &evidence.local_ips) else {
        return;
    };
    if local_ips.is_empty() {
        return;
    }
    for node_resource in &evidence.resources {
        let Some(this) = evidence.this_host(node_resource) else {
            continue;
        };
        for (role, endpoint) in evidence.local_endpoints(node_resource, this) {
            if role == "address" {
                continue;
            }
            let ip = endpoint.value.ip;
            if ip.is_loopback() || ip.is_unspecified() || local_ips.contains(&ip) {
                continue;
            }
            out.push(Raw::new(
                "VIP-STANDBY-DRX-RUNNING",
                Some(endpoint.place.clone()),
                Some(format!(
                    "DRX runs ({}:{}) but {ip} ({role} of resource {}) is on no local interface",
                    running.path,
                    running.line.unwrap_or(0),
                    node_resource.resource.name
                )),
            ));
        }
    }
}
