//! What people and shells get from the command line's own definition (cli.rs), so it never
//! drifts from --help: the completion scripts (`completions`) and the manual pages (`man`).
use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;

const BIN: &str = "drx-collect";

/// The completion script for `shell`, ready to source.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, BIN, &mut out);
    match shell {
        Shell::Bash => relabel_bash_states(&String::from_utf8_lossy(&out)).into_bytes(),
        Shell::Fish => mend_fish(&String::from_utf8_lossy(&out)).into_bytes(),
        _ => out,
    }
}

/// clap_complete's bash script (4.6, clap-rs/clap#6421, still open) spells the state of a
/// subcommand two ways when the binary's name has a hyphen: the loop that reads the words
/// escapes the name alone (`drx__collect__subcmd__cases`), the case arms that answer escape the
/// whole path in one pass (`drx__subcmd__collect__subcmd__cases`), so no arm below the first
/// word ever matches. Spelling the arms the way the loop does is the smallest change that
/// keeps the rest of the generated script; once upstream spells them alike it replaces nothing.
fn relabel_bash_states(script: &str) -> String {
    let loop_spelling = BIN.replace('-', "__");
    let arm_spelling = BIN.replace('-', "__subcmd__");
    script.replace(&arm_spelling, &loop_spelling)
}

/// Two places where clap_complete's fish script (4.6) completes nothing:
/// - `drx-collect --lang <TAB>` (any option of the top level that takes a value): the test
///   "no subcommand yet" runs argparse over the words so far, which fails on an option still
///   waiting for its value, and a failed test hides every top-level completion. A failing
///   argparse means no subcommand was recognised, so the test answers "top level" then.
/// - `drx-collect help <TAB>`: the commands are offered only while none of them, `help`
///   included, has been seen, and `help` always has. The list leaves `help` out.
fn mend_fish(script: &str) -> String {
    let prefix = format!("__fish_{}", BIN.replace('-', "_"));
    let help_list = format!("{prefix}_using_subcommand help; and not __fish_seen_subcommand_from");
    script
        .replacen(
            "2>/dev/null\n    or return\n",
            "2>/dev/null\n    or return 0\n",
            1,
        )
        .split_inclusive('\n')
        .map(|line| match line.contains(&help_list) {
            true => line.replacen(" help\"", "\"", 1),
            false => line.to_string(),
        })
        .collect()
}

/// The sections clap_mangen does not write, after OPTIONS/SUBCOMMANDS (man-pages(7) order).
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success. collect: the bundle was written, even if some items failed; inspect: the bundles are intact."),
    ("1", "The job failed: no bundle written, an unreadable bundle, a bad manifest."),
    ("2", "Usage error: an unknown option, a bad value."),
    ("3", "Integrity failure (inspect, also with --list, --cat, --extract, and diff): a checksum mismatch, a file missing or added, an unsafe member refused, a wrong decryption key or altered ciphertext; cases import: a bundle was refused."),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    ("DRX_COLLECT_ENCRYPT_TO", "Recipients the bundle is encrypted to, as for --encrypt-to (several separated by commas or new lines)."),
    ("LC_ALL, LC_MESSAGES, LANG", "The first one set chooses the language of titles and remedies when --lang is not given: ko... is Korean, anything else English."),
    ("NO_COLOR", "When set and not empty, --color auto never colours."),
    ("TERM", "TERM=dumb: --color auto never colours."),
    ("TMPDIR", "Where inspect unpacks the bundles of a case file, and other temporary files go (default /tmp)."),
    ("XDG_DATA_HOME, HOME", "The default case database is $XDG_DATA_HOME/drx-collect/cases.sqlite, else ~/.local/share/drx-collect/cases.sqlite (%LOCALAPPDATA% on Windows)."),
    ("PATH", "Where the commands of the manifest (drbdadm, bsradm, ...) and ssh are looked up."),
];

