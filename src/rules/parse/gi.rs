//! Generation identifiers (GIs) as the tools and the kernel print them:
//! - `get-gi` (and the line inside `show-gi`'s drawing): `CUR:BITMAP:HIST1:HIST2:` then the
//!   flag digits, 7 for DRBD 8.4 (`dt_print_uuids`, drbd-utils user/shared/shared_tool.c) and
//!   12 for DRBD 9 and BSR (`dt_print_v9_uuids`, user/v9/drbdtool_common.c,
//!   bsr-utils/user/v9/bsrtool_common.c);
//! - `dump-md`: 8.4's `uuid { 0x…; 0x…; 0x…; 0x…; flags 0x…; }` and 9's `current-uuid 0x…;`,
//!   `peer[N] { bitmap-uuid 0x…; }`, `history-uuids { 0x…; … }` (drbdmeta.c);
//! - the kernel's handshake: `self C:B:H1:H2 bits:N flags:X`, `peer …`, then
//!   `uuid_compare()=R by rule M` (8.4, 9 up to 9.0.28: numbers), `… by rule=NAME` (9 from
//!   9.0.29 / 9.1.1), BSR's `uuid_compare(R) by rule M` (drbd_receiver.c, bsr_receiver.c).
//!
//! Pure functions over text; they never fail, and what they cannot read they skip.
use crate::rules::uuid_compare::{Gi, Kernel, Outcome};

/// The meta-data flag `MDF_CRASHED_PRIMARY` (1 << 6 in 8.4 and 9: drbd-utils linux/drbd.h,
/// user/v84/linux/drbd.h), as dump-md prints it in `flags 0x…`.
const MDF_CRASHED_PRIMARY: u64 = 1 << 6;
/// The handshake's `flags:` bits (drbd_protocol.h, bsr_protocol.h; 8.4 sends 2 for crashed).
const UUID_FLAG_CRASHED_PRIMARY: u64 = 1 << 1;
const UUID_FLAG_RECONNECT: u64 = 1 << 8;
const UUID_FLAG_PRIMARY_LOST_QUORUM: u64 = 1 << 10;

fn hex16(word: &str) -> Option<u64> {
    let word = word.trim();
    let word = word.strip_prefix("0x").unwrap_or(word);
    if word.is_empty() || word.len() > 16 || !word.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(word, 16).ok()
}

/// Which tool family printed a `get-gi` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiFormat {
    /// 7 flag digits.
    V84,
    /// 12 flag digits (DRBD 9 or BSR: the same layout up to the flags' meaning).
    V9,
}

