//! The kernel's `drbd_uuid_compare()` done offline: from two nodes' generation identifiers (GIs),
//! which way a reconnect would resync, or why it would refuse. A pure function per rule table:
//! DRBD 8.4 (`LINBIT/drbd-8.4` `drbd/drbd_receiver.c`), DRBD 9 (`LINBIT/drbd` `drbd_receiver.c`:
//! the numbers of 9.0.x up to 9.0.28 and 9.1.0, the names of 9.0.29 / 9.1.1 on) and BSR
//! (`mantechnology/bsr` `bsr/bsr_receiver.c` `bsr_uuid_compare`). Each decision carries the
//! rule the kernel would name, so it can be held against the log's `uuid_compare()=N by rule M`.
//!
//! What the GIs alone cannot tell is an input, never a guess: the nodes' current roles, the
//! runtime flags (crashed primary, reconnect, lost quorum) and the connection's tie-break (the
//! kernel's RESOLVE_CONFLICTS bit), which decides only when both sides are otherwise equal; it
//! is reported as [`Side::TieBreak`]. The protocol-compatibility branches (peers older than
//! protocol 110, which DRBD 9 and BSR pairs never are, and 8.4 peers older than 96) are left
//! out: two nodes of one release always agree on a newer protocol.

/// The lowest bit of a UUID marks "was primary when this UUID was made"; every comparison of
/// the kernel masks it out (`& ~UUID_PRIMARY`, 8.4's `& ~((u64)1)`).
const PRIMARY_BIT: u64 = 1;
/// The current UUID of meta-data that never saw data (`UUID_JUST_CREATED`).
pub const JUST_CREATED: u64 = 4;
/// DRBD ≥ 8.3.7 makes the resync UUID the bitmap UUID plus this (`UUID_NEW_BM_OFFSET`).
const NEW_BM_OFFSET: u64 = 0x0001_0000_0000_0000;

/// Which kernel's rules (and numbering) decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Drbd84,
    Drbd9,
    Bsr,
}

impl Kernel {
    pub fn as_str(self) -> &'static str {
        match self {
            Kernel::Drbd84 => "DRBD 8.4",
            Kernel::Drbd9 => "DRBD 9",
            Kernel::Bsr => "BSR",
        }
    }
}

/// One node's generation identifiers as the other node of the pair would receive them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gi {
    pub current: u64,
    /// The bitmap UUID this node keeps toward the other node of the pair (0 when none).
    pub bitmap: u64,
    /// Younger first.
    pub history: Vec<u64>,
    /// DRBD 9 / BSR: the bitmap UUIDs this node keeps toward third nodes.
    pub other_bitmaps: Vec<u64>,
    /// The node crashed while primary and has not seen its peer since (8.4 and 9 meta-data
    /// flag `MDF_CRASHED_PRIMARY`, the handshake's `UUID_FLAG_CRASHED_PRIMARY`).
    pub crashed_primary: bool,
    /// DRBD 9: the node was primary when it lost quorum (`UUID_FLAG_PRIMARY_LOST_QUORUM`).
    pub lost_quorum: bool,
    /// DRBD 9 / BSR: the node had this connection before and lost it while up
    /// (`UUID_FLAG_RECONNECT`); only a handshake line shows it.
    pub reconnect: bool,
    /// The node's role is Primary now (8.4 rule 41).
    pub primary: bool,
}

/// The node that gives the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The node the comparison is made on ("self" of the handshake).
    Local,
    Peer,
    /// Whichever side the connection's tie-break picks (both sides equal otherwise).
    TieBreak,
}

/// How much a resync copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// The blocks the source's bitmap marks.
    Bitmap,
    /// Everything (the bitmap is set whole).
    Full,
    /// DRBD 9: the blocks of the bitmap the source keeps toward a third node.
    OtherBitmap,
    /// DRBD 9: nothing more than a third node already provided (the target clears its bitmap).
    ClearBitmap,
    /// DRBD 9 / BSR: a resync from the bitmap, if both nodes had failed (crash recovery).
    IfBothFailed,
}

