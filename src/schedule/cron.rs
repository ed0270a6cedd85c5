//! The cron schedule: one marked block in a cron file (`/etc/cron.d` syntax, with the user
//! column), replaced or removed as a whole; everything else in the file is left as it was.
use super::{
    every_of, join, read_optional, say, settings_argv, times, write_public, Every, Offset, Settings,
};
use crate::error::{Error, ExitStatus, Result};
use std::path::PathBuf;

const BEGIN: &str = "# BEGIN drx-collect schedule";

const END: &str = "# END drx-collect schedule";

/// Quotes one word for /bin/sh, which cron runs the command with.
fn sh_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Undoes [`sh_quote`] for the words we wrote (status reads `--output` back).
pub(super) fn sh_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
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

/// The block written into the cron file: markers, a comment, and one `/etc/cron.d` line (with the
/// user column). `%` is escaped because cron turns it into a newline.
pub fn cron_block(every: Every, offset: Offset, priority: &[String], argv: &[String]) -> String {
    let (minutes, hours) = times(every, offset);
    let hour_field = hours.map(|h| join(&h, 1)).unwrap_or_else(|| "*".into());
    let command: Vec<String> = priority
        .iter()
        .chain(argv.iter())
        .map(|w| sh_quote(w).replace('%', "\\%"))
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
    let existing = read_optional(path)?.unwrap_or_default();
    let (mut kept, previous) = strip_block(&existing);
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    let block = cron_block(every, Offset::random(), &priority_prefix(), &argv);
    kept.push_str(&block);
    write_public(
        path,
        &kept,
        "run as root, or choose another file with --cron-file (or use --systemd)",
    )?;
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
    Ok(ExitStatus::Success)
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
            "37 * * * * root /usr/bin/nice -n 19 /usr/bin/ionice -c3 /usr/local/bin/drx-collect --quiet --keep 24 --output '/var/lib/drx snap\\%'"
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
