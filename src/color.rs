//! `--color auto|always|never` and `NO_COLOR` (https://no-color.org): restrained colour on a
//! terminal only: the severity tags of findings and the integrity verdict, nothing else. Files
//! (SUMMARY.txt, the HTML report), JSON and pipes never get escape codes.
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Choice {
    /// Colour when standard output is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

static ON: AtomicBool = AtomicBool::new(false);

/// Whether to colour: `always`/`never` win; `auto` needs a terminal, no `NO_COLOR` (any non-empty
/// value) and a terminal that is not `dumb`.
pub fn decide(choice: Choice, no_color: Option<&str>, term: Option<&str>, tty: bool) -> bool {
    match choice {
        Choice::Always => true,
        Choice::Never => false,
        Choice::Auto => {
            tty && no_color.is_none_or(str::is_empty) && term.is_none_or(|t| t != "dumb")
        }
    }
}

/// Decides once per process, for standard output.
pub fn init(choice: Choice) {
    let no_color = std::env::var("NO_COLOR").ok();
    let term = std::env::var("TERM").ok();
    let on = decide(
        choice,
        no_color.as_deref(),
        term.as_deref(),
        std::io::stdout().is_terminal(),
    );
    ON.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

/// Colours report text for the terminal when enabled: a severity tag at the start of a line
/// (`[ERROR]`, `[error]`, …) and the verdicts `intact` / `INTEGRITY FAILURE` after a bundle's
/// name. Evidence lines (`| …`) and everything else stay as they are.
pub fn paint(text: &str) -> String {
    if !enabled() {
        return text.to_string();
    }
    paint_always(text)
}

fn paint_always(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let body = line.trim_start_matches(' ');
        let indent = &line[..line.len() - body.len()];
        let tag = [
            ("[ERROR]", RED),
            ("[error]", RED),
            ("[WARNING]", YELLOW),
            ("[warning]", YELLOW),
            ("[INFO]", CYAN),
            ("[info]", CYAN),
        ]
        .into_iter()
        .find(|(tag, _)| body.starts_with(tag));
        if let Some((tag, color)) = tag {
            out.push_str(indent);
            out.push_str(color);
            out.push_str(tag);
            out.push_str(RESET);
            out.push_str(&body[tag.len()..]);
            continue;
        }
        if indent.is_empty() {
            if let Some(at) = line.find(": INTEGRITY FAILURE") {
                let (head, rest) = line.split_at(at + 2);
                let word = "INTEGRITY FAILURE";
                out.push_str(head);
                out.push_str(RED);
                out.push_str(word);
                out.push_str(RESET);
                out.push_str(&rest[word.len()..]);
                continue;
            }
            if let Some(at) = line.find(": intact (") {
                let (head, rest) = line.split_at(at + 2);
                out.push_str(head);
                out.push_str(GREEN);
                out.push_str("intact");
                out.push_str(RESET);
                out.push_str(&rest["intact".len()..]);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

const BOLD: &str = "\x1b[1m";

/// Colours `diff`'s text report when enabled, as git does: added lines green, removed lines
/// red, hunk headers cyan, the file headers (`--- OLD/…`, `+++ NEW/…`) bold, and a NOT intact
/// verdict red. Only unindented lines: the lists of findings and files stay plain.
pub fn paint_diff(text: &str) -> String {
    if !enabled() {
        return text.to_string();
    }
    paint_diff_always(text)
}

fn paint_diff_always(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let color = if line.starts_with("--- OLD/") || line.starts_with("+++ NEW/") {
            BOLD
        } else if line.starts_with("@@ ") {
            CYAN
        } else if line.starts_with('+') {
            GREEN
        } else if line.starts_with('-') || line.starts_with("integrity: ") {
            RED
        } else {
            out.push_str(line);
            continue;
        };
        let body = line.strip_suffix('\n');
        out.push_str(color);
        out.push_str(body.unwrap_or(line));
        out.push_str(RESET);
        if body.is_some() {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_needs_a_terminal_and_no_no_color() {
        assert!(decide(Choice::Auto, None, Some("xterm"), true));
        assert!(!decide(Choice::Auto, None, Some("xterm"), false));
        assert!(!decide(Choice::Auto, Some("1"), Some("xterm"), true));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(decide(Choice::Auto, Some(""), None, true));
        assert!(!decide(Choice::Auto, None, Some("dumb"), true));
        // An explicit choice wins over the environment.
        assert!(decide(Choice::Always, Some("1"), Some("dumb"), false));
        assert!(!decide(Choice::Never, None, Some("xterm"), true));
    }

    #[test]
    fn only_tags_and_verdicts_are_coloured() {
        let text = "b.tgz: intact (3 files, 1 KiB verified)\n\n[ERROR] CONFIG-BOM: x\n    | [ERROR] in a log line\n    [warning] NET: y\nc.tgz: INTEGRITY FAILURE (1 problem(s))\n";
        let painted = paint_always(text);
        assert!(painted.starts_with("b.tgz: \x1b[32mintact\x1b[0m (3 files"));
        assert!(painted.contains("\n\x1b[1;31m[ERROR]\x1b[0m CONFIG-BOM: x\n"));
        assert!(painted.contains("    | [ERROR] in a log line\n"));
        assert!(painted.contains("    \x1b[33m[warning]\x1b[0m NET: y\n"));
        assert!(painted.contains("c.tgz: \x1b[1;31mINTEGRITY FAILURE\x1b[0m (1"));
        // Without escape codes, the text is unchanged.
        let stripped = painted
            .replace(RED, "")
            .replace(YELLOW, "")
            .replace(GREEN, "")
            .replace(RESET, "");
        assert_eq!(stripped, text);
    }

    #[test]
    fn diff_lines_are_coloured_as_git_does_and_lists_stay_plain() {
        let text = "--- OLD/a\n+++ NEW/a\n@@ -1,1 +1,1 @@\n-old\n+new\n same\n  changed  files/a\n";
        let painted = paint_diff_always(text);
        assert!(painted.contains("\x1b[1m--- OLD/a\x1b[0m\n"), "{painted:?}");
        assert!(painted.contains("\x1b[36m@@ -1,1 +1,1 @@\x1b[0m\n"));
        assert!(painted.contains("\x1b[1;31m-old\x1b[0m\n\x1b[32m+new\x1b[0m\n same\n"));
        assert!(painted.ends_with("  changed  files/a\n"));
    }
}
