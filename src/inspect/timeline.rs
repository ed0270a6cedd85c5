//! Events for the HTML report's timeline, gathered in the same streaming pass as the rules: every
//! line goes through one `RegexSet`; the few that match are classified, and their neighbourhood
//! is kept so a finding's evidence can be shown with the lines around it. Times are read at the
//! end, when the bundle's collection time (the reference for year-less lines) is known: index.json
//! comes last in a bundle.
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, FixedOffset, Offset, Utc};
use regex::bytes::RegexSet;

use crate::lines::LineSink;
use crate::logtime::LineClock;
use crate::rules::Catalogue;

/// Candidate events held during the pass, per node (bounds memory on huge bundles).
pub const PASS_CAP: usize = 30_000;
/// Beyond `PASS_CAP`, events are only counted, per file and `COUNT_GRAIN` of time; this many
/// such counts are held per node (each ~100 bytes), past which an event is counted as unplaced.
const COUNT_RECORDS: usize = 60_000;
/// The time grain of those counts, in seconds.
const COUNT_GRAIN: i64 = 300;
/// Bytes of a line `LineClock` reads its time from.
const TIME_PREFIX: usize = 64;
/// Events a node's lane gets in the report.
pub const EVENT_CAP: usize = 5_000;
/// Bytes of event text a node's lane gets in the report.
pub const EVENT_BYTES: usize = 1_500_000;
/// Longest line kept (event text, context lines), in bytes.
pub const LINE_CAP: usize = 300;
/// Lines kept before and after an interesting line, and around a finding's line in the report.
pub const CONTEXT: usize = 5;
/// Every line of a file's head is kept (configs and command outputs are short; structured checks
/// point anywhere in them).
const HEAD_LINES: u64 = 1_000;
/// Context lines kept per file beyond its head: the latest ones win (rules keep the latest hit).
const WINDOW_LINES: usize = 2_000;
/// Context kept per node in memory (not all of it goes into the report).
const CONTEXT_BUDGET: usize = 24 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error,
    Warning,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Replication state (conn/pdsk/role/disk changes, handshakes).
    Replication,
    /// DRX bridging/bridged and its connection errors.
    Drx,
    /// Any other error or warning line.
    Log,
    /// The bundle's collection.
    Collect,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Replication => "repl",
            Kind::Drx => "drx",
            Kind::Log => "log",
            Kind::Collect => "collect",
        }
    }
}

/// One event with its time read.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// The year or zone of the time was not in the line.
    pub guessed: bool,
    pub kind: Kind,
    pub level: Level,
    /// Bundle path; empty for the collection events.
    pub path: String,
    pub line: u64,
    pub text: String,
}

impl Event {
    /// Lower is more relevant: errors, then state changes, then warnings, then the rest.
    fn tier(&self) -> u8 {
        match (self.kind, self.level) {
            (Kind::Collect, _) => 0,
            (_, Level::Error) => 1,
            (Kind::Replication | Kind::Drx, _) => 2,
            (_, Level::Warning) => 3,
            _ => 4,
        }
    }
}

/// A classified line whose time is read in `finish`.
struct Raw {
    path: u32,
    line: u64,
    text: String,
    kind: Kind,
    level: Level,
    header_year: Option<i32>,
}

// Indices of our own patterns in the set; the catalogue's line patterns follow them, so a line a
// rule may fire on keeps its neighbourhood too.
const STATE_CHANGE: usize = 0;
const STATE_WORD: usize = 1;
const BRIDGE: usize = 2;
const REFUSED: usize = 3;
const GLOG_ERROR: usize = 4;
const GLOG_WARNING: usize = 5;
const BSR_ERROR: usize = 6;
const BSR_WARNING: usize = 7;
const BURN_ERROR: usize = 8;
const BURN_WARNING: usize = 9;
const KERNEL_ERROR: usize = 10;
const SERIOUS: usize = 11;
const HANDSHAKE: usize = 12;
const OWN: [&str; 13] = [
    r"\b(?:conn|pdsk|disk|role|repl|peer|susp|peer-disk)\( ?[A-Za-z]+ -> [A-Za-z]+ ?\)",
    r"\b(?:StandAlone|Connecting|Connected|WFConnection|Disconnecting|NetworkFailure|BrokenPipe|ProtocolError|TearDown)\b",
    r"(?i)\bbridg(?:ing|ed)\b",
    r"(?i)connection refused",
    r"^[EF]\d{4}",
    r"^W\d{4}",
    r"bsr_(?:erro|crit)",
    r"bsr_warn",
    r"^\[[0-9A-Fa-f]+:[0-9A-Fa-f]+\]\[[^\]]+\]e\d{3}",
    r"^\[[0-9A-Fa-f]+:[0-9A-Fa-f]+\]\[[^\]]+\]w\d{3}",
    r"(?i)kernel:.*\berror\b",
    r"(?i)split-brain|authentication of peer failed|failure to authentication|unrelated data",
    // The handshake: DRBD 9's result, the sync handshake's first line and its verdict
    // (`uuid_compare()=R by rule M`, BSR's `uuid_compare(R) by rule M`).
    r"Handshake (?:to peer \d+ )?successful|drbd_sync_handshake:|bsr_sync_handshake|uuid_compare\(",
];

/// States a connection or disk falls into when something is wrong.
const BAD_STATES: [&str; 11] = [
    "StandAlone",
    "NetworkFailure",
    "BrokenPipe",
    "ProtocolError",
    "Timeout",
    "Disconnecting",
    "TearDown",
    "Diskless",
    "Failed",
    "Outdated",
    "Inconsistent",
];

