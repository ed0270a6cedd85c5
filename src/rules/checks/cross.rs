//! Rules over the two bundles of a pair: DRX versions, and each side's resource files against the
//! other side (host names, addresses, and the peer ports the other side's firewall must allow).
use super::firewall::{inbound_ports, refusals, Inbound};
use super::Raw;
use crate::index::{sort_findings, Finding};
use crate::lang::Lang;
use crate::rules::evidence::{host_matches, to_findings, Evidence};

/// Cross-node findings for the nodes of a pair; `node` labels go into `Finding.node`.
pub fn cross_node(nodes: &[(&str, &Evidence)], lang: Lang) -> Vec<Finding> {
    let Some((_, first)) = nodes.first() else {
        return Vec::new();
    };
    let mut raws = Vec::new();
    for (i, (label_a, a)) in nodes.iter().enumerate() {
        for (j, (label_b, b)) in nodes.iter().enumerate() {
            if i == j {
                continue;
            }
            if i < j {
                drx_versions(label_a, a, label_b, b, &mut raws);
            }
            // b's files judged against a's reality.
            files_against_peer(label_a, a, label_b, b, &mut raws);
            // a's probes towards b, explained by b's own state.
            probes_against_peer(label_a, a, label_b, b, &mut raws);
        }
    }
    super::debug_assert_declared("cross", &raws);
    // Generation identifiers: each resource compared once, the first node as "self".
    let mut gi_raws = Vec::new();
    for (i, (label_a, a)) in nodes.iter().enumerate() {
        for (label_b, b) in nodes.iter().skip(i + 1) {
            super::gi::pair(label_a, a, label_b, b, lang, &mut gi_raws);
        }
    }
    super::debug_assert_declared("gi", &gi_raws);
    raws.extend(gi_raws);
    let mut findings = to_findings(&first.catalogue, raws, lang);
    sort_findings(&mut findings);
    findings
}

/// A TCP probe from `a` that failed towards an address `b` holds: `b`'s firewall refusing `a` is
/// named as the cause (FIREWALL-PORT-BLOCKED on `b`); a port `b` listens on and admits `a` to
/// means the network between them drops it (NET-PEER-TIMEOUT / -REFUSED on `a`, with that
/// detail). A port nothing listens on is `b`'s own NET-NOT-LISTENING.
fn probes_against_peer(
    label_a: &str,
    a: &Evidence,
    label_b: &str,
    b: &Evidence,
    out: &mut Vec<Raw>,
) {
    use crate::probe::{Outcome, Role};
    let Some((path, results)) = &a.probes else {
        return;
    };
    let Some(b_ips) = &b.own_ips else {
        return;
    };
    // a's side of the connection: its own replication addresses (the probes' `local` pings).
    let sources: Vec<std::net::IpAddr> = results
        .iter()
        .filter(|r| r.kind == "ping" && r.role == Role::Local)
        .filter_map(|r| r.target.parse().ok())
        .collect();
    for (i, result) in results.iter().enumerate() {
        if result.kind != "tcp"
            || !matches!(
                result.outcome,
                Outcome::Refused | Outcome::TimedOut | Outcome::Unreachable
            )
        {
            continue;
        }
        let Ok(target) = result.target.parse::<std::net::SocketAddr>() else {
            continue;
        };
        if !b_ips.contains(&target.ip()) {
            continue;
        }
        let endpoint = crate::rules::model::Endpoint {
            ip: target.ip(),
            port: target.port(),
        };
        let place = crate::rules::model::Place::new(path, i as u64 + 3, &result.target);
        let inbound = Inbound {
            endpoint,
            sources: sources.clone(),
            what: format!("{} ({label_a}'s probe)", result.why),
            place: place.clone(),
        };
        let refused = refusals(b, &inbound);
        if let Some((how, b_place)) = refused.into_iter().next() {
            let mut raw = Raw::new(
                "FIREWALL-PORT-BLOCKED",
                b_place,
                Some(format!(
                    "{label_b}'s firewall {how}: this is why {label_a}'s TCP probe to {} came back {}",
                    result.target,
                    result.outcome.as_str()
                )),
            );
            raw.node = Some(label_b.to_string());
            out.push(raw);
            continue;
        }
        let listening = b.sockets.as_ref().is_some_and(|sockets| {
            sockets.iter().any(|s| {
                s.state == crate::rules::parse::sockets::TcpState::Listen
                    && s.local.covers(&endpoint)
            })
        });
        if listening {
            let rule = if result.outcome == Outcome::Refused {
                "NET-PEER-REFUSED"
            } else {
                "NET-PEER-TIMEOUT"
            };
            let mut raw = Raw::new(
                rule,
                Some(place),
                Some(format!(
                    "{} listens on {label_b} and {label_b}'s firewall admits {label_a}, yet {label_a}'s TCP probe came back {}: the network between the two nodes drops it",
                    result.target,
                    result.outcome.as_str()
                )),
            );
            raw.node = Some(label_a.to_string());
            out.push(raw);
        }
    }
}