/// One `get-gi` line: four UUIDs and the flag digits.
pub fn get_gi_line(line: &str) -> Option<(Gi, GiFormat)> {
    let line = line.trim();
    if line.len() > 400 {
        return None;
    }
    let parts: Vec<&str> = line.split(':').collect();
    if parts.len() != 4 + 7 && parts.len() != 4 + 12 {
        return None;
    }
    let uuids: Vec<u64> = parts[..4]
        .iter()
        .map(|p| if p.len() == 16 { hex16(p) } else { None })
        .collect::<Option<_>>()?;
    let flags: Vec<bool> = parts[4..]
        .iter()
        .map(|p| match *p {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let (format, crashed, lost_quorum) = if flags.len() == 7 {
        // consistent, was-up-to-date, primary, connected, full-sync, peer-outdated, crashed
        (GiFormat::V84, flags[6], false)
    } else {
        // consistent, was-up-to-date, primary, crashed, al-clean, al-disabled,
        // lost-quorum (DRBD 9; BSR's 7th digit is "connected", which no rule reads)
        (GiFormat::V9, flags[3], flags[6])
    };
    Some((
        Gi {
            current: uuids[0],
            bitmap: uuids[1],
            history: vec![uuids[2], uuids[3]],
            crashed_primary: crashed,
            lost_quorum: lost_quorum && format == GiFormat::V9,
            ..Gi::default()
        },
        format,
    ))
}

/// The first `get-gi` line in a command's output (`get-gi`, `show-gi`, `drbdmeta … get-gi`).
pub fn find_get_gi(text: &str) -> Option<(Gi, GiFormat)> {
    text.lines().take(10_000).find_map(get_gi_line)
}

/// Where a GI line of `drbdadm -v get-gi all` (or `bsradm -v …`) belongs: drbdadm echoes each
/// command it runs on stdout before the command's own output (`drbdsetup get-gi r0 1 0`,
/// 8.4's `drbdsetup get-gi 0` / `drbdsetup 0 get-gi`, and, when the device is down, the
/// read-only fall-back `drbdmeta 0 v09 /dev/sdb1 internal --node-id=1 get-gi`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GiRecord {
    pub resource: Option<String>,
    pub volume: Option<u32>,
    /// DRBD 9 / BSR: the peer node id this GI's bitmap is kept for.
    pub peer_node_id: Option<u32>,
    pub minor: Option<u32>,
    /// 1-based line of the GI in the output.
    pub line: u64,
    pub gi: Gi,
    pub format: Option<GiFormat>,
}

/// Every GI line of a get-gi / show-gi output, each with the command echoed before it. Bounded
/// by the output's first 10 000 lines and 1 024 records.
pub fn records(text: &str) -> Vec<GiRecord> {
    let mut out = Vec::new();
    let mut context = GiRecord::default();
    for (i, line) in text.lines().take(10_000).enumerate() {
        if out.len() >= 1024 {
            break;
        }
        if let Some(echo) = command_echo(line) {
            // The drbdmeta fall-back follows the drbdsetup attempt for the same volume: it
            // keeps the resource and volume the drbdsetup line named.
            let same = echo.resource.is_none()
                && echo.peer_node_id == context.peer_node_id
                && (echo.minor.is_none() || context.minor.is_none() || echo.minor == context.minor);
            context = if same {
                GiRecord {
                    minor: echo.minor.or(context.minor),
                    ..context.clone()
                }
            } else {
                echo
            };
            continue;
        }
        if let Some((gi, format)) = get_gi_line(line) {
            out.push(GiRecord {
                line: i as u64 + 1,
                gi,
                format: Some(format),
                ..context.clone()
            });
        }
    }
    out
}

/// `drbdsetup get-gi r0 1 0`, `/lib/drbd/drbdsetup-84 get-gi 0`, `drbdsetup 0 get-gi`,
/// `drbdmeta 0 v09 /dev/x internal --node-id=1 get-gi`, the same with `show-gi` and BSR's
/// `bsrsetup` / `bsrmeta`.
fn command_echo(line: &str) -> Option<GiRecord> {
    if line.len() > 1000 {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().take(32).collect();
    let tool = words.first()?.rsplit('/').next()?;
    let at = words
        .iter()
        .position(|w| *w == "get-gi" || *w == "show-gi")?;
    let number = |w: Option<&&str>| w.and_then(|w| w.parse::<u32>().ok());
    let mut record = GiRecord::default();
    if tool.starts_with("drbdsetup") || tool.starts_with("bsrsetup") {
        if at == 1 {
            // 9 / BSR: RES PEER VOL; 8.4 (9.x utilities): MINOR.
            let args = &words[2..];
            match args.len() {
                1 => record.minor = number(args.first()),
                n if n >= 3 => {
                    record.resource = Some(args[0].to_string());
                    record.peer_node_id = number(args.get(1));
                    record.volume = number(args.get(2));
                }
                _ => return None,
            }
        } else {
            // 8.4 utilities: `drbdsetup MINOR get-gi` (or /dev/drbdN).
            let device = words[1];
            record.minor = device
                .trim_start_matches("/dev/drbd")
                .trim_start_matches("/dev/bsr")
                .parse()
                .ok();
        }
        return Some(record);
    }
    if tool.starts_with("drbdmeta") || tool.starts_with("bsrmeta") {
        record.minor = number(words.get(1));
        record.peer_node_id = words
            .iter()
            .find_map(|w| w.strip_prefix("--node-id="))
            .and_then(|n| n.parse().ok());
        return Some(record);
    }
    None
}

/// `dump-md` output. 8.4 (`version "v08"`) gives a complete GI; 9 gives the current UUID, the
/// history and every peer slot's bitmap UUID (`bitmaps[i]` for `peer[i]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpMd {
    pub version: String,
    pub current: Option<u64>,
    pub history: Vec<u64>,
    /// v08: the bitmap UUID. v09: `peer[i]`'s, by slot index.
    pub bitmaps: Vec<u64>,
    pub flags: u64,
}

pub fn dump_md(text: &str) -> Option<DumpMd> {
    let mut md = DumpMd::default();
    let mut in_uuid_block = false;
    let mut in_history = false;
    let mut v08_uuids: Vec<u64> = Vec::new();
    for line in text.lines().take(100_000) {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some(v) = line.strip_prefix("version ") {
            md.version = v
                .trim_matches(|c| c == '"' || c == ';' || c == ' ')
                .to_string();
            continue;
        }
        if line.starts_with("uuid {") {
            in_uuid_block = true;
            continue;
        }
        if line.starts_with("history-uuids {") {
            in_history = true;
            continue;
        }
        if line.starts_with('}') {
            in_uuid_block = false;
            in_history = false;
            continue;
        }
        let words = line
            .split(';')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .take(64);
        for word in words {
            if let Some(flags) = word.strip_prefix("flags ") {
                if in_uuid_block || md.current.is_some() && md.bitmaps.is_empty() {
                    md.flags = hex16(flags).unwrap_or(0);
                }
            } else if let Some(uuid) = word.strip_prefix("current-uuid ") {
                md.current = hex16(uuid);
            } else if let Some(uuid) = word.strip_prefix("bitmap-uuid ") {
                md.bitmaps.push(hex16(uuid).unwrap_or(0));
            } else if in_uuid_block {
                if let Some(uuid) = hex16(word) {
                    v08_uuids.push(uuid);
                }
            } else if in_history {
                if let Some(uuid) = hex16(word) {
                    md.history.push(uuid);
                }
            }
        }
    }
    if v08_uuids.len() >= 4 {
        md.current = Some(v08_uuids[0]);
        md.bitmaps = vec![v08_uuids[1]];
        md.history = v08_uuids[2..4].to_vec();
    }
    md.current?;
    Some(md)
}

impl DumpMd {
    /// The GI toward the peer in `slot` (9; ignored for v08).
    pub fn gi(&self, slot: usize) -> Gi {
        let v08 = self.version == "v08";
        let bitmap = if v08 {
            self.bitmaps.first().copied().unwrap_or(0)
        } else {
            self.bitmaps.get(slot).copied().unwrap_or(0)
        };
        let other_bitmaps = if v08 {
            Vec::new()
        } else {
            self.bitmaps
                .iter()
                .enumerate()
                .filter(|(i, b)| *i != slot && **b != 0)
                .map(|(_, b)| *b)
                .collect()
        };
        let crashed = self.flags & MDF_CRASHED_PRIMARY != 0;
        Gi {
            current: self.current.unwrap_or(0),
            bitmap,
            history: self.history.clone(),
            other_bitmaps,
            crashed_primary: crashed,
            ..Gi::default()
        }
    }
}

/// A `self …` / `peer …` line of a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeSide {
    pub gi: Gi,
    pub bits: u64,
    pub flags: u64,
}

