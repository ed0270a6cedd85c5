//! drx-collect: collect a support bundle from a DRX/BSR replication node, and diagnose bundles.
//!
//! The binary only calls [`main_entry`]; everything else is this library, so tests and `inspect`
//! reuse it.
pub mod archive;
pub mod case_id;
#[cfg(feature = "cases")]
pub mod cases;
pub mod cli;
pub mod collect;
pub mod color;
pub mod diff;
pub mod digest;
pub mod error;
pub mod escape;
pub mod host;
pub mod index;
pub mod inspect;
pub mod lang;
pub mod layout;
pub mod lines;
pub mod logtime;
pub mod manifest;
pub mod manual;
pub mod peer;
pub mod platform;
pub mod probe;
pub mod process;
pub mod redact;
pub mod rules;
pub mod schedule;
pub mod series;
pub mod stdout;
pub mod summary;
pub mod units;
pub mod watch;

use clap::Parser;
use cli::{Cli, Command, ManifestAction, RulesAction};
use error::{Error, ExitStatus, Result};
use lang::Lang;
use std::io::IsTerminal;
use std::process::ExitCode;
use stdout::write_out;

/// Entry point used by `main`: runs the command line and maps the result to an exit code.
pub fn main_entry() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                ExitStatus::Usage as u8
            } else {
                0
            });
        }
    };
    match run(cli, argv) {
        Ok(status) => ExitCode::from(status as u8),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let signal = platform::interrupted();
            if signal.is_some() && std::io::stderr().is_terminal() {
                // A clean line: no progress line or ^C left in front of the message.
                eprint!("\r\x1b[2K");
            }
            eprintln!("drx-collect: {}", escape::block(err.message()));
            match signal.and_then(signal_exit_code) {
                Some(code) => ExitCode::from(code),
                None => ExitCode::from(err.status() as u8),
            }
        }
    }
}

/// A run ended by a signal exits as shells report one: 128 + its number (Ctrl-C: 130); Windows'
/// Ctrl-Break and console close count as Ctrl-C. An internal stop (`request_stop`) keeps the
/// error's own status.
fn signal_exit_code(signal: i32) -> Option<u8> {
    match signal {
        1..=64 => Some(128 + signal as u8),
        s if s > 1000 => Some(130),
        _ => None,
    }
}

fn is_broken_pipe(err: &Error) -> bool {
    err.message().contains("Broken pipe") || err.message().contains("broken pipe")
}

pub fn run(cli: Cli, argv: Vec<String>) -> Result<ExitStatus> {
    color::init(cli.color);
    match cli.command {
        Some(Command::Completions { shell }) => {
            write_out(
                &mut std::io::stdout().lock(),
                &manual::completion_script(shell),
            )?;
            Ok(ExitStatus::Success)
        }
        Some(Command::Man { dir }) => run_man(dir),
        None => run_collect(cli.collect, argv),
        Some(Command::Collect(args)) => run_collect(*args, argv),
        Some(Command::Manifest { action }) => run_manifest(action),
        Some(Command::Rules { action }) => run_rules(action),
        Some(Command::Inspect(args)) => {
            register_identities(&args.identities)?;
            inspect::run(&inspect::Settings {
                bundles: args.bundles,
                json: args.json,
                html: args.html,
                list: args.list,
                cat: args.cat,
                extract: args.extract,
                max_extract: args.max_extract,
                lang: args.lang.unwrap_or_else(Lang::from_env),
                quiet: args.quiet,
            })
        }
        Some(Command::Diff(args)) => {
            register_identities(&args.identities)?;
            diff::run(&diff::Settings {
                old: args.old,
                new: args.new,
                node: args.node,
                json: args.json,
                lang: args.lang.unwrap_or_else(Lang::from_env),
                stat: args.stat,
                paths: args.paths,
                exit_code: args.exit_code,
            })
        }
        Some(Command::Cases(args)) => run_cases(args),
        Some(Command::Watch(args)) => run_watch(*args, argv),
        Some(Command::Record(args)) => run_record(*args, argv),
        Some(Command::Schedule(args)) => schedule::run(&schedule::Settings {
            action: match args.action {
                cli::ScheduleAction::Install => schedule::Action::Install,
                cli::ScheduleAction::Remove => schedule::Action::Remove,
                cli::ScheduleAction::Status => schedule::Action::Status,
            },
            every: args.every,
            keep: args.keep,
            keep_size: args.keep_size,
            output: args.output,
            cron_file: args.cron_file,
            systemd: args.systemd,
            unit_dir: args.unit_dir,
            init_dir: args.init_dir,
            record: args.record,
        }),
    }
}

