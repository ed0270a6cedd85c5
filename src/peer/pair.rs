//! Both nodes in one run (SPEC §9): the peers are collected over ssh while this node collects,
//! each peer bundle is verified like any untrusted bundle, and one case file holds both bundles
//! unchanged with the pair's findings. The local bundle is written whatever happens over there;
//! a peer that fails becomes a recorded gap of the case (`PEER-COLLECT-FAILED`), not a failed run.
use super::{Destination, Fetched, Request};
use crate::archive::split::{self, SplitWriter};
use crate::archive::writer::{BundleWriter, Format, Sink};
use crate::collect::{self, output, Outcome, Settings, Verbosity};
use crate::error::{describe_io, Error, Result};
use crate::index::{self, Finding};
use crate::inspect::case::{CaseBundle, CaseIndex, Gap, CASE_SCHEMA};
use crate::inspect::{self, Inspected};
use crate::rules::Catalogue;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a pair run produced.
pub struct PairOutcome {
    pub local: Outcome,
    pub case: Option<PathBuf>,
    pub case_sha256: Option<String>,
    /// `--split`: the case file's parts (`NAME.tgz.001`, …); empty otherwise.
    pub case_parts: Vec<PathBuf>,
    pub gaps: Vec<Gap>,
    pub findings: Vec<Finding>,
}

/// Collect options that the peer's run takes over (paths that only exist here are not sent).
fn forwarded(settings: &Settings) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(root) = &settings.root {
        args.push("--root".into());
        args.push(root.display().to_string());
    }
    if let Some(since) = &settings.since_text {
        args.push("--since".into());
        args.push(since.clone());
    }
    args.push("--max-file-size".into());
    args.push(settings.max_file_size.to_string());
    args.push("--timeout".into());
    args.push(format!("{}ms", settings.timeout.as_millis()));
    if let Some(total) = settings.total_timeout {
        args.push("--total-timeout".into());
        args.push(format!("{}ms", total.as_millis()));
    }
    if settings.obfuscate {
        args.push("--obfuscate".into());
    }
    if !settings.redact {
        args.push("--no-redact".into());
    }
    args.push("--format".into());
    args.push("tgz".into());
    args.push("--lang".into());
    args.push(
        if settings.lang == crate::lang::Lang::Ko {
            "ko"
        } else {
            "en"
        }
        .into(),
    );
    if let Some(case_id) = &settings.case_id {
        args.push("--case-id".into());
        args.push(case_id.clone());
    }
    if let Some(label) = &settings.label {
        args.push("--label".into());
        args.push(label.clone());
    }
    args.push(if settings.probe {
        "--probe".into()
    } else {
        "--no-probe".into()
    });
    args
}

