//! Both nodes in one run (SPEC §9): the peers are collected over ssh while this node collects,
//! each peer bundle is verified like any untrusted bundle, and one case file holds both bundles
//! unchanged with the pair's findings. The local bundle is written whatever happens over there;
//! a peer that fails becomes a recorded gap of the case (`PEER-COLLECT-FAILED`), not a failed run.
use super::{Destination, Fetched, Link, Request};
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What a pair run produced.
pub struct PairOutcome {
    pub local: Outcome,
    pub case: Option<PathBuf>,
    pub case_sha256: Option<String>,
    /// `--split`: the case file's parts (`NAME.tgz.001`, …); empty otherwise.
    pub case_parts: Vec<PathBuf>,
    pub gaps: Vec<Gap>,
    pub findings: Vec<Finding>,
    /// Why the case file was not written (the run then fails, with the bundles kept).
    pub case_error: Option<String>,
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
    // --total-timeout (what is left of the run's) and --obfuscate (with this node's map) are
    // added per peer by `super::collect`.
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
    if let Some(path) = &settings.output {
        output::check_output_name(path, true)?;
    }
    output::make_output_dir(&dir, settings.mkdir)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    // --total-timeout is the whole run's: every step on a peer ends by then.
    let started = Instant::now();
    let deadline = settings.total_timeout.map(|total| started + total);
    let marker = SelfMarker::create();
    let stop = Arc::new(AtomicBool::new(false));
    let requests: Vec<(String, Request)> = settings
        .peers
        .iter()
        .enumerate()
        .map(|(slot, given)| {
            let destination = Destination::parse(given).map_err(Error::usage)?;
            Ok((
                given.clone(),
                Request {
                    destination,
                    ssh_config: settings.ssh_config.clone(),
                    interactive,
                    forward: forwarded(settings),
                    dir: dir.clone(),
                    slot,
                    timeout: Duration::from_secs(600),
                    deadline,
                    obfuscate: settings.obfuscate,
                    self_marker: marker.as_ref().map(|m| m.path.clone()),
                },
            ))
        })
        .collect::<Result<_>>()?;
    if settings.verbosity > Verbosity::Quiet && !settings.json {
        for (given, _) in &requests {
            eprintln!("drx-collect: collecting {given} over ssh at the same time");
        }
    }
    // Each peer in a thread of its own. An interactive ssh may ask for a password: then the
    // peers are reached one after another, before the local progress display takes the terminal.
    let mut running: Vec<Running> = Vec::new();
    for (given, request) in requests {
        let (ready, reached) = mpsc::channel();
        let (map_to_peer, map) = if settings.obfuscate {
            let (sender, receiver) = mpsc::channel();
            (Some(sender), Some(receiver))
        } else {
            (None, None)
        };
        let link = Link {
            stop: stop.clone(),
            ready: Some(ready),
            map,
        };
        let handle = std::thread::spawn(move || super::collect(&request, link));
        if interactive {
            // Ends when the peer was reached or given up (the sender is dropped).
            let _ = reached.recv();
        }
        running.push(Running {
            given,
            handle,
            map: map_to_peer,
        });
    }
    let mut local_settings = settings.clone();
    local_settings.output = Some(dir.clone());
    if settings.obfuscate {
        // The peers are collected after this node, with its map: this node takes its share of
        // the run's time.
        local_settings.total_timeout = settings
            .total_timeout
            .map(|total| total / (1 + running.len() as u32));
    }
    let local = match collect::run(&local_settings) {
        Ok(Some(local)) => local,
        failed => {
            // Nothing of this run may stay on the peers: they are stopped and cleaned up first.
            stop.store(true, Ordering::SeqCst);
            for peer in running {
                drop(peer.map);
                let _ = peer.handle.join();
            }
            return Err(failed.err().unwrap_or_else(|| {
                Error::failed("internal error: the local collect wrote no bundle")
            }));
        }
    };
    // --obfuscate: one pseudonym table for the pair. Each peer in turn collects with the map
    // as it stands (this node's, extended by the peers before), and what it added comes back
    // into the map file.
    let map_file = settings.map_file.clone().filter(|_| settings.obfuscate);
    let mut fetched: Vec<(String, std::result::Result<Fetched, String>)> = Vec::new();
    for peer in running {
        if let (Some(sender), Some(path)) = (peer.map, &map_file) {
            match read_capped(path, super::MAX_MAP) {
                Ok(bytes) => {
                    let _ = sender.send(bytes);
                }
                Err(err) => eprintln!(
                    "drx-collect: cannot read the pseudonym map {} for the peer: {}",
                    path.display(),
                    describe_io(&err)
                ),
            }
        }
        let result = peer
            .handle
            .join()
            .unwrap_or_else(|_| Err("internal error while collecting the peer".into()));
        if let (Ok(got), Some(path)) = (&result, &map_file) {
            match &got.map {
                Some(theirs) => {
                    match read_capped(theirs, super::MAX_MAP)
                        .map_err(|err| Error::failed(describe_io(&err)))
                        .and_then(|bytes| crate::redact::merge_map_file(path, &bytes))
                    {
                        Ok(0) => {}
                        Ok(refused) => eprintln!(
                            "drx-collect: {refused} pseudonyms from {} contradicted this node's map and were not taken into {}",
                            peer.given,
                            path.display()
                        ),
                        Err(err) => eprintln!(
                            "drx-collect: the pseudonyms {} added are not in {}: {err}",
                            peer.given,
                            path.display()
                        ),
                    }
                    let _ = std::fs::remove_file(theirs);
                }
                None => eprintln!(
                    "drx-collect: {} sent no pseudonym map back: what only it met is not in {}",
                    peer.given,
                    path.display()
                ),
            }
        }
        fetched.push((peer.given, result));
    }
    drop(marker);
    // Stopped by a signal while the peers were collected: they are cleaned up by now; nothing
    // half-fetched is kept, the local bundle is.
    if let Some(signal) = crate::platform::interrupted() {
        for (_, result) in &fetched {
            if let Ok(peer) = result {
                let _ = std::fs::remove_file(&peer.path);
            }
        }
        return Err(Error::failed(format!(
            "stopped by {} while the peers were collected; no case file was written, the local bundle {} is kept",
            crate::platform::interruption_name(signal),
            local.bundle.display()
        )));
    }

