//! DRX's minimum DRBD versions (vendor guide §3.2): kernel module 8.4.8, drbd-utils 8.9.10.
use super::Raw;
use crate::rules::evidence::Evidence;
use crate::rules::model::Version;

const MIN_KERNEL: &str = "8.4.8";
const MIN_UTILS: &str = "8.9.10";

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    for (rule, found, minimum, what) in [
        (
            "VERSION-DRBD-OLD",
            &evidence.drbd_kernel,
            MIN_KERNEL,
            "drbd kernel module",
        ),
        (
            "VERSION-DRBD-UTILS-OLD",
            &evidence.drbd_utils,
            MIN_UTILS,
            "drbd-utils",
        ),
    ] {
        let (Some(found), Some(minimum)) = (found, Version::parse(minimum)) else {
            continue;
        };
        if found.value < minimum {
            out.push(Raw::new(
                rule,
                Some(found.place.clone()),
                Some(format!("{what} {} < {minimum}", found.value)),
            ));
        }
    }
}
