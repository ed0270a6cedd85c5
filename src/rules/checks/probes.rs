//! The guide's active tests, read from `commands/probe.txt` (`--probe`, on with `--peer`): a peer
//! endpoint that refuses or does not answer TCP (§3.5: ICMP is often blocked, TCP counts), and a
//! local replication address that does not answer ping while loopback does (§3.1).
use super::Raw;
use crate::probe::{Outcome, ProbeResult, Role};
use crate::rules::evidence::Evidence;
use crate::rules::model::Place;

/// The line of `probe.txt` a result is on: the header takes two lines.
fn place(path: &str, index: usize, result: &ProbeResult) -> Place {
    Place::new(
        path,
        index as u64 + 3,
        &format!(
            "{} {} {} {}",
            result.kind,
            result.target,
            result.outcome.as_str(),
            result.why
        ),
    )
}

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let Some((path, results)) = &evidence.probes else {
        return;
    };
    for (i, result) in results.iter().enumerate() {
        if result.kind != "tcp" || result.role != Role::Peer {
            continue;
        }
        let rule = match result.outcome {
            Outcome::Refused => "NET-PEER-REFUSED",
            Outcome::TimedOut | Outcome::Unreachable => "NET-PEER-TIMEOUT",
            _ => continue,
        };
        let how = match result.outcome {
            Outcome::Refused => "refused the connection".to_string(),
            Outcome::Unreachable => format!(
                "is unreachable ({})",
                result.note.as_deref().unwrap_or("no route")
            ),
            _ => format!("did not answer within {} ms", result.ms),
        };
        out.push(Raw::new(
            rule,
            Some(place(path, i, result)),
            Some(format!("{} ({}) {how}", result.target, result.why)),
        ));
    }
    let loopback_answers = results
        .iter()
        .any(|r| r.kind == "ping" && r.role == Role::Loopback && r.outcome == Outcome::Answered);
    if !loopback_answers {
        return;
    }
    for (i, result) in results.iter().enumerate() {
        if result.kind == "ping"
            && result.role == Role::Local
            && result.outcome == Outcome::NoAnswer
        {
            out.push(Raw::new(
                "NET-LOCAL-IP-SILENT",
                Some(place(path, i, result)),
                Some(format!(
                    "ping 127.0.0.1 answered, ping {} ({}) did not",
                    result.target, result.why
                )),
            ));
        }
    }
}