    // A manifest's `encrypt_to` sealed the local bundle: a case file of clear and sealed bundles
    // would be neither private nor readable, so none is written and nothing fetched is kept.
    if local.bundle.to_string_lossy().ends_with(".age") {
        for (_, result) in &fetched {
            if let Ok(peer) = result {
                let _ = std::fs::remove_file(&peer.path);
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
            case_error: None,
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
    let mut members: Vec<Member> = vec![Member {
        bundle: CaseBundle {
            role: "local".into(),
            host: local_inspected.node.clone(),
            path: format!("bundles/{}", file_name(&local.bundle)),
            sha256: local.sha256.clone(),
            size: local.size,
            destination: None,
        },
        files: local_files,
        fetched: None,
    }];
    let mut inspected: Vec<Inspected> = vec![local_inspected];
    let mut gaps = Vec::new();
    for (given, result) in fetched {
        match result {
            Ok(peer) => match inspect::open(&peer.path, &catalogue, Default::default()) {
                Ok(one) if one.verification.ok() => {
                    // Two nodes of one host name (cloned machines) may name their bundles
                    // alike: each member of the case keeps a name of its own.
                    let path = unique_member_path(&members, &peer.name);
                    members.push(Member {
                        bundle: CaseBundle {
                            role: "peer".into(),
                            host: one.node.clone(),
                            path,
                            sha256: peer.sha256.clone(),
                            size: peer.size,
                            destination: Some(given.clone()),
                        },
                        files: vec![peer.path.clone()],
                        fetched: Some(peer),
                    });
                    inspected.push(one);
                }
                Ok(one) => {
                    let _ = std::fs::remove_file(&peer.path);
                    gaps.push(Gap {
                        peer: given.clone(),
                        reason: format!(
                            "the bundle from {given} failed verification: {}",
                            one.verification
                                .problems
                                .first()
                                .map(|p| format!("{} {}: {}", p.kind.as_str(), p.path, p.detail))
                                .unwrap_or_else(|| "not intact".into())
                        ),
                    })
                }
                Err(err) => {
                    let _ = std::fs::remove_file(&peer.path);
                    gaps.push(Gap {
                        peer: given.clone(),
                        reason: format!("the bundle from {given} cannot be read: {err}"),
                    })
                }
            },
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
    let (case, case_sha256, case_parts, case_error) = match result {
        Ok((path, sha, parts)) => {
            for member in &members {
                if let Some(peer) = &member.fetched {
                    let _ = std::fs::remove_file(&peer.path);
                }
            }
            (Some(path), Some(sha), parts, None)
        }
        Err(err) => {
            // The local bundle is already in place; nothing fetched is lost either: each
            // verified peer bundle stays beside it as a bundle of its own.
            let mut kept = vec![local.bundle.display().to_string()];
            for member in &members {
                if let Some(peer) = &member.fetched {
                    match keep_bundle(peer, &dir) {
                        Ok(path) => kept.push(path.display().to_string()),
                        Err(why) => eprintln!("drx-collect: {why}"),
                    }
                }
            }
            (
                None,
                None,
                Vec::new(),
                Some(format!(
                    "the case file was not written: {}; the bundles are kept: {} (give them to drx-collect inspect together)",
                    err.message(),
                    kept.join(", ")
                )),
            )
        }
    };
    Ok(PairOutcome {
        local,
        case,
        case_sha256,
        case_parts,
        gaps,
        findings,
        case_error,
    })
}

/// A peer being collected in its thread.
struct Running {
    given: String,
    handle: std::thread::JoinHandle<std::result::Result<Fetched, String>>,
    /// `--obfuscate`: where this node's map goes once it is written.
    map: Option<mpsc::Sender<Vec<u8>>>,
}

/// One bundle of the case: its entry in case.json, its files here, and for a peer's bundle
/// the fetched temporary file.
struct Member {
    bundle: CaseBundle,
    files: Vec<PathBuf>,
    fetched: Option<Fetched>,
}

/// A file in this machine's /tmp that only this run knows the name of: a peer that sees it is
/// this very node (an ssh alias, or a virtual IP that is on this node now). Removed on drop.
struct SelfMarker {
    path: PathBuf,
}

impl SelfMarker {
    /// `None` when /tmp cannot take it (then the check is not made).
    fn create() -> Option<SelfMarker> {
        let path = PathBuf::from(format!("/tmp/.drx-collect-self-{}", super::random_token()));
        crate::platform::create_new_private(&path).ok()?;
        Some(SelfMarker { path })
    }
}

impl Drop for SelfMarker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(path)?, cap + 1),
        &mut bytes,
    )?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other("larger than a pseudonym map can be"));
    }
    Ok(bytes)
}

