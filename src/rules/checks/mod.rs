//! The code rules: each file checks one concern of `Evidence` and reports `Raw` verdicts, which
//! `Evidence::findings` dresses with the catalogue's texts. A rule id here must have an entry
//! with `code = true` in rules.toml (the catalogue refuses to load otherwise).
mod address;
mod collect;
pub(crate) mod cross;
mod firewall;
mod hits;
mod hostname;
mod install;
mod module;
mod ports;
mod probes;
mod sockets;
mod timeouts;
mod versions;
mod vip;

use super::evidence::Evidence;
use super::model::Place;

/// Every rule id produced by code.
pub const CODE_RULES: &[&str] = &[
    "CONFIG-BOM",
    "INSTALL-KB2883200-MISSING",
    "INSTALL-DOTNET351-MISSING",
    "VERSION-DRBD-OLD",
    "VERSION-DRBD-UTILS-OLD",
    "MODULE-NOT-LOADED",
    "VERSION-DRX-MISMATCH",
    "CONFIG-DUPLICATE-PORT",
    "CONFIG-HOSTNAME-MISMATCH",
    "CONFIG-WFC-TIMEOUT-MISSING",
    "CONFIG-PING-TIMEOUT",
    "BSR-ADDRESS-MISMATCH",
    "FIREWALL-PORT-BLOCKED",
    "NET-SYN-SENT",
    "NET-NOT-LISTENING",
    "VIP-STANDBY-DRX-RUNNING",
    "CONFIG-PEER-MISMATCH",
    "COLLECT-INCOMPLETE",
    "CONFIG-INVALID",
    "NET-PEER-REFUSED",
    "NET-PEER-TIMEOUT",
    "NET-LOCAL-IP-SILENT",
    // Written by a --peer run for a peer whose bundle could not be taken (peer::pair).
    "PEER-COLLECT-FAILED",
];

/// A verdict before it gets its language-specific texts.
#[derive(Debug, Clone)]
pub struct Raw {
    pub rule: String,
    pub place: Option<Place>,
    pub detail: Option<String>,
    pub node: Option<String>,
}

impl Raw {
    pub fn new(rule: &str, place: Option<Place>, detail: Option<String>) -> Raw {
        Raw {
            rule: rule.to_string(),
            place,
            detail,
            node: None,
        }
    }
}

pub fn single_node(evidence: &Evidence, out: &mut Vec<Raw>) {
    hits::check(evidence, out);
    install::check(evidence, out);
    versions::check(evidence, out);
    module::check(evidence, out);
    ports::check(evidence, out);
    hostname::check(evidence, out);
    timeouts::check(evidence, out);
    address::check(evidence, out);
    firewall::check(evidence, out);
    sockets::check(evidence, out);
    vip::check(evidence, out);
    collect::check(evidence, out);
    probes::check(evidence, out);
}
