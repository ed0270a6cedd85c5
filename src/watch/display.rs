//! What `watch` shows while it samples, on stderr: on a terminal the live state, one line per
//! resource, connection, socket and DRX log, redrawn in place; otherwise (a pipe, a log file)
//! one plain line per record as it comes.
use crate::escape;
use crate::lang::Lang;
use crate::series::Record;
use std::collections::BTreeMap;
use std::io::Write;

/// The most socket lines shown (the rest are counted).
const MAX_SOCKET_LINES: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Lines,
    Quiet,
}

#[derive(Default)]
pub struct Display {
    mode: Option<Mode>,
    lang: Option<Lang>,
    /// (resource, peer) → field → (value, since ms).
    repl: BTreeMap<(String, String), BTreeMap<String, (String, u64)>>,
    sockets: BTreeMap<(String, String), (String, u64)>,
    drx: BTreeMap<String, (String, u64)>,
    gaps: u64,
    drawn: usize,
    changed: bool,
}

impl Display {
    pub fn new(mode: Mode, lang: Lang) -> Display {
        Display {
            mode: Some(mode),
            lang: Some(lang),
            ..Display::default()
        }
    }

    fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Quiet)
    }

    /// Takes one record into the live state (and prints it in `Lines` mode).
    pub fn record(&mut self, record: &Record) {
        if self.mode() == Mode::Quiet {
            return;
        }
        if self.mode() == Mode::Lines {
            if let Some(line) = record.describe() {
                let _ = writeln!(std::io::stderr(), "{}", escape::field(&line));
            }
            return;
        }
        self.changed = true;
        match record {
            Record::Repl {
                ms,
                resource,
                peer,
                volume,
                object,
                field,
                value,
                ..
            } => {
                let mut key = field.clone();
                if let Some(volume) = volume {
                    key = format!("{key}/{volume}");
                }
                if object == "resource" || object == "device" {
                    key = format!("{object}.{key}");
                }
                let peer = if object == "resource" || object == "device" {
                    String::new()
                } else {
                    peer.clone().unwrap_or_default()
                };
                let fields = self.repl.entry((resource.clone(), peer)).or_default();
                if fields.get(&key).map(|(v, _)| v) != Some(value) {
                    fields.insert(key, (value.clone(), *ms));
                }
            }
            Record::Socket {
                ms,
                local,
                remote,
                state,
                ..
            } => {
                let key = (local.clone(), remote.clone());
                if state == "gone" {
                    self.sockets.remove(&key);
                } else {
                    self.sockets.insert(key, (state.clone(), *ms));
                }
            }
            Record::Drx {
                ms,
                resource,
                state,
                ..
            } => {
                self.drx.insert(resource.clone(), (state.clone(), *ms));
            }
            Record::Gap { .. } => self.gaps += 1,
            _ => {}
        }
    }

    /// Redraws the live state (at most once a tick, and only when it changed or time moved on).
    pub fn draw(&mut self, now_ms: u64, header: &str) {
        if self.mode() != Mode::Live {
            return;
        }
        let lang = self.lang.unwrap_or(Lang::En);
        let age = |since: u64| format!("{:.0}s", now_ms.saturating_sub(since) as f64 / 1000.0);
        let mut lines = vec![header.to_string()];
        for ((resource, peer), fields) in &self.repl {
            let mut line = if peer.is_empty() {
                resource.clone()
            } else {
                format!("{resource} {peer}")
            };
            for (key, (value, since)) in fields {
                line.push_str(&format!("  {key}:{value} ({})", age(*since)));
            }
            lines.push(line);
        }
        for (i, ((local, remote), (state, since))) in self.sockets.iter().enumerate() {
            if i == MAX_SOCKET_LINES {
                lines.push(format!(
                    "  … {} {}",
                    self.sockets.len() - MAX_SOCKET_LINES,
                    lang.ui("watch.more_sockets")
                ));
                break;
            }
            lines.push(format!("tcp {local} → {remote}  {state} ({})", age(*since)));
        }
        for (resource, (state, since)) in &self.drx {
            lines.push(format!("drx {resource}  {state} ({})", age(*since)));
        }
        if self.gaps > 0 {
            lines.push(format!("{} {}", self.gaps, lang.ui("watch.gaps")));
        }
        let mut err = std::io::stderr().lock();
        let mut text = String::new();
        if self.drawn > 0 {
            // Up to the first line drawn last time, and clear from there down.
            text.push_str(&format!("\x1b[{}F\x1b[J", self.drawn));
        }
        for line in &lines {
            text.push_str(&escape::field(line));
            text.push('\n');
        }
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        self.drawn = lines.len();
        self.changed = false;
    }
}
