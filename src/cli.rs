//! The command line (SPEC §2). clap types stop here: `into_settings` turns them into the plain,
//! checked settings the rest of the code sees.
use crate::archive::writer::Format;
use crate::collect::{Settings, Verbosity};
use crate::lang::Lang;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const ABOUT: &str = "Collect a checksummed, privacy-safe support bundle from a DRX/BSR replication node, and diagnose bundles.";

const AFTER_HELP: &str = "\
With no subcommand, drx-collect collects: run it as root (Administrator on Windows) and send the
bundle it prints. Support runs `drx-collect inspect BUNDLE`.

Exit codes: 0 success, 1 the job failed (no bundle written, unreadable bundle, bad manifest),
2 usage error, 3 inspect found an integrity problem (or an encrypted bundle does not open with
the --identity given: wrong key, truncated, altered; cases import: a bundle was refused).

Environment: DRX_COLLECT_ENCRYPT_TO (recipients for --encrypt-to), NO_COLOR, LANG, TMPDIR.
`drx-collect help COMMAND` (or COMMAND --help) shows one command; `drx-collect man` the manual.

Examples:
  drx-collect                                  # collect this node into the current directory
  drx-collect --case-id 4711 -o /tmp           # the bundle for support case 4711, into /tmp
  drx-collect --peer node2                     # both nodes of the pair in one case file
  drx-collect inspect drx-collect-node1-20261124T100000Z.tgz   # verify and diagnose a bundle
  drx-collect help inspect                     # the options of one command";

#[derive(Parser, Debug)]
#[command(
    name = "drx-collect",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub collect: CollectArgs,
    /// Colour severities on a terminal: auto (unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, global = true, default_value_t = crate::color::Choice::Auto, value_name = "WHEN")]
    pub color: crate::color::Choice,
}

const COLLECT_EXAMPLES: &str = "\
Examples:
  drx-collect collect                          # the same as drx-collect alone
  drx-collect collect --dry-run                # what would be collected, and its size
  drx-collect collect --since 72h --obfuscate  # recent logs only, addresses and names pseudonymised
  drx-collect collect --encrypt-to @vendor.pub   # only the holder of the vendor's key can open it
  drx-collect collect --split 10MiB -o /tmp    # numbered parts of 10 MiB for e-mail";

const INSPECT_EXAMPLES: &str = "\
Examples:
  drx-collect inspect B.tgz                    # verify, then the findings with their remedies
  drx-collect inspect --lang ko B.tgz          # the findings in Korean
  drx-collect inspect node1.tgz node2.tgz      # a pair: also the rules that compare the nodes
  drx-collect inspect --json B.tgz             # one JSON object for scripts
  drx-collect inspect --cat files/etc/drbd.conf B.tgz   # one verified file of the bundle
  drx-collect inspect -i key.txt B.tgz.age     # an encrypted bundle";

const DIFF_EXAMPLES: &str = "\
Examples:
  drx-collect diff before.tgz after.tgz        # findings new, resolved and still; files changed
  drx-collect diff --json before.tgz after.tgz   # the same as one JSON object";

const SCHEDULE_EXAMPLES: &str = "\
Examples:
  drx-collect schedule install --every 1h --keep 24   # a cron entry: hourly, the newest 24 kept
  drx-collect schedule install --systemd       # a systemd timer instead
  drx-collect schedule status                  # what is installed, and the last snapshot";

const MANIFEST_EXAMPLES: &str = "\
Examples:
  drx-collect manifest show --os windows       # the embedded Windows manifest
  drx-collect manifest check my-items.toml     # validate a manifest before --manifest uses it";