const FILES: &[(&str, &str)] = &[
    ("drx-collect-HOST-STAMP.tgz", "The bundle collect writes (drx-collect-HOST-CASE-STAMP.tgz with --case-id; .zip on Windows, .tgz.age when encrypted), in the current directory or --output."),
    ("OUTPUT/.drx-collect.lock", "Held while a bundle is written into the output directory, so that two runs never write there at once."),
    ("OUTPUT/drx-collect-obfuscation-map.json", "The private mapping of --obfuscate (never inside the bundle; --map-file moves it)."),
    ("/etc/cron.d/drx-collect", "The entry schedule install writes (--cron-file)."),
    ("/etc/systemd/system/drx-collect.service, drx-collect.timer", "The units schedule install --systemd writes (--unit-dir)."),
    ("/var/lib/drx-collect", "Where scheduled snapshots go by default."),
    ("/var/lib/drx-collect/record", "The recorder's ring and freeze request (record --dir)."),
    ("~/.local/share/drx-collect/cases.sqlite", "The support desk's case database (cases --db)."),
];

/// `drx-collect(1)` alone.
pub fn main_page() -> std::io::Result<Vec<u8>> {
    let mut command = Cli::command();
    command.build();
    page(&command, &sibling_pages(&command))
}

/// Every page, as the packages install them: `(file name, page)` for drx-collect(1) and one
/// page per command (drx-collect-inspect(1), drx-collect-cases-import(1), ...).
pub fn all_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let names = sibling_pages(&command);
    let mut pages = Vec::new();
    collect_pages(&command, &names, &mut pages)?;
    Ok(pages)
}

fn collect_pages(
    command: &clap::Command,
    names: &[String],
    pages: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_pages(sub, names, pages)?;
    }
    let file = clap_mangen::Man::new(command.clone()).get_filename();
    pages.push((file, page(command, names)?));
    Ok(())
}

/// The names of the pages one level down, for SEE ALSO.
fn sibling_pages(command: &clap::Command) -> Vec<String> {
    let mut names = vec![BIN.to_string()];
    names.extend(
        command
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .map(|s| format!("{BIN}-{}", s.get_name())),
    );
    names
}

/// One page: clap_mangen's, with the examples of --help as EXAMPLES (not in the free text) and
/// the sections a manual page is expected to have.
fn page(command: &clap::Command, see_also: &[String]) -> std::io::Result<Vec<u8>> {
    let after = command.get_after_help().map(|s| s.to_string());
    let (prose, examples) = split_examples(after.as_deref().unwrap_or(""));
    let command = if prose.is_empty() {
        command.clone().after_help(clap::builder::Resettable::Reset)
    } else {
        command.clone().after_help(prose.to_string())
    };
    let own_name = clap_mangen::Man::new(command.clone())
        .get_filename()
        .trim_end_matches(".1")
        .to_string();
    let mut out = Vec::new();
    clap_mangen::Man::new(command).render(&mut out)?;
    let page = String::from_utf8_lossy(&out).into_owned();

    let mut extra = String::new();
    if !examples.is_empty() {
        extra.push_str(".SH EXAMPLES\n");
        for line in examples {
            extra.push_str(&format!(".TP\n.B {}\n{}\n", roff(line.0), roff(line.1)));
        }
    }
    extra.push_str(&definitions("EXIT STATUS", EXIT_STATUS));
    extra.push_str(&definitions("ENVIRONMENT", ENVIRONMENT));
    extra.push_str(&definitions("FILES", FILES));
    // `\%`: a page name is never hyphenated at a line end.
    extra.push_str(".SH \"SEE ALSO\"\n");
    let refs: Vec<String> = see_also
        .iter()
        .filter(|name| **name != own_name)
        .map(|name| format!("\\%\\fB{}\\fR(1)", roff(name)))
        .chain([
            "\\%\\fBdrbdadm\\fR(8)".to_string(),
            "\\%\\fBage\\fR(1)".to_string(),
        ])
        .collect();
    extra.push_str(&refs.join(",\n"));
    extra.push('\n');

    // Before VERSION/AUTHORS, which end a page.
    let text = match page.find("\n.SH VERSION") {
        Some(at) => format!("{}\n{}{}", &page[..at], extra, &page[at + 1..]),
        None => format!("{page}{extra}"),
    };
    Ok(text.into_bytes())
}

