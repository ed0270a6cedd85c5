//! Privacy (SPEC §6): secrets are redacted while streaming, and with `--obfuscate` IP addresses,
//! hostnames and MAC addresses are replaced by pseudonyms that are the same everywhere.
//!
//! - `secrets`: which values are secrets (by key, per file kind).
//! - `obfuscate`: the pseudonym scheme, the map file, hostname learning.
//! - `leak`: the fail-closed scan of the finished bundle.
//!
//! Use: `Privacy::new`, then `learn_hostname` / `learn` with the small files read first, then per
//! collected file `filter(bundle_path)` and `apply` for each line; `obfuscate_text` /
//! `redact_text` for text the tool writes itself; at the end `save_map` and `leak_check`.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

mod leak;
mod obfuscate;
mod secrets;

pub use leak::LeakChecker;
use leak::{LeakSources, Secrets};
use obfuscate::{is_package_list, MapFile, NameMode, Obfuscator};
use secrets::{FileKind, SecretRules, Span, REDACTED};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct PrivacyOptions {
    /// Redact secrets (default on; `--no-redact` turns it off).
    pub redact: bool,
    /// Replace addresses, hostnames and MACs by pseudonyms (`--obfuscate`).
    pub obfuscate: bool,
    /// Where the original → pseudonym map is read from and saved to (`--map-file`).
    pub map_file: Option<PathBuf>,
}

pub struct Privacy {
    options: PrivacyOptions,
    rules: SecretRules,
    obfuscator: Obfuscator,
    /// The distinctive secret values redacted, for the leak check.
    secrets: Secrets,
    secrets_redacted: u64,
    /// Files stored from a cut (their newest part): path → whether the cut is inside a line.
    /// The first, partial line is unknown context and withheld; leading lines that look like
    /// the inside of a private key (the BEGIN line was cut off) are redacted.
    cut: HashMap<String, bool>,
}

/// Splits the line ending off: ("body", "\r\n" | "\n" | "\r" | "").
fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let cut = if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") || line.ends_with(b"\r") {
        1
    } else {
        0
    };
    line.split_at(line.len() - cut)
}

/// Per-file redaction state: whether we are inside a PEM private-key block.
#[derive(Default)]
struct RedactState {
    in_private_key: bool,
}

/// Whether the rest of the current line is withheld (its start is unknown or no safe cut was
/// found in a line too long to hold).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Skip {
    No,
    /// Write `[REDACTED]` in place of the rest of the line.
    Marker,
    /// The marker was written; drop the rest of the line.
    Silent,
}

