//! Consistent pseudonyms for IP addresses, MAC addresses and hostnames (`--obfuscate`).
//!
//! # Scheme
//! Pseudonyms are handed out in the order originals are first met (learned names first), from
//! ranges that real networks do not use, so a pseudonym never reads as somebody's real address:
//!
//! - **IPv4**: the /24 network of an address gets the next network of `240.0.0.0/4` (reserved,
//!   "class E"): the first is `240.0.1.0/24`, then `240.0.2.0/24`, ... ; the host octet and any
//!   `:port` stay. So all hosts of one /24 stay in one /24 and keep their order. Relations across
//!   /24 boundaries (a /23 or /16 spanning several /24s) are *not* kept. After ~983,000 networks
//!   every further one collapses into `192.0.2.0/24` (TEST-NET-1).
//! - **IPv6**: the /64 prefix gets the next prefix of `2001:db8::/32` (documentation range):
//!   `2001:db8:0:1::/64`, ... Link-local `fe80::/10` prefixes stay. An interface identifier below
//!   `0x10000` (`::1`, `::a`: hand-assigned) stays; any other (SLAAC identifiers embed the MAC) gets
//!   the next of `ffff:0:0:1`, `ffff:0:0:2`, ... An IPv4-mapped `::ffff:a.b.c.d` maps its IPv4 part.
//! - **MAC**: the vendor part (first 3 octets, useful: it tells VMware from Intel) stays; the rest
//!   becomes `fe:00:01`, `fe:00:02`, ... Separator (`:` or `-`) and letter case follow the input.
//! - **Hostnames**: a short name becomes `host-1`, `host-2`, ...; a domain `domain-1.example`
//!   (`.example` is reserved, RFC 2606), so `node1.corp.example.com` becomes
//!   `host-1.domain-1.example`.
//!
//! Kept as they are: loopback (`127.0.0.0/8`, `::1`), unspecified (`0.0.0.0`, `::`), netmasks
//! (any contiguous mask such as `255.255.255.0`, including `255.255.255.255`), IPv4 multicast
//! (`224.0.0.0/4`, names protocols such as VRRP), IPv6 multicast (`ff00::/8`), MACs
//! `00:00:00:00:00:00` and `ff:ff:ff:ff:ff:ff`, prefix lengths (`/24`) and ports. A value that is
//! already one of our pseudonyms stays, so obfuscating twice changes nothing.
//!
//! A pseudonym is never one of the originals seen: allocation skips those. (An original met
//! *later* that equals a pseudonym already handed out is taken for the pseudonym and left alone;
//! the ranges above make that practically impossible.)
//!
//! # Version numbers
//! A four-part dotted number is not obfuscated when it reads as a version: after `v`
//! (`v1.7.8.1`), after `name-`/`name_` (`bsr-1.7.8.1`, `drbd-utils-9.1.2.3`), after an epoch
//! (` 1:1.2.3.4`), after the word `version`, `ver`, `release`, `build`, `firmware`, `kernel`, `rev`
//! (also as the last part of `BSR_KERNEL_VERSION=`, or after padding as in `modinfo`), followed by
//! `-release`, `_x`, `+`, `~`, `.el7`-like parts or a suffix such as `el7`/`rc1`, or followed by
//! ` (api:` / ` GIT-hash` (BSR and DRBD version banners); and in package lists and version outputs
//! (`rpm -qa`, `dpkg -l`, `modinfo`, `*-version` commands) always. An address glued to another
//! word (`inet10.0.0.1`, `10.0.0.1eth0`) or at either end of a range (`10.0.0.1-10.0.0.9`) is an
//! address. Runs of six or more dotted numbers (SNMP OIDs) are left alone; five parts are read as
//! `address.port` (tcpdump style). The leak check uses the same lexer (`ipv4_hits`, `mac_hits`,
//! `ipv6_hits`), so it never flags what was rightly left alone.
//!
//! IPv4 written with dashes inside a hostname (`dhcp-192-168-0-66`, `ip-10-0-0-1`) is obfuscated
//! in the same form when the dashes follow a letter-and-dash prefix.
//!
//! # Hostnames and common words
//! Only learned names are replaced, as whole words (ASCII letters, digits and `_` form a word), case-
//! insensitively. A short name is *specific* when it has at least 3 characters and contains a digit,
//! `-` or `_` (`node1`, `db-a`), or is made of 5+ letters and is not a common word. Device-like
//! names (`drbd1`, `sda1`, `eth0`, `bond0`, ...) are not specific: a host named `drbd1` must not
//! turn `/dev/drbd1` into `/dev/host-1`. Specific names and FQDNs are replaced everywhere. Other
//! names (`node`, `primary`) are replaced only in hostname contexts: `on <name> {`, `host <name>`,
//! `hostname <name>` / `HOSTNAME=<name>`, `node-name "<name>"`, `_peer_node_name "<name>"`,
//! `Running on machine: <name>`, `user@<name>`, `drx-collect-<name>`, a line that is only the
//! name, and anywhere in `/etc/hosts`, `/etc/hostname`, `/etc/sysconfig/network` and `hostname` /
//! `uname` command output. They are not part of the leak scan, since the word may rightly remain
use std::collections::BTreeSet;
use std::io::Write;
use std::net::Ipv6Addr;