/// What a line is on the timeline, from the patterns it matched; None: not an event.
pub fn classify(line: &str, matched: &[usize]) -> Option<(Kind, Level)> {
    let has = |i: usize| matched.contains(&i);
    let engine_line = line.len() > 9 && line.as_bytes()[..8].iter().all(u8::is_ascii_digit);
    let lower = line.to_ascii_lowercase();
    let replication_context = engine_line || lower.contains("drbd") || lower.contains("bsr");
    let error = has(GLOG_ERROR)
        || has(BSR_ERROR)
        || has(BURN_ERROR)
        || has(KERNEL_ERROR)
        || has(SERIOUS)
        || has(REFUSED);
    let warning = has(GLOG_WARNING) || has(BSR_WARNING) || has(BURN_WARNING);
    let state = replication_event(&has, replication_context);
    let kind = if has(BRIDGE) || (has(REFUSED) && !state && !replication_context) {
        Kind::Drx
    } else if state {
        Kind::Replication
    } else if error || warning {
        Kind::Log
    } else {
        return None;
    };
    let level = if error {
        Level::Error
    } else if warning || (kind == Kind::Replication && enters_bad_state(line)) {
        Level::Warning
    } else if kind == Kind::Drx && lower.contains("bridging") {
        // Still trying to reach the peer DRX: worth a look, not yet a failure.
        Level::Warning
    } else {
        Level::Info
    };
    Some((kind, level))
}

/// A replication state event: a state change (`role( Secondary -> Primary )`, `conn( … -> … )`),
/// a handshake line, a connection state named by a replication module, or the module's verdict
/// on the connection (split brain, unrelated data, failed authentication): the last are errors,
/// and still state changes, so they sit on the timeline beside the role and conn changes.
fn replication_event(has: &dyn Fn(usize) -> bool, replication_context: bool) -> bool {
    has(STATE_CHANGE)
        || has(HANDSHAKE)
        || ((has(STATE_WORD) || has(SERIOUS)) && replication_context)
}

/// True when a `x( A -> B )` change ends in a bad state, or a bad state is named without one.
fn enters_bad_state(line: &str) -> bool {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(arrow) = rest.find("-> ") {
        let after = &rest[arrow + 3..];
        let word: String = after
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        targets.push(word);
        rest = after;
    }
    if targets.is_empty() {
        return BAD_STATES.iter().any(|s| line.contains(s));
    }
    targets.iter().any(|t| BAD_STATES.contains(&t.as_str()))
}

/// Facts about the host read while streaming, for the hosts table.
#[derive(Debug, Clone, Default)]
pub struct HostExtra {
    /// `BSRADM_VERSION=` of `bsradm -V`, or the `/proc/bsr` build tag.
    pub bsr_version: Option<String>,
    /// `BSR_KERNEL_VERSION_CODE` decoded: the loaded driver.
    pub bsr_kernel: Option<String>,
    /// The zone systeminfo names, e.g. `(UTC+09:00) Seoul`.
    pub zone: Option<(String, FixedOffset)>,
}

/// Gathers one node's events and context lines; fed every line of the bundle.
pub struct Gather {
    set: RegexSet,
    paths: Vec<String>,
    current: Option<u32>,
    ring: Vec<Vec<u8>>,
    ring_next: usize,
    ring_filled: usize,
    keep_after: usize,
    header_year: Option<i32>,
    /// Candidates by `rank`.
    raw: [Vec<Raw>; RANKS],
    held: usize,
    /// Candidate events dropped because `PASS_CAP` was reached (counted in `drops`, or
    /// `unplaced`).
    pub dropped_in_pass: u64,
    /// The dropped events, counted per file and grain of time.
    drops: Vec<Dropped>,
    /// Dropped events beyond `COUNT_RECORDS`: only their number is known.
    unplaced: u64,
    /// Dropped events whose time could not be read.
    drops_untimed: u64,
    /// The provisional clock's reference for grouping dropped events (the real one, the
    /// collection time, is known only at the end).
    provisional: DateTime<Utc>,
    /// Per path index: kept lines by number.
    context: Vec<BTreeMap<u64, String>>,
    context_bytes: usize,
    /// Lines not kept as context because the budget was spent.
    pub context_dropped: u64,
    pub extra: HostExtra,
    matched: Vec<usize>,
    /// What the node's held events, counts and context are divided by: one node's share when
    /// more than two are gathered for one report (`sharing`).
    share: usize,
}

impl Gather {
    pub fn new(catalogue: &Catalogue) -> Gather {
        let mut patterns: Vec<String> = OWN.iter().map(|p| p.to_string()).collect();
        patterns.extend(
            catalogue
                .rules()
                .iter()
                .flat_map(|r| r.patterns.iter().cloned()),
        );
        // The catalogue's patterns were validated when it loaded; should the union still fail
        // to build, ours alone (tested) keep the timeline working.
        let set = RegexSet::new(&patterns)
            .or_else(|_| RegexSet::new(OWN))
            .unwrap_or_else(|_| RegexSet::empty());
        Gather {
            set,
            paths: Vec::new(),
            current: None,
            ring: vec![Vec::new(); CONTEXT],
            ring_next: 0,
            ring_filled: 0,
            keep_after: 0,
            header_year: None,
            raw: Default::default(),
            held: 0,
            dropped_in_pass: 0,
            drops: Vec::new(),
            unplaced: 0,
            drops_untimed: 0,
            provisional: Utc::now(),
            context: Vec::new(),
            context_bytes: 0,
            context_dropped: 0,
            extra: HostExtra::default(),
            matched: Vec::new(),
            share: 1,
        }
    }