pub fn run(settings: &Settings) -> Result<PairOutcome> {
    if cfg!(windows) {
        return Err(Error::usage(
            "--peer is not available on Windows (Windows Server 2008 R2 / 2012 R2 have no OpenSSH client); run drx-collect on each node and give both bundles to inspect",
        ));
    }
    if !settings.encrypt_to.is_empty() {
        return Err(Error::usage(
            "--peer does not seal the case file yet; drop --encrypt-to (or DRX_COLLECT_ENCRYPT_TO, the manifest's encrypt_to) and encrypt the case file with age, or run drx-collect --encrypt-to on each node",
        ));
    }
    if settings.format == Format::Zip {
        return Err(Error::usage(
            "--peer writes a .tgz case file; drop --format zip",
        ));
    }
    if let Some(path) = &settings.output {
        let text = path.to_string_lossy();
        if [".tgz", ".tar.gz", ".zip"]
            .iter()
            .any(|e| text.ends_with(e))
        {
            return Err(Error::usage(
                "with --peer, --output is a directory (it gets the local bundle and the case file)",
            ));
        }
    }
    let dir = settings
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(|err| {
        Error::io(
            "create the output directory",
            &dir,
            &err,
            "choose another place with --output",
        )
    })?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let peer_timeout = settings
        .total_timeout
        .unwrap_or(Duration::from_secs(600))
        .max(Duration::from_secs(30));
    let requests: Vec<(String, Request)> = settings
        .peers
        .iter()
        .map(|given| {
            let destination = Destination::parse(given).map_err(Error::usage)?;
            Ok((
                given.clone(),
                Request {
                    destination,
                    ssh_config: settings.ssh_config.clone(),
                    interactive,
                    forward: forwarded(settings),
                    dir: dir.clone(),
                    timeout: peer_timeout,
                    fetch_map: settings.obfuscate,
                },
            ))
        })
        .collect::<Result<_>>()?;
    if settings.verbosity > Verbosity::Quiet && !settings.json {
        for (given, _) in &requests {
            eprintln!("drx-collect: collecting {given} over ssh at the same time");
        }
    }
    // An interactive ssh may ask for a password: then the peers go first, one after another,
    // before the local progress display takes the terminal.
    let mut fetched: Vec<(String, std::result::Result<Fetched, String>)> = Vec::new();
    let handles: Vec<_> = if interactive {
        for (given, request) in &requests {
            fetched.push((given.clone(), super::collect(request)));
        }
        Vec::new()
    } else {
        requests
            .into_iter()
            .map(|(given, request)| std::thread::spawn(move || (given, super::collect(&request))))
            .collect()
    };
    let mut local_settings = settings.clone();
    local_settings.output = Some(dir.clone());
    let local = collect::run(&local_settings)?
        .ok_or_else(|| Error::failed("internal error: the local collect wrote no bundle"))?;
    for handle in handles {
        match handle.join() {
            Ok(result) => fetched.push(result),
            Err(_) => fetched.push((
                "peer".into(),
                Err("internal error while collecting the peer".into()),
            )),
        }
    }

    // A manifest's `encrypt_to` sealed the local bundle: a case file of clear and sealed bundles
    // would be neither private nor readable, so none is written and nothing fetched is kept.
    if local.bundle.to_string_lossy().ends_with(".age") {
        for (_, result) in &fetched {
            if let Ok(peer) = result {
                let _ = std::fs::remove_file(&peer.path);
                if let Some(map) = &peer.map {
                    let _ = std::fs::remove_file(map);
                }
            }
        }
        let gaps = vec![Gap {
            peer: settings.peers.join(", "),
            reason: "the local bundle is sealed (encrypt_to in the manifest), and case files are not sealed yet: no case file was written; run drx-collect on the peer and send both bundles".into(),
        }];
        return Ok(PairOutcome {
            local,
            case: None,
            case_sha256: None,
            case_parts: Vec::new(),
            gaps,
            findings: Vec::new(),
        });
    }

    let catalogue = Catalogue::embedded()?;
    let local_inspected = inspect::open(&local.bundle, &catalogue, Default::default())?;
    // A split local bundle goes into the case joined: its parts, in order.
    let local_files = if local.parts.is_empty() {
        vec![local.bundle.clone()]
    } else {
        local.parts.clone()
    };
    let mut members: Vec<(CaseBundle, Vec<PathBuf>)> = vec![(
        CaseBundle {
            role: "local".into(),
            host: local_inspected.node.clone(),
            path: format!("bundles/{}", file_name(&local.bundle)),
            sha256: local.sha256.clone(),
            size: local.size,
            destination: None,
        },
        local_files,
    )];
    let mut inspected: Vec<Inspected> = vec![local_inspected];
    let mut gaps = Vec::new();
    let mut temporaries = Vec::new();
    for (given, result) in fetched {
        match result {
            Ok(peer) => {
                temporaries.push(peer.path.clone());
                if let Some(map) = &peer.map {
                    keep_map(map, &dir, &peer.name);
                }
                match inspect::open(&peer.path, &catalogue, Default::default()) {
                    Ok(one) if one.verification.ok() => {
                        members.push((
                            CaseBundle {
                                role: "peer".into(),
                                host: one.node.clone(),
                                path: format!("bundles/{}", peer.name),
                                sha256: peer.sha256.clone(),
                                size: peer.size,
                                destination: Some(given.clone()),
                            },
                            vec![peer.path.clone()],
                        ));
                        inspected.push(one);
                    }
                    Ok(one) => gaps.push(Gap {
                        peer: given.clone(),
                        reason: format!(
                            "the bundle from {given} failed verification: {}",
                            one.verification
                                .problems
                                .first()
                                .map(|p| format!("{} {}: {}", p.kind.as_str(), p.path, p.detail))
                                .unwrap_or_else(|| "not intact".into())
                        ),
                    }),
                    Err(err) => gaps.push(Gap {
                        peer: given.clone(),
                        reason: format!("the bundle from {given} cannot be read: {err}"),
                    }),
                }
            }
            Err(reason) => gaps.push(Gap {
                peer: given,
                reason,
            }),
        }
    }
    let mut findings = inspect::findings(&inspected, settings.lang);
    findings.extend(crate::inspect::case::gap_findings(
        &gaps,
        &catalogue,
        settings.lang,
    ));
    index::sort_findings(&mut findings);

    let result = write_case(settings, &dir, &local, &members, &gaps, &findings);
    for path in temporaries {
        let _ = std::fs::remove_file(path);
    }
    let (case, case_sha256, case_parts) = match result {
        Ok((path, sha, parts)) => (Some(path), Some(sha), parts),
        Err(err) => {
            // The local bundle is already in place: the case file is what failed.
            eprintln!("drx-collect: the case file was not written: {err}");
            (None, None, Vec::new())
        }
    };
    Ok(PairOutcome {
        local,
        case,
        case_sha256,
        case_parts,
        gaps,
        findings,
    })
}