use regex::bytes::Regex;

mod lexers;
mod map_file;
mod names;
mod table;

pub(crate) use lexers::{ipv4_hits, ipv6_hits, is_word_byte, mac_hits, Detectors};
pub(crate) use map_file::check_writable as check_map_writable;
pub(crate) use map_file::merge_into as merge_map_file;
pub(crate) use names::NameMode;

use lexers::{
    may_contain_hex_forms, may_contain_ipv4, may_contain_ipv6, may_contain_mac, MacForm, V4Form,
};
use names::{replace_common_names, replace_names, NameMatchers};
use table::Tables;

/// The obfuscation state of one run: pseudonym tables, learned names, detectors.
pub(crate) struct Obfuscator {
    detect: Detectors,
    pub(crate) tables: Tables,
    learned: BTreeSet<String>,
    /// Where hostnames are declared (`names::learn_pattern`).
    learn: Regex,
    matchers: Option<NameMatchers>,
    matchers_stale: bool,
}

const DIGIT: u8 = 1;
const COLON: u8 = 2;
const DASH: u8 = 4;
const DOT: u8 = 8;

const fn byte_classes() -> [u8; 256] {
    let mut classes = [0u8; 256];
    let mut b = b'0';
    while b <= b'9' {
        classes[b as usize] = DIGIT;
        b += 1;
    }
    classes[b':' as usize] = COLON;
    classes[b'-' as usize] = DASH;
    classes[b'.' as usize] = DOT;
    classes
}

static BYTE_CLASSES: [u8; 256] = byte_classes();

impl Obfuscator {
    pub(crate) fn new() -> Obfuscator {
        Obfuscator {
            detect: Detectors::new(),
            tables: Tables::new(),
            learned: BTreeSet::new(),
            learn: names::learn_pattern(),
            matchers: None,
            matchers_stale: false,
        }
    }

    pub(crate) fn detectors(&self) -> &Detectors {
        &self.detect
    }

    /// Obfuscates one line (without its ending). Returns true with the result in `a`, or false
    /// when nothing changed (then `a` and `b` hold scratch data).
    pub(crate) fn line(
        &mut self,
        mode: NameMode,
        packages: bool,
        input: &[u8],
        a: &mut Vec<u8>,
        b: &mut Vec<u8>,
    ) -> bool {
        self.prepare();
        let mut classes = 0u8;
        for &byte in input {
            classes |= BYTE_CLASSES[byte as usize];
        }
        let Obfuscator {
            detect,
            tables,
            matchers,
            ..
        } = self;
        let mut changed = false;
        let mut step = |pass: &mut dyn FnMut(&[u8], &mut Vec<u8>) -> bool| {
            let source: &[u8] = if changed { a.as_slice() } else { input };
            b.clear();
            if pass(source, b) {
                std::mem::swap(a, b);
                changed = true;
            }
        };
        if let Some(matchers) = matchers.as_ref() {
            step(&mut |s, o| replace_names(matchers, tables, mode, s, o));
            if mode == NameMode::Context && !matchers.common.is_empty() {
                step(&mut |s, o| replace_common_names(matchers, tables, s, o));
            }
        }
        // Exact but cheap tests first: most log lines (timestamps, counters) fail them, and a
        // regex search has a fixed cost per call that dominates on short lines.
        let hex_forms = may_contain_hex_forms(input);
        if hex_forms || classes & (COLON | DASH) != 0 && may_contain_mac(input) {
            step(&mut |s, o| replace_macs(detect, tables, s, o));
        }
        if classes & COLON != 0 && may_contain_ipv6(input) {
            step(&mut |s, o| replace_ipv6(detect, tables, s, o));
        }
        if hex_forms
            || classes & DIGIT != 0 && classes & (DOT | DASH) != 0 && may_contain_ipv4(input)
        {
            step(&mut |s, o| replace_ipv4(detect, tables, packages, s, o));
        }
        changed
    }
}