fn drx_versions(label_a: &str, a: &Evidence, label_b: &str, b: &Evidence, out: &mut Vec<Raw>) {
    if let (Some(va), Some(vb)) = (&a.drx_version, &b.drx_version) {
        // Compared as versions: 2.4.1 is 2.4.1.0.
        if va.value != vb.value {
            let from =
                |v: &crate::rules::model::Located<crate::rules::model::Version>| match v.place.line
                {
                    Some(line) => format!("{}:{line}", v.place.path),
                    None => v.place.path.clone(),
                };
            out.push(Raw::new(
                "VERSION-DRX-MISMATCH",
                None,
                Some(format!(
                    "DRX {} on {label_a} ({}), {} on {label_b} ({})",
                    va.value,
                    from(va),
                    vb.value,
                    from(vb)
                )),
            ));
        }
    }
}

fn files_against_peer(
    label_a: &str,
    a: &Evidence,
    label_b: &str,
    b: &Evidence,
    out: &mut Vec<Raw>,
) {
    let a_inbound = inbound_ports(a);
    // By name, so that many resources stay near-linear.
    let a_by_name: std::collections::HashMap<&str, &crate::rules::evidence::NodeResource> = a
        .resources
        .iter()
        .map(|r| (r.resource.name.as_str(), r))
        .collect();
    for b_res in &b.resources {
        let Some(a_res) = a_by_name.get(b_res.resource.name.as_str()).copied() else {
            continue;
        };
        let name = &b_res.resource.name;
        let Some(a_host) = a.match_name(a_res.flavour) else {
            continue;
        };
        // Which section of b's file describes a?
        let section = b_res.resource.hosts.iter().find(|h| {
            h.names
                .iter()
                .any(|n| host_matches(b.matching(b_res), n, a_host))
        });
        // Not by name: by a's own addresses, the way a's section is recognised on a itself.
        let by_address = || {
            let own = a.own_ips.as_ref()?;
            b_res.resource.hosts.iter().find(|h| {
                h.endpoints()
                    .any(|(_, e)| !e.value.is_loopback() && own.contains(&e.value.ip))
            })
        };
        let section = match section {
            Some(s) => Some(s),
            None => {
                let found = by_address();
                if let Some(found) = found.filter(|h| !h.floating && !h.names.is_empty()) {
                    let mut raw = Raw::new(
                        "CONFIG-HOSTNAME-MISMATCH",
                        Some(found.place.clone()),
                        Some(format!(
                            "resource {name} on {label_b}: {label_a}'s address is in the section `on {}`, but {label_a}'s host name is {a_host:?} ({})",
                            found.names.join(" "),
                            b.matching(b_res).describe()
                        )),
                    );
                    raw.node = Some(label_b.to_string());
                    out.push(raw);
                }
                found
            }
        };
        let Some(section) = section else {
            // Only a resource that a itself runs can be misnamed in b's file.
            if a.this_host(a_res).is_some()
                && !b_res.resource.has_floating()
                && b_res.resource.host_names().next().is_some()
            {
                let names: Vec<&str> = b_res.resource.host_names().collect();
                let mut raw = Raw::new(
                    "CONFIG-HOSTNAME-MISMATCH",
                    Some(b_res.resource.place.clone()),
                    Some(format!(
                        "resource {name} on {label_b} names hosts {}, but {label_a}'s host name is {a_host:?}",
                        names.join(", ")
                    )),
                );
                raw.node = Some(label_b.to_string());
                out.push(raw);
            }
            continue;
        };
        // a's own view of itself.
        let Some(a_self) = a.this_host(a_res) else {
            continue;
        };
        let pairs = [
            ("address", &section.address, &a_self.address),
            ("proxy inside", &section.proxy_inside, &a_self.proxy_inside),
            (
                "proxy outside",
                &section.proxy_outside,
                &a_self.proxy_outside,
            ),
        ];
        for (role, theirs, ours) in pairs {
            if let (Some(theirs), Some(ours)) = (theirs, ours) {
                if theirs.value != ours.value {
                    let mut raw = Raw::new(
                        "CONFIG-PEER-MISMATCH",
                        Some(theirs.place.clone()),
                        Some(format!(
                            "resource {name}: {label_b} expects {role} {} for {a_host}, but {label_a} configures {} ({}:{})",
                            theirs.value,
                            ours.value,
                            ours.place.path,
                            ours.place.line.unwrap_or(0)
                        )),
                    );
                    raw.node = Some(label_b.to_string());
                    out.push(raw);
                }
            }
        }
        // Ports b will connect to on a that a's own files do not name: a's own check missed them.
        for (role, expected) in [
            ("address", &section.address),
            ("proxy outside", &section.proxy_outside),
        ] {
            let Some(expected) = expected else {
                continue;
            };
            if expected.value.is_loopback()
                || a_inbound.iter().any(|p| p.endpoint == expected.value)
            {
                continue;
            }
            let sources = b_res
                .resource
                .hosts
                .iter()
                .filter(|h| !std::ptr::eq(*h, section))
                .filter_map(|h| h.address.as_ref().map(|x| x.value.ip))
                .collect();
            let inbound = Inbound {
                endpoint: expected.value,
                sources,
                what: format!("{role} of resource {name} per {label_b}"),
                place: expected.place.clone(),
            };
            for (reason, _) in refusals(a, &inbound) {
                let mut raw = Raw::new(
                    "FIREWALL-PORT-BLOCKED",
                    Some(expected.place.clone()),
                    Some(format!(
                        "{} ({}): {reason} on {label_a}",
                        inbound.endpoint, inbound.what
                    )),
                );
                raw.node = Some(label_a.to_string());
                out.push(raw);
            }
        }
    }
}
