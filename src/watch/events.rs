//! The replication state sampler: `drbdsetup events2` (DRBD 9) or `bsrsetup events2` (BSR) as
//! a stream, read line by line. Only the state fields a support engineer follows are kept
//! (roles, connection, disk, replication, path established); statistics are not.
//!
//! A line (drbd-utils `drbdsetup events2`, tests/v9/events2-*.test):
//! `[TIME] change connection name:r0 peer-node-id:1 conn-name:peer connection:Connecting role:Unknown`;
//! with `--diff` a value reads `StandAlone->Connected`. `exists -` ends the initial dump.
//! (A GI-rule helper writes a fuller events2/status parser in rules/parse; this one keeps only
//! what the series records, and the two may be folded later.)

/// One state field of one replication object, as a line reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub resource: String,
    pub peer: Option<String>,
    pub volume: Option<String>,
    pub object: String,
    pub field: String,
    pub value: String,
}

impl Change {
    /// The object and field this change is about, for "did it change?" bookkeeping.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.resource,
            self.peer.as_deref().unwrap_or(""),
            self.volume.as_deref().unwrap_or(""),
            self.object,
            self.field
        )
    }
}

/// The fields kept, per object.
fn kept(object: &str, field: &str) -> bool {
    matches!(
        (object, field),
        ("resource", "role" | "suspended" | "quorum")
            | ("connection", "connection" | "role")
            | ("device", "disk" | "quorum")
            | ("peer-device", "replication" | "peer-disk")
            | ("path", "established")
    )
}

/// The word a value ends as (`StandAlone->Connected` → `Connected`).
fn new_value(value: &str) -> &str {
    value.rsplit_once("->").map_or(value, |(_, new)| new)
}

/// The changes one events2 line reports (none for `exists -`, helpers, garbage).
pub fn parse_line(line: &str) -> Vec<Change> {
    let mut words = line.split_whitespace().peekable();
    // `--timestamps`: an ISO 8601 time first.
    if words
        .peek()
        .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('T'))
    {
        words.next();
    }
    let Some(verb) = words.next() else {
        return Vec::new();
    };
    if !matches!(verb, "exists" | "create" | "change" | "destroy") {
        return Vec::new();
    }
    let Some(object) = words.next() else {
        return Vec::new();
    };
    if !matches!(
        object,
        "resource" | "connection" | "device" | "peer-device" | "path"
    ) {
        return Vec::new();
    }
    let mut resource = None;
    let mut peer_name = None;
    let mut peer_id = None;
    let mut volume = None;
    let mut fields = Vec::new();
    for word in words {
        let Some((key, value)) = word.split_once(':') else {
            continue;
        };
        match key {
            "name" => resource = Some(value.to_string()),
            "conn-name" => peer_name = Some(value.to_string()),
            "peer-node-id" => peer_id = Some(value.to_string()),
            "volume" => volume = Some(value.to_string()),
            _ if kept(object, key) => {
                fields.push((key.to_string(), new_value(value).to_string()));
            }
            _ => {}
        }
    }
    let Some(resource) = resource else {
        return Vec::new();
    };
    let peer = peer_name.or(peer_id);
    if verb == "destroy" {
        fields = vec![("object".to_string(), "destroyed".to_string())];
    }
    fields
        .into_iter()
        .map(|(field, value)| Change {
            resource: resource.clone(),
            peer: peer.clone(),
            volume: volume.clone(),
            object: object.to_string(),
            field,
            value,
        })
        .collect()
}

/// The program and arguments of the stream: `drbdsetup events2 all` when drbdsetup is there,
/// else `bsrsetup events2 all`; `None` when neither is.
pub fn command(path_only: bool) -> Option<Vec<String>> {
    ["drbdsetup", "bsrsetup"]
        .into_iter()
        .find(|p| crate::process::find_program(p, path_only).is_some())
        .map(|p| vec![p.to_string(), "events2".to_string(), "all".to_string()])
}