const RULES_EXAMPLES: &str = "\
Examples:
  drx-collect rules list --lang ko             # every rule, titles in Korean
  drx-collect rules explain CONFIG-BOM         # what one rule looks for, and what to do";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  drx-collect completions bash > /usr/share/bash-completion/completions/drx-collect
  drx-collect completions zsh > ~/.zfunc/_drx-collect   # with fpath+=(~/.zfunc) before compinit
  drx-collect completions fish > ~/.config/fish/completions/drx-collect.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  drx-collect man | man -l -                   # read the manual without installing it
  drx-collect man --dir /usr/local/share/man/man1   # install every page";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Collect a bundle (the default when no subcommand is given).
    #[command(after_help = COLLECT_EXAMPLES)]
    Collect(Box<CollectArgs>),
    /// Verify and diagnose bundles or case files; the bundles of a pair or cluster are compared.
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
    /// What changed between two snapshots of one node.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Watch the node live (sockets, replication events, kernel and DRX logs), then write a
    /// bundle whose watch/ part holds the sampled series.
    Watch(Box<WatchArgs>),
    /// Record the same samples unattended into a fixed-size ring on disk; freeze the window
    /// around a trigger (a lost connection, StandAlone, split brain, --freeze) into a bundle.
    Record(Box<RecordArgs>),
    /// Install, remove or show periodic snapshots (cron, systemd timer, Task Scheduler).
    #[command(after_help = SCHEDULE_EXAMPLES)]
    Schedule(ScheduleArgs),
    /// Print the embedded manifest, or validate a manifest file.
    #[command(after_help = MANIFEST_EXAMPLES)]
    Manifest {
        #[command(subcommand)]
        action: ManifestAction,
    },
    /// The knowledge base: list the rules, or explain one.
    #[command(after_help = RULES_EXAMPLES)]
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Print a shell completion script (bash: source it, or put it in
    /// /usr/share/bash-completion/completions/drx-collect).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page drx-collect(1), or write one page per command into DIR.
    #[command(after_help = MAN_EXAMPLES)]
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The support desk's case database: import bundles, then list, show, search, stats, history.
    Cases(CasesArgs),
}