/// What a reconnect would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    NoSync,
    Resync {
        source: Side,
        amount: Amount,
    },
    /// Both changed since they last agreed; `auto` when the after-sb policies may decide
    /// (equal bitmap UUIDs: rule 90 / bitmap-both), else the connection is dropped.
    SplitBrain {
        auto: bool,
    },
    /// The nodes never shared a generation.
    Unrelated,
    /// DRBD 9: the UUIDs changed during the handshake; it reconnects.
    RetryConnect,
    /// The kernel refuses: both need at least this protocol.
    RequiresProtocol(u32),
    /// 8.4 rule 41: equal unrotated UUIDs with both primary ("can not happen").
    BothPrimary,
}

/// The rule that decided, as the kernel names it: its number (8.4, BSR, DRBD 9 up to 9.0.28 /
/// 9.1.0) and, for DRBD 9 from 9.0.29 / 9.1.1 on, its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub number: u32,
    pub name: Option<&'static str>,
    /// DRBD 9 from protocol 120 on reports some branches under another name: the checks that
    /// follow the quorum rule keep its label (`no-sync by rule=lost-quorum` for a reconnect).
    pub alias: Option<&'static str>,
}

impl Rule {
    fn n(number: u32) -> Rule {
        Rule {
            number,
            name: None,
            alias: None,
        }
    }
    fn named(number: u32, name: &'static str) -> Rule {
        Rule {
            number,
            name: Some(name),
            alias: None,
        }
    }

