//! The code rules: each file checks one concern of `Evidence` and reports `Raw` verdicts, which
//! `Evidence::findings` dresses with the catalogue's texts. A new code rule: its check (a module
//! here, or a new line in an existing one), one `CHECKS` entry declaring its id, and its texts in
//! rules.toml with `code = true` (the catalogue refuses to load otherwise).
mod address;
mod collect;
pub(crate) mod cross;
mod firewall;
pub(crate) mod gi;
mod gi_kernel;
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
mod watch;

use super::evidence::Evidence;
use super::model::Place;

/// Where a check runs.
#[derive(Clone, Copy)]
pub enum Run {
    /// Over one node's evidence, from `single_node`.
    Node(fn(&Evidence, &mut Vec<Raw>)),
    /// Over the two bundles of a pair, from `cross::cross_node`.
    Pair,
    /// While the lines stream (`Scan`): the configuration BOM check.
    Scan,
    /// By a `--peer` run for a peer whose bundle could not be taken (`case::peer_gaps`).
    Peer,
}

/// One code check: its name (the module), the rule ids it may report, and where it runs.
pub struct Check {
    pub name: &'static str,
    pub rules: &'static [&'static str],
    pub run: Run,
}

/// The BOM check's rule: `Scan` reports it as a first-line hit.
pub const CONFIG_BOM: &str = "CONFIG-BOM";
/// The finding of a `--peer` run for a peer it could not collect.
pub const PEER_COLLECT_FAILED: &str = "PEER-COLLECT-FAILED";

/// The registry of code rules: every rule a check reports is declared here, and nowhere else in
/// code. The catalogue's `code = true` entries must be exactly these ids (checked when it
/// loads), `single_node` runs the `Node` checks in this order, and a check that reports an id
/// it does not declare is an internal error (a debug assertion; a unit test reads each check's
/// source for ids). Pattern rules are data only (rules.toml); `hits` passes their lines on.
pub const CHECKS: &[Check] = &[
    Check {
        name: "bom",
        rules: &[CONFIG_BOM],
        run: Run::Scan,
    },
    Check {
        name: "install",
        rules: &[
            "INSTALL-KB2883200-MISSING",
            "INSTALL-DOTNET351-MISSING",
            "COLLECT-INCOMPLETE",
        ],
        run: Run::Node(install::check),
    },
    Check {
        name: "versions",
        rules: &["VERSION-DRBD-OLD", "VERSION-DRBD-UTILS-OLD"],
        run: Run::Node(versions::check),
    },
    Check {
        name: "module",
        rules: &["MODULE-NOT-LOADED"],
        run: Run::Node(module::check),
    },
    Check {
        name: "ports",
        rules: &["CONFIG-DUPLICATE-PORT"],
        run: Run::Node(ports::check),
    },
    Check {
        name: "hostname",
        rules: &["CONFIG-HOSTNAME-MISMATCH"],
        run: Run::Node(hostname::check),
    },
    Check {
        name: "timeouts",
        rules: &["CONFIG-WFC-TIMEOUT-MISSING", "CONFIG-PING-TIMEOUT"],
        run: Run::Node(timeouts::check),
    },
    Check {
        name: "address",
        rules: &["BSR-ADDRESS-MISMATCH"],
        run: Run::Node(address::check),
    },
    Check {
        name: "firewall",
        rules: &["FIREWALL-PORT-BLOCKED"],
        run: Run::Node(firewall::check),
    },
    Check {
        name: "sockets",
        rules: &["NET-SYN-SENT", "NET-NOT-LISTENING"],
        run: Run::Node(sockets::check),
    },
    Check {
        name: "vip",
        rules: &["VIP-STANDBY-DRX-RUNNING"],
        run: Run::Node(vip::check),
    },
    Check {
        name: "collect",
        rules: &["CONFIG-INVALID", "COLLECT-INCOMPLETE"],
        run: Run::Node(collect::check),
    },
    Check {
        name: "probes",
        rules: &[
            "NET-PEER-REFUSED",
            "NET-PEER-TIMEOUT",
            "NET-LOCAL-IP-SILENT",
        ],
        run: Run::Node(probes::check),
    },
    Check {
        name: "watch",
        rules: &[
            "WATCH-SYN-SENT",
            "WATCH-FLAPPING",
            "WATCH-STUCK",
            "WATCH-STANDALONE",
            "WATCH-GAP",
        ],
        run: Run::Node(watch::check),
    },
    Check {
        name: "cross",
        rules: &[
            "FIREWALL-PORT-BLOCKED",
            "NET-PEER-REFUSED",
            "NET-PEER-TIMEOUT",
            "VERSION-DRX-MISMATCH",
            "CONFIG-HOSTNAME-MISMATCH",
            "CONFIG-PEER-MISMATCH",
        ],
        run: Run::Pair,
    },
    Check {
        name: "gi-kernel",
        rules: &[gi_kernel::DISAGREES],
        run: Run::Node(gi_kernel::kernel_log),
    },
    Check {
        name: "gi",
        rules: &[gi::IN_SYNC, gi::SYNC_SOURCE, gi::SPLIT_BRAIN, gi::UNRELATED],
        run: Run::Pair,
    },
    Check {
        name: "peer",
        rules: &[PEER_COLLECT_FAILED],
        run: Run::Peer,
    },
];

