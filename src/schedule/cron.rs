//! The cron schedule: one marked block in a cron file (`/etc/cron.d` syntax, with the user
//! column), replaced or removed as a whole; everything else in the file is left as it was.
use super::{
    every_of, join, read_optional, say, settings_argv, times, write_public, Every, Offset, Settings,
};
use crate::error::{Error, ExitStatus, Result};
use std::path::{Path, PathBuf};

const BEGIN: &str = "# BEGIN drx-collect schedule";

const END: &str = "# END drx-collect schedule";

/// One word of the command, quoted for /bin/sh (which cron runs it with) and then for cron
/// itself, which reads the command before the shell does (crontab(5)): an unescaped `%` ends
/// the command (the rest becomes its stdin) and `\%` is a literal `%`, while a backslash before
/// anything else is kept with the character that follows it — so a backslash just before our
/// `\%` would pair with it and leave a bare `%`. Every `%` therefore stands outside the shell
/// quotes as `\%` (which sh also reads as `%`, for a cron that leaves the backslash), and the
/// word's own backslashes and quotes are written so that each is followed by a quote, never by
/// `%`: `'it'"'"'s'`, `'a\''b'`.
pub(super) fn cron_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@".contains(&b));
    if plain {
        return word.to_string();
    }
    let mut out = String::from("'");
    for c in word.chars() {
        match c {
            '\'' => out.push_str(r#"'"'"'"#),
            '\\' => out.push_str(r"\''"),
            '%' => out.push_str(r"'\%'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The command of a cron line as cron hands it to the shell: `\%` is `%`, an unescaped `%` ends
/// it, any other backslash stays with the character after it.
fn cron_command(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('%') => out.push('%'),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '%' => break,
            c => out.push(c),
        }
    }
    out
}

/// The words /bin/sh makes of the quoting [`cron_word`] writes (single and double quotes,
/// backslashes outside quotes).
pub(super) fn sh_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => word.push('\\'),
                        },
                        q => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The words of the command an installed `/etc/cron.d` line runs (after the five time fields and
/// the user), as cron and then the shell read them: what status and the check after install
/// compare with what was meant.
pub(super) fn line_words(line: &str) -> Vec<String> {
    let mut rest = line.trim_start();
    for _ in 0..6 {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    sh_words(&cron_command(rest))
}

/// The block written into the cron file: markers, a comment, and one `/etc/cron.d` line (with the
/// user column), its words quoted by [`cron_word`].
pub fn cron_block(every: Every, offset: Offset, priority: &[String], argv: &[String]) -> String {
    let (minutes, hours) = times(every, offset);
    let hour_field = hours.map(|h| join(&h, 1)).unwrap_or_else(|| "*".into());
    let command: Vec<String> = priority
        .iter()
        .chain(argv.iter())
        .map(|w| cron_word(w))
        .collect();
    format!(
        "{BEGIN} (written by `drx-collect schedule install`; `drx-collect schedule remove` deletes it)\n\
         # every {}: a support snapshot at low priority\n\
         {} {hour_field} * * * root {}\n\
         {END}\n",
        every.text(),
        join(&minutes, 1),
        command.join(" ")
    )
}

/// `nice -n 19` and, when present, `ionice -c3` (idle I/O), by absolute path since cron's PATH
/// is short; nothing when `nice` cannot be found.
fn priority_prefix() -> Vec<String> {
    let mut prefix = Vec::new();
    if let Some(nice) = find_program("nice") {
        prefix.extend([nice.display().to_string(), "-n".into(), "19".into()]);
    }
    if let Some(ionice) = find_program("ionice") {
        prefix.extend([ionice.display().to_string(), "-c3".into()]);
    }
    prefix
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `text` without our block (and the blank line that may precede nothing else).
pub(super) fn strip_block(text: &str) -> (String, Option<String>) {
    let mut kept = String::new();
    let mut block = String::new();
    let mut inside = false;
    let mut found = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with(BEGIN) {
            inside = true;
            found = true;
        }
        if inside {
            block.push_str(line);
        } else {
            kept.push_str(line);
        }
        if inside && line.starts_with(END) {
            inside = false;
        }
    }
    (kept, found.then_some(block))
}

/// The cron line of an installed block (the one line that is not a comment).
pub(super) fn block_line(block: &str) -> Option<&str> {
    block
        .lines()
        .find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
}

pub(super) fn install(settings: &Settings) -> Result<ExitStatus> {
    let every = every_of(settings)?;
    let argv = settings_argv(settings)?;
    let path = &settings.cron_file;
    let existing = read_optional(path)?;
    let (mut kept, previous) = strip_block(existing.as_deref().unwrap_or_default());
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    let prefix = priority_prefix();
    let block = cron_block(every, Offset::random(), &prefix, &argv);
    kept.push_str(&block);
    let hint = "run as root, or choose another file with --cron-file (or use --systemd)";
    write_public(path, &kept, hint)?;
    let meant: Vec<String> = prefix.iter().chain(argv.iter()).cloned().collect();
    if let Err(problem) = check_written(path, &meant) {
        // Put back what was there: a broken entry must not stay behind as if installed.
        match &existing {
            Some(text) => drop(write_public(path, text, hint)),
            None => drop(std::fs::remove_file(path)),
        }
        return Err(Error::failed(format!(
            "{} was not installed: {problem}; the file was left as it was",
            path.display()
        )));
    }
    let line = block_line(&block).unwrap_or_default();
    say(&format!(
        "{} {}:\n  {line}\nsnapshots go to {}; `drx-collect schedule status` shows the latest\n",
        if previous.is_some() {
            "Replaced the drx-collect entry in"
        } else {
            "Installed a drx-collect entry in"
        },
        path.display(),
        argv[argv.len() - 1]
    ))?;
    super::warn_about_binary(&argv);
    warn_if_nothing_runs(path);
    Ok(ExitStatus::Success)
}

/// Reads the file back as cron would: our block holds exactly one command line, and that line's
/// words, as cron and then the shell read them, are the command meant.
fn check_written(path: &Path, meant: &[String]) -> std::result::Result<(), String> {
    let text = read_optional(path)
        .ok()
        .flatten()
        .ok_or("it cannot be read back")?;
    let (_, block) = strip_block(&text);
    let block = block.ok_or("its drx-collect block is not there when read back")?;
    let lines: Vec<&str> = block
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    if lines.len() != 1 {
        return Err(format!(
            "its drx-collect block holds {} command lines instead of one",
            lines.len()
        ));
    }
    let read = line_words(lines[0]);
    if read != meant {
        return Err(format!("cron would run {:?} instead of {:?}", read, meant));
    }
    Ok(())
}

/// The cron daemons that read `/etc/cron.d`, by process name (a busybox applet shows as its
/// second word).
const CRON_DAEMONS: &[&str] = &["cron", "crond", "cronie", "fcron", "dcron", "bcron-sched"];

/// The generator of systemd-cron, which turns `/etc/cron.d` into timers without a daemon.
const SYSTEMD_CRON_GENERATORS: &[&str] = &[
    "/lib/systemd/system-generators/systemd-crontab-generator",
    "/usr/lib/systemd/system-generators/systemd-crontab-generator",
];

/// Warns when nothing will run the entry: no cron daemon runs (and no systemd-cron), or the file
/// is not one cron reads (`/etc/crontab`, or a file in `/etc/cron.d` named with letters,
/// digits, `_` and `-` only: cron skips other names there, such as `drx-collect.cron`).
fn warn_if_nothing_runs(path: &Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cron_d_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let read_by_cron = path == Path::new("/etc/crontab")
        || (path.parent() == Some(Path::new("/etc/cron.d")) && cron_d_name);
    if !read_by_cron {
        super::warn(
            super::lang().ui("schedule.not_read_by_cron"),
            &path.display().to_string(),
        );
    }
    let wanted: std::collections::BTreeSet<&str> = CRON_DAEMONS.iter().copied().collect();
    let roots = crate::collect::plan::Roots {
        root: None,
        os: crate::manifest::Os::Linux,
    };
    let generator = SYSTEMD_CRON_GENERATORS
        .iter()
        .any(|g| Path::new(g).is_file());
    if !generator && crate::collect::plan::running_processes(&roots, &wanted).is_empty() {
        super::warn(
            super::lang().ui("schedule.no_cron_daemon"),
            &path.display().to_string(),
        );
    }
}

pub(super) fn remove(settings: &Settings) -> Result<ExitStatus> {
    let path = &settings.cron_file;
    let Some(existing) = read_optional(path)? else {
        say(&format!(
            "not installed: {} does not exist\n",
            path.display()
        ))?;
        return Ok(ExitStatus::Success);
    };
    let (kept, block) = strip_block(&existing);
    if block.is_none() {
        say(&format!(
            "not installed: {} holds no drx-collect entry; nothing was changed\n",
            path.display()
        ))?;
        return Ok(ExitStatus::Success);
    }
    if kept.trim().is_empty() {
        std::fs::remove_file(path)
            .map_err(|err| Error::io("remove", path, &err, "run as root to change cron files"))?;
    } else {
        write_public(path, &kept, "run as root to change cron files")?;
    }
    say(&format!(
        "Removed the drx-collect entry from {}\n",
        path.display()
    ))?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::tests_support::argv;

    #[test]
    fn cron_lines_spread_the_minute_and_hour_and_quote_the_command() {
        let offset = Offset {
            minute: 37,
            hour: 5,
        };
        let prio: Vec<String> = ["/usr/bin/nice", "-n", "19", "/usr/bin/ionice", "-c3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let block = cron_block(Every::Hours(1), offset, &prio, &argv());
        let line = block_line(&block).unwrap();
        assert_eq!(
            line,
            "37 * * * * root /usr/bin/nice -n 19 /usr/bin/ionice -c3 /usr/local/bin/drx-collect --quiet --keep 24 --output '/var/lib/drx snap'\\%''"
        );
        assert!(block.starts_with(BEGIN) && block.trim_end().ends_with(END));
        let minutes = cron_block(Every::Minutes(15), offset, &[], &argv());
        assert!(block_line(&minutes)
            .unwrap()
            .starts_with("7,22,37,52 * * * * root /usr/local"));
        let six = cron_block(Every::Hours(6), offset, &[], &argv());
        assert!(block_line(&six)
            .unwrap()
            .starts_with("37 5,11,17,23 * * * root"));
        let daily = cron_block(Every::Daily, offset, &[], &argv());
        assert!(block_line(&daily).unwrap().starts_with("37 5 * * * root"));
    }

    /// Words that cron and the shell each read specially: every one comes back as written, read
    /// as cronie and vixie cron read `%` (then /bin/sh's words), and also by a cron that passes the
    /// command on untouched (busybox), since `\%` outside quotes is a `%` to sh as well.
    #[test]
    fn every_word_comes_back_as_cron_and_sh_read_it() {
        let words = [
            "/var/lib/drx snap%",
            "100%",
            "%",
            "%%",
            "a\\%b",
            "a\\\\%b",
            "\\",
            "end\\",
            "it's",
            "'",
            "\"q\"",
            "$HOME",
            "`id`",
            "$(id)",
            "a;b&c|d",
            "tab less spaces  two",
            "",
            "plain/path-1.2",
        ];
        for word in words {
            let argv = vec!["/usr/local/bin/drx-collect".to_string(), word.to_string()];
            let block = cron_block(Every::Hours(1), Offset { minute: 1, hour: 2 }, &[], &argv);
            let line = block_line(&block).unwrap();
            assert_eq!(line_words(line), argv, "{word:?}: {line}");
            // No `%` is left bare for cron, and none follows a backslash it would pair with.
            let command = line.splitn(7, ' ').nth(6).unwrap();
            let mut chars = command.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => assert!(
                        matches!(chars.next(), Some('%' | '\'')),
                        "{word:?}: {command}"
                    ),
                    '%' => panic!("a bare % in {command}"),
                    _ => {}
                }
            }
            // A cron that does not translate `%` hands sh the same words.
            assert_eq!(sh_words(command), argv, "{word:?}: {command}");
        }
    }

    #[test]
    fn the_real_shell_reads_the_words_alike() {
        let argv: Vec<String> = ["/x/drx-collect", "a\\%b it's", "$(id) `id` \"q\"", "\\"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let block = cron_block(Every::Daily, Offset { minute: 1, hour: 2 }, &[], &argv);
        let command = cron_command(block_line(&block).unwrap().splitn(7, ' ').nth(6).unwrap());
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("set -- {command}; printf '%s\\0' \"$@\""))
            .output()
            .unwrap();
        let words: Vec<String> = out
            .stdout
            .split(|&b| b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        assert_eq!(words, argv);
    }

    #[test]
    fn install_replaces_only_our_block() {
        let mine = cron_block(Every::Daily, Offset { minute: 1, hour: 2 }, &[], &argv());
        let text = format!("MAILTO=root\n{mine}0 0 * * * root /bin/true\n");
        let (kept, block) = strip_block(&text);
        assert_eq!(kept, "MAILTO=root\n0 0 * * * root /bin/true\n");
        assert_eq!(block.as_deref(), Some(mine.as_str()));
        assert!(strip_block("0 0 * * * root /bin/true\n").1.is_none());
    }
}