    /// This node is one of `nodes` gathered for one report: beyond a pair, each holds its share
    /// of what two would (each of 32 nodes a sixteenth: the cluster holds what a pair holds),
    /// so the report's memory stays bounded whatever the number of nodes.
    pub fn sharing(mut self, nodes: usize) -> Gather {
        self.share = nodes.div_ceil(2).max(1);
        self
    }

    fn switch_to(&mut self, path: &str) -> u32 {
        let index = self.paths.len() as u32;
        self.paths.push(path.to_string());
        self.context.push(BTreeMap::new());
        self.current = Some(index);
        self.ring_filled = 0;
        self.ring_next = 0;
        self.keep_after = 0;
        self.header_year = None;
        index
    }

    fn keep(&mut self, file: u32, line_no: u64, line: &[u8]) {
        let Some(lines) = self.context.get_mut(file as usize) else {
            return;
        };
        if lines.contains_key(&line_no) {
            return;
        }
        if self.context_bytes + line.len().min(LINE_CAP) > CONTEXT_BUDGET / self.share {
            self.context_dropped += 1;
            return;
        }
        let text = clip(&String::from_utf8_lossy(line));
        self.context_bytes += text.len();
        lines.insert(line_no, text);
        if line_no > HEAD_LINES && lines.len() > HEAD_LINES as usize + WINDOW_LINES {
            // Evict the oldest window line (past the head).
            let oldest = lines.range(HEAD_LINES + 1..).next().map(|(n, _)| *n);
            if let Some(n) = oldest {
                if let Some(text) = lines.remove(&n) {
                    self.context_bytes -= text.len();
                }
            }
        }
    }

    fn read_extra(&mut self, path: &str, line_no: u64, text: &str) {
        match path {
            "commands/bsradm-version.txt" => {
                if let Some(v) = text.strip_prefix("BSRADM_VERSION=") {
                    self.extra.bsr_version = Some(clip(v.trim()));
                } else if let Some(code) = text.strip_prefix("BSR_KERNEL_VERSION_CODE=0x") {
                    self.extra.bsr_kernel = kernel_code(code.trim());
                }
            }
            "files/proc/bsr" if line_no == 1 && self.extra.bsr_version.is_none() => {
                let tag = text.strip_prefix("BSR:").unwrap_or("").trim();
                let version = tag.split_whitespace().next().unwrap_or("");
                if !version.is_empty() && !version.starts_with("(api") {
                    self.extra.bsr_version = Some(clip(version));
                }
            }
            "commands/systeminfo.txt" if self.extra.zone.is_none() => {
                if let Some(zone) = systeminfo_zone(text) {
                    self.extra.zone = Some(zone);
                }
            }
            _ => {}
        }
    }

    /// Reads the times (year-less lines take the year of `reference`, the collection time) and
    /// returns every event with a readable time.
    pub fn finish(self, reference: Option<DateTime<Utc>>, windows: bool) -> Gathered {
        let reference = reference.unwrap_or_else(Utc::now);
        let (offset, zone_known) = match &self.extra.zone {
            Some((_, offset)) => (*offset, true),
            None => (utc(), false),
        };
        let engine = (!windows).then(kst);
        let mut events = Vec::with_capacity(self.held);
        let mut untimed = 0u64;
        // A fresh clock per line: no state carries between lines of different files.
        let clock = |header_year: Option<i32>| {
            let clock = LineClock::new(offset, reference)
                .bsr_engine_offset(engine)
                .with_header_year(header_year);
            if zone_known {
                clock
            } else {
                clock.zone_unknown()
            }
        };
        for raw in self.raw.into_iter().flatten() {
            let Some(stamp) = clock(raw.header_year).stamp_of(raw.text.as_bytes()) else {
                untimed += 1;
                continue;
            };
            events.push(Event {
                at: stamp.at,
                guessed: stamp.guessed(),
                kind: raw.kind,
                level: raw.level,
                path: self
                    .paths
                    .get(raw.path as usize)
                    .cloned()
                    .unwrap_or_default(),
                line: raw.line,
                text: raw.text,
            });
        }
        let mut counted = Vec::with_capacity(self.drops.len());
        for drop in &self.drops {
            match clock(drop.header_year).stamp_of(&drop.prefix) {
                Some(stamp) => counted.push(Counted {
                    at: stamp.at,
                    count: drop.count,
                    worst: drop.worst,
                }),
                None => untimed += drop.count,
            }
        }
        let context = self
            .paths
            .into_iter()
            .zip(self.context)
            .filter(|(_, lines)| !lines.is_empty())
            .collect();
        Gathered {
            events,
            counted,
            untimed: untimed + self.drops_untimed,
            unplaced: self.unplaced,
            dropped_in_pass: self.dropped_in_pass,
            context,
            context_dropped: self.context_dropped,
            extra: self.extra,
            zone_known,
        }
    }
}

