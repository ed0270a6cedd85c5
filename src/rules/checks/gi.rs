//! Which node has the good data: both nodes' generation identifiers compared as the kernel's
//! `drbd_uuid_compare()` would at the next handshake (`rules::uuid_compare`), per resource and
//! volume: in sync, which node is the sync source (bitmap-based or full), split brain, or
//! unrelated data. The rule that decided is named in the kernel's own numbering.
use super::Raw;
use crate::index::Severity;
use crate::lang::Lang;
use crate::rules::evidence::Evidence;
use crate::rules::model::Place;
use crate::rules::parse::gi::{GiRecord, RoleOwner};
use crate::rules::uuid_compare::{compare, Amount, Gi, Kernel, Outcome, Side, Tie, Verdict};

pub const IN_SYNC: &str = "REPL-GI-IN-SYNC";
pub const SYNC_SOURCE: &str = "REPL-GI-SYNC-SOURCE";
pub const SPLIT_BRAIN: &str = "REPL-GI-SPLIT-BRAIN";
pub const UNRELATED: &str = "REPL-GI-UNRELATED";

/// What one GI record belongs to across the pair: the resource (or, for 8.4 where drbdadm
/// names only the minor, the minor) and the volume.
fn key(record: &GiRecord) -> Option<(String, Option<u32>)> {
    match (&record.resource, record.minor) {
        (Some(resource), _) => Some((resource.clone(), record.volume)),
        (None, Some(minor)) => Some((format!("minor {minor}"), None)),
        (None, None) => None,
    }
}

fn label(key: &(String, Option<u32>)) -> String {
    match key.1 {
        Some(volume) => format!("{}/{volume}", key.0),
        None => key.0.clone(),
    }
}

type Entry<'a> = (Kernel, &'a Place, &'a GiRecord);

fn entries(evidence: &Evidence) -> Vec<((String, Option<u32>), Entry<'_>)> {
    evidence
        .gi
        .records
        .iter()
        .filter_map(|(kernel, place, record)| key(record).map(|k| (k, (*kernel, place, record))))
        .collect()
}

/// `a`'s record toward `b` among `mine` (a's records of one volume), given `theirs` (b's):
/// with one peer each, the only one; with several (DRBD 9 meshes), the peer id a knows and b
/// does not (b's own node id). The other records give a's bitmaps toward third nodes.
fn toward<'a>(mine: &[Entry<'a>], theirs: &[Entry<'_>]) -> Option<(Entry<'a>, Vec<u64>)> {
    if mine.len() == 1 {
        return Some((mine[0], Vec::new()));
    }
    let their_peers: Vec<Option<u32>> = theirs.iter().map(|e| e.2.peer_node_id).collect();
    let chosen: Vec<&Entry<'a>> = mine
        .iter()
        .filter(|e| e.2.peer_node_id.is_some() && !their_peers.contains(&e.2.peer_node_id))
        .collect();
    let [one] = chosen.as_slice() else {
        return None;
    };
    let others = mine
        .iter()
        .filter(|e| e.2.peer_node_id != one.2.peer_node_id && e.2.gi.bitmap != 0)
        .map(|e| e.2.gi.bitmap)
        .collect();
    Some((**one, others))
}