    /// Whether the kernel's log names this rule (`by rule 90`, `by rule=bitmap-both`).
    pub fn is(&self, number: Option<u32>, name: Option<&str>) -> bool {
        match (number, name) {
            (Some(n), _) => n == self.number,
            (None, Some(name)) => self.name == Some(name) || self.alias == Some(name),
            (None, None) => false,
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name {
            Some(name) => write!(f, "{name} (rule {} before 9.0.29/9.1.1)", self.number),
            None => write!(f, "{}", self.number),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub rule: Rule,
}

/// What the connection knows that the GIs do not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tie {
    /// The local side holds RESOLVE_CONFLICTS; `None` when unknown (offline: always).
    pub local_resolves: Option<bool>,
}

fn m(uuid: u64) -> u64 {
    uuid & !PRIMARY_BIT
}

fn hist(gi: &Gi, i: usize) -> u64 {
    gi.history.get(i).copied().map_or(0, m)
}

fn resync(source: Side, amount: Amount) -> Outcome {
    Outcome::Resync { source, amount }
}

/// The tie-broken side: the kernel picks `when_resolving` on the node holding RESOLVE_CONFLICTS.
fn tie(t: Tie, when_resolving: Side, otherwise: Side) -> Side {
    match t.local_resolves {
        Some(true) => when_resolving,
        Some(false) => otherwise,
        None => Side::TieBreak,
    }
}

/// The comparison as `kernel` makes it on `local`, receiving `peer`'s GIs.
pub fn compare(kernel: Kernel, local: &Gi, peer: &Gi, t: Tie) -> Verdict {
    match kernel {
        Kernel::Drbd84 => compare_84(local, peer, t),
        Kernel::Drbd9 => compare_9(local, peer, t),
        Kernel::Bsr => compare_bsr(local, peer, t),
    }
}

/// `drbd_uuid_compare()` of DRBD 8.4 (LINBIT/drbd-8.4 drbd/drbd_receiver.c), protocol ≥ 96.
fn compare_84(s: &Gi, p: &Gi, t: Tie) -> Verdict {
    let v = |outcome, number| Verdict {
        outcome,
        rule: Rule::n(number),
    };
    let mut own = m(s.current);
    let mut peer = m(p.current);
    if own == JUST_CREATED && peer == JUST_CREATED {
        return v(Outcome::NoSync, 10);
    }
    if (own == JUST_CREATED || own == 0) && peer != JUST_CREATED {
        return v(resync(Side::Peer, Amount::Full), 20);
    }
    if own != JUST_CREATED && (peer == JUST_CREATED || peer == 0) {
        return v(resync(Side::Local, Amount::Full), 30);
    }
    if own == peer {
        if p.bitmap == 0 && s.bitmap != 0 {
            let corrected = m(s.bitmap) == hist(p, 0) && hist(s, 0) == hist(p, 1);
            return v(
                resync(Side::Local, Amount::Bitmap),
                if corrected { 34 } else { 36 },
            );
        }
        if s.bitmap == 0 && p.bitmap != 0 {
            let corrected = hist(s, 0) == m(p.bitmap) && hist(s, 1) == hist(p, 0);
            return v(
                resync(Side::Peer, Amount::Bitmap),
                if corrected { 35 } else { 37 },
            );
        }
        let own_crashed = s.crashed_primary;
        let peer_crashed = p.crashed_primary;
        if !own_crashed && !peer_crashed {
            return v(Outcome::NoSync, 40);
        }
        if s.primary || p.primary {
            if s.primary && p.primary {
                return v(Outcome::BothPrimary, 41);
            }
            let source = if s.primary { Side::Local } else { Side::Peer };
            return v(resync(source, Amount::Bitmap), 41);
        }
        let source = match (own_crashed, peer_crashed) {
            (true, false) => Side::Local,
            (false, true) => Side::Peer,
            // dc ? -1 : 1: the node holding RESOLVE_CONFLICTS becomes the target.
            _ => tie(t, Side::Peer, Side::Local),
        };
        return v(resync(source, Amount::Bitmap), 40);
    }
    peer = m(p.bitmap);
    if own == peer {
        return v(resync(Side::Peer, Amount::Bitmap), 50);
    }
    peer = hist(p, 0);
    if own == peer && peer.wrapping_add(NEW_BM_OFFSET) == m(p.bitmap) {
        return v(resync(Side::Peer, Amount::Bitmap), 51);
    }
    own = m(s.current);
    if (0..2).any(|i| own == hist(p, i)) {
        return v(resync(Side::Peer, Amount::Full), 60);
    }
    own = m(s.bitmap);
    peer = m(p.current);
    if own == peer {
        return v(resync(Side::Local, Amount::Bitmap), 70);
    }
    own = hist(s, 0);
    if own == peer && own.wrapping_add(NEW_BM_OFFSET) == m(s.bitmap) {
        return v(resync(Side::Local, Amount::Bitmap), 71);
    }
    if (0..2).any(|i| hist(s, i) == peer) {
        return v(resync(Side::Local, Amount::Full), 80);
    }
    if m(s.bitmap) == m(p.bitmap) && m(s.bitmap) != 0 {
        return v(Outcome::SplitBrain { auto: true }, 90);
    }
    // 8.4 compares every history slot, zero ones too.
    if (0..2).any(|i| (0..2).any(|j| hist(s, i) == hist(p, j))) {
        return v(Outcome::SplitBrain { auto: false }, 100);
    }
    v(Outcome::Unrelated, 100)
}

/// `drbd_uuid_compare()` of DRBD 9 (LINBIT/drbd drbd/drbd_receiver.c), protocol ≥ 110: the
/// numbers of 9.0.x and the names of 9.0.29 / 9.1.1 on.
fn compare_9(s: &Gi, p: &Gi, t: Tie) -> Verdict {
    let v = |outcome, number, name| Verdict {
        outcome,
        rule: Rule::named(number, name),
    };
    let mut own = m(s.current);
    let mut peer = m(p.current);
    if own == 0 {
        own = JUST_CREATED;
    }
    if peer == 0 {
        peer = JUST_CREATED;
    }
    if own == JUST_CREATED && peer == JUST_CREATED {
        return v(Outcome::NoSync, 10, "just-created-both");
    }
    if own == JUST_CREATED {
        return v(resync(Side::Peer, Amount::Full), 20, "just-created-self");
    }
    if peer == JUST_CREATED {
        return v(resync(Side::Local, Amount::Full), 30, "just-created-peer");
    }
    if own == peer {
        let quorum = "lost-quorum";
        match (p.lost_quorum, s.lost_quorum) {
            (true, false) => return v(resync(Side::Peer, Amount::IfBothFailed), 39, quorum),
            (false, true) => return v(resync(Side::Local, Amount::IfBothFailed), 39, quorum),
            (true, true) => {
                let source = tie(t, Side::Local, Side::Peer);
                return v(resync(source, Amount::IfBothFailed), 39, quorum);
            }
            (false, false) => {}
        }
        let again = "reconnected";
        if p.reconnect && s.reconnect {
            return v(Outcome::NoSync, 38, again);
        }
        // From protocol 120 on these keep the quorum rule's label.
        let w = |outcome| Verdict {
            outcome,
            rule: Rule {
                alias: Some(quorum),
                ..Rule::named(38, again)
            },
        };
        if p.crashed_primary && s.reconnect {
            return w(resync(Side::Local, Amount::IfBothFailed));
        }
        if s.crashed_primary && p.reconnect {
            return w(resync(Side::Peer, Amount::IfBothFailed));
        }
        if p.reconnect || s.reconnect {
            return w(Outcome::NoSync);
        }
        let off = "both-off";
        if s.crashed_primary {
            let source = if p.crashed_primary {
                tie(t, Side::Peer, Side::Local)
            } else {
                Side::Local
            };
            return v(resync(source, Amount::IfBothFailed), 40, off);
        }
        if p.crashed_primary {
            return v(resync(Side::Peer, Amount::IfBothFailed), 40, off);
        }
        return v(Outcome::NoSync, 40, off);
    }
    if own == m(p.bitmap) {
        return v(resync(Side::Peer, Amount::Bitmap), 50, "bitmap-peer");
    }
    if p.other_bitmaps.iter().any(|&b| m(b) == own) {
        return v(
            resync(Side::Peer, Amount::ClearBitmap),
            52,
            "bitmap-peer-other",
        );
    }
    if m(s.bitmap) == peer {
        return v(resync(Side::Local, Amount::Bitmap), 70, "bitmap-self");
    }
    if s.other_bitmaps.iter().any(|&b| m(b) == peer) {
        return v(
            resync(Side::Local, Amount::OtherBitmap),
            72,
            "bitmap-self-other",
        );
    }
    let mine_in_peers = p.history.iter().any(|&h| m(h) == own);
    let peers_in_mine = s.history.iter().any(|&h| m(h) == peer);
    if mine_in_peers && !peers_in_mine {
        return v(resync(Side::Peer, Amount::Full), 60, "history-peer");
    }
    if !mine_in_peers && peers_in_mine {
        return v(resync(Side::Local, Amount::Full), 80, "history-self");
    }
    if m(s.bitmap) == m(p.bitmap) && m(s.bitmap) != 0 {
        return v(Outcome::SplitBrain { auto: true }, 90, "bitmap-both");
    }
    if common_ancestor(s, p) {
        return v(Outcome::SplitBrain { auto: false }, 100, "history-both");
    }
    v(Outcome::Unrelated, 100, "history-both")
}

/// DRBD 9 and BSR: a history UUID both hold, an unused (zero) slot ending either list.
fn common_ancestor(s: &Gi, p: &Gi) -> bool {
    for &own in &s.history {
        if m(own) == 0 {
            break;
        }
        for &peer in &p.history {
            if m(peer) == 0 {
                break;
            }
            if m(own) == m(peer) {
                return true;
            }
        }
    }
    false
}

/// `bsr_uuid_compare()` (mantechnology/bsr bsr/bsr_receiver.c): DRBD 9's early form with
/// BSR's own history rules (BSR-1531) and no quorum rule; target-only nodes are not modelled.
fn compare_bsr(s: &Gi, p: &Gi, t: Tie) -> Verdict {
    let v = |outcome, number| Verdict {
        outcome,
        rule: Rule::n(number),
    };
    let mut own = m(s.current);
    let mut peer = m(p.current);
    if own == 0 {
        own = JUST_CREATED;
    }
    if peer == 0 {
        peer = JUST_CREATED;
    }
    if own == JUST_CREATED && peer == JUST_CREATED {
        return v(Outcome::NoSync, 10);
    }
    if own == JUST_CREATED {
        return v(resync(Side::Peer, Amount::Full), 20);
    }
    if peer == JUST_CREATED {
        return v(resync(Side::Local, Amount::Full), 30);
    }
    if own == peer {
        if p.reconnect && s.reconnect {
            return v(Outcome::NoSync, 38);
        }
        if s.crashed_primary {
            let source = if p.crashed_primary {
                tie(t, Side::Peer, Side::Local)
            } else {
                Side::Local
            };
            return v(resync(source, Amount::IfBothFailed), 40);
        }
        if p.crashed_primary {
            return v(resync(Side::Peer, Amount::IfBothFailed), 40);
        }
        return v(Outcome::NoSync, 40);
    }
    if own == m(p.bitmap) {
        return v(resync(Side::Peer, Amount::Bitmap), 50);
    }
    if p.other_bitmaps.iter().any(|&b| m(b) == own) {
        return v(resync(Side::Peer, Amount::ClearBitmap), 52);
    }
    // BSR-1531: the peer finished a resync from us that we did not record.
    let peer_bitmap = m(p.bitmap);
    if peer_bitmap != 0
        && s.history.iter().any(|&h| m(h) == peer_bitmap)
        && p.history.iter().any(|&h| m(h) == own)
    {
        return v(resync(Side::Peer, Amount::Bitmap), 60);
    }
    if p.history.iter().any(|&h| m(h) == own) {
        return v(resync(Side::Peer, Amount::Full), 60);
    }
    if m(s.bitmap) == peer {
        return v(resync(Side::Local, Amount::Bitmap), 70);
    }
    if s.other_bitmaps.iter().any(|&b| m(b) == peer) {
        return v(resync(Side::Local, Amount::OtherBitmap), 72);
    }
    let own_bitmap = m(s.bitmap);
    if own_bitmap != 0
        && p.history.iter().any(|&h| m(h) == own_bitmap)
        && s.history.iter().any(|&h| m(h) == peer)
    {
        return v(resync(Side::Local, Amount::Bitmap), 80);
    }
    if s.history.iter().any(|&h| m(h) == peer) {
        return v(resync(Side::Local, Amount::Full), 80);
    }
    if m(s.bitmap) == m(p.bitmap) && m(s.bitmap) != 0 {
        return v(Outcome::SplitBrain { auto: true }, 90);
    }
    if common_ancestor(s, p) {
        return v(Outcome::SplitBrain { auto: false }, 100);
    }
    v(Outcome::Unrelated, 100)
}

impl Outcome {
    /// Seen from the other node: the same decision with the sides swapped.
    pub fn mirrored(self) -> Outcome {
        match self {
            Outcome::Resync { source, amount } => Outcome::Resync {
                source: match source {
                    Side::Local => Side::Peer,
                    Side::Peer => Side::Local,
                    Side::TieBreak => Side::TieBreak,
                },
                amount,
            },
            other => other,
        }
    }

    /// The kernel's integer result (`uuid_compare()=N`) as this outcome, for 8.4 (`hg`).
    pub fn from_84(hg: i64) -> Option<Outcome> {
        Some(match hg {
            0 => Outcome::NoSync,
            1 => resync(Side::Local, Amount::Bitmap),
            2 => resync(Side::Local, Amount::Full),
            -1 => resync(Side::Peer, Amount::Bitmap),
            -2 => resync(Side::Peer, Amount::Full),
            100 => Outcome::SplitBrain { auto: true },
            -100 => Outcome::SplitBrain { auto: false },
            -1000 => Outcome::Unrelated,
            -1091 => Outcome::RequiresProtocol(91),
            -1096 => Outcome::RequiresProtocol(96),
            _ => return None,
        })
    }

    /// The integer result of BSR (`uuid_compare(N)`) and of DRBD 9.0 before it printed names.
    pub fn from_9_number(hg: i64) -> Option<Outcome> {
        Some(match hg {
            0 => Outcome::NoSync,
            1 => resync(Side::Local, Amount::IfBothFailed),
            2 => resync(Side::Local, Amount::Bitmap),
            3 => resync(Side::Local, Amount::Full),
            4 => resync(Side::Local, Amount::OtherBitmap),
            -1 => resync(Side::Peer, Amount::IfBothFailed),
            -2 => resync(Side::Peer, Amount::Bitmap),
            -3 => resync(Side::Peer, Amount::Full),
            -4 => resync(Side::Peer, Amount::ClearBitmap),
            100 => Outcome::SplitBrain { auto: true },
            -100 => Outcome::SplitBrain { auto: false },
            -1000 => Outcome::Unrelated,
            -1091 => Outcome::RequiresProtocol(91),
            -1096 => Outcome::RequiresProtocol(96),
            _ => return None,
        })
    }

    /// DRBD 9's strategy names (`uuid_compare()=target-use-bitmap`).
    pub fn from_9_name(name: &str) -> Option<Outcome> {
        Some(match name {
            "no-sync" => Outcome::NoSync,
            "source-if-both-failed" => resync(Side::Local, Amount::IfBothFailed),
            "source-use-bitmap" => resync(Side::Local, Amount::Bitmap),
            "source-set-bitmap" => resync(Side::Local, Amount::Full),
            "source-copy-other-bitmap" => resync(Side::Local, Amount::OtherBitmap),
            "target-if-both-failed" => resync(Side::Peer, Amount::IfBothFailed),
            "target-use-bitmap" => resync(Side::Peer, Amount::Bitmap),
            "target-set-bitmap" => resync(Side::Peer, Amount::Full),
            "target-clear-bitmap" => resync(Side::Peer, Amount::ClearBitmap),
            "split-brain-auto-recover" => Outcome::SplitBrain { auto: true },
            "split-brain-disconnect" => Outcome::SplitBrain { auto: false },
            "unrelated-data" => Outcome::Unrelated,
            "retry-connect" => Outcome::RetryConnect,
            "requires-proto-91" => Outcome::RequiresProtocol(91),
            "requires-proto-96" => Outcome::RequiresProtocol(96),
            "requires-proto-124" => Outcome::RequiresProtocol(124),
            _ => return None,
        })
    }

    /// Whether `kernel`'s decision agrees with this one. A tie-broken side agrees with either
    /// side (the GIs cannot say which node holds the tie-break).
    pub fn agrees_with(self, kernel: Outcome) -> bool {
        match (self, kernel) {
            (
                Outcome::Resync {
                    source: Side::TieBreak,
                    amount: a,
                },
                Outcome::Resync { amount: b, .. },
            ) => a == b,
            (a, b) => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gi(current: u64, bitmap: u64, h1: u64, h2: u64) -> Gi {
        Gi {
            current,
            bitmap,
            history: vec![h1, h2],
            ..Gi::default()
        }
    }

    // Bounded work: every rule is a fixed number of comparisons, whatever the input.
    #[test]
    fn the_tables_are_antisymmetric_where_the_kernel_is() {
        let cases = [
            (gi(4, 0, 0, 0), gi(0xA0, 0, 0, 0)),
            (gi(0xB0, 0xA0, 0, 0), gi(0xA0, 0, 0x90, 0)),
            (gi(0xB0, 0xA0, 0x90, 0), gi(0xC0, 0xA0, 0x90, 0)),
            (gi(0xB0, 0, 0xA0, 0x90), gi(0xC0, 0, 0xD0, 0x90)),
            (gi(0xB0, 0, 0xA0, 0), gi(0xC0, 0, 0xD0, 0)),
        ];
        for kernel in [Kernel::Drbd84, Kernel::Drbd9, Kernel::Bsr] {
            for (a, b) in &cases {
                let ab = compare(kernel, a, b, Tie::default()).outcome;
                let ba = compare(kernel, b, a, Tie::default()).outcome;
                assert_eq!(ab, ba.mirrored(), "{kernel:?} {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn the_primary_bit_is_ignored() {
        let a = gi(0xAB, 0, 0x11, 0);
        let b = gi(0xAA, 0, 0x11, 0);
        for kernel in [Kernel::Drbd84, Kernel::Drbd9, Kernel::Bsr] {
            assert_eq!(
                compare(kernel, &a, &b, Tie::default()).outcome,
                Outcome::NoSync
            );
        }
    }

    #[test]
    fn a_crash_of_both_primaries_is_the_tie_break() {
        let mut a = gi(0xA0, 0, 0, 0);
        a.crashed_primary = true;
        let b = a.clone();
        let v = compare(Kernel::Drbd84, &a, &b, Tie::default());
        assert_eq!(v.rule.number, 40);
        assert_eq!(
            v.outcome,
            resync(Side::TieBreak, Amount::Bitmap),
            "unknown offline"
        );
        let known = compare(
            Kernel::Drbd84,
            &a,
            &b,
            Tie {
                local_resolves: Some(true),
            },
        );
        assert_eq!(known.outcome, resync(Side::Peer, Amount::Bitmap));
        // 8.4 rule 41: a current primary wins.
        let mut primary = a.clone();
        primary.primary = true;
        let v = compare(Kernel::Drbd84, &primary, &b, Tie::default());
        assert_eq!(
            (v.outcome, v.rule.number),
            (resync(Side::Local, Amount::Bitmap), 41)
        );
    }

    #[test]
    fn zero_history_slots_are_no_common_ancestor_on_9_but_are_on_84() {
        let a = gi(0xB0, 0, 0, 0);
        let b = gi(0xC0, 0, 0, 0);
        assert_eq!(
            compare(Kernel::Drbd9, &a, &b, Tie::default()).outcome,
            Outcome::Unrelated
        );
        assert_eq!(
            compare(Kernel::Drbd84, &a, &b, Tie::default()).outcome,
            Outcome::SplitBrain { auto: false }
        );
    }
}