impl LineSink for Gather {
    fn line(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
        let file = match self.current {
            Some(i) if self.paths.get(i as usize).map(String::as_str) == Some(bundle_path) => i,
            _ => self.switch_to(bundle_path),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"Log file created at: ") {
            self.header_year = line
                .get(21..25)
                .and_then(|y| std::str::from_utf8(y).ok())
                .and_then(|y| y.parse().ok());
        }
        if line_no <= 3 || bundle_path.starts_with("commands/") {
            if let Ok(text) = std::str::from_utf8(line) {
                self.read_extra(bundle_path, line_no, text.trim_start_matches('\u{feff}'));
            }
        }
        if line_no <= HEAD_LINES || self.keep_after > 0 {
            self.keep(file, line_no, line);
            self.keep_after = self.keep_after.saturating_sub(1);
        }
        if self.set.is_match(line) {
            self.matched.clear();
            self.matched.extend(self.set.matches(line).iter());
            // Findings point at lines a catalogue pattern matched: only those need their
            // neighbourhood (an event alone shows its own line), which keeps a log full of state
            // changes from being copied line by line.
            if self.matched.iter().any(|i| *i >= OWN.len()) {
                for back in (1..=self.ring_filled).rev() {
                    let slot = (self.ring_next + CONTEXT - back) % CONTEXT;
                    let before = std::mem::take(&mut self.ring[slot]);
                    self.keep(file, line_no - back as u64, &before);
                    self.ring[slot] = before;
                }
                self.keep(file, line_no, line);
                self.keep_after = CONTEXT;
            }
            let text = clip(&String::from_utf8_lossy(line));
            if let Some((kind, level)) = classify(&text, &self.matched) {
                self.push(Raw {
                    path: file,
                    line: line_no,
                    text,
                    kind,
                    level,
                    header_year: self.header_year,
                });
            }
        }
        let slot = &mut self.ring[self.ring_next];
        slot.clear();
        slot.extend_from_slice(&line[..line.len().min(LINE_CAP)]);
        self.ring_next = (self.ring_next + 1) % CONTEXT;
        self.ring_filled = (self.ring_filled + 1).min(CONTEXT).min(line_no as usize);
    }
}

impl Gather {
    /// Holds a candidate; when full, a more relevant one replaces one of the least relevant.
    fn push(&mut self, raw: Raw) {
        let rank = rank(raw.kind, raw.level);
        if self.held < PASS_CAP / self.share {
            self.held += 1;
            self.raw[rank].push(raw);
            return;
        }
        self.dropped_in_pass += 1;
        let dropped = match (rank + 1..RANKS).rev().find(|r| !self.raw[*r].is_empty()) {
            Some(worst) => {
                let out = self.raw[worst].pop();
                self.raw[rank].push(raw);
                out
            }
            None => Some(raw),
        };
        if let Some(dropped) = dropped {
            self.count_dropped(&dropped);
        }
    }

    /// Counts a dropped event in the record of its file and time grain: consecutive drops of a
    /// file in the same grain share one record (logs run forward in time), whose first line
    /// gives the time once the real clock is known.
    fn count_dropped(&mut self, raw: &Raw) {
        let prefix = &raw.text.as_bytes()[..raw.text.len().min(TIME_PREFIX)];
        let Some(at) = LineClock::new(utc(), self.provisional)
            .with_header_year(raw.header_year)
            .time_of(prefix)
        else {
            self.drops_untimed += 1;
            return;
        };
        let grain = at.timestamp().div_euclid(COUNT_GRAIN);
        if let Some(last) = self.drops.last_mut() {
            if last.path == raw.path && last.grain == grain && last.header_year == raw.header_year {
                last.count += 1;
                last.worst = last.worst.min(raw.level);
                return;
            }
        }
        if self.drops.len() >= COUNT_RECORDS / self.share {
            self.unplaced += 1;
            return;
        }
        self.drops.push(Dropped {
            path: raw.path,
            header_year: raw.header_year,
            grain,
            prefix: prefix.into(),
            count: 1,
            worst: raw.level,
        });
    }
}

/// Events dropped during the pass that share a file and a grain of time.
struct Dropped {
    path: u32,
    header_year: Option<i32>,
    grain: i64,
    /// The start of the record's first line: its time is read again with the real clock.
    prefix: Box<[u8]>,
    count: u64,
    worst: Level,
}

const RANKS: usize = 4;

/// Relevance while holding candidates: errors, state changes, warnings, the rest.
fn rank(kind: Kind, level: Level) -> usize {
    match (kind, level) {
        (_, Level::Error) => 0,
        (Kind::Replication | Kind::Drx, _) => 1,
        (_, Level::Warning) => 2,
        _ => 3,
    }
}

/// What one node's pass gave the report.
#[derive(Debug, Default)]
pub struct Gathered {
    /// The events held one by one (at most `PASS_CAP`).
    pub events: Vec<Event>,
    /// The events beyond those, counted per file and grain of time.
    pub counted: Vec<Counted>,
    /// Event lines whose time could not be read (dmesg uptime stamps, unknown formats).
    pub untimed: u64,
    /// Events dropped beyond what could be counted in time (`COUNT_RECORDS`).
    pub unplaced: u64,
    pub dropped_in_pass: u64,
    /// Kept lines per bundle path.
    pub context: BTreeMap<String, BTreeMap<u64, String>>,
    pub context_dropped: u64,
    pub extra: HostExtra,
    /// The host's zone was read from the bundle (else zone-less times were read as UTC).
    pub zone_known: bool,
}

impl Gathered {
    /// Up to `CONTEXT` lines either side of `line` in `path`, as kept.
    pub fn around(&self, path: &str, line: u64) -> Vec<(u64, &str)> {
        let Some(lines) = self.context.get(path) else {
            return Vec::new();
        };
        let from = line.saturating_sub(CONTEXT as u64);
        lines
            .range(from..=line + CONTEXT as u64)
            .map(|(n, t)| (*n, t.as_str()))
            .collect()
    }
}

/// Events not drawn one by one, counted in time (dropped during the pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub at: DateTime<Utc>,
    pub count: u64,
    /// The most severe level among them.
    pub worst: Level,
}

/// A stretch of a lane where events were too dense to draw one by one: how many it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thinned {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub count: u64,
    pub worst: Level,
}

/// One node's lane as the report shows it: events one by one, and counted bars where they were
/// thinned. `total` is every event the lane stands for: `events.len()` plus the bars' counts.
#[derive(Debug, Default)]
pub struct Lane {
    pub events: Vec<Event>,
    pub thinned: Vec<Thinned>,
    pub total: u64,
}