/// `self C:B:H1:H2 bits:N flags:X` or `peer …` anywhere in a kernel log line; which one, and
/// the GI with the flags the kernel sent.
pub fn handshake_side(line: &str) -> Option<(bool, HandshakeSide)> {
    if line.len() > 2000 {
        return None;
    }
    let (is_self, rest) = ["self ", "peer "].iter().find_map(|tag| {
        let at = line.find(tag)?;
        // The tag is a word of its own (`: self `), not the tail of another.
        let before = line[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric()) {
            return None;
        }
        Some((*tag == "self ", &line[at + tag.len()..]))
    })?;
    let mut words = rest.split_whitespace();
    let uuids: Vec<u64> = words
        .next()?
        .split(':')
        .map(|p| if p.len() == 16 { hex16(p) } else { None })
        .collect::<Option<_>>()?;
    if uuids.len() != 4 {
        return None;
    }
    let bits = words.next()?.strip_prefix("bits:")?.parse().ok()?;
    let flags = hex16(words.next()?.strip_prefix("flags:")?)?;
    Some((
        is_self,
        HandshakeSide {
            gi: Gi {
                current: uuids[0],
                bitmap: uuids[1],
                history: vec![uuids[2], uuids[3]],
                crashed_primary: flags & UUID_FLAG_CRASHED_PRIMARY != 0,
                reconnect: flags & UUID_FLAG_RECONNECT != 0,
                lost_quorum: flags & UUID_FLAG_PRIMARY_LOST_QUORUM != 0,
                ..Gi::default()
            },
            bits,
            flags,
        },
    ))
}

/// How the kernel named the rule in its result line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleName {
    Number(u32),
    Name(String),
}

/// `uuid_compare()=R by rule M` and its variants, with the outcome in the kernel's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelResult {
    /// What was printed after `=` (or inside BSR's parentheses).
    pub printed: String,
    pub outcome: Option<Outcome>,
    pub rule: RuleName,
    /// Which numbering the line used (8.4 and BSR integers differ; a name means DRBD 9).
    pub kernel: Kernel,
}