const CASES_AFTER_HELP: &str = "\
The database is one SQLite file (default: $XDG_DATA_HOME/drx-collect/cases.sqlite, else
~/.local/share/drx-collect/cases.sqlite; %LOCALAPPDATA%\\drx-collect\\cases.sqlite on Windows) or a
PostgreSQL database (--db postgres://user@host/db). Every bundle is verified and diagnosed with
this binary's rules before it is stored; one that fails verification is refused (exit 3).

Examples:
  drx-collect cases import ~/bundles -r        # every bundle under ~/bundles, each once
  drx-collect cases search --rule CONFIG-BOM --version 'drbd<8.4.8'   # the cases like this one
  drx-collect cases show 3                     # one stored bundle: facts and findings
  drx-collect cases --db postgres://support@db.example/cases stats   # the shared database";

#[derive(Args, Debug)]
#[command(after_help = CASES_AFTER_HELP)]
pub struct CasesArgs {
    #[command(subcommand)]
    pub action: CasesAction,
    /// The database: a file path, or postgres://user[:password]@host[:port]/db (also postgresql://).
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub db: Option<String>,
    /// Print the answer as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum CasesAction {
    /// Verify, diagnose and store bundles (a directory: every bundle in it); each once, by sha256.
    Import {
        #[arg(required = true, value_name = "BUNDLE|DIR")]
        paths: Vec<PathBuf>,
        /// Also import the bundles in subdirectories.
        #[arg(short, long)]
        recursive: bool,
        /// Print only errors (the counts still decide the exit code).
        #[arg(short, long)]
        quiet: bool,
        /// The private key that opens encrypted bundles (.tgz.age): an age identity file or an
        /// SSH private key (repeatable).
        #[arg(short = 'i', long = "identity", value_name = "FILE")]
        identities: Vec<PathBuf>,
    },
    /// The newest bundles first; the last line says how many there are in all.
    List {
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u64,
        /// Skip the first N (the next page: --offset 50).
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: u64,
    },
    /// One bundle: identity, facts, findings. ID is the row id or a sha256 prefix (6+ hex digits).
    Show { id: String },
    /// Bundles matching every condition given, newest first.
    Search {
        #[command(flatten)]
        filter: CasesFilterArgs,
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u64,
        /// Skip the first N matches (the next page: --offset 50).
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: u64,
    },
    /// The desk's fields of a support case (a bundle's --case-id): status, assignee, note,
    /// ticket. Shown by `cases show`, exported by `cases export`, in list/search --json.
    Set {
        #[arg(value_name = "CASE-ID")]
        case_id: String,
        #[arg(long, value_parser = ["open", "waiting", "closed"])]
        status: Option<String>,
        /// Who works on it ('' clears it).
        #[arg(long, value_name = "NAME")]
        assignee: Option<String>,
        /// A free note ('' clears it).
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// The ticket's link or number ('' clears it).
        #[arg(long, value_name = "URL")]
        ticket: Option<String>,
    },
    /// Every bundle matching the conditions (all without any) as CSV on stdout (RFC 4180; a
    /// value starting with = + - @ is prefixed with ' so a spreadsheet shows it as text).
    Export {
        /// CSV (the default; --json prints the same rows as JSON).
        #[arg(long)]
        csv: bool,
        #[command(flatten)]
        filter: CasesFilterArgs,
    },
    /// Run the current rules again over stored bundles, opened where they were imported from,
    /// and replace their findings; a bundle no longer there is reported and skipped.
    Rediagnose {
        /// The support case (a bundle's --case-id) whose bundles to re-diagnose.
        #[arg(
            value_name = "CASE-ID",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        case_id: Option<String>,
        /// Every stored bundle.
        #[arg(long)]
        all: bool,
        /// The private key that opens encrypted bundles (.tgz.age), as for import (repeatable).
        #[arg(short = 'i', long = "identity", value_name = "FILE")]
        identities: Vec<PathBuf>,
    },
    /// Findings by frequency, bundles by version of drbd/bsr/drx, and the trend per month.
    Stats,
    /// The snapshots of one node over time, and what changed between consecutive ones.
    History {
        host: String,
        /// Only the newest N snapshots.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: u64,
    },
}

/// The conditions of `cases search` and `cases export`; every one given must hold.
#[derive(Args, Debug)]
pub struct CasesFilterArgs {
    /// Has a finding of this rule (repeatable).
    #[arg(long, value_name = "ID")]
    pub rule: Vec<String>,
    /// A version condition, COMPONENT OP VERSION: components drbd, drbd-utils, bsr, bsr-utils,
    /// drx; operators < <= = >= > != (e.g. 'drbd<8.4.8'; repeatable).
    #[arg(long, value_name = "COND")]
    pub version: Vec<String>,
    /// This host (case-insensitive).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// This support case (the bundle's --case-id).
    #[arg(long, value_name = "ID")]
    pub case_id: Option<String>,
    /// This label (the bundle's --label), exactly.
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// Collected on or after this day or time (2026-11-20, RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Collected on or before this day (the whole day) or time.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Has a finding of this severity or a worse one.
    #[arg(long, value_parser = ["error", "warning", "info"])]
    pub severity: Option<String>,
    /// This text in a finding's title, detail or evidence, or in the host, label or case id
    /// (a substring; ASCII letters in any case).
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ManifestAction {
    /// Print a manifest: FILE, or the embedded one for this OS (or --os).
    Show {
        file: Option<PathBuf>,
        #[arg(long, value_enum)]
        os: Option<OsArg>,
    },
    /// Validate a manifest file (or the embedded ones); errors name the line.
    Check { file: Option<PathBuf> },
}

#[derive(Subcommand, Debug)]
pub enum RulesAction {
    /// Every rule: ID, severity, title.
    List {
        #[arg(long, value_parser = LangParser)]
        lang: Option<Lang>,
        /// Print the catalogue as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What a rule looks for and what to do about it.
    Explain {
        id: String,
        #[arg(long, value_parser = LangParser)]
        lang: Option<Lang>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum OsArg {
    Linux,
    Windows,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    Tgz,
    Zip,
}

#[derive(Args, Debug, Default)]
pub struct CollectArgs {
    /// A directory (the bundle gets its default name inside) or a file path ending in .tgz,
    /// .tar.gz or .zip (.tgz.age with --encrypt-to).
    #[arg(short, long, value_name = "PATH", help_heading = "Output")]
    pub output: Option<PathBuf>,
    /// Create the missing parent directories of --output (without it, a missing parent is an
    /// error: a mistyped path does not quietly become a new directory tree).
    #[arg(long, help_heading = "Output")]
    pub mkdir: bool,
    /// Archive format [default: tgz on Linux, zip on Windows].
    #[arg(long, value_enum, help_heading = "Output")]
    pub format: Option<FormatArg>,
    /// Use this manifest instead of the embedded one (repeatable: later files add items).
    #[arg(
        short,
        long = "manifest",
        value_name = "FILE",
        help_heading = "Collection"
    )]
    pub manifests: Vec<PathBuf>,
    /// Read every collected file under DIR instead of / (a mounted disk, a chroot, a fixture).
    #[arg(long, value_name = "DIR", help_heading = "Collection")]
    pub root: Option<PathBuf>,
    /// Keep only log lines newer than WHEN (72h, 7d, 2026-11-20, RFC 3339).
    #[arg(long, value_name = "WHEN", help_heading = "Collection")]
    pub since: Option<String>,
    /// Per-file cap; a longer file keeps its newest part and is marked truncated.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size, help_heading = "Collection")]
    pub max_file_size: u64,
    /// Per-command timeout (a manifest item may set its own).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, help_heading = "Collection")]
    pub timeout: Duration,
    /// Commands run in parallel.
    #[arg(short, long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Collection")]
    pub jobs: u16,
    /// Replace IP addresses, host names and MAC addresses with consistent pseudonyms.
    #[arg(long, help_heading = "Privacy")]
    pub obfuscate: bool,
    /// Where --obfuscate keeps its private mapping (never inside the bundle)
    /// [default: drx-collect-obfuscation-map.json in the output directory].
    #[arg(long, value_name = "PATH", help_heading = "Privacy")]
    pub map_file: Option<PathBuf>,
    /// Keep secrets (shared-secret, passwords, keys); the index records that this was asked.
    #[arg(long, help_heading = "Privacy")]
    pub no_redact: bool,
    /// Print what would be collected and the estimated size; write nothing.
    #[arg(long, help_heading = "Collection")]
    pub dry_run: bool,
    /// After writing, delete the oldest bundles made by drx-collect for this host in the output directory beyond N.
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub keep: Option<usize>,
    /// After writing, delete this host's oldest bundles in the output directory until its bundles take at most SIZE (the newest is always kept).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Output")]
    pub keep_size: Option<u64>,
    /// Write the bundle as numbered parts of at most SIZE each (for e-mail limits).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Output")]
    pub split: Option<u64>,
    /// A deadline for the whole run: what is collected by then is written, marked partial.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Collection")]
    pub total_timeout: Option<Duration>,
    /// Language of titles and remedies [default: from LANG].
    #[arg(long, value_parser = LangParser, help_heading = "Output")]
    pub lang: Option<Lang>,
    /// Print nothing but errors.
    #[arg(short, long, conflicts_with = "verbose", help_heading = "Output")]
    pub quiet: bool,
    /// Also list every item with its status at the end.
    #[arg(short, long, help_heading = "Output")]
    pub verbose: bool,
    /// Print the result (bundle path, sha256, counts, findings) as JSON on stdout.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Also collect HOST over ssh (user@host, host:port, an ssh config alias; repeatable) and
    /// write one case file with both bundles. Not on Windows (no OpenSSH on 2008 R2 / 2012 R2).
    #[arg(long = "peer", value_name = "HOST", help_heading = "Peer")]
    pub peers: Vec<String>,
    /// An ssh configuration file for reaching the peer (ssh -F FILE).
    #[arg(long, value_name = "FILE", requires = "peers", help_heading = "Peer")]
    pub ssh_config: Option<PathBuf>,
    /// Run the guide's connectivity tests (ping, TCP connect to the configured peer endpoints)
    /// [default: on with --peer].
    #[arg(long, conflicts_with = "no_probe", help_heading = "Peer")]
    pub probe: bool,
    /// Do not probe.
    #[arg(long, help_heading = "Peer")]
    pub no_probe: bool,
    /// Encrypt the bundle to this public key and write NAME.tgz.age (repeatable): an age key
    /// (age1…), an ssh-ed25519 or ssh-rsa public key, or @FILE with one key a line. Also read from
    /// DRX_COLLECT_ENCRYPT_TO and the manifest's encrypt_to. The clear bundle never touches the
    /// disk; only the holder of a matching private key can open it (inspect --identity).
    #[arg(long, value_name = "RECIPIENT", help_heading = "Privacy")]
    pub encrypt_to: Vec<String>,
    /// The support case this bundle belongs to (letters, digits, '.', '_', '-'); it goes into the
    /// file name (drx-collect-HOST-ID-STAMP.tgz), index.json and SUMMARY.txt.
    #[arg(long, value_name = "ID", value_parser = crate::case_id::check_case_id, help_heading = "Output")]
    pub case_id: Option<String>,
    /// A one-line note for people ("before the upgrade"), kept in index.json and SUMMARY.txt.
    #[arg(long, value_name = "TEXT", value_parser = crate::case_id::check_label, help_heading = "Output")]
    pub label: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// One bundle; the bundles of the nodes of a pair or cluster (up to 32: also the cross-node
    /// rules); or any number of bundles, each diagnosed alone (a support queue). A case file
    /// (`--peer`) is a pair of its own.
    #[arg(required = true, num_args = 1.., value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Print one JSON object: bundles, integrity, findings.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Write a self-contained HTML case report to FILE.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub html: Option<PathBuf>,
    /// List the bundle's files.
    #[arg(long, conflicts_with_all = ["cat", "extract"], help_heading = "Files")]
    pub list: bool,
    /// Print one file of the bundle, raw, once verified (path relative to the bundle's top
    /// directory); exit 3 if it fails its check.
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "extract",
        help_heading = "Files"
    )]
    pub cat: Option<String>,
    /// Unpack the bundle into DIR: only verified files, private to you; refuses unsafe paths
    /// and links; stops at --max-extract.
    #[arg(long, value_name = "DIR", help_heading = "Files")]
    pub extract: Option<PathBuf>,
    /// The most --extract writes, and the most a case file's bundles take in the temporary
    /// directory while they are inspected (a small file can expand to gigabytes).
    #[arg(long, value_name = "SIZE", default_value = "2GiB", value_parser = parse_size, help_heading = "Files")]
    pub max_extract: u64,
    /// Language of titles and remedies [default: from LANG].
    #[arg(long, value_parser = LangParser, help_heading = "Output")]
    pub lang: Option<Lang>,
    /// Print only the verdict line.
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
    /// The private key that opens encrypted bundles (.tgz.age): an age identity file or an SSH
    /// private key (repeatable).
    #[arg(
        short = 'i',
        long = "identity",
        value_name = "FILE",
        help_heading = "Privacy"
    )]
    pub identities: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The older snapshot (a bundle, the first part of a split bundle, an unpacked directory, or
    /// a case file of --peer).
    pub old: PathBuf,
    /// The newer snapshot of the same node.
    pub new: PathBuf,
    /// With case files: the node to compare (its host name) [default: the node that ran the
    /// newer case, its local bundle].
    #[arg(long, value_name = "HOST")]
    pub node: Option<String>,
    /// Print one JSON object: findings new/resolved/still, files added/removed/changed.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Language of titles and remedies [default: from LANG].
    #[arg(long, value_parser = LangParser, help_heading = "Output")]
    pub lang: Option<Lang>,
    /// The private key that opens encrypted snapshots (.tgz.age): an age identity file or an
    /// SSH private key (repeatable).
    #[arg(
        short = 'i',
        long = "identity",
        value_name = "FILE",
        help_heading = "Privacy"
    )]
    pub identities: Vec<PathBuf>,
    /// Per changed file, the lines added and removed (like git diff --stat), instead of the diffs.
    #[arg(long, help_heading = "Output")]
    pub stat: bool,
    /// Compare only bundle paths matching this glob (files/etc/*, commands/bsr*; repeatable).
    #[arg(long = "path", value_name = "GLOB", value_parser = parse_glob)]
    pub paths: Vec<glob::Pattern>,
    /// Exit 1 when the snapshots differ (files or findings), 0 when not; 3 still wins.
    #[arg(long, help_heading = "Output")]
    pub exit_code: bool,
}