impl Lane {
    pub fn thinned_count(&self) -> u64 {
        self.thinned.iter().map(|t| t.count).sum()
    }
}

/// Thins a lane to at most `cap` events and `bytes` of text, where it is dense: the lane's time
/// span is cut into `buckets` equal stretches, and every stretch keeps its events up to a common
/// level (the largest that fits the budget), so a quiet hour keeps all of its few events while a
/// storm of thousands keeps a share. Within a stretch the share is taken in turn from each
/// relevance tier (errors, state changes, warnings, the rest), latest first, so ten thousand
/// errors do not hide every state change. The events a finding points at, and the collection's
/// own, are always kept. Every event not kept, and every `counted` one, is counted in its
/// stretch's bar: nothing is left out silently, and `events` + the bars' counts = `total`.
pub fn thin(
    events: &[Event],
    counted: &[Counted],
    pinned: &HashSet<(String, u64)>,
    cap: usize,
    bytes: usize,
    buckets: usize,
) -> Lane {
    let total = events.len() as u64 + counted.iter().map(|c| c.count).sum::<u64>();
    let times = events
        .iter()
        .map(|e| e.at)
        .chain(counted.iter().map(|c| c.at));
    let (Some(start), Some(end)) = (times.clone().min(), times.max()) else {
        return Lane::default();
    };
    let buckets = buckets.max(1);
    let span = (end - start).num_milliseconds().max(0) + 1;
    let width = (span + buckets as i64 - 1) / buckets as i64;
    let bucket_of = |at: DateTime<Utc>| {
        (((at - start).num_milliseconds().max(0) / width.max(1)) as usize).min(buckets - 1)
    };

    let mut chosen: Vec<&Event> = Vec::new();
    let mut used = 0usize;
    // Per stretch: its events in the order they are taken, and what it counts.
    let mut queues: Vec<Vec<&Event>> = vec![Vec::new(); buckets];
    let mut bars: Vec<(u64, Option<Level>)> = vec![(0, None); buckets];
    let count_in = |bars: &mut Vec<(u64, Option<Level>)>, b: usize, n: u64, level: Level| {
        let bar = &mut bars[b];
        bar.0 += n;
        bar.1 = Some(bar.1.map_or(level, |w| w.min(level)));
    };
    let mut tiers: Vec<Vec<Vec<&Event>>> = vec![vec![Vec::new(); 5]; buckets];
    for event in events {
        let first =
            event.kind == Kind::Collect || pinned.contains(&(event.path.clone(), event.line));
        if first {
            if chosen.len() < cap && used + event.text.len() <= bytes {
                used += event.text.len();
                chosen.push(event);
            } else {
                count_in(&mut bars, bucket_of(event.at), 1, event.level);
            }
        } else {
            let tier = (event.tier() as usize).min(4);
            tiers[bucket_of(event.at)][tier].push(event);
        }
    }
    for (b, mut by_tier) in tiers.into_iter().enumerate() {
        for tier in &mut by_tier {
            tier.sort_by_key(|e| std::cmp::Reverse(e.at));
        }
        let mut next = vec![0usize; by_tier.len()];
        let queue = &mut queues[b];
        loop {
            let before = queue.len();
            for (tier, events) in by_tier.iter().enumerate() {
                if let Some(event) = events.get(next[tier]) {
                    queue.push(event);
                    next[tier] += 1;
                }
            }
            if queue.len() == before {
                break;
            }
        }
    }
    // The budget in events: what is left of `cap`, and of `bytes` at the average text length.
    let waiting: usize = queues.iter().map(Vec::len).sum();
    let waiting_bytes: usize = queues.iter().flatten().map(|e| e.text.len()).sum();
    let mut budget = cap.saturating_sub(chosen.len());
    if waiting_bytes > 0 {
        let average = waiting_bytes.div_ceil(waiting.max(1)).max(1);
        budget = budget.min(bytes.saturating_sub(used) / average);
    }
    let levels = fill_levels(&queues.iter().map(Vec::len).collect::<Vec<_>>(), budget);
    for (b, queue) in queues.iter().enumerate() {
        for (i, event) in queue.iter().enumerate() {
            if i < levels[b] && used + event.text.len() <= bytes {
                used += event.text.len();
                chosen.push(event);
            } else {
                count_in(&mut bars, b, 1, event.level);
            }
        }
    }
    for c in counted {
        count_in(&mut bars, bucket_of(c.at), c.count, c.worst);
    }
    let mut shown: Vec<Event> = chosen.into_iter().cloned().collect();
    shown.sort_by(|a, b| (a.at, &a.path, a.line).cmp(&(b.at, &b.path, b.line)));
    let thinned = bars
        .into_iter()
        .enumerate()
        .filter_map(|(b, (count, worst))| {
            let from = start + chrono::Duration::milliseconds(b as i64 * width);
            Some(Thinned {
                from,
                to: from + chrono::Duration::milliseconds(width),
                count,
                worst: worst.filter(|_| count > 0)?,
            })
        })
        .collect();
    Lane {
        events: shown,
        thinned,
        total,
    }
}

/// How many of each stretch's `counts` to keep so that they sum to at most `budget`: all of a
/// stretch up to a common level, the level as high as fits, the remainder one more each to the
/// first stretches above it ("water filling").
fn fill_levels(counts: &[usize], budget: usize) -> Vec<usize> {
    if counts.iter().sum::<usize>() <= budget {
        return counts.to_vec();
    }
    let mut sorted: Vec<usize> = counts.to_vec();
    sorted.sort_unstable();
    // Find the level: stretches below it keep all; the `above` ones keep `level` each.
    let mut left = budget;
    let mut level = 0usize;
    for (i, &count) in sorted.iter().enumerate() {
        let above = sorted.len() - i;
        let step = count - level;
        if step * above <= left {
            left -= step * above;
            level = count;
        } else {
            level += left / above;
            left %= above;
            break;
        }
    }
    counts
        .iter()
        .map(|&count| {
            if count <= level {
                count
            } else if left > 0 {
                left -= 1;
                level + 1
            } else {
                level
            }
        })
        .collect()
}