/// Every rule id produced by code (some by more than one check).
pub fn is_code_rule(id: &str) -> bool {
    CHECKS.iter().any(|c| c.rules.contains(&id))
}

/// The code rule ids, each once, in registry order.
pub fn code_rules() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = Vec::new();
    for id in CHECKS.iter().flat_map(|c| c.rules.iter().copied()) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// Debug builds: `raws` (what the check `name` reported) use only ids it declares.
pub(crate) fn debug_assert_declared(name: &str, raws: &[Raw]) {
    if cfg!(debug_assertions) {
        let declared = CHECKS
            .iter()
            .find(|c| c.name == name)
            .map_or(&[][..], |c| c.rules);
        for raw in raws {
            assert!(
                declared.contains(&raw.rule.as_str()),
                "internal error: check `{name}` reported rule {}, which it does not declare in checks::CHECKS",
                raw.rule
            );
        }
    }
}

/// A verdict before it gets its language-specific texts.
#[derive(Debug, Clone)]
pub struct Raw {
    pub rule: String,
    pub place: Option<Place>,
    pub detail: Option<String>,
    /// The detail in Korean, for a check that runs without knowing the output language (the
    /// single-node checks); `to_findings` picks it for `--lang ko`.
    pub detail_ko: Option<String>,
    pub node: Option<String>,
    /// A severity other than the catalogue's, for a rule whose weight depends on the case
    /// (REPL-GI-SYNC-SOURCE: info for a bitmap-based resync, warning for a full one).
    pub severity: Option<crate::index::Severity>,
}

impl Raw {
    pub fn new(rule: &str, place: Option<Place>, detail: Option<String>) -> Raw {
        Raw {
            rule: rule.to_string(),
            place,
            detail,
            detail_ko: None,
            node: None,
            severity: None,
        }
    }
}

/// Runs the single-node checks of the registry, pattern hits first.
pub fn single_node(evidence: &Evidence, out: &mut Vec<Raw>) {
    hits::check(evidence, out);
    for check in CHECKS {
        if let Run::Node(run) = check.run {
            let from = out.len();
            run(evidence, out);
            debug_assert_declared(check.name, &out[from..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each check's source, to read the rule ids it reports.
    const SOURCES: &[(&str, &str)] = &[
        ("install", include_str!("install.rs")),
        ("versions", include_str!("versions.rs")),
        ("module", include_str!("module.rs")),
        ("ports", include_str!("ports.rs")),
        ("hostname", include_str!("hostname.rs")),
        ("timeouts", include_str!("timeouts.rs")),
        ("address", include_str!("address.rs")),
        ("firewall", include_str!("firewall.rs")),
        ("sockets", include_str!("sockets.rs")),
        ("vip", include_str!("vip.rs")),
        ("collect", include_str!("collect.rs")),
        ("probes", include_str!("probes.rs")),
        ("watch", include_str!("watch.rs")),
        ("cross", include_str!("cross.rs")),
        ("gi", include_str!("gi.rs")),
        ("gi-kernel", include_str!("gi_kernel.rs")),
    ];

    /// String literals shaped like a rule id (`"NET-SYN-SENT"`).
    fn rule_ids(source: &str) -> Vec<&str> {
        source
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| {
                s.contains('-')
                    && s.starts_with(|c: char| c.is_ascii_uppercase())
                    && s.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
            })
            .collect()
    }

    #[test]
    fn every_id_a_check_reports_is_declared_in_the_registry() {
        for check in CHECKS {
            let source = SOURCES.iter().find(|(name, _)| *name == check.name);
            match check.run {
                Run::Node(_) | Run::Pair => {
                    let (_, source) =
                        source.unwrap_or_else(|| panic!("{} has no source", check.name));
                    let ids = rule_ids(source);
                    assert!(!ids.is_empty(), "{} reports no rule", check.name);
                    for id in ids {
                        assert!(
                            check.rules.contains(&id),
                            "{} reports {id}, undeclared",
                            check.name
                        );
                    }
                }
                Run::Scan | Run::Peer => assert!(source.is_none()),
            }
        }
        // The scanner's literal reading is itself tested.
        assert_eq!(
            rule_ids("x(\"NET-SYN-SENT\", \"a-b\", \"ip-a\") \"X\""),
            ["NET-SYN-SENT"]
        );
    }

    #[test]
    fn code_rules_are_listed_once() {
        let ids = code_rules();
        assert!(ids.contains(&"COLLECT-INCOMPLETE") && ids.contains(&PEER_COLLECT_FAILED));
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert!(!is_code_rule("DRX-BRIDGING"), "a pattern rule");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "does not declare")]
    fn an_undeclared_id_is_an_internal_error() {
        debug_assert_declared("vip", &[Raw::new("VIP-STANDBY-DRX-RUNING", None, None)]);
    }
}