fn parse_glob(text: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(text).map_err(|e| format!("not a glob pattern: {e}"))
}

#[derive(Args, Debug)]
pub struct ScheduleArgs {
    #[arg(value_enum)]
    pub action: ScheduleAction,
    /// How often: minutes that divide 60 (15m, 30m), hours that divide 24 (1h, 6h), or 1d.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub every: Duration,
    /// Snapshots to keep.
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub keep: usize,
    /// Also keep the snapshots under this total size (the newest is always kept).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub keep_size: Option<u64>,
    /// Where the snapshots go [default: /var/lib/drx-collect; status: the installed entry's].
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The cron file to write.
    #[arg(long, value_name = "PATH", default_value = "/etc/cron.d/drx-collect")]
    pub cron_file: PathBuf,
    /// Write a systemd .service + .timer pair instead of a cron entry.
    #[arg(long)]
    pub systemd: bool,
    /// Where the systemd units go.
    #[arg(long, value_name = "DIR", default_value = "/etc/systemd/system")]
    pub unit_dir: PathBuf,
    /// The incident recorder (`drx-collect record`) as a service instead of periodic
    /// snapshots: a systemd unit (--systemd), else an init script (Windows: a task at start-up).
    #[arg(long)]
    pub record: bool,
    /// Where the recorder's init script goes (--record without --systemd).
    #[arg(long, value_name = "DIR", default_value = "/etc/init.d")]
    pub init_dir: PathBuf,
}