/// At most `LINE_CAP` bytes, cut on a character boundary.
pub fn clip(text: &str) -> String {
    if text.len() <= LINE_CAP {
        return text.to_string();
    }
    let mut end = LINE_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn utc() -> FixedOffset {
    Utc.fix()
}

/// BSR on Linux stamps its engine log at +9 h.
fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(utc)
}

/// `0x01070801` → `1.7.8.1`: a byte per part; 0 means no driver loaded.
fn kernel_code(hex: &str) -> Option<String> {
    let code = u32::from_str_radix(hex, 16).ok().filter(|c| *c != 0)?;
    let b = code.to_be_bytes();
    Some(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
}

/// systeminfo's `Time Zone: (UTC+09:00) Seoul` (the label is localized, the value is not).
fn systeminfo_zone(line: &str) -> Option<(String, FixedOffset)> {
    let start = line.find("(UTC")?;
    let value = line[start..].trim();
    let sign = match value.as_bytes().get(4)? {
        b'+' => 1,
        b'-' => -1,
        b')' => return Some((clip(value), utc())),
        _ => return None,
    };
    let hours: i32 = value.get(5..7)?.parse().ok()?;
    let minutes: i32 = value.get(8..10)?.parse().ok()?;
    let offset = FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))?;
    Some((clip(value), offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn catalogue() -> Catalogue {
        Catalogue::embedded().expect("the embedded catalogue loads")
    }

    fn feed(gather: &mut Gather, path: &str, text: &str) {
        for (i, line) in text.lines().enumerate() {
            gather.line(path, i as u64 + 1, line.as_bytes());
        }
    }

    fn kinds(line: &str) -> Option<(Kind, Level)> {
        let set = RegexSet::new(OWN).expect("own patterns compile");
        let matched: Vec<usize> = set.matches(line.as_bytes()).iter().collect();
        classify(line, &matched)
    }

    #[test]
    fn classifies_the_lines_that_matter() {
        assert_eq!(
            kinds("Nov 24 10:00:00 n1 kernel: drbd r0: conn( Unconnected -> WFConnection )"),
            Some((Kind::Replication, Level::Info))
        );
        assert_eq!(
            kinds("Nov 24 10:00:00 n1 kernel: drbd r0: conn( Connected -> StandAlone )"),
            Some((Kind::Replication, Level::Warning))
        );
        assert_eq!(
            kinds("Nov 24 10:00:00 n1 kernel: block drbd0: pdsk( DUnknown -> UpToDate )"),
            Some((Kind::Replication, Level::Info))
        );
        assert_eq!(
            kinds("I1120 16:37:03.000000 t42054 r0] bridged"),
            Some((Kind::Drx, Level::Info))
        );
        assert_eq!(
            kinds("I1120 16:37:03.000000 t42054 r0] bridging"),
            Some((Kind::Drx, Level::Warning))
        );
        assert_eq!(
            kinds("E1120 16:37:02.690660 t42053 config] '=' character not found"),
            Some((Kind::Log, Level::Error))
        );
        assert_eq!(
            kinds("E1120 16:37:02.690660 t42053 r0] connect: Connection refused"),
            Some((Kind::Drx, Level::Error))
        );
        assert_eq!(
            kinds("00000007 11/20/2026 16:37:02.1234567 [f] [c:0] bsr_erroboom"),
            Some((Kind::Log, Level::Error))
        );
        assert_eq!(
            kinds("00000008 11/20/2026 16:37:02.1234567 [f] [c:0] bsr_info r0: conn( Connecting -> Connected )"),
            Some((Kind::Replication, Level::Info))
        );
        assert_eq!(
            kinds("[0AD8:05C0][2018-07-26T15:33:04]e000: Error 0x800b010a: Failed"),
            Some((Kind::Log, Level::Error))
        );
        assert_eq!(
            kinds("Nov 24 10:00:00 n1 kernel: sd 0:0:0:0: I/O error, dev sda"),
            Some((Kind::Log, Level::Error))
        );
        // Role changes, the handshake and the connection's verdict are state changes, the
        // verdicts errors (lines of tests/realworld/gi/).
        assert_eq!(
            kinds("Nov 24 10:00:00 n1 kernel: drbd r0: role( Secondary -> Primary )"),
            Some((Kind::Replication, Level::Info))
        );
        assert_eq!(
            kinds("Jan 23 22:19:35 emlsurit-v4 kernel: [25910.905963] block drbd9: drbd_sync_handshake:"),
            Some((Kind::Replication, Level::Info))
        );
        assert_eq!(
            kinds("Jan 23 22:19:35 emlsurit-v4 kernel: [25910.905975] block drbd9: uuid_compare()=100 by rule 90"),
            Some((Kind::Replication, Level::Info))
        );
        assert_eq!(
            kinds("Sep  7 19:56:52 hp7 kernel: [  118.684221] block drbd6: Split-Brain detected but unresolved, dropping connection!"),
            Some((Kind::Replication, Level::Error))
        );
        assert_eq!(
            kinds("[ 5508.438369] block drbd1: Unrelated data, aborting!"),
            Some((Kind::Replication, Level::Error))
        );
        // Words alone outside a replication context are not events.
        assert_eq!(
            kinds("Nov 24 10:00:00 n1 sshd: Connected from 1.2.3.4"),
            None
        );
        assert_eq!(kinds("I1120 16:37:02.690660 t1 main] started"), None);
    }

    #[test]
    fn times_are_normalised_to_utc_with_guesses_marked() {
        let mut gather = Gather::new(&catalogue());
        feed(
            &mut gather,
            "files/var/log/messages",
            "Nov 24 10:00:00 node1 kernel: drbd r0: conn( Unconnected -> WFConnection )\n",
        );
        feed(
            &mut gather,
            "files/var/log/bsr/bsr.log",
            "00000001 11/24/2026 19:00:00.1234567 [f] [c:0] bsr_info r0: conn( Connecting -> Connected )\n",
        );
        feed(
            &mut gather,
            "files/opt/DRX/logs/main.log",
            "Log file created at: 2025/03/01 10:00:00\nE0301 10:00:01.000000 t1 main] broken\n",
        );
        let reference = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let done = gather.finish(Some(reference), false);
        let at = |path: &str| {
            done.events
                .iter()
                .find(|e| e.path == path)
                .map(|e| (e.at.to_rfc3339(), e.guessed))
                .unwrap()
        };
        // Year from the collection time, zone unknown: guessed.
        assert_eq!(
            at("files/var/log/messages"),
            ("2026-11-24T10:00:00+00:00".to_string(), true)
        );
        // The engine log's fixed +9 h: 19:00 KST is 10:00 UTC, nothing guessed.
        assert_eq!(
            at("files/var/log/bsr/bsr.log"),
            ("2026-11-24T10:00:00+00:00".to_string(), false)
        );
        // The glog header gives the year.
        assert_eq!(
            at("files/opt/DRX/logs/main.log").0,
            "2025-03-01T10:00:01+00:00"
        );
    }

    #[test]
    fn a_windows_zone_from_systeminfo_places_local_times() {
        let mut gather = Gather::new(&catalogue());
        feed(
            &mut gather,
            "commands/systeminfo.txt",
            "Host Name: N2\nTime Zone:                 (UTC+09:00) Seoul\n",
        );
        feed(
            &mut gather,
            "files/C/Windows/Temp/dd_vcredist_amd64_1.log",
            "[0AD8:05C0][2018-07-26T15:33:04]e000: Error 0x800b010a\n",
        );
        feed(
            &mut gather,
            "files/C/Program Files/bsr/log/bsr.log",
            "00000001 11/24/2026 19:00:00.1234567 [f] [c:0] bsr_erroboom\n",
        );
        let done = gather.finish(None, true);
        assert!(done.zone_known);
        let times: Vec<(String, bool)> = done
            .events
            .iter()
            .map(|e| (e.at.to_rfc3339(), e.guessed))
            .collect();
        assert!(times.contains(&("2018-07-26T06:33:04+00:00".to_string(), false)));
        // On Windows the engine log is local time, not +9 h fixed (here the same zone).
        assert!(times.contains(&("2026-11-24T10:00:00+00:00".to_string(), false)));
    }

    #[test]
    fn keeps_lines_around_interesting_ones_past_the_head() {
        let mut gather = Gather::new(&catalogue());
        let mut text = String::new();
        for i in 1..=3000 {
            if i == 2500 {
                text.push_str(
                    "Nov 24 10:00:00 n1 kernel: drbd r0: Split-Brain detected, dropping\n",
                );
            } else {
                text.push_str(&format!("Nov 24 10:00:00 n1 noise {i}\n"));
            }
        }
        feed(&mut gather, "files/var/log/messages", &text);
        let done = gather.finish(None, false);
        let around: Vec<u64> = done
            .around("files/var/log/messages", 2500)
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(around, (2495..=2505).collect::<Vec<u64>>());
        assert!(done.around("files/var/log/messages", 2000).is_empty());
        // An event no rule looks at needs no neighbourhood.
        let mut gather = Gather::new(&catalogue());
        let mut text = "x\n".repeat(2000);
        text.push_str("Nov 24 10:00:00 n1 kernel: drbd r0: conn( A -> StandAlone )\n");
        feed(&mut gather, "files/var/log/messages", &text);
        let done = gather.finish(None, false);
        assert_eq!(done.events.len(), 1);
        assert!(done.around("files/var/log/messages", 2001).is_empty());
        // The head is kept whole.
        assert_eq!(done.around("files/var/log/messages", 20).len(), 11);
    }

    /// One of a cluster's 32 nodes holds a sixteenth of what one of a pair holds.
    #[test]
    fn a_node_of_a_cluster_holds_its_share() {
        let pair = Gather::new(&catalogue()).sharing(2);
        assert_eq!(pair.share, 1);
        let mut gather = Gather::new(&catalogue()).sharing(crate::inspect::CLUSTER_MAX);
        let mut text = String::new();
        for i in 0..PASS_CAP / 16 + 100 {
            text.push_str(&format!(
                "Nov 24 10:{:02}:{:02} n1 kernel: drbd r0: conn( A -> B ) {i}\n",
                (i / 60) % 60,
                i % 60
            ));
        }
        feed(&mut gather, "files/var/log/messages", &text);
        assert_eq!(gather.dropped_in_pass, 100);
        assert!(gather.context_bytes <= CONTEXT_BUDGET / 16);
        assert_eq!(gather.finish(None, false).events.len(), PASS_CAP / 16);
    }

    #[test]
    fn caps_what_it_holds_and_what_it_shows() {
        let mut gather = Gather::new(&catalogue());
        let mut text = String::new();
        for i in 0..PASS_CAP + 100 {
            text.push_str(&format!(
                "Nov 24 10:{:02}:{:02} n1 kernel: drbd r0: conn( A -> B ) {i}\n",
                (i / 60) % 60,
                i % 60
            ));
        }
        text.push_str("Nov 24 11:00:00 n1 kernel: drbd r0: I/O error\n");
        feed(&mut gather, "files/var/log/messages", &text);
        assert_eq!(gather.dropped_in_pass, 101);
        let done = gather.finish(None, false);
        assert_eq!(done.events.len(), PASS_CAP);
        // The error displaced a state change.
        assert!(done.events.iter().any(|e| e.level == Level::Error));
        // The dropped ones are counted in time, not lost.
        let counted: u64 = done.counted.iter().map(|c| c.count).sum();
        assert_eq!(counted + done.unplaced + done.untimed, 101);
        assert_eq!(done.unplaced, 0);
        let pinned: HashSet<(String, u64)> = [("files/var/log/messages".to_string(), 5)]
            .into_iter()
            .collect();
        let lane = thin(&done.events, &done.counted, &pinned, 100, usize::MAX, 50);
        assert_eq!(lane.events.len(), 100);
        assert_eq!(lane.total, PASS_CAP as u64 + counted);
        assert_eq!(lane.events.len() as u64 + lane.thinned_count(), lane.total);
        assert!(lane.events.iter().any(|e| e.level == Level::Error));
        assert!(
            lane.events.iter().any(|e| e.line == 5),
            "a finding's event stays"
        );
        assert!(lane.events.windows(2).all(|w| w[0].at <= w[1].at));
        // Many errors in one stretch do not crowd out its state changes.
        let errors = (0..500).map(|i| Event {
            at: Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
                + chrono::Duration::seconds(i),
            guessed: false,
            kind: Kind::Log,
            level: Level::Error,
            path: "files/var/log/messages".to_string(),
            line: 100_000 + i as u64,
            text: "error".to_string(),
        });
        let mixed: Vec<Event> = done.events.iter().cloned().chain(errors).collect();
        let lane = thin(&mixed, &[], &HashSet::new(), 100, usize::MAX, 1);
        let states = lane
            .events
            .iter()
            .filter(|e| e.kind == Kind::Replication)
            .count();
        assert_eq!(states, 50, "half for each of the two tiers present");
        let small = thin(&done.events, &[], &HashSet::new(), 100, 500, 50);
        assert!(small.events.iter().map(|e| e.text.len()).sum::<usize>() <= 500);
        assert_eq!(
            small.events.len() as u64 + small.thinned_count(),
            small.total
        );
    }

    fn event_at(second: i64, level: Level) -> Event {
        Event {
            at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
                + chrono::Duration::seconds(second),
            guessed: false,
            kind: Kind::Log,
            level,
            path: "files/var/log/messages".to_string(),
            line: second as u64 + 1,
            text: format!("event {second}"),
        }
    }

    #[test]
    fn thinning_keeps_quiet_stretches_whole_and_counts_the_dense_ones() {
        // One event an hour for two days, and a storm of 20,000 in one hour.
        let mut events: Vec<Event> = (0..48)
            .map(|h| event_at(h * 3600, Level::Warning))
            .collect();
        events.extend((0..20_000).map(|i| event_at(24 * 3600 + 600 + i / 10, Level::Info)));
        let counted = [Counted {
            at: Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
            count: 7_000,
            worst: Level::Error,
        }];
        let lane = thin(&events, &counted, &HashSet::new(), 1_000, usize::MAX, 200);
        assert_eq!(lane.events.len(), 1_000);
        assert_eq!(lane.total, 48 + 20_000 + 7_000);
        assert_eq!(lane.events.len() as u64 + lane.thinned_count(), lane.total);
        // Every quiet hour's event is drawn; the storm is what is thinned.
        let warnings = lane
            .events
            .iter()
            .filter(|e| e.level == Level::Warning)
            .count();
        assert_eq!(warnings, 48);
        assert!(lane.thinned.iter().all(|t| t.from < t.to && t.count > 0));
        let noon = lane
            .thinned
            .iter()
            .find(|t| t.worst == Level::Error)
            .expect("the counted events have their bar");
        assert!(noon.from <= counted[0].at && counted[0].at < noon.to);
        assert!(noon.count >= 7_000);
        // Bars do not overlap and stay in order.
        assert!(lane.thinned.windows(2).all(|w| w[0].to <= w[1].from));
    }

    #[test]
    fn thinning_output_is_bounded_whatever_the_number_of_events() {
        for n in [0usize, 1, 10, 999, 1_000, 1_001, 30_000] {
            let events: Vec<Event> = (0..n as i64)
                .map(|i| event_at(i * 7 % 5_000, Level::Info))
                .collect();
            let lane = thin(&events, &[], &HashSet::new(), 1_000, usize::MAX, 400);
            assert!(lane.events.len() <= 1_000, "{n}");
            assert!(lane.thinned.len() <= 400, "{n}");
            assert_eq!(lane.total, n as u64);
            assert_eq!(
                lane.events.len() as u64 + lane.thinned_count(),
                lane.total,
                "{n}"
            );
            if n <= 1_000 {
                assert!(
                    lane.thinned.is_empty(),
                    "nothing thinned below the cap: {n}"
                );
            }
        }
    }

    #[test]
    fn water_filling_shares_the_budget() {
        assert_eq!(fill_levels(&[1, 2, 3], 10), vec![1, 2, 3]);
        assert_eq!(fill_levels(&[1, 100, 100], 11), vec![1, 5, 5]);
        assert_eq!(fill_levels(&[1, 100, 100], 12), vec![1, 6, 5]);
        assert_eq!(fill_levels(&[0, 50], 0), vec![0, 0]);
        assert_eq!(fill_levels(&[3, 3, 3], 7).iter().sum::<usize>(), 7);
    }
}