/// `drx-collect man`: drx-collect(1) on stdout, or with `--dir` one page per command
/// (drx-collect.1, drx-collect-inspect.1, …), as the packages install them.
fn run_man(dir: Option<std::path::PathBuf>) -> Result<ExitStatus> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .and_then(|_| {
                    for (name, page) in manual::all_pages()? {
                        std::fs::write(dir.join(name), page)?;
                    }
                    Ok(())
                })
                .map_err(|err| Error::io("write the manual pages to", &dir, &err, ""))?;
        }
        None => {
            let page = manual::main_page()
                .map_err(|err| Error::failed(format!("cannot render the manual page: {err}")))?;
            write_out(&mut std::io::stdout().lock(), &page)?;
        }
    }
    Ok(ExitStatus::Success)
}

/// `--identity FILE`s: every bundle reader of this process decrypts `.tgz.age` with them.
fn register_identities(files: &[std::path::PathBuf]) -> Result<()> {
    for file in files {
        archive::seal::register(archive::seal::load_identity(file)?);
    }
    Ok(())
}

#[cfg(feature = "cases")]
fn run_cases(args: cli::CasesArgs) -> Result<ExitStatus> {
    use cli::CasesAction as A;
    let mut quiet_import = false;
    let action = match args.action {
        A::Import {
            paths,
            recursive,
            quiet,
            identities,
        } => {
            register_identities(&identities)?;
            quiet_import = quiet;
            cases::Action::Import { paths, recursive }
        }
        A::List { limit, offset } => cases::Action::List {
            page: cases::store::Paging { limit, offset },
        },
        A::Show { id } => cases::Action::Show { id },
        A::Search {
            filter,
            limit,
            offset,
        } => cases::Action::Search {
            filter: cases_filter(filter)?,
            page: cases::store::Paging { limit, offset },
        },
        A::Set {
            case_id,
            status,
            assignee,
            note,
            ticket,
        } => {
            if status.is_none() && assignee.is_none() && note.is_none() && ticket.is_none() {
                return Err(Error::usage(
                    "cases set: give at least one of --status, --assignee, --note, --ticket",
                ));
            }
            cases::Action::Set {
                case_id,
                change: cases::store::CaseChange {
                    status,
                    assignee,
                    note,
                    ticket,
                },
            }
        }
        A::Export { csv: _, filter } => cases::Action::Export {
            filter: cases_filter(filter)?,
        },
        A::Rediagnose {
            case_id,
            all: _,
            identities,
        } => {
            register_identities(&identities)?;
            cases::Action::Rediagnose { case_id }
        }
        A::Stats => cases::Action::Stats,
        A::History { host, limit } => cases::Action::History { host, limit },
    };
    cases::run(cases::Settings {
        db: args.db,
        json: args.json,
        quiet: quiet_import,
        action,
    })
}

/// The conditions of `cases search` / `cases export`, checked: a bad one is a usage error.
#[cfg(feature = "cases")]
fn cases_filter(args: cli::CasesFilterArgs) -> Result<cases::store::Filter> {
    use cases::store;
    let versions = args
        .version
        .iter()
        .map(|v| store::parse_version_cond(v))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::usage)?;
    let bound = |flag: &str, text: &Option<String>, end: bool| {
        text.as_deref()
            .map(|t| store::date_bound(t, end).map_err(|e| Error::usage(format!("{flag} {e}"))))
            .transpose()
    };
    Ok(store::Filter {
        rules: args.rule,
        versions,
        host: args.host,
        case_id: args.case_id,
        label: args.label,
        since: bound("--since", &args.since, false)?,
        until: bound("--until", &args.until, true)?,
        severity: args.severity.as_deref().and_then(|s| match s {
            "error" => Some(index::Severity::Error),
            "warning" => Some(index::Severity::Warning),
            "info" => Some(index::Severity::Info),
            _ => None,
        }),
        text: args.text,
    })
}

#[cfg(not(feature = "cases"))]
fn run_cases(_: cli::CasesArgs) -> Result<ExitStatus> {
    Err(Error::failed(
        "this drx-collect was built without the case database (cargo feature `cases`); use the support desk's build (a default `cargo build`)",
    ))
}

fn run_collect(args: cli::CollectArgs, argv: Vec<String>) -> Result<ExitStatus> {
    let settings = args.into_settings(argv).map_err(Error::usage)?;
    if !settings.peers.is_empty() && !settings.dry_run {
        let outcome = peer::pair::run(&settings)?;
        peer::pair::print(&settings, &outcome)?;
        return Ok(ExitStatus::Success);
    }
    let outcome = collect::run(&settings)?;
    if let Some(outcome) = outcome {
        collect::report::print(&settings, &outcome)?;
    }
    Ok(ExitStatus::Success)
}

