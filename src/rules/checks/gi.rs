//! Which node has the good data: both nodes' generation identifiers compared as the kernel's
//! `drbd_uuid_compare()` would at the next handshake (`rules::uuid_compare`), per resource and
//! volume: in sync, which node is the sync source (bitmap-based or full), split brain, or
//! unrelated data. The rule that decided is named in the kernel's own numbering.
use super::Raw;
use crate::index::Severity;
use crate::rules::evidence::Evidence;
use crate::rules::model::Place;
use crate::rules::parse::gi::GiRecord;
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

/// The pair's verdicts, `a` taken as the comparing ("self") side.
pub fn pair(label_a: &str, a: &Evidence, label_b: &str, b: &Evidence, out: &mut Vec<Raw>) {
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
            primary_a: a.gi.became_primary.as_ref(),
            primary_b: b.gi.became_primary.as_ref(),
        };
        if let Some(raw) = names.raw(&verdict, &local_gi, &remote_gi, place) {
            out.push(raw);
        }
    }
}

struct Names<'a> {
    resource: String,
    a: &'a str,
    b: &'a str,
    kernel: Kernel,
    /// Each node's last log line where it became Primary.
    primary_a: Option<&'a Place>,
    primary_b: Option<&'a Place>,
}

impl Names<'_> {
    fn rule(&self, verdict: &Verdict) -> String {
        let kernel = self.kernel.as_str();
        match verdict.rule.name {
            Some(name) => format!(
                "{kernel} rule `{name}` (rule {} before 9.0.29 / 9.1.1)",
                verdict.rule.number
            ),
            None => format!("{kernel} rule {}", verdict.rule.number),
        }
    }

    fn raw(&self, verdict: &Verdict, a: &Gi, b: &Gi, place: &Place) -> Option<Raw> {
        let (res, na, nb) = (&self.resource, self.a, self.b);
        let rule = self.rule(verdict);
        let uuids = format!(
            "{na}: current {:016X} bitmap {:016X} history {}; {nb}: current {:016X} bitmap {:016X} history {}",
            a.current,
            a.bitmap,
            history(a),
            b.current,
            b.bitmap,
            history(b)
        );
        let (id, severity, detail) = match verdict.outcome {
            Outcome::NoSync => (
                IN_SYNC,
                None,
                format!("{res}: {na} and {nb} hold the same data generation; a reconnect resyncs nothing (decided by {rule}). {uuids}"),
            ),
            Outcome::Resync { source, amount } => {
                let (from, to) = match source {
                    Side::Local => (na.to_string(), nb.to_string()),
                    Side::Peer => (nb.to_string(), na.to_string()),
                    Side::TieBreak => (
                        format!("{na} or {nb} (whichever holds the connection's tie-break)"),
                        "the other".to_string(),
                    ),
                };
                let how = match amount {
                    Amount::Bitmap => "bitmap-based: only the blocks changed since they last agreed",
                    Amount::Full => "FULL: every block of the device is copied, the target's data is overwritten",
                    Amount::OtherBitmap => "bitmap-based, from the bitmap the source keeps toward a third node",
                    Amount::ClearBitmap => "nothing beyond what a third node already resynced",
                    Amount::IfBothFailed => "bitmap-based, as after a crash of the primary",
                };
                let severity = (amount == Amount::Full).then_some(Severity::Warning);
                (
                    SYNC_SOURCE,
                    severity,
                    format!("{res}: {from} is the sync source, {to} the sync target; {how} (decided by {rule}). {uuids}"),
                )
            }
            Outcome::SplitBrain { .. } | Outcome::BothPrimary => {
                let auto = matches!(verdict.outcome, Outcome::SplitBrain { auto: true });
                let policy = if auto {
                    "the after-sb policies may resolve it automatically, discarding one side's changes"
                } else {
                    "the kernel drops the connection; only a manual recovery resolves it"
                };
                (
                    SPLIT_BRAIN,
                    None,
                    format!("{res}: split brain: {na} (current {:016X}) and {nb} (current {:016X}) both changed the data since they last agreed; {policy}. Recovery keeps one node's changes and discards the other's (the victim's) (decided by {rule}).{} {uuids}", a.current, b.current, self.primaries()),
                )
            }
            Outcome::Unrelated => (
                UNRELATED,
                None,
                format!("{res}: {na} and {nb} never shared a data generation: no UUID of one is in the other's history; the kernel refuses to connect (decided by {rule}). {uuids}"),
            ),
            _ => return None,
        };
        let mut raw = Raw::new(id, Some(place.clone()), Some(detail));
        raw.severity = severity;
        Some(raw)
    }
}

impl Names<'_> {
    /// When each node last became Primary, as its logs show it.
    fn primaries(&self) -> String {
        let mut out = String::new();
        for (node, place) in [(self.a, self.primary_a), (self.b, self.primary_b)] {
            if let Some(place) = place {
                let line = place.excerpt.as_deref().unwrap_or_default();
                out.push_str(&format!(
                    " {node} last became Primary at {}:{}: `{line}`.",
                    place.path,
                    place.line.unwrap_or(0)
                ));
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
