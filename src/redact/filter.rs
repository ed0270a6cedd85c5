//! The line filter of one collected file: redaction, then obfuscation, line by line, with the
//! per-file state (inside a private key, a line withheld after a cut) and the cutting of lines too
//! long to hold at places where no key, value, address or name is split.
use super::obfuscate::NameMode;
use super::secrets::{FileKind, Span, REDACTED};
use super::{split_ending, Privacy, RedactState};
use crate::layout::is_package_list;

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

impl<'p> LineFilter<'p> {
    /// See `Privacy::filter`.
    pub(super) fn new(privacy: &'p mut Privacy, bundle_path: &str) -> LineFilter<'p> {
        let cut = privacy
            .cut
            .get(bundle_path)
            .copied()
            .filter(|_| privacy.options.redact);
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
            privacy,
        }
    }
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