/// `bundles/<name>`, or with `-2`, `-3` … before the extension when another member has it.
fn unique_member_path(members: &[Member], name: &str) -> String {
    let taken = |path: &str| members.iter().any(|m| m.bundle.path == path);
    let path = format!("bundles/{name}");
    if !taken(&path) {
        return path;
    }
    let stem = output::strip_extension(name);
    let ext = &name[stem.len()..];
    (2..)
        .map(|n| format!("bundles/{stem}-{n}{ext}"))
        .find(|path| !taken(path))
        .expect("a free name")
}

/// A verified peer bundle that no case file took: moved beside the local bundle under its own
/// name (never over an existing file), with its sidecar.
fn keep_bundle(peer: &Fetched, dir: &Path) -> std::result::Result<PathBuf, String> {
    let stem = output::strip_extension(&peer.name);
    let ext = &peer.name[stem.len()..];
    for n in 1..1000 {
        let name = if n == 1 {
            peer.name.clone()
        } else {
            format!("{stem}-{n}{ext}")
        };
        let target = dir.join(&name);
        if target.symlink_metadata().is_ok()
            || dir
                .join(format!("{name}.sha256"))
                .symlink_metadata()
                .is_ok()
        {
            continue;
        }
        // A hard link never replaces an existing file nor follows a planted link.
        match std::fs::hard_link(&peer.path, &target) {
            Ok(()) => {
                let _ = std::fs::remove_file(&peer.path);
                let _ = output::write_sidecar(&target, &peer.sha256);
                return Ok(target);
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(format!(
                    "the peer's bundle stays at {} ({})",
                    peer.path.display(),
                    describe_io(&err)
                ))
            }
        }
    }
    Err(format!(
        "the peer's bundle stays at {}",
        peer.path.display()
    ))
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
    members: &[Member],
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
    // Named by the host names the bundles carry (pseudonyms under --obfuscate), never by how
    // a peer was reached: a peer that gave no bundle is just `peer`.
    let mut hosts: Vec<String> = members
        .iter()
        .map(|m| crate::host::file_safe(&m.bundle.host))
        .collect();
    hosts.extend(gaps.iter().map(|_| GAP_NAME.to_string()));
    let pair = hosts.join("-");
    let top = unique_stem(dir, &format!("drx-case-{pair}-{stamp}"));
    let name = format!("{top}.tgz");
    let mut bundles: Vec<CaseBundle> = members.iter().map(|m| m.bundle.clone()).collect();
    let mut gaps = gaps.to_vec();
    let mut findings = findings.to_vec();
    if settings.obfuscate {
        obfuscate_reach(settings, &mut bundles, &mut gaps, &mut findings)?;
    }
    let case = CaseIndex {
        schema: CASE_SCHEMA.into(),
        tool: index::Tool {
            name: "drx-collect".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        bundles,
        gaps,
        findings,
    };
    let json = serde_json::to_string_pretty(&case)
        .map_err(|err| Error::failed(format!("cannot encode case.json: {err}")))?;
    let target = dir.join(&name);
    // The case holds a copy of every bundle: it must fit beside them.
    let needed = members
        .iter()
        .map(|m| m.bundle.size.saturating_add(4096))
        .fold(json.len() as u64 + 65536, u64::saturating_add);
    if let Some(free) = crate::collect::space::available(dir) {
        if free < needed.saturating_add(crate::collect::space::MARGIN) {
            return Err(Error::failed(format!(
                "only {} is free in {}, and the case file needs about {} plus a {} margin; free some space there or choose another place with --output",
                crate::units::human_size(free),
                dir.display(),
                crate::units::human_size(needed),
                crate::units::human_size(crate::collect::space::MARGIN)
            )));
        }
    }
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
    for Member {
        bundle: member,
        files,
        ..
    } in members
    {
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

/// What names a peer that gave no bundle in the case file's name.
const GAP_NAME: &str = "peer";

/// Under --obfuscate, how the peers were reached (`--peer` as given, in the gaps, their reasons
/// and findings) is written with the pair's pseudonyms too, and what was new to the map is kept
/// in it: case.json carries no address or host name that the bundles hide.
fn obfuscate_reach(
    settings: &Settings,
    bundles: &mut [CaseBundle],
    gaps: &mut [Gap],
    findings: &mut [Finding],
) -> Result<()> {
    let mut privacy = crate::redact::Privacy::new(crate::redact::PrivacyOptions {
        redact: true,
        obfuscate: true,
        map_file: settings.map_file.clone(),
    })?;
    for given in &settings.peers {
        if let Ok(destination) = Destination::parse(given) {
            privacy.learn_hostname(destination.host());
        }
    }
    for bundle in bundles.iter_mut() {
        if let Some(destination) = &bundle.destination {
            bundle.destination = Some(privacy.obfuscate_text(destination));
        }
    }
    for gap in gaps.iter_mut() {
        gap.peer = privacy.obfuscate_text(&gap.peer);
        gap.reason = privacy.obfuscate_text(&gap.reason);
    }
    for finding in findings
        .iter_mut()
        .filter(|f| f.rule == crate::rules::PEER_COLLECT_FAILED)
    {
        finding.node = finding.node.as_deref().map(|n| privacy.obfuscate_text(n));
        finding.detail = finding.detail.as_deref().map(|d| privacy.obfuscate_text(d));
    }
    privacy.save_map()
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
        crate::stdout::write_json(
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
        )?;
    }
    print_outcome(settings, outcome)?;
    // The case file was asked for: without it the run failed, though nothing was lost.
    match &outcome.case_error {
        Some(why) => Err(Error::failed(why.clone())),
        None => Ok(()),
    }
}

fn print_outcome(settings: &Settings, outcome: &PairOutcome) -> Result<()> {
    if settings.json {
        return Ok(());
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
        assert!(joined.contains("--no-redact"));
        assert!(joined.contains("--since 7d"));
        assert!(joined.contains("--timeout 10000ms"));
        // Never the local paths that do not exist on the peer, never --peer itself.
        assert!(!joined.contains("--peer"));
        assert!(!joined.contains("--map-file"));
        assert!(!joined.contains("--output"));
    }

    fn member(path: &str) -> Member {
        Member {
            bundle: CaseBundle {
                role: "local".into(),
                host: "node-a".into(),
                path: path.into(),
                sha256: String::new(),
                size: 0,
                destination: None,
            },
            files: Vec::new(),
            fetched: None,
        }
    }

    #[test]
    fn members_of_one_name_get_names_of_their_own() {
        let name = "drx-collect-node-a-20261207T010203Z.tgz";
        let mut members = vec![member(&format!("bundles/{name}"))];
        let second = unique_member_path(&members, name);
        assert_eq!(second, "bundles/drx-collect-node-a-20261207T010203Z-2.tgz");
        assert!(crate::layout::is_bundle_name(
            second.strip_prefix("bundles/").unwrap()
        ));
        members.push(member(&second));
        assert_eq!(
            unique_member_path(&members, name),
            "bundles/drx-collect-node-a-20261207T010203Z-3.tgz"
        );
        assert_eq!(
            unique_member_path(&members, "drx-collect-node-b-20261207T010203Z.tgz"),
            "bundles/drx-collect-node-b-20261207T010203Z.tgz"
        );
    }
}