/// Copies a line to `out` with some ranges replaced, in order of position: what every replacing
/// pass (names, MACs, IPv6, IPv4) does with the hits it finds.
pub(super) struct Splice<'a> {
    input: &'a [u8],
    out: &'a mut Vec<u8>,
    copied: usize,
    changed: bool,
}

impl<'a> Splice<'a> {
    pub(super) fn new(input: &'a [u8], out: &'a mut Vec<u8>) -> Splice<'a> {
        Splice {
            input,
            out,
            copied: 0,
            changed: false,
        }
    }

    /// Copies the input up to `start` and returns `out` to write the replacement of
    /// `input[start..end]` into; copying goes on at `end`.
    pub(super) fn replace(&mut self, start: usize, end: usize) -> &mut Vec<u8> {
        self.out.extend_from_slice(&self.input[self.copied..start]);
        self.copied = end;
        self.changed = true;
        self.out
    }

    /// Copies the rest when something was replaced. Returns whether anything was.
    pub(super) fn finish(self) -> bool {
        if self.changed {
            self.out.extend_from_slice(&self.input[self.copied..]);
        }
        self.changed
    }
}

fn replace_macs(detect: &Detectors, tables: &mut Tables, input: &[u8], out: &mut Vec<u8>) -> bool {
    let mut splice = Splice::new(input, out);
    mac_hits(detect, input, &mut |hit| {
        let Some(pseudonym) = tables.map_mac(hit.mac) else {
            return;
        };
        let out = splice.replace(hit.start, hit.end);
        for (i, byte) in pseudonym.to_be_bytes()[2..].iter().enumerate() {
            match hit.form {
                MacForm::Pairs(separator) if i > 0 => out.push(separator),
                MacForm::Dotted if i == 2 || i == 4 => out.push(b'.'),
                _ => {}
            }
            let _ = if hit.upper {
                write!(out, "{byte:02X}")
            } else {
                write!(out, "{byte:02x}")
            };
        }
    });
    splice.finish()
}

fn replace_ipv6(detect: &Detectors, tables: &mut Tables, input: &[u8], out: &mut Vec<u8>) -> bool {
    let mut splice = Splice::new(input, out);
    ipv6_hits(detect, input, &mut |start, end, addr| {
        if let Some(pseudonym) = tables.map_v6(addr) {
            let _ = write!(splice.replace(start, end), "{}", Ipv6Addr::from(pseudonym));
        }
    });
    splice.finish()
}

fn replace_ipv4(
    detect: &Detectors,
    tables: &mut Tables,
    packages: bool,
    input: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let mut splice = Splice::new(input, out);
    ipv4_hits(detect, input, packages, &mut |hit| {
        if matches!(hit.form, V4Form::Hex { .. }) && !tables.seen_v4.contains_key(&hit.addr) {
            return;
        }
        let Some(pseudonym) = tables.map_v4(hit.addr) else {
            return;
        };
        let [a, b, c, d] = pseudonym.to_be_bytes();
        let out = splice.replace(hit.start, hit.end);
        let _ = match hit.form {
            V4Form::Dotted {
                fourth_end,
                padded: false,
            } => {
                let _ = write!(out, "{a}.{b}.{c}.{d}");
                out.extend_from_slice(&input[hit.start + fourth_end..hit.end]);
                Ok(())
            }
            V4Form::Dotted {
                fourth_end,
                padded: true,
            } => {
                let _ = write!(out, "{a:03}.{b:03}.{c:03}.{d:03}");
                out.extend_from_slice(&input[hit.start + fourth_end..hit.end]);
                Ok(())
            }
            V4Form::Dashed => write!(out, "{a}-{b}-{c}-{d}"),
            V4Form::Hex { upper: true } => {
                write!(out, "0{}{pseudonym:08X}", input[hit.start + 1] as char)
            }
            V4Form::Hex { upper: false } => {
                write!(out, "0{}{pseudonym:08x}", input[hit.start + 1] as char)
            }
        };
    });
    splice.finish()
}
