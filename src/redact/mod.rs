//! Privacy (SPEC §6): secrets are redacted while streaming, and with `--obfuscate` IP addresses,
//! hostnames and MAC addresses are replaced by pseudonyms that are the same everywhere.
//!
//! - `filter`: the line filter of one file (`LineFilter`), redaction then obfuscation.
//! - `secrets`: which values are secrets (by key, per file kind).
//! - `obfuscate`: the pseudonym scheme (`table`), the address lexers (`lexers`), hostname
//!   learning (`names`), the map file (`map_file`).
//! - `leak`: the fail-closed scan of the finished bundle.
//!
//! Use: `Privacy::new`, then `learn_hostname` / `learn` with the small files read first, then per
//! collected file `filter(bundle_path)` and `apply` for each line; `obfuscate_text` /
//! `redact_text` for text the tool writes itself; at the end `save_map` and `leak_check`.
use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::Result;

mod filter;
mod leak;
mod obfuscate;
mod secrets;

pub use filter::LineFilter;
pub use leak::LeakChecker;
use leak::{LeakSources, Secrets};
/// One pseudonym table for the two nodes of a `--peer` run: the peer's map taken into ours.
pub(crate) use obfuscate::merge_map_file;
use obfuscate::{NameMode, Obfuscator};
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

impl Privacy {
    /// Loads the map file when obfuscating and it exists, so a later (cron) run reuses the same
    /// pseudonyms. The error names the file.
    pub fn new(options: PrivacyOptions) -> Result<Privacy> {
        let mut obfuscator = Obfuscator::new();
        if let (true, Some(path)) = (options.obfuscate, &options.map_file) {
            obfuscator.read_map_file(path)?;
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
        LineFilter::new(self, bundle_path)
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
        match (self.options.obfuscate, &self.options.map_file) {
            (true, Some(path)) => obfuscate::check_map_writable(path),
            _ => Ok(()),
        }
    }

    /// Writes the map (original → pseudonym) to the map file, mode 0600, atomically (a temporary
    /// file beside it, then rename). No-op when not obfuscating or without a map file.
    pub fn save_map(&self) -> Result<()> {
        let (true, Some(path)) = (self.options.obfuscate, &self.options.map_file) else {
            return Ok(());
        };
        self.obfuscator.save_map_file(path)
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

#[cfg(test)]
mod tests;