fn definitions(title: &str, items: &[(&str, &str)]) -> String {
    let mut out = format!(".SH \"{title}\"\n");
    for (term, text) in items {
        out.push_str(&format!(".TP\n.B {}\n{}\n", roff(term), roff(text)));
    }
    out
}

/// The help text after `Examples:` as (command, what it does) pairs: one example a line,
/// `  drx-collect ...   # what`; the text before stays the page's free text.
fn split_examples(after_help: &str) -> (&str, Vec<(&str, &str)>) {
    let Some(at) = after_help.find("Examples:\n") else {
        return (after_help.trim_end(), Vec::new());
    };
    let examples = after_help[at + "Examples:\n".len()..]
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(" # ") {
            Some((command, what)) => (command.trim_end(), what),
            None => (line, ""),
        })
        .collect();
    (after_help[..at].trim_end(), examples)
}

/// Text as roff reads it literally: backslashes and hyphens escaped, no line taken for a request.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The class of clap-rs/clap#6421: a state the loop can reach that no arm answers (or an
    /// arm no state reaches) is a level where completion is dead.
    #[test]
    fn every_bash_state_the_loop_reaches_has_an_arm() {
        let script = String::from_utf8(completion_script(Shell::Bash)).unwrap();
        let reached: BTreeSet<&str> = script
            .lines()
            .filter_map(|l| l.trim().strip_prefix("cmd=\"")?.strip_suffix('"'))
            .filter(|state| !state.is_empty())
            .collect();
        let arms: BTreeSet<&str> = script
            .lines()
            .filter(|l| l.starts_with("        ") && !l.starts_with("         "))
            .filter_map(|l| l.trim().strip_suffix(')'))
            .filter(|l| l.starts_with("drx"))
            .collect();
        assert!(reached.len() > 20, "{reached:?}");
        assert_eq!(reached, arms);
    }

    /// An example in --help that no longer parses is worse than none.
    #[test]
    fn every_example_of_every_command_parses() {
        fn walk(command: &clap::Command, seen: &mut usize) {
            let after = command.get_after_help().map(|s| s.to_string());
            for (line, _) in split_examples(after.as_deref().unwrap_or("")).1 {
                let words: Vec<String> = line
                    .split_whitespace()
                    .take_while(|w| *w != ">" && *w != "|")
                    .map(|w| w.trim_matches('\'').to_string())
                    .collect();
                match <Cli as clap::Parser>::try_parse_from(&words) {
                    Err(err) if err.kind() != clap::error::ErrorKind::DisplayHelp => {
                        panic!("{line}: {err}")
                    }
                    _ => {}
                }
                *seen += 1;
            }
            for sub in command.get_subcommands() {
                walk(sub, seen);
            }
        }
        let mut seen = 0;
        walk(&Cli::command(), &mut seen);
        assert!(seen >= 30, "{seen} examples");
    }

    #[test]
    fn the_fish_script_is_mended_where_it_was_dead() {
        let script = String::from_utf8(completion_script(Shell::Fish)).unwrap();
        assert!(
            script.contains("2>/dev/null\n    or return 0\n"),
            "{script}"
        );
        let help_lines: Vec<&str> = script
            .lines()
            .filter(|l| l.contains("_using_subcommand help; and not"))
            .collect();
        assert!(help_lines.len() > 5);
        assert!(help_lines.iter().all(|l| !l.contains(" help\"")));
    }

    #[test]
    fn examples_leave_the_free_text_and_become_pairs() {
        let (prose, examples) = split_examples(
            "Some words.\n\nExamples:\n  drx-collect inspect B.tgz    # verify\n  drx-collect x\n",
        );
        assert_eq!(prose, "Some words.");
        assert_eq!(
            examples,
            vec![
                ("drx-collect inspect B.tgz", "verify"),
                ("drx-collect x", "")
            ]
        );
        assert_eq!(roff(".x -y \\"), "\\&.x \\-y \\e");
    }
}