/// The pair's verdicts, `a` taken as the comparing ("self") side; details in `lang`.
pub fn pair(
    label_a: &str,
    a: &Evidence,
    label_b: &str,
    b: &Evidence,
    lang: Lang,
    out: &mut Vec<Raw>,
) {
    let (ours, theirs) = (entries(a), entries(b));
    let mut keys: Vec<&(String, Option<u32>)> = ours.iter().map(|(k, _)| k).collect();
    keys.dedup();
    for key in keys {
        let mine: Vec<Entry> = ours
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, e)| *e)
            .collect();
        let peer: Vec<Entry> = theirs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, e)| *e)
            .collect();
        if peer.is_empty() {
            continue;
        }
        let (Some((local, local_others)), Some((remote, remote_others))) =
            (toward(&mine, &peer), toward(&peer, &mine))
        else {
            continue;
        };
        let (kernel, place, record) = local;
        let local_gi = Gi {
            other_bitmaps: local_others,
            ..record.gi.clone()
        };
        let remote_gi = Gi {
            other_bitmaps: remote_others,
            ..remote.2.gi.clone()
        };
        let verdict = compare(kernel, &local_gi, &remote_gi, Tie::default());
        let names = Names {
            resource: label(key),
            a: label_a,
            b: label_b,
            kernel,
            lang,
            primary_a: became_primary(a, record),
            primary_b: became_primary(b, remote.2),
        };
        if let Some(raw) = names.raw(&verdict, &local_gi, &remote_gi, place) {
            out.push(raw);
        }
    }
}

/// The node's last Primary transition of the resource (DRBD 9, BSR) or minor (8.4) `record`
/// belongs to, as its logs show it.
fn became_primary<'a>(evidence: &'a Evidence, record: &GiRecord) -> Option<&'a Place> {
    evidence
        .gi
        .became_primary
        .iter()
        .find(|(owner, _)| match owner {
            RoleOwner::Resource(name) => record.resource.as_deref() == Some(name.as_str()),
            RoleOwner::Minor(minor) => record.minor == Some(*minor),
        })
        .map(|(_, place)| place)
}

struct Names<'a> {
    resource: String,
    a: &'a str,
    b: &'a str,
    kernel: Kernel,
    lang: Lang,
    /// Each node's last log line where this resource became Primary there.
    primary_a: Option<&'a Place>,
    primary_b: Option<&'a Place>,
}

/// How much a resync copies, in words.
fn how(amount: Amount, lang: Lang) -> &'static str {
    match amount {
        Amount::Bitmap => lang.ui("gi.how_bitmap"),
        Amount::Full => lang.ui("gi.how_full"),
        Amount::OtherBitmap => lang.ui("gi.how_other_bitmap"),
        Amount::ClearBitmap => lang.ui("gi.how_clear_bitmap"),
        Amount::IfBothFailed => lang.ui("gi.how_if_both_failed"),
    }
}

/// An outcome in a few words, seen from the node whose log printed the handshake ("self").
pub(super) fn outcome_words(outcome: Outcome, lang: Lang) -> String {
    match outcome {
        Outcome::NoSync => lang.ui("gi.outcome_no_sync").to_string(),
        Outcome::Resync { source, amount } => {
            let source = match source {
                Side::Local => lang.ui("gi.side_self"),
                Side::Peer => lang.ui("gi.side_peer"),
                Side::TieBreak => lang.ui("gi.side_tie_break"),
            };
            fill(
                lang.ui("gi.outcome_resync"),
                &[("source", source), ("how", how(amount, lang))],
            )
        }
        Outcome::SplitBrain { .. } => lang.ui("gi.outcome_split_brain").to_string(),
        Outcome::Unrelated => lang.ui("gi.outcome_unrelated").to_string(),
        Outcome::RetryConnect => lang.ui("gi.outcome_retry").to_string(),
        Outcome::RequiresProtocol(version) => fill(
            lang.ui("gi.outcome_requires_protocol"),
            &[("version", &version.to_string())],
        ),
        Outcome::BothPrimary => lang.ui("gi.outcome_both_primary").to_string(),
    }
}

