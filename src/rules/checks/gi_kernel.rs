//! The kernel's own verdict checked against ours: for each sync handshake a node's logs show
//! (`self …` / `peer …` then `uuid_compare()=R by rule M`), the offline comparison of the two
//! logged GIs must reach the same outcome by the same rule. When it does not, either the
//! kernel decided on state the GIs do not carry, or it is a kernel our tables do not know: the
//! engineer must not trust our verdict over the log without reading both.
use super::Raw;
use crate::lang::Lang;
use crate::rules::evidence::Evidence;
use crate::rules::parse::gi::RuleName;
use crate::rules::uuid_compare::{compare, Outcome, Tie};

pub const DISAGREES: &str = "REPL-GI-DISAGREES-WITH-KERNEL";

pub fn kernel_log(evidence: &Evidence, out: &mut Vec<Raw>) {
    for (place, handshake) in &evidence.gi.handshakes {
        let (Some(local), Some(peer)) = (&handshake.local, &handshake.peer) else {
            continue;
        };
        let Some(kernel_outcome) = handshake.result.outcome else {
            continue;
        };
        // Not decisions about the data: the handshake is retried or refused for protocol.
        if matches!(
            kernel_outcome,
            Outcome::RetryConnect | Outcome::RequiresProtocol(_)
        ) {
            continue;
        }
        let kernel = handshake.result.kernel;
        let ours = compare(kernel, &local.gi, &peer.gi, Tie::default());
        let rule_agrees = match &handshake.result.rule {
            RuleName::Number(n) => ours.rule.is(Some(*n), None),
            RuleName::Name(name) => ours.rule.is(None, Some(name)),
        };
        if ours.outcome.agrees_with(kernel_outcome) && rule_agrees {
            continue;
        }
        let theirs = match &handshake.result.rule {
            RuleName::Number(n) => format!("{} by rule {n}", handshake.result.printed),
            RuleName::Name(name) => format!("{} by rule={name}", handshake.result.printed),
        };
        let device = if handshake.device.is_empty() {
            String::new()
        } else {
            format!("{}: ", handshake.device)
        };
        let printed = |lang: Lang| {
            super::gi::fill(
                lang.ui("gi.disagrees"),
                &[
                    ("device", device.as_str()),
                    ("theirs", theirs.as_str()),
                    ("kernel", kernel.as_str()),
                    ("outcome", &super::gi::outcome_words(ours.outcome, lang)),
                    ("rule", &ours.rule.to_string()),
                ],
            )
        };
        let mut raw = Raw::new(DISAGREES, Some(place.clone()), Some(printed(Lang::En)));
        raw.detail_ko = Some(printed(Lang::Ko));
        out.push(raw);
    }
}