/// The peer's obfuscation map goes beside this node's, named after the peer's bundle.
fn keep_map(temp: &Path, dir: &Path, bundle_name: &str) {
    let stem = output::strip_extension(bundle_name);
    let target = dir.join(format!("{stem}.obfuscation-map.json"));
    // A hard link never replaces an existing file nor follows a planted link.
    match std::fs::hard_link(temp, &target) {
        Ok(()) => {
            let _ = std::fs::remove_file(temp);
        }
        Err(err) => eprintln!(
            "drx-collect: the peer's obfuscation map stays at {} ({} exists or cannot be written: {})",
            temp.display(),
            target.display(),
            describe_io(&err)
        ),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `drx-case-<A>-<B>-<stamp>.tgz`: case.json, both bundles unchanged, SHA256SUMS.
fn write_case(
    settings: &Settings,
    dir: &Path,
    local: &Outcome,
    members: &[(CaseBundle, Vec<PathBuf>)],
    gaps: &[Gap],
    findings: &[Finding],
) -> Result<(PathBuf, String, Vec<PathBuf>)> {
    let stamp = local
        .index
        .started_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y%m%dT%H%M%SZ")
                .to_string()
        })
        .unwrap_or_else(|| chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string());
    let mut hosts: Vec<String> = members
        .iter()
        .map(|(m, _)| crate::host::file_safe(&m.host))
        .collect();
    for gap in gaps {
        hosts.push(crate::host::file_safe(
            Destination::parse(&gap.peer)
                .map(|d| d.host().to_string())
                .unwrap_or_default()
                .as_str(),
        ));
    }
    let pair = hosts.join("-");
    let top = unique_stem(dir, &format!("drx-case-{pair}-{stamp}"));
    let name = format!("{top}.tgz");
    let case = CaseIndex {
        schema: CASE_SCHEMA.into(),
        tool: index::Tool {
            name: "drx-collect".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        bundles: members.iter().map(|(m, _)| m.clone()).collect(),
        gaps: gaps.to_vec(),
        findings: findings.to_vec(),
    };
    let json = serde_json::to_string_pretty(&case)
        .map_err(|err| Error::failed(format!("cannot encode case.json: {err}")))?;
    let target = dir.join(&name);
    let io_error = |err: std::io::Error| Error::io("write the case file in", dir, &err, "");
    // One temporary file renamed into place, or (--split) numbered parts and one listing.
    let mut temp = None;
    let sink = match settings.split {
        None => {
            let created = output::TempFile::create(dir, &name)?;
            let sink = Sink::from(created.file()?);
            temp = Some(created);
            sink
        }
        Some(limit) => {
            let hidden = format!(".{name}.part-{}", std::process::id());
            Sink::Parts(Box::new(SplitWriter::new(dir, limit, move |n| {
                split::part_name(&hidden, n)
            })))
        }
    };
    let mut writer = BundleWriter::new(sink, Format::Tgz, &top).map_err(io_error)?;
    let now = chrono::Utc::now().timestamp();
    writer
        .add_bytes(crate::inspect::case::CASE_JSON, json.as_bytes(), now)
        .map_err(io_error)?;
    for (member, files) in members {
        let mut source: Box<dyn std::io::Read> = Box::new(std::io::empty());
        for path in files {
            let file = std::fs::File::open(path)
                .map_err(|err| Error::io("read", path, &err, "run again"))?;
            source = Box::new(std::io::Read::chain(source, file));
        }
        let written = writer
            .add_stream(&member.path, member.size, now, &mut source)
            .map_err(|err| {
                Error::failed(format!(
                    "cannot add {} to the case file: {}",
                    member.path,
                    describe_io(&err)
                ))
            })?;
        // The bundle must go in byte for byte: its own hash is in case.json.
        if written.short || written.sha256 != member.sha256 {
            return Err(Error::failed(format!(
                "{} changed while the case file was written; run again",
                member.path
            )));
        }
    }
    let sink = writer.finish().map_err(io_error)?;
    sink.sync_all().map_err(io_error)?;
    let (sha256, parts) = match (sink, temp) {
        (Sink::Parts(parts), _) => {
            let done = parts.finish().map_err(io_error)?;
            let temps = done
                .parts
                .iter()
                .map(|p| output::TempFile::adopt(p.path.clone()))
                .collect();
            let parts = output::persist_parts(temps, &done, &target)?;
            (done.sha256, parts)
        }
        (sink, Some(mut temp)) => {
            drop(sink);
            let (sha256, _) = output::hash_file(temp.path())?;
            temp.persist(&target)?;
            output::write_sidecar(&target, &sha256)?;
            (sha256, Vec::new())
        }
        (_, None) => return Err(Error::failed("internal error: the case file went missing")),
    };
    // --keep / --keep-size apply to this pair's case files as to bundles.
    let policy = crate::collect::retention::Policy {
        keep: settings.keep,
        keep_size: settings.keep_size,
    };
    crate::collect::retention::apply_to_cases(dir, &pair, policy, &target)?;
    Ok((target, sha256, parts))
}

/// The first free `stem`, `stem-2`, … in `dir` (a run in the same second never overwrites).
fn unique_stem(dir: &Path, stem: &str) -> String {
    let mut candidate = stem.to_string();
    let mut n = 2;
    while dir.join(format!("{candidate}.tgz")).exists() && n < 10_000 {
        candidate = format!("{stem}-{n}");
        n += 1;
    }
    candidate
}

/// `collect --peer --json`: the local bundle, the case file and the pair's findings.
#[derive(serde::Serialize)]
struct PairJson<'a> {
    bundle: &'a Path,
    case: Option<&'a Path>,
    case_parts: &'a [PathBuf],
    case_sha256: Option<&'a str>,
    findings: &'a [Finding],
    gaps: &'a [Gap],
    host: &'a crate::index::Host,
    sha256: &'a str,
    size: u64,
}