/// `template` with each `{name}` replaced by its value (one pass: values are not re-read).
pub(super) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Names<'_> {
    fn rule(&self, verdict: &Verdict) -> String {
        let kernel = self.kernel.as_str();
        let number = verdict.rule.number.to_string();
        match verdict.rule.name {
            Some(name) => fill(
                self.lang.ui("gi.rule_named"),
                &[("kernel", kernel), ("name", name), ("number", &number)],
            ),
            None => fill(
                self.lang.ui("gi.rule_numbered"),
                &[("kernel", kernel), ("number", &number)],
            ),
        }
    }

    fn raw(&self, verdict: &Verdict, a: &Gi, b: &Gi, place: &Place) -> Option<Raw> {
        let lang = self.lang;
        let rule = self.rule(verdict);
        let (current_a, current_b) = (format!("{:016X}", a.current), format!("{:016X}", b.current));
        let uuids = fill(
            lang.ui("gi.uuids"),
            &[
                ("a", self.a),
                ("b", self.b),
                ("current_a", &current_a),
                ("bitmap_a", &format!("{:016X}", a.bitmap)),
                ("history_a", &history(a)),
                ("current_b", &current_b),
                ("bitmap_b", &format!("{:016X}", b.bitmap)),
                ("history_b", &history(b)),
            ],
        );
        let common = [
            ("res", self.resource.as_str()),
            ("a", self.a),
            ("b", self.b),
            ("rule", rule.as_str()),
            ("uuids", uuids.as_str()),
        ];
        let (id, severity, detail) = match verdict.outcome {
            Outcome::NoSync => (IN_SYNC, None, fill(lang.ui("gi.in_sync"), &common)),
            Outcome::Resync { source, amount } => {
                let (from, to) = match source {
                    Side::Local => (self.a.to_string(), self.b.to_string()),
                    Side::Peer => (self.b.to_string(), self.a.to_string()),
                    Side::TieBreak => (
                        fill(lang.ui("gi.tie_source"), &common),
                        lang.ui("gi.tie_target").to_string(),
                    ),
                };
                let how = how(amount, lang);
                let severity = (amount == Amount::Full).then_some(Severity::Warning);
                let mut values = common.to_vec();
                values.extend([("from", from.as_str()), ("to", to.as_str()), ("how", how)]);
                (
                    SYNC_SOURCE,
                    severity,
                    fill(lang.ui("gi.sync_source"), &values),
                )
            }
            Outcome::SplitBrain { .. } | Outcome::BothPrimary => {
                let auto = matches!(verdict.outcome, Outcome::SplitBrain { auto: true });
                let policy = if auto {
                    lang.ui("gi.policy_auto")
                } else {
                    lang.ui("gi.policy_manual")
                };
                let primaries = self.primaries();
                let mut values = common.to_vec();
                values.extend([
                    ("current_a", current_a.as_str()),
                    ("current_b", current_b.as_str()),
                    ("policy", policy),
                    ("primaries", primaries.as_str()),
                ]);
                (SPLIT_BRAIN, None, fill(lang.ui("gi.split_brain"), &values))
            }
            Outcome::Unrelated => (UNRELATED, None, fill(lang.ui("gi.unrelated"), &common)),
            _ => return None,
        };
        let mut raw = Raw::new(id, Some(place.clone()), Some(detail));
        raw.severity = severity;
        Some(raw)
    }

    /// When each node last made this resource Primary, as its logs show it.
    fn primaries(&self) -> String {
        let mut out = String::new();
        for (node, place) in [(self.a, self.primary_a), (self.b, self.primary_b)] {
            let res = self.resource.as_str();
            match place {
                Some(place) => out.push_str(&fill(
                    self.lang.ui("gi.became_primary"),
                    &[
                        ("node", node),
                        ("res", res),
                        ("path", &place.path),
                        ("line", &place.line.unwrap_or(0).to_string()),
                        ("excerpt", place.excerpt.as_deref().unwrap_or_default()),
                    ],
                )),
                None => out.push_str(&fill(
                    self.lang.ui("gi.no_primary"),
                    &[("node", node), ("res", res)],
                )),
            }
        }
        out
    }
}

fn history(gi: &Gi) -> String {
    let used: Vec<String> = gi
        .history
        .iter()
        .filter(|h| **h != 0)
        .map(|h| format!("{h:016X}"))
        .collect();
    if used.is_empty() {
        "-".to_string()
    } else {
        used.join(",")
    }
}