impl Privacy {
    /// Loads the map file when obfuscating and it exists, so a later (cron) run reuses the same
    /// pseudonyms. The error names the file.
    pub fn new(options: PrivacyOptions) -> Result<Privacy> {
        let mut obfuscator = Obfuscator::new();
        if options.obfuscate {
            if let Some(path) = &options.map_file {
                match std::fs::read(path) {
                    Ok(bytes) => {
                        let map: MapFile = serde_json::from_slice(&bytes).map_err(|e| {
                            Error::failed(format!(
                                "cannot use map file {}: not a drx-collect map ({e}); pass another \
                                 --map-file or remove it",
                                path.display()
                            ))
                        })?;
                        obfuscator.load(map).map_err(|e| {
                            Error::failed(format!(
                                "cannot use map file {}: {e}; pass another --map-file or remove it",
                                path.display()
                            ))
                        })?;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Error::io(
                            "read map file",
                            path,
                            &e,
                            "check its permissions or pass another --map-file",
                        ))
                    }
                }
            }
        }
        Ok(Privacy {
            options,
            rules: SecretRules::new(),
            obfuscator,
            secrets: Secrets::default(),
            secrets_redacted: 0,
            cut: HashMap::new(),
        })
    }

    /// Learns hostnames from a small file read before streaming: /etc/hosts, /etc/hostname,
    /// resource files (`on <host> {`, `node-name "..."`), ifcfg / sysconfig (`HOSTNAME=`,
    /// `DHCP_HOSTNAME=`), glog headers. Nothing to do unless obfuscating.
    pub fn learn(&mut self, bundle_path: &str, content: &[u8]) {
        if self.options.obfuscate {
            self.obfuscator.learn_content(bundle_path, content);
        }
    }

    /// Learns one of this host's names (short or FQDN). Learned first, it becomes `host-1`.
    pub fn learn_hostname(&mut self, name: &str) {
        if self.options.obfuscate {
            self.obfuscator.learn_name(name);
        }
    }

    /// The pseudonym for a hostname, learning it if needed; the name itself when not obfuscating.
    /// Use it for the host part of the bundle's file name (a common-word hostname such as `node`
    /// is not replaced inside arbitrary text, but always here).
    pub fn hostname_pseudonym(&mut self, name: &str) -> String {
        if self.options.obfuscate {
            self.obfuscator.hostname_pseudonym(name)
        } else {
            name.to_string()
        }
    }

    /// A line filter for one file of the bundle (its bundle path, e.g. `files/etc/bsr.d/r0.res`).
    /// The path decides which redaction forms apply (see `secrets`) and whether common-word
    /// hostnames are replaced everywhere (hostname files) or only in hostname contexts.
    pub fn filter(&mut self, bundle_path: &str) -> LineFilter<'_> {
        let cut = self
            .cut
            .get(bundle_path)
            .copied()
            .filter(|_| self.options.redact);
        let skip = if cut == Some(true) {
            Skip::Marker
        } else {
            Skip::No
        };
        LineFilter {
            kind: FileKind::of(bundle_path),
            names: NameMode::of(bundle_path),
            packages: is_package_list(bundle_path),
            skip,
            leading_key_lines: cut.is_some(),
            path: bundle_path.to_string(),
            state: RedactState::default(),
            redactions: 0,
            spans: Vec::new(),
            redacted: Vec::new(),
            scratch: Vec::new(),
            obfuscated: Vec::new(),
            obfuscate_scratch: Vec::new(),
            folded: Vec::new(),
            privacy: self,
        }
    }

    /// Marks a file whose stored part starts inside a line (the newest part of a file cut at
    /// `--max-file-size` without a newline near the cut, a command output kept by its tail): its
    /// first, partial line is replaced by `[REDACTED]`, since the key before the cut is unknown.
    pub fn starts_mid_line(&mut self, bundle_path: &str) {
        self.cut.insert(bundle_path.to_string(), true);
    }

    /// Marks a file stored from a cut at a line start (its newest part): leading lines that look
    /// like the inside of a PEM private key whose BEGIN line was cut off are redacted.
    pub fn starts_after_cut(&mut self, bundle_path: &str) {
        self.cut.entry(bundle_path.to_string()).or_insert(false);
    }

    /// Obfuscates free text (finding excerpts, SUMMARY.txt, index.json fields, the bundle name).
    /// Identity when not obfuscating.
    pub fn obfuscate_text(&mut self, text: &str) -> String {
        if !self.options.obfuscate {
            return text.to_string();
        }
        let mut out = Vec::with_capacity(text.len());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for line in text.as_bytes().split_inclusive(|&b| b == b'\n') {
            let (body, ending) = split_ending(line);
            if self
                .obfuscator
                .line(NameMode::Context, false, body, &mut a, &mut b)
            {
                out.extend_from_slice(&a);
            } else {
                out.extend_from_slice(body);
            }
            out.extend_from_slice(ending);
        }
        into_string(out)
    }

    /// Redacts secrets in free text, e.g. the tool's own command line written to collector.log
    /// and index.json. Counted in `secrets_redacted`. Identity when not redacting.
    pub fn redact_text(&mut self, text: &str) -> String {
        if !self.options.redact {
            return text.to_string();
        }
        let mut out = Vec::with_capacity(text.len());
        let mut state = RedactState::default();
        let (mut spans, mut redacted, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        for line in text.as_bytes().split_inclusive(|&b| b == b'\n') {
            let (body, ending) = split_ending(line);
            let (changed, count) = self.redact_line(
                FileKind::Text,
                "text written by drx-collect",
                &mut state,
                body,
                &mut spans,
                &mut redacted,
                &mut scratch,
            );
            self.secrets_redacted += count;
            out.extend_from_slice(if changed { &redacted } else { body });
            out.extend_from_slice(ending);
        }
        into_string(out)
    }

    /// Fails early, before anything is collected, when the map file could not be written at the
    /// end: a temporary file is created beside it and removed again, and an existing map must be
    /// writable. No-op when not obfuscating or without a map file.
    pub fn check_map_writable(&self) -> Result<()> {
        let (true, Some(path)) = (self.options.obfuscate, &self.options.map_file) else {
            return Ok(());
        };
        let probe = || -> std::io::Result<()> {
            if path.exists() {
                std::fs::OpenOptions::new().append(true).open(path)?;
            }
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "map".to_string());
            let temporary =
                path.with_file_name(format!(".{file_name}.probe-{}", std::process::id()));
            // Never through a planted link, never over an existing file.
            drop(crate::platform::create_new_private(&temporary)?);
            std::fs::remove_file(&temporary)
        };
        probe().map_err(|e| {
            Error::io(
                "write map file",
                path,
                &e,
                "check that its folder exists and is writable, or pass another --map-file",
            )
        })
    }

    /// Writes the map (original → pseudonym) to the map file, mode 0600, atomically (a temporary
    /// file beside it, then rename). No-op when not obfuscating or without a map file.
    pub fn save_map(&self) -> Result<()> {
        let (true, Some(path)) = (self.options.obfuscate, &self.options.map_file) else {
            return Ok(());
        };
        let map = self.obfuscator.to_map_file();
        let mut json = serde_json::to_vec_pretty(&map)
            .map_err(|e| Error::failed(format!("cannot encode the map file: {e}")))?;
        json.push(b'\n');
        write_private_atomically(path, &json)
    }

    /// The read-back check of the finished bundle (see `leak` for what it guarantees): the
    /// distinctive secret values redacted, the originals actually replaced by pseudonyms, and,
    /// when anything was redacted, the secret detector itself.
    pub fn leak_check(&self) -> LeakChecker<'_> {
        let tables = &self.obfuscator.tables;
        LeakChecker::new(
            LeakSources {
                secrets: &self.secrets,
                names: &tables.seen_names,
                v4: &tables.seen_v4,
                v6: &tables.seen_v6,
                mac: &tables.seen_mac,
                recheck: (self.options.redact && self.secrets_redacted > 0).then_some(&self.rules),
            },
            self.obfuscator.detectors().clone(),
        )
    }

    /// Distinctive secret values that will be searched for everywhere in the bundle.
    pub fn hunted_secrets(&self) -> usize {
        self.secrets.len()
    }

    /// Secrets redacted so far, all files and texts together.
    pub fn secrets_redacted(&self) -> u64 {
        self.secrets_redacted
    }

    /// Redacts one line body into `redacted`. Returns (whether `redacted` holds a changed line,
    /// number of secrets redacted).
    #[allow(clippy::too_many_arguments)]
    fn redact_line(
        &mut self,
        kind: FileKind,
        origin: &str,
        state: &mut RedactState,
        body: &[u8],
        spans: &mut Vec<Span>,
        redacted: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> (bool, u64) {
        if state.in_private_key {
            if self.rules.pem_end.is_match(body) {
                state.in_private_key = false;
                return (false, 0);
            }
            let content = body.trim_ascii();
            if content.is_empty() {
                return (false, 0);
            }
            if content.len() >= 16 && !content.contains(&b':') {
                self.remember_secret(content, origin);
            }
            redacted.clear();
            redacted.extend_from_slice(REDACTED);
            return (true, 0);
        }
        if !self.rules.might_contain(body) {
            return (false, 0);
        }
        spans.clear();
        self.rules.find(kind, body, spans);
        let mut count = spans.len() as u64;
        let mut changed = false;
        if !spans.is_empty() {
            redacted.clear();
            let mut last = 0;
            for span in spans.iter() {
                redacted.extend_from_slice(&body[last..span.start]);
                redacted.extend_from_slice(REDACTED);
                last = span.end;
                if span.trusted {
                    self.remember_secret(&body[span.start..span.end], origin);
                }
            }
            redacted.extend_from_slice(&body[last..]);
            changed = true;
        }
        let text: &[u8] = if changed { redacted } else { body };
        if let Some(begin) = self.rules.pem_begin.find(text) {
            count += 1;
            match self.rules.pem_end.find_at(text, begin.end()) {
                Some(end) => {
                    // The whole key on one line (e.g. JSON with "\n" escapes).
                    let inner = &text[begin.end()..end.start()];
                    for piece in inner
                        .split(|&b| b == b'\\' || b.is_ascii_whitespace())
                        .map(|p| p.strip_prefix(b"n").unwrap_or(p))
                        .filter(|p| p.len() >= 16)
                    {
                        self.remember_secret(piece, origin);
                    }
                    scratch.clear();
                    scratch.extend_from_slice(&text[..begin.end()]);
                    scratch.extend_from_slice(REDACTED);
                    scratch.extend_from_slice(&text[end.start()..]);
                    std::mem::swap(redacted, scratch);
                    changed = true;
                }
                None => state.in_private_key = true,
            }
        }
        (changed, count)
    }

    fn remember_secret(&mut self, value: &[u8], origin: &str) {
        self.secrets.insert(value.trim_ascii(), origin);
    }
}

fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn write_private_atomically(path: &Path, content: &[u8]) -> Result<()> {
    // The platform's safe-create primitive: a new 0600 temporary file (never through a planted
    // link), then a rename over the map file.
    crate::platform::write_private_replacing(path, content).map_err(|e| {
        Error::io(
            "write map file",
            path,
            &e,
            "check that its folder exists and is writable, or pass another --map-file",
        )
    })
}

/// A line of a PEM body (base64, 16+ characters, no blanks) or of its `Proc-Type:` / `DEK-Info:`
/// headers: at the start of a file stored from a cut, the BEGIN line may have been cut off.
fn looks_like_key_material(body: &[u8]) -> bool {
    let body = body.trim_ascii();
    body.starts_with(b"Proc-Type:")
        || body.starts_with(b"DEK-Info:")
        || (body.len() >= 16
            && body
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')))
}

/// How far after the start of a key word its value may begin (the key, blanks, a separator).
const KEY_WINDOW: usize = 4096;

/// Transforms the lines of one file. Create with `Privacy::filter`.
pub struct LineFilter<'p> {
    privacy: &'p mut Privacy,
    kind: FileKind,
    names: NameMode,
    /// A package list: dotted numbers are versions, never addresses.
    packages: bool,
    skip: Skip,
    /// Stored from a cut, and no line other than key-like ones seen yet.
    leading_key_lines: bool,
    path: String,
    state: RedactState,
    redactions: u64,
    spans: Vec<Span>,
    redacted: Vec<u8>,
    scratch: Vec<u8>,
    obfuscated: Vec<u8>,
    obfuscate_scratch: Vec<u8>,
    /// A batch folded to lower case for the fast hint search.
    folded: Vec<u8>,
}