const WATCH_AFTER_HELP: &str = "\
Sampled: the TCP sockets of the replication and DRX ports (/proc/net/tcp, tcp6) every --interval;
the replication state from `drbdsetup events2` (else `bsrsetup events2`) as a stream; the kernel
log as it grows (/dev/kmsg; under --root the syslog files); the DRX logs' state lines. Only changes
are kept, at most 32 MiB; a sampler that could not sample is recorded as a gap. On a terminal the
live state is shown in place, otherwise one line per change (stderr). Ctrl-C ends the watch and
the bundle is still written. Details: docs/watch.md.

Examples:
  drx-collect watch --for 60s                  # one minute, then the bundle with the series
  drx-collect watch --port 7789 -o /tmp        # also the sockets of port 7789; bundle into /tmp";

#[derive(Args, Debug)]
#[command(after_help = WATCH_AFTER_HELP)]
pub struct WatchArgs {
    /// How long to watch [default: until Ctrl-C].
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// How often the sockets are sampled.
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = parse_duration)]
    pub interval: Duration,
    /// Also watch the sockets of this port (repeatable; the configuration's ports always are).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    #[command(flatten)]
    pub collect: CollectArgs,
}

const RECORD_AFTER_HELP: &str = "\
The same samplers as `watch`, at low priority, into a ring of 16 segment files in DIR/ring that
never holds more than --ring (a kill -9, a restart or a full disk is recorded as a gap, never
silence). A trigger (a replication connection that leaves Connected or goes StandAlone, a kernel
line naming a split brain, or `record --freeze`) writes the window from --before to --after it
as a normal bundle into --output (with --keep). Stop it with Ctrl-C / SIGTERM; remove DIR to
forget what it recorded. Details: docs/watch.md.