/// The state fields of DRBD 8.4's `/proc/drbd` (8.4 has no events2: it is polled instead), as
/// the changes events2 would report. A minor's line (drbd-8.4 `drbd/drbd_proc.c`):
/// ` 1: cs:WFConnection ro:Secondary/Unknown ds:Inconsistent/DUnknown C r-----`. `/proc/drbd`
/// names minors, not resources: the resource is the device (`drbd1`). Unconfigured minors and
/// every other line give nothing; DRBD 9's `/proc/drbd` (version lines only) gives nothing.
pub fn parse_proc_drbd(text: &str) -> Vec<Change> {
    let mut out = Vec::new();
    for line in text.lines().take(10_000) {
        let Some((minor, rest)) = line.trim_start().split_once(": ") else {
            continue;
        };
        if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let resource = format!("drbd{minor}");
        let mut add = |object: &str, field: &str, value: &str| {
            if !value.is_empty() {
                out.push(Change {
                    resource: resource.clone(),
                    peer: None,
                    volume: None,
                    object: object.to_string(),
                    field: field.to_string(),
                    value: value.to_string(),
                });
            }
        };
        for word in rest.split_whitespace() {
            let Some((key, value)) = word.split_once(':') else {
                continue;
            };
            let (local, peer) = value.split_once('/').unwrap_or((value, ""));
            match key {
                "cs" if value != "Unconfigured" => add("connection", "connection", value),
                "ro" => {
                    add("resource", "role", local);
                    add("connection", "role", peer);
                }
                "ds" => {
                    add("device", "disk", local);
                    add("peer-device", "peer-disk", peer);
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of drbd-utils tests/v9/events2-all-create-change.test (verbatim; SOURCES.md).
    const REAL: &str = "exists -
create resource name:some-resource role:Secondary suspended:no force-io-failures:no may_promote:no promotion_score:0
create connection name:some-resource peer-node-id:1 conn-name:some-peer connection:StandAlone role:Unknown
create peer-device name:some-resource peer-node-id:1 conn-name:some-peer volume:0 replication:Off peer-disk:DUnknown peer-client:no resync-suspended:no
change path name:some-resource peer-node-id:1 conn-name:some-peer local:ipv4:1.2.3.4:7789 peer:ipv4:5.6.7.8:7790 established:no->yes
change connection name:some-resource peer-node-id:1 conn-name:some-peer connection:StandAlone->Connected role:Unknown->Secondary
change resource name:some-resource may_promote:yes promotion_score:10101";

    #[test]
    fn real_events2_lines_give_their_state_fields() {
        let changes: Vec<String> = REAL
            .lines()
            .flat_map(parse_line)
            .map(|c| {
                format!(
                    "{} {} {} {}={}",
                    c.object,
                    c.peer.unwrap_or_default(),
                    c.volume.unwrap_or_default(),
                    c.field,
                    c.value
                )
            })
            .collect();
        assert_eq!(
            changes,
            [
                "resource   role=Secondary",
                "resource   suspended=no",
                "connection some-peer  connection=StandAlone",
                "connection some-peer  role=Unknown",
                "peer-device some-peer 0 replication=Off",
                "peer-device some-peer 0 peer-disk=DUnknown",
                "path some-peer  established=yes",
                "connection some-peer  connection=Connected",
                "connection some-peer  role=Secondary",
            ]
        );
    }

    /// Real `/proc/drbd` of DRBD 8.4.6 (tests/realworld/events2/SOURCES.md).
    #[test]
    fn real_proc_drbd_gives_the_state_fields_of_each_minor() {
        let wf =
            include_str!("../../tests/realworld/events2/proc-drbd-trinity-651-wfconnection.txt");
        let fields = |text: &str| -> Vec<String> {
            parse_proc_drbd(text)
                .into_iter()
                .map(|c| format!("{} {} {}={}", c.resource, c.object, c.field, c.value))
                .collect()
        };
        assert_eq!(
            fields(wf),
            [
                "drbd1 connection connection=WFConnection",
                "drbd1 resource role=Secondary",
                "drbd1 connection role=Unknown",
                "drbd1 device disk=Inconsistent",
                "drbd1 peer-device peer-disk=DUnknown",
            ]
        );
        let standalone =
            include_str!("../../tests/realworld/events2/proc-drbd-trinity-651-standalone.txt");
        assert!(fields(standalone).contains(&"drbd1 connection connection=StandAlone".to_string()));
        assert!(fields(" 2: cs:Unconfigured\nversion: 9.2.4 (api:2/proto:86-122)\n").is_empty());
    }

    #[test]
    fn timestamps_destroy_and_noise() {
        let c = parse_line("2026-01-01T00:00:02.000000+0000 change connection name:r0 peer-node-id:1 connection:Connecting");
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].peer.as_deref(), c[0].value.as_str()),
            (Some("1"), "Connecting")
        );
        let d = parse_line("destroy connection name:r0 peer-node-id:1 conn-name:b");
        assert_eq!(d[0].field, "object");
        for noise in [
            "",
            "exists -",
            "call helper name:r0 helper:before-resync-target",
            "garbage",
            "change connection connection:Connected",
        ] {
            assert!(parse_line(noise).is_empty(), "{noise}");
        }
    }
}