/// The result line; `kernel_hint` tells 8.4's integers from 9.0's (the log prefix does:
/// 8.4 logs `block drbdN:`, 9 logs `drbd RES/VOL drbdN PEER:`).
pub fn handshake_result(line: &str) -> Option<KernelResult> {
    if line.len() > 2000 {
        return None;
    }
    let at = line.find("uuid_compare(")?;
    let rest = &line[at + "uuid_compare(".len()..];
    let (printed, after, bsr) = if let Some(rest) = rest.strip_prefix(")=") {
        let end = rest.find(' ')?;
        (&rest[..end], &rest[end..], false)
    } else {
        let end = rest.find(')')?;
        (&rest[..end], &rest[end + 1..], true)
    };
    let after = after.trim_start().strip_prefix("by rule")?;
    let rule = if let Some(name) = after.strip_prefix('=') {
        RuleName::Name(name.split_whitespace().next()?.to_string())
    } else {
        RuleName::Number(after.split_whitespace().next()?.parse().ok()?)
    };
    let number: Option<i64> = printed.parse().ok();
    let kernel = if bsr {
        Kernel::Bsr
    } else if number.is_some() && is_84_prefix(line) {
        Kernel::Drbd84
    } else {
        Kernel::Drbd9
    };
    let outcome = match (kernel, number) {
        (Kernel::Drbd84, Some(n)) => Outcome::from_84(n),
        (_, Some(n)) => Outcome::from_9_number(n),
        (_, None) => Outcome::from_9_name(printed),
    };
    Some(KernelResult {
        printed: printed.to_string(),
        outcome,
        rule,
        kernel,
    })
}

/// 8.4 prefixes device lines `block drbdN:`; 9 writes `drbd RES/VOL drbdN`.
fn is_84_prefix(line: &str) -> bool {
    line.contains("block drbd")
}

/// One handshake found in a log: the two sides and the kernel's result, in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Line number (1-based) of the result line.
    pub line: u64,
    pub local: Option<HandshakeSide>,
    pub peer: Option<HandshakeSide>,
    pub result: KernelResult,
    /// The device / resource text before `self` (`block drbd9`, `drbd r0/0 drbd0 node-b`).
    pub device: String,
}

/// Collects handshakes line by line (bounded: the latest `MAX` are kept).
#[derive(Debug, Default, Clone)]
pub struct HandshakeScan {
    local: Option<HandshakeSide>,
    peer: Option<HandshakeSide>,
    device: String,
    pub found: Vec<Handshake>,
}

impl HandshakeScan {
    pub const MAX: usize = 64;

    /// Feeds one line; `number` is its 1-based line number.
    pub fn line(&mut self, number: u64, line: &str) {
        if !line.contains("self ") && !line.contains("peer ") && !line.contains("uuid_compare(") {
            return;
        }
        if let Some((is_self, side)) = handshake_side(line) {
            let device = device_of(line, if is_self { "self " } else { "peer " });
            if is_self {
                self.local = Some(side);
                self.device = device;
            } else {
                self.peer = Some(side);
            }
            return;
        }
        if let Some(result) = handshake_result(line) {
            if self.found.len() == Self::MAX {
                self.found.remove(0);
            }
            self.found.push(Handshake {
                line: number,
                local: self.local.take(),
                peer: self.peer.take(),
                result,
                device: std::mem::take(&mut self.device),
            });
        }
    }
}

/// The text between the kernel's `kernel:` / timestamp prefix and `self ` (best effort).
fn device_of(line: &str, tag: &str) -> String {
    let Some(at) = line.find(tag) else {
        return String::new();
    };
    let head = line[..at].trim_end().trim_end_matches(':');
    let head = head.rsplit("] ").next().unwrap_or(head);
    let head = head.rsplit("kernel: ").next().unwrap_or(head);
    head.trim().chars().take(200).collect()
}

/// Whose role a `role( … -> … )` state-change line reports, as the kernel names it before the
/// change: DRBD 8.4 prints the device (`block drbd0:`, `dev_info`), DRBD 9 the resource
/// (`drbd r0:`, `drbd_info(resource, …)`; device lines are `drbd r0/0 drbd0:`), BSR the resource
/// on Linux (`<6> bsr r0:`) and on Windows with its state after the name
/// (`<6> bsr r0, r(Secondary), f(0x…), scf(0x…):`, bsr/bsr_int.h `__bsr_printk_resource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleOwner {
    Resource(String),
    Minor(u32),
}