Examples:
  drx-collect record --ring 64MiB --before 10m   # keep the last minutes ready for an incident
  drx-collect record --freeze                  # freeze the window around now into a bundle";

#[derive(Args, Debug)]
#[command(after_help = RECORD_AFTER_HELP)]
pub struct RecordArgs {
    /// The recorder's directory (the ring, the freeze request).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/drx-collect/record"
    )]
    pub dir: PathBuf,
    /// The ring's size on disk.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub ring: u64,
    /// How much before a trigger the frozen bundle holds.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub before: Duration,
    /// How long after a trigger the recorder waits before it freezes.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_duration)]
    pub after: Duration,
    /// Ask the recorder running on DIR to freeze now, and return.
    #[arg(long)]
    pub freeze: bool,
    /// Stop after this long [default: until stopped] (trials and tests).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// How often the sockets are sampled.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Also record the sockets of this port (repeatable). Without any port (none configured,
    /// none given) the recorder samples no sockets.
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    #[command(flatten)]
    pub collect: CollectArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ScheduleAction {
    Install,
    Remove,
    Status,
}

fn parse_size(text: &str) -> Result<u64, String> {
    crate::units::parse_size(text)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::units::parse_duration(text)
}

fn parse_lang(text: &str) -> Result<Lang, String> {
    Lang::parse(text).ok_or_else(|| format!("'{text}' is not a language; use en or ko"))
}

/// `--lang`: parsed by `parse_lang` (any case), and it names its values so that `--help`
/// and the completion scripts offer `en` and `ko`.
#[derive(Clone)]
struct LangParser;

