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
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

mod leak;
mod obfuscate;
mod secrets;

pub use leak::LeakChecker;
use leak::LeakSources;
use obfuscate::{MapFile, NameMode, Obfuscator};
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
    /// Lower-case secret value → the bundle path (or "text") it was first redacted in.
    secrets: BTreeMap<Vec<u8>, String>,
    secrets_redacted: u64,
}

/// Secret values not worth searching the bundle for: too short or placeholders, which would
/// match innocent text and fail every bundle.
fn worth_searching(value: &[u8]) -> bool {
    const PLACEHOLDERS: [&[u8]; 12] = [
        b"none",
        b"null",
        b"nil",
        b"true",
        b"false",
        b"yes",
        b"auto",
        b"default",
        b"empty",
        b"unset",
        b"disabled",
        b"enabled",
    ];
    if value.len() < 4 || value.starts_with(b"$") || value == REDACTED {
        return false;
    }
    if value.iter().all(|&b| b == value[0]) {
        return false; // "****", "xxxx"
    }
    if value.iter().all(u8::is_ascii_digit) && value.len() < 8 {
        return false; // short numbers occur everywhere in logs
    }
    !PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(value))
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
            secrets: BTreeMap::new(),
            secrets_redacted: 0,
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
        LineFilter {
            kind: FileKind::of(bundle_path),
            names: NameMode::of(bundle_path),
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
                .line(NameMode::Context, body, &mut a, &mut b)
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

    /// Everything that must not appear in the bundle: the secret values redacted (those worth
    /// searching for) and the originals actually replaced by pseudonyms.
    pub fn leak_check(&self) -> LeakChecker {
        let mut literals: HashMap<Vec<u8>, String> = HashMap::new();
        for (value, origin) in &self.secrets {
            literals.insert(
                value.clone(),
                format!("a redacted secret value (first redacted in {origin})"),
            );
        }
        let tables = &self.obfuscator.tables;
        for (name, pseudonym) in &tables.seen_names {
            literals
                .entry(name.as_bytes().to_vec())
                .or_insert_with(|| format!("the original of pseudonym hostname {pseudonym}"));
        }
        LeakChecker::new(
            LeakSources {
                literals,
                v4: tables.seen_v4.clone(),
                v6: tables.seen_v6.clone(),
                mac: tables.seen_mac.clone(),
            },
            self.obfuscator.detectors().clone(),
        )
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
        let value = value.trim_ascii();
        if worth_searching(value) {
            self.secrets
                .entry(value.to_ascii_lowercase())
                .or_insert_with(|| origin.to_string());
        }
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

/// Transforms the lines of one file. Create with `Privacy::filter`.
pub struct LineFilter<'p> {
    privacy: &'p mut Privacy,
    kind: FileKind,
    names: NameMode,
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
    pub fn apply_lines(&mut self, lines: &[u8], out: &mut Vec<u8>) {
        let options = &self.privacy.options;
        if !options.redact && !options.obfuscate {
            out.extend_from_slice(lines);
            return;
        }
        if options.obfuscate || self.state.in_private_key {
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

    /// Secrets redacted in this file so far (a private-key block counts once).
    pub fn redactions(&self) -> u64 {
        self.redactions
    }
}

#[cfg(test)]
mod tests;