/// What the user sees at the end of a pair run (after the local bundle's own report).
pub fn print(settings: &Settings, outcome: &PairOutcome) -> Result<()> {
    if settings.json {
        return crate::stdout::write_json(
            &mut std::io::stdout().lock(),
            &crate::stdout::Sorted(PairJson {
                bundle: &outcome.local.bundle,
                case: outcome.case.as_deref(),
                case_parts: &outcome.case_parts,
                case_sha256: outcome.case_sha256.as_deref(),
                findings: &outcome.findings,
                gaps: &outcome.gaps,
                host: &outcome.local.index.host,
                sha256: &outcome.local.sha256,
                size: outcome.local.size,
            }),
        );
    }
    collect::report::print(settings, &outcome.local)?;
    if settings.verbosity == Verbosity::Quiet {
        for gap in &outcome.gaps {
            eprintln!("drx-collect: {}", gap.reason);
        }
        return Ok(());
    }
    let mut text = String::new();
    if let (Some(case), Some(sha)) = (&outcome.case, &outcome.case_sha256) {
        text.push_str(&format!(
            "Wrote case {} (both bundles, the pair's findings)\n  sha256 {sha}\n",
            case.display()
        ));
        for part in &outcome.case_parts {
            text.push_str(&format!("    part {}\n", part.display()));
        }
    }
    for gap in &outcome.gaps {
        text.push_str(&format!("  peer {}: {}\n", gap.peer, gap.reason));
    }
    let between: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| f.rule == "PEER-COLLECT-FAILED" || f.rule.starts_with("VERSION-DRX"))
        .collect();
    for finding in between {
        text.push_str(&format!(
            "    [{}] {}: {}\n",
            finding.severity.as_str(),
            finding.rule,
            finding.title
        ));
    }
    crate::stdout::write_out(&mut std::io::stderr().lock(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_options_are_the_collect_options_the_peer_understands() {
        let settings = Settings {
            root: Some(PathBuf::from("/srv/sysroot")),
            obfuscate: true,
            redact: false,
            since_text: Some("7d".into()),
            ..Settings::default()
        };
        let args = forwarded(&settings);
        let joined = args.join(" ");
        assert!(joined.contains("--root /srv/sysroot"), "{joined}");
        assert!(joined.contains("--obfuscate"));
        assert!(joined.contains("--no-redact"));
        assert!(joined.contains("--since 7d"));
        assert!(joined.contains("--timeout 10000ms"));
        // Never the local paths that do not exist on the peer, never --peer itself.
        assert!(!joined.contains("--peer"));
        assert!(!joined.contains("--map-file"));
        assert!(!joined.contains("--output"));
    }
}