impl clap::builder::TypedValueParser for LangParser {
    type Value = Lang;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Lang, clap::Error> {
        clap::builder::StringValueParser::new()
            .try_map(|text| parse_lang(&text))
            .parse_ref(command, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ["en", "ko"]
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

impl CollectArgs {
    pub fn into_settings(self, argv: Vec<String>) -> Result<Settings, String> {
        let now = chrono::Utc::now();
        let since = match &self.since {
            Some(text) => {
                Some(crate::units::parse_since(text, now).map_err(|e| format!("--since: {e}"))?)
            }
            None => None,
        };
        if self.keep == Some(0) {
            return Err("--keep must be at least 1".into());
        }
        if self.max_file_size == 0 {
            return Err("--max-file-size must be more than 0".into());
        }
        if let Some(split) = self.split {
            if split < 64 << 10 {
                return Err("--split must be at least 64KiB".into());
            }
        }
        if self.keep_size == Some(0) {
            return Err("--keep-size must be more than 0".into());
        }
        if self.map_file.is_some() && !self.obfuscate {
            return Err("--map-file goes with --obfuscate".into());
        }
        let mut encrypt_to = Vec::new();
        for arg in &self.encrypt_to {
            encrypt_to.extend(
                crate::archive::seal::recipients_of(arg)
                    .map_err(|e| format!("--encrypt-to: {e}"))?,
            );
        }
        encrypt_to.extend(crate::archive::seal::recipients_from_env()?);
        let sealed = !encrypt_to.is_empty();
        // `-o NAME.tgz.age` names the encrypted file: the writer adds .age to NAME.tgz.
        let mut output = self.output;
        if let Some(path) = &output {
            if let Some(clear) = path.to_str().and_then(|t| t.strip_suffix(".age")) {
                if !sealed {
                    return Err(format!(
                        "--output {} names an encrypted bundle; add --encrypt-to with the vendor's public key",
                        path.display()
                    ));
                }
                output = Some(PathBuf::from(clear));
            }
        }
        let format = match self.format {
            Some(FormatArg::Tgz) => Format::Tgz,
            Some(FormatArg::Zip) => Format::Zip,
            None => match &output {
                Some(path) if path.to_string_lossy().ends_with(".zip") => Format::Zip,
                Some(path) if path.to_string_lossy().ends_with("gz") => Format::Tgz,
                // A zip writer seeks back; an encrypted stream cannot.
                _ if sealed => Format::Tgz,
                _ => Format::native(),
            },
        };
        if sealed && format == Format::Zip {
            return Err(
                "--encrypt-to writes .tgz.age (zip cannot be encrypted in the stream); use --format tgz".into(),
            );
        }
        // Parts of an encrypted stream would each be useless alone; keep the .age whole.
        if sealed && self.split.is_some() {
            return Err(
                "--split and --encrypt-to do not go together; send the .tgz.age whole, or cut it with `split -b 10M` (join with cat before age -d or inspect)".into(),
            );
        }
        // Zip writes its directory at the end by seeking back, which numbered parts cannot do.
        if self.split.is_some() && format == Format::Zip {
            return Err("--split writes .tgz parts only; add --format tgz".into());
        }
        let verbosity = if self.quiet {
            Verbosity::Quiet
        } else if self.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        let map_file = match (self.obfuscate, self.map_file) {
            (true, Some(path)) => Some(path),
            (true, None) => {
                Some(output_dir(output.as_deref()).join("drx-collect-obfuscation-map.json"))
            }
            (false, _) => None,
        };
        Ok(Settings {
            output,
            mkdir: self.mkdir,
            encrypt_to,
            format,
            manifests: self.manifests,
            root: self.root,
            since,
            since_text: self.since,
            max_file_size: self.max_file_size,
            timeout: self.timeout,
            jobs: self.jobs as usize,
            obfuscate: self.obfuscate,
            map_file,
            redact: !self.no_redact,
            dry_run: self.dry_run,
            keep: self.keep,
            keep_size: self.keep_size,
            split: self.split,
            total_timeout: self.total_timeout,
            lang: self.lang.unwrap_or_else(Lang::from_env),
            verbosity,
            json: self.json,
            case_id: self.case_id,
            label: self.label,
            argv,
            probe: self.probe || (!self.peers.is_empty() && !self.no_probe),
            peers: self.peers,
            ssh_config: self.ssh_config,
            extra: Vec::new(),
        })
    }
}

/// The directory part of `--output` (what `collect::output::destination` will use).
fn output_dir(output: Option<&std::path::Path>) -> PathBuf {
    match output {
        None => PathBuf::from("."),
        Some(path) => {
            let text = path.to_string_lossy();
            if [".tgz", ".tar.gz", ".zip"]
                .iter()
                .any(|e| text.ends_with(e))
            {
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|p| p.to_path_buf())
                    .unwrap_or_else(|| PathBuf::from("."))
            } else {
                path.to_path_buf()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn collect_is_the_default_subcommand() {
        let cli = Cli::try_parse_from(["drx-collect", "--root", "/x", "--since", "7d"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(
            cli.collect.root.as_deref(),
            Some(std::path::Path::new("/x"))
        );
        let cli = Cli::try_parse_from(["drx-collect", "collect", "-o", "/tmp/b.zip"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Collect(_))));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let err = Cli::try_parse_from(["drx-collect", "--max-file-size", "lots"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["drx-collect", "--timeout", "3 weeks"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