/// The owner named last before `role(` in `line`; None when the line names none.
pub fn role_owner(line: &str) -> Option<RoleOwner> {
    static OWNER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let owner = OWNER.get_or_init(|| {
        regex::Regex::new(
            r"(?:^|[\s>\]])(?:block drbd(\d{1,7})|(?:drbd|bsr) ([^\s:/,()]{1,128})(?:/\d+ (?:drbd|bsr)\d+)?)[:,]",
        )
        .expect("the owner pattern compiles")
    });
    let before = &line[..line.find("role(")?];
    let found = owner.captures_iter(before).last()?;
    if let Some(minor) = found.get(1) {
        return minor.as_str().parse().ok().map(RoleOwner::Minor);
    }
    found
        .get(2)
        .map(|name| RoleOwner::Resource(name.as_str().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The owners of role lines in the forms the kernels' print macros give (8.4 `dev_info`,
    /// DRBD 9 `drbd_info(resource)`, BSR `__bsr_printk_resource` on Linux and Windows).
    #[test]
    fn a_role_line_names_its_minor_or_resource() {
        let cases = [
            (
                "Jan 23 21:02:11 alpha kernel: [25910.9] block drbd9: role( Secondary -> Primary ) ",
                Some(RoleOwner::Minor(9)),
            ),
            (
                "Nov 24 10:00:00 n1 kernel: drbd r0: role( Secondary -> Primary ) [primary]",
                Some(RoleOwner::Resource("r0".into())),
            ),
            (
                "Nov 24 10:00:00 n1 kernel: drbd halodb-dg/0 drbd0: role( Secondary -> Primary )",
                Some(RoleOwner::Resource("halodb-dg".into())),
            ),
            (
                "Nov 24 10:00:00 n1 kernel: <6> bsr r0: change_role, role( Secondary -> Primary )",
                Some(RoleOwner::Resource("r0".into())),
            ),
            (
                "<6> bsr r1, r(Secondary), f(0x0), scf(0x0): change_role, role( Secondary -> Primary )",
                Some(RoleOwner::Resource("r1".into())),
            ),
            ("kernel: role( Secondary -> Primary )", None),
            ("block drbd0: conn( Connected -> StandAlone )", None),
        ];
        for (line, owner) in cases {
            assert_eq!(role_owner(line), owner, "{line}");
        }
    }
    use crate::rules::uuid_compare::{Amount, Side};

    #[test]
    fn get_gi_lines_of_both_families() {
        let (gi, f) = get_gi_line(
            "0000000000000004:0000000000000000:0000000000000000:0000000000000000:0:0:0:0:0:0:0",
        )
        .unwrap();
        assert_eq!((gi.current, f), (4, GiFormat::V84));
        let (gi, f) = get_gi_line("0000000000000004:0000000000000000:0000000000000000:0000000000000000:0:0:0:1:1:0:0:0:0:0:0:0").unwrap();
        assert!(gi.crashed_primary);
        assert_eq!(f, GiFormat::V9);
        assert!(get_gi_line("0000000000000004:00:00:00:0:0:0:0:0:0:0").is_none());
        assert!(get_gi_line("a:b").is_none());
        assert!(get_gi_line(&"0".repeat(100_000)).is_none());
    }

    #[test]
    fn handshake_lines_of_the_three_kernels() {
        let r = handshake_result("block drbd9: uuid_compare()=100 by rule 90").unwrap();
        assert_eq!(r.kernel, Kernel::Drbd84);
        assert_eq!(r.outcome, Some(Outcome::SplitBrain { auto: true }));
        assert_eq!(r.rule, RuleName::Number(90));
        let r = handshake_result(
            "drbd r/0 drbd0 b: uuid_compare()=target-use-bitmap by rule=bitmap-peer",
        )
        .unwrap();
        assert_eq!(r.kernel, Kernel::Drbd9);
        assert_eq!(
            r.outcome,
            Some(Outcome::Resync {
                source: Side::Peer,
                amount: Amount::Bitmap
            })
        );
        let r = handshake_result("bsr r0: uuid_compare(-3) by rule 60").unwrap();
        assert_eq!(r.kernel, Kernel::Bsr);
        assert_eq!(r.rule, RuleName::Number(60));
        assert!(handshake_result("uuid_compare()").is_none());
    }
}