impl LineFilter<'_> {
    /// Appends the transformed `line` to `out`. `line` includes its ending (`\n` or `\r\n`) if
    /// it had one; the ending is kept byte for byte. Bytes need not be UTF-8; bytes that are not
    /// secrets or addresses are copied unchanged. No allocation when nothing matches (buffers are
    /// reused).
    pub fn apply(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let privacy = &mut *self.privacy;
        if !privacy.options.redact && !privacy.options.obfuscate {
            out.extend_from_slice(line);
            return;
        }
        let (body, ending) = split_ending(line);
        if self.skip != Skip::No {
            if self.skip == Skip::Marker {
                out.extend_from_slice(REDACTED);
                self.redactions += 1;
                privacy.secrets_redacted += 1;
            }
            if !ending.is_empty() {
                self.skip = Skip::No;
            } else {
                self.skip = Skip::Silent;
            }
            out.extend_from_slice(ending);
            return;
        }
        if self.leading_key_lines && privacy.options.redact {
            if looks_like_key_material(body) {
                if self.redactions == 0 {
                    privacy.secrets_redacted += 1;
                }
                self.redactions = self.redactions.max(1);
                out.extend_from_slice(REDACTED);
                out.extend_from_slice(ending);
                return;
            }
            self.leading_key_lines = false;
        }
        let mut text = body;
        if privacy.options.redact {
            let (changed, count) = privacy.redact_line(
                self.kind,
                &self.path,
                &mut self.state,
                body,
                &mut self.spans,
                &mut self.redacted,
                &mut self.scratch,
            );
            self.redactions += count;
            privacy.secrets_redacted += count;
            if changed {
                text = &self.redacted;
            }
        }
        if privacy.options.obfuscate
            && privacy.obfuscator.line(
                self.names,
                self.packages,
                text,
                &mut self.obfuscated,
                &mut self.obfuscate_scratch,
            )
        {
            text = &self.obfuscated;
        }
        out.extend_from_slice(text);
        out.extend_from_slice(ending);
    }

    /// Like `apply` for every line of `lines` (whole lines, each ending in `\n`, the last one
    /// may lack it), but lines without any hint of a secret are copied in bulk: one search over
    /// the whole batch instead of one per line (logs are gigabytes; secrets are rare in them).
    pub fn apply_lines(&mut self, mut lines: &[u8], out: &mut Vec<u8>) {
        let options = &self.privacy.options;
        if !options.redact && !options.obfuscate {
            out.extend_from_slice(lines);
            return;
        }
        if self.skip != Skip::No {
            // The rest of a withheld line first.
            let end = memchr::memchr(b'\n', lines).map_or(lines.len(), |at| at + 1);
            self.apply(&lines[..end], out);
            lines = &lines[end..];
        }
        if self.privacy.options.obfuscate || self.state.in_private_key || self.leading_key_lines {
            for line in lines.split_inclusive(|&b| b == b'\n') {
                self.apply(line, out);
            }
            return;
        }
        let mut folded = std::mem::take(&mut self.folded);
        folded.clear();
        folded.extend(lines.iter().map(u8::to_ascii_lowercase));
        let mut copied = 0;
        while let Some(hit) = self.privacy.rules.next_hint_folded(&folded, copied) {
            let line_start =
                memchr::memrchr(b'\n', &lines[copied..hit]).map_or(copied, |at| copied + at + 1);
            let line_end =
                memchr::memchr(b'\n', &lines[hit..]).map_or(lines.len(), |at| hit + at + 1);
            out.extend_from_slice(&lines[copied..line_start]);
            self.apply(&lines[line_start..line_end], out);
            copied = line_end;
            if self.state.in_private_key {
                // Inside a key block every line is redacted, hint or not.
                for line in lines[copied..].split_inclusive(|&b| b == b'\n') {
                    self.apply(line, out);
                }
                self.folded = folded;
                return;
            }
        }
        out.extend_from_slice(&lines[copied..]);
        self.folded = folded;
    }

    /// A piece of a line too long to hold: `data` has no newline and the line goes on after it.
    /// Consumes a prefix of `data` that ends at a place where no key, value, address or name is
    /// cut (at least half of `data`), appends its transformation to `out`, and returns its
    /// length. When there is no such place (keys and values all the way), the line is redacted
    /// from its first key in the second half to its end. So a line is redacted as if whole,
    /// however long it is, in memory bounded by `data`.
    pub fn apply_partial(&mut self, data: &[u8], out: &mut Vec<u8>) -> usize {
        let options = &self.privacy.options;
        if (!options.redact && !options.obfuscate) || data.is_empty() {
            out.extend_from_slice(data);
            return data.len();
        }
        self.leading_key_lines = false;
        if self.skip != Skip::No || self.state.in_private_key {
            self.apply(data, out);
            return data.len();
        }
        let half = data.len() / 2;
        let redact = options.redact;
        // Cutting at half + i would split a key from its value or cut a value when
        // forbidden[i] > 0 (a difference array: intervals are added in O(1), summed once).
        let mut marks = vec![0i32; data.len() - half + 2];
        let mut forbid = |lo: usize, hi: usize| {
            // Cuts strictly between lo and hi.
            let from = (lo + 1).max(half);
            let to = hi.min(data.len() + 1);
            if from < to {
                marks[from - half] += 1;
                marks[to - half] -= 1;
            }
        };
        let mut first_forbidden_key = None;
        if redact {
            let rules = &self.privacy.rules;
            let hints: Vec<usize> = rules.hint_starts(data);
            for &h in hints.iter().filter(|&&h| h + KEY_WINDOW >= half) {
                forbid(h, h + KEY_WINDOW);
                first_forbidden_key.get_or_insert(h);
            }
            self.spans.clear();
            rules.find(self.kind, data, &mut self.spans);
            for span in &self.spans {
                let key = hints
                    .iter()
                    .rev()
                    .find(|&&h| h <= span.start)
                    .copied()
                    .unwrap_or(span.start);
                // A value that reaches the end of the piece may go on in the next one.
                let end = if span.end >= data.len() {
                    data.len() + 1
                } else {
                    span.end
                };
                if end > half {
                    forbid(key, end);
                    first_forbidden_key =
                        Some(first_forbidden_key.map_or(key, |k: usize| k.min(key)));
                }
            }
        }
        let mut open = 0;
        let forbidden: Vec<bool> = marks
            .iter()
            .map(|m| {
                open += m;
                open > 0
            })
            .collect();
        let separates = |b: u8| {
            b.is_ascii_whitespace()
                || matches!(
                    b,
                    b';' | b','
                        | b'"'
                        | b'\''
                        | b'<'
                        | b'>'
                        | b'('
                        | b')'
                        | b'{'
                        | b'}'
                        | b'|'
                        | b'&'
                )
        };
        let loose = |b: u8| {
            !(b.is_ascii_alphanumeric()
                || matches!(b, b'.' | b':' | b'-' | b'_' | b'%' | b'[' | b']'))
        };
        let pick = |accept: &dyn Fn(u8) -> bool| {
            (half.max(1)..data.len())
                .rev()
                .find(|&cut| !forbidden[cut - half] && accept(data[cut - 1]))
        };
        let cut = pick(&separates).or_else(|| pick(&loose));
        match cut {
            Some(cut) => {
                self.apply(&data[..cut], out);
                cut
            }
            None if first_forbidden_key.is_none() => {
                // Nothing secret near the end and no place between tokens: one token longer
                // than half a mebibyte, cut where it is.
                self.apply(data, out);
                data.len()
            }
            None => {
                let key = first_forbidden_key.unwrap_or(0);
                let keep = data[..key]
                    .iter()
                    .rposition(|&b| separates(b))
                    .map_or(0, |at| at + 1);
                self.apply(&data[..keep], out);
                self.skip = Skip::Marker;
                self.apply(&data[keep..], out);
                data.len()
            }
        }
    }

    /// Secrets redacted in this file so far (a private-key block counts once).
    pub fn redactions(&self) -> u64 {
        self.redactions
    }
}

#[cfg(test)]
mod tests;
