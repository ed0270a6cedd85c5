//! Whether a key names a secret, and how surely: `password`, `client_secret`, `WPA_PSK` do;
//! `key`, `pass`, `token` do weakly (common in prose); `key-file`, `password_min_length` describe
//! a secret rather than hold one.

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Strength {
    NotSecret,
    /// `key`, `pass`, `token`: common in prose, so only trusted in clear key/value syntax.
    Weak,
    Strong,
}

/// Words that make a key secret wherever they occur in it (`adminPassword`, `client_secret`).
const STRONG_SUBSTRINGS: [&[u8]; 5] = [
    b"password",
    b"passwd",
    b"passphrase",
    b"secret",
    b"credential",
];
/// Whole components (split at `_ - .` and lower→upper case changes, trailing digits ignored).
const STRONG_COMPONENTS: [&[u8]; 12] = [
    b"psk",
    b"apikey",
    b"authkey",
    b"privkey",
    b"privatekey",
    b"accesskey",
    b"sessionkey",
    b"masterkey",
    b"sharedkey",
    b"enckey",
    b"wepkey",
    b"passwort",
];
const WEAK_COMPONENTS: [&[u8]; 6] = [b"pass", b"pwd", b"pw", b"key", b"keys", b"token"];
/// A last component that makes the key describe a secret rather than hold one: `key-file`,
/// `KEY_MGMT`, `password_min_length`, `cram-hmac-alg`-like names.
const META_COMPONENTS: [&[u8]; 30] = [
    b"alg",
    b"algo",
    b"algorithm",
    b"mgmt",
    b"management",
    b"type",
    b"file",
    b"path",
    b"dir",
    b"size",
    b"len",
    b"length",
    b"bits",
    b"name",
    b"id",
    b"format",
    b"mode",
    b"ttl",
    b"expiry",
    b"expires",
    b"timeout",
    b"count",
    b"min",
    b"max",
    b"policy",
    b"required",
    b"enabled",
    b"method",
    b"usage",
    b"prompt",
];

pub(super) fn classify_key(key: &[u8]) -> Strength {
    if key.is_empty() || key.len() > 128 {
        return Strength::NotSecret;
    }
    let mut components: [(usize, usize); 16] = [(0, 0); 16];
    let mut count = 0;
    let mut start = 0;
    for i in 0..=key.len() {
        let split_here = i == key.len()
            || matches!(key[i], b'_' | b'-' | b'.')
            || (i > start && key[i].is_ascii_uppercase() && key[i - 1].is_ascii_lowercase());
        if split_here {
            if i > start && count < components.len() {
                components[count] = (start, i);
                count += 1;
            }
            start = if i < key.len() && matches!(key[i], b'_' | b'-' | b'.') {
                i + 1
            } else {
                i
            };
        }
    }
    let component = |n: usize| {
        let (s, e) = components[n];
        let mut e2 = e;
        while e2 > s && key[e2 - 1].is_ascii_digit() {
            e2 -= 1;
        }
        &key[s..e2]
    };
    let in_list = |word: &[u8], list: &[&[u8]]| list.iter().any(|w| w.eq_ignore_ascii_case(word));
    if count == 0 {
        return Strength::NotSecret;
    }
    if count > 1 && in_list(component(count - 1), &META_COMPONENTS) {
        return Strength::NotSecret;
    }
    let contains = |needle: &[u8]| {
        key.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    if STRONG_SUBSTRINGS.iter().any(|s| contains(s))
        || (0..count).any(|n| in_list(component(n), &STRONG_COMPONENTS))
    {
        return Strength::Strong;
    }
    if (0..count).any(|n| in_list(component(n), &WEAK_COMPONENTS)) {
        return Strength::Weak;
    }
    Strength::NotSecret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_classification() {
        for key in [
            "password",
            "WPA_PSK",
            "DB_PASSWORD",
            "shared-secret",
            "pass",
            "PASS",
            "api_key",
            "apiKey",
            "KEY1",
            "userPass",
            "client_secret",
            "auth-token",
            "passwd",
        ] {
            assert!(
                classify_key(key.as_bytes()) != Strength::NotSecret,
                "{key} should be a secret key"
            );
        }
        for key in [
            "cram-hmac-alg",
            "meta-disk",
            "disk",
            "keepalive",
            "monkey",
            "passive",
            "bypass",
            "KEY_MGMT",
            "key-file",
            "password_min_length",
            "verify-alg",
            "hotkey",
            "",
        ] {
            assert!(
                classify_key(key.as_bytes()) == Strength::NotSecret,
                "{key} should not be a secret key"
            );
        }
    }
}