fn run_watch(args: cli::WatchArgs, argv: Vec<String>) -> Result<ExitStatus> {
    if args.interval < std::time::Duration::from_millis(50) {
        return Err(Error::usage(
            "--interval must be at least 50ms (the default 250ms samples 4 times a second)",
        ));
    }
    let settings = watch::Settings {
        collect: args.collect.into_settings(argv).map_err(Error::usage)?,
        duration: args.duration,
        interval: args.interval,
        ports: args.ports,
    };
    if settings.collect.dry_run {
        return Err(Error::usage(
            "watch has no --dry-run: it samples, then writes a bundle; `drx-collect --dry-run` shows what the bundle collects",
        ));
    }
    if let Some(outcome) = watch::run(&settings)? {
        collect::report::print(&settings.collect, &outcome)?;
    }
    Ok(ExitStatus::Success)
}

fn run_record(args: cli::RecordArgs, argv: Vec<String>) -> Result<ExitStatus> {
    if args.interval < std::time::Duration::from_millis(50) {
        return Err(Error::usage("--interval must be at least 50ms"));
    }
    if args.ring < 1 << 20 {
        return Err(Error::usage("--ring must be at least 1MiB"));
    }
    let settings = watch::record::Settings {
        collect: args.collect.into_settings(argv).map_err(Error::usage)?,
        dir: args.dir,
        ring: args.ring,
        interval: args.interval,
        ports: args.ports,
        before: args.before,
        after: args.after,
        duration: args.duration,
        freeze: args.freeze,
    };
    if settings.collect.dry_run || !settings.collect.peers.is_empty() {
        return Err(Error::usage(
            "record takes neither --dry-run nor --peer (not available yet)",
        ));
    }
    for outcome in watch::record::run(&settings)? {
        collect::report::print(&settings.collect, &outcome)?;
    }
    Ok(ExitStatus::Success)
}

fn run_manifest(action: ManifestAction) -> Result<ExitStatus> {
    let mut out = std::io::stdout().lock();
    match action {
        ManifestAction::Show { file, os } => {
            let text = match file {
                Some(path) => {
                    manifest::load(&path)?;
                    std::fs::read_to_string(&path)
                        .map_err(|err| Error::io("read manifest", &path, &err, ""))?
                }
                None => {
                    let os = match os {
                        Some(cli::OsArg::Linux) => manifest::Os::Linux,
                        Some(cli::OsArg::Windows) => manifest::Os::Windows,
                        None => manifest::Os::current(),
                    };
                    manifest::embedded_text(os).to_string()
                }
            };
            write_out(&mut out, text.as_bytes())?;
        }
        ManifestAction::Check { file } => {
            let checked = match file {
                Some(path) => vec![(path.display().to_string(), manifest::load(&path)?)],
                None => [manifest::Os::Linux, manifest::Os::Windows]
                    .into_iter()
                    .map(|os| (format!("embedded {}", os.as_str()), manifest::embedded(os)))
                    .collect(),
            };
            for (name, manifest) in checked {
                let line = format!(
                    "{name}: ok, {} items ({})\n",
                    manifest.items.len(),
                    manifest.os.as_str()
                );
                write_out(&mut out, line.as_bytes())?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// One rule in `rules list --json`.
#[derive(serde::Serialize)]
struct RuleJson<'a> {
    evidence: &'a str,
    id: &'a str,
    remedy: &'a str,
    severity: &'static str,
    title: &'a str,
}

fn run_rules(action: RulesAction) -> Result<ExitStatus> {
    let catalogue = rules::Catalogue::embedded()?;
    let mut out = std::io::stdout().lock();
    match action {
        RulesAction::List { lang, json } => {
            let lang = lang.unwrap_or_else(Lang::from_env);
            if json {
                let list: Vec<RuleJson> = catalogue
                    .rules()
                    .iter()
                    .map(|rule| RuleJson {
                        evidence: rule.evidence(lang),
                        id: &rule.id,
                        remedy: rule.remedy(lang),
                        severity: rule.severity.as_str(),
                        title: rule.title(lang),
                    })
                    .collect();
                stdout::write_json(&mut out, &stdout::Sorted(list))?;
            } else {
                for rule in catalogue.rules() {
                    let line = format!(
                        "{:<28} {:<8} {}\n",
                        rule.id,
                        rule.severity.as_str(),
                        rule.title(lang)
                    );
                    write_out(&mut out, line.as_bytes())?;
                }
            }
        }
        RulesAction::Explain { id, lang } => {
            let lang = lang.unwrap_or_else(Lang::from_env);
            let rule = catalogue.get(&id).ok_or_else(|| {
                Error::failed(format!(
                    "there is no rule '{id}'; `drx-collect rules list` shows them all"
                ))
            })?;
            let text = format!(
                "{} ({})\n{}\n\n{}:\n  {}\n\n{}:\n  {}\n",
                rule.id,
                rule.severity.as_str(),
                rule.title(lang),
                lang.ui("text.evidence"),
                rule.evidence(lang).replace('\n', "\n  "),
                lang.ui("text.remedy"),
                rule.remedy(lang).replace('\n', "\n  "),
            );
            write_out(&mut out, text.as_bytes())?;
        }
    }
    Ok(ExitStatus::Success)
}
