//! Passwords given as program arguments (`ps` shows them): `sshpass -p X`, `mysql -pX`,
//! `curl -u user:X`, ...

use super::{is_blank, quoted_end, skip_blanks, Span, REDACTED};

/// Programs whose arguments carry a password, and how: (program name prefix, flags followed by
/// the password, flags followed by `user:password` / `user%password`). `sshpass` is found by its
/// `pass`.
/// (program name prefix, flags before a password, flags before `user:password`).
type PasswordArguments = (
    &'static [u8],
    &'static [&'static [u8]],
    &'static [&'static [u8]],
);
const PASSWORD_ARGUMENTS: [PasswordArguments; 8] = [
    (b"sshpass", &[b"-p"], &[]),
    (b"mysql", &[b"-p"], &[]),
    (b"mariadb", &[b"-p"], &[]),
    (b"curl", &[], &[b"-u", b"--user", b"-U", b"--proxy-user"]),
    (b"ipmitool", &[b"-P"], &[]),
    (b"redis-cli", &[b"-a"], &[]),
    (b"ldap", &[b"-w"], &[]),
    (b"smbclient", &[], &[b"-U", b"--user"]),
];

/// `sshpass -p X`, `mysql -pX`, `curl -u user:X`, ...: when the word at `at` starts a program
/// name of `PASSWORD_ARGUMENTS` (a whole word, or a path ending in it), the password arguments up
/// to the end of the command (`|`, `;`, `&`, a redirection) are added to `spans`. Returns whether
/// it was such a program.
pub(super) fn program_arguments(line: &[u8], at: usize, spans: &mut Vec<Span>) -> bool {
    let Some(&(name, value_flags, user_flags)) = PASSWORD_ARGUMENTS.iter().find(|(name, _, _)| {
        line.len() >= at + name.len() && line[at..at + name.len()].eq_ignore_ascii_case(name)
    }) else {
        return false;
    };
    if at > 0
        && !matches!(
            line[at - 1],
            b' ' | b'\t' | b'/' | b'"' | b'\'' | b'=' | b'('
        )
    {
        return false;
    }
    // `mysqldump`, `ldapsearch`: the name may go on with letters.
    let mut at = at + name.len();
    while at < line.len() && (line[at].is_ascii_alphanumeric() || line[at] == b'-') {
        at += 1;
    }
    if at < line.len() && !is_blank(line[at]) {
        return false;
    }
    let mut expect_value = None;
    while at < line.len() {
        at = skip_blanks(line, at);
        if at >= line.len() || matches!(line[at], b'|' | b';' | b'&' | b'>' | b'<') {
            break;
        }
        let (start, end, resume) = match line[at] {
            quote @ (b'"' | b'\'') => {
                let (end, resume) = quoted_end(line, at + 1, quote);
                (at + 1, end, resume)
            }
            _ => {
                let mut end = at;
                while end < line.len() && !line[end].is_ascii_whitespace() {
                    end += 1;
                }
                (at, end, end)
            }
        };
        let arg = &line[start..end];
        if let Some(user_form) = expect_value.take() {
            push_argument(line, start, end, user_form, spans);
        } else if value_flags.contains(&arg) {
            expect_value = Some(false);
        } else if user_flags.contains(&arg) {
            expect_value = Some(true);
        } else if let Some(flag) = value_flags
            .iter()
            .find(|f| f.len() == 2 && arg.len() > 2 && arg.starts_with(f))
        {
            push_argument(line, start + flag.len(), end, false, spans);
        } else if let Some(flag) = user_flags
            .iter()
            .find(|f| f.len() == 2 && arg.len() > 2 && arg.starts_with(f))
        {
            push_argument(line, start + flag.len(), end, true, spans);
        } else if let Some(rest) = user_flags
            .iter()
            .filter(|f| f.starts_with(b"--"))
            .find_map(|f| arg.strip_prefix(*f).and_then(|r| r.strip_prefix(b"=")))
        {
            push_argument(line, end - rest.len(), end, true, spans);
        }
        at = resume.max(at + 1);
    }
    true
}

/// One password argument `line[start..end]`; `user_form`: `user:password` or `user%password`.
fn push_argument(
    line: &[u8],
    mut start: usize,
    end: usize,
    user_form: bool,
    spans: &mut Vec<Span>,
) {
    if user_form {
        match line[start..end]
            .iter()
            .position(|&b| b == b':' || b == b'%')
        {
            Some(at) => start += at + 1,
            None => return, // `-u user` alone: the password is asked for
        }
    }
    if end > start && &line[start..end] != REDACTED {
        spans.push(Span {
            start,
            end,
            trusted: true,
        });
    }
}
