//! The state now, from `drbdsetup events2 --now` / `bsrsetup events2 --now` (collected by the
//! manifests): each resource's role and the state of its connection to each peer, read from the
//! initial dump's `exists resource name:r0 role:Primary …` and
//! `exists connection name:r0 peer-node-id:1 conn-name:beta connection:Connected role:Secondary`
//! lines (drbd-utils `tests/v9/events2-*.test`; BSR prints the same). The dump ends at
//! `exists -`; what follows is a stream of changes, which `--now` does not print.
//! (`watch/events.rs` reads the same lines as a stream for the series.)

/// One resource as the snapshot shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceNow {
    pub resource: String,
    pub role: Option<String>,
    /// (peer: its connection name, else its node id; connection state; the peer's role).
    pub connections: Vec<(String, String, Option<String>)>,
}

/// Most lines read and resources kept: a real dump has a few lines per resource and peer.
const MAX_LINES: usize = 100_000;
const MAX_RESOURCES: usize = 1024;
const MAX_PEERS: usize = 64;

/// The resources of an events2 `--now` dump, in the order the dump names them.
pub fn snapshot(text: &str) -> Vec<ResourceNow> {
    let mut out: Vec<ResourceNow> = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        let mut words = line.split_whitespace();
        // `--timestamps` puts an ISO 8601 time first.
        let mut verb = words.next();
        if verb.is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('T')) {
            verb = words.next();
        }
        if verb != Some("exists") {
            continue;
        }
        let object = words.next();
        if object == Some("-") {
            break;
        }
        let fields: Vec<(&str, &str)> = words.filter_map(|w| w.split_once(':')).collect();
        let field = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let Some(name) = field("name") else {
            continue;
        };
        let index = match out.iter().position(|r| r.resource == name) {
            Some(index) => index,
            None if out.len() < MAX_RESOURCES => {
                out.push(ResourceNow {
                    resource: name.to_string(),
                    ..ResourceNow::default()
                });
                out.len() - 1
            }
            None => continue,
        };
        let resource = &mut out[index];
        match object {
            Some("resource") => resource.role = field("role").map(str::to_string),
            Some("connection") => {
                let (Some(peer), Some(state)) = (
                    field("conn-name").or(field("peer-node-id")),
                    field("connection"),
                ) else {
                    continue;
                };
                if resource.connections.len() < MAX_PEERS {
                    resource.connections.push((
                        peer.to_string(),
                        state.to_string(),
                        field("role").map(str::to_string),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// DRBD 8.4 has no events2: its `/proc/drbd` line per minor (drbd-8.4 `drbd_proc.c`:
/// `"%2d: cs:%s ro:%s/%s ds:%s/%s %c …"`) gives the same facts, the resource named by minor and
/// the one peer as `peer`.
pub fn proc_drbd(text: &str) -> Vec<ResourceNow> {
    let mut out = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        if out.len() >= MAX_RESOURCES {
            break;
        }
        let Some((minor, rest)) = line.trim_start().split_once(": cs:") else {
            continue;
        };
        let Ok(minor) = minor.parse::<u32>() else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(state) = words.next() else {
            continue;
        };
        let roles = words.next().and_then(|w| w.strip_prefix("ro:"));
        let (role, peer_role) = match roles.and_then(|r| r.split_once('/')) {
            Some((own, peer)) => (Some(own.to_string()), Some(peer.to_string())),
            None => (None, None),
        };
        out.push(ResourceNow {
            resource: format!("minor {minor}"),
            role,
            connections: vec![("peer".to_string(), state.to_string(), peer_role)],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_dump_of_real_events2_outputs() {
        // LINBIT/linstor-server's events2 test lines (tests/realworld/events2/SOURCES.md).
        let text = include_str!(
            "../../../tests/realworld/events2/linstor-server-connection-standalone.txt"
        );
        assert_eq!(
            snapshot(text),
            vec![ResourceNow {
                resource: "rsc0".into(),
                role: Some("Secondary".into()),
                // The `change … StandAlone` after `exists -` is not the snapshot.
                connections: vec![(
                    "node-b".into(),
                    "Connected".into(),
                    Some("Secondary".into())
                )],
            }]
        );
        // drbd-utils' own test: resources created after the (empty) dump are not "now".
        let text = include_str!(
            "../../../tests/realworld/events2/drbd-utils-events2-all-create-change.txt"
        );
        assert!(snapshot(text).is_empty());
    }

    #[test]
    fn proc_drbd_of_84_names_roles_by_minor() {
        // The lines in drbd_proc.c's format (the repository's healthy 8.4 fixture and an
        // unconfigured minor, which the kernel prints as `cs:Unconfigured` alone).
        let text = "version: 8.4.11-1 (api:1/proto:86-101)\n \
                    0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate A r-----\n    \
                    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n \
                    1: cs:Unconfigured\n";
        let now = proc_drbd(text);
        assert_eq!(now.len(), 2, "{now:?}");
        assert_eq!(now[0].resource, "minor 0");
        assert_eq!(now[0].role.as_deref(), Some("Primary"));
        assert_eq!(
            now[0].connections,
            vec![("peer".into(), "Connected".into(), Some("Secondary".into()))]
        );
        assert_eq!(now[1].role, None);
        assert!(proc_drbd("garbage\n: cs:\nx: cs:Connected\n").is_empty());
    }

    #[test]
    fn garbage_and_huge_inputs_stay_bounded() {
        assert!(snapshot("").is_empty());
        assert!(
            snapshot("exists\nexists resource\nexists connection name:r0\n")
                .iter()
                .all(|r| r.connections.is_empty())
        );
        let many: String = (0..5000)
            .map(|i| format!("exists resource name:r{i} role:Primary\n"))
            .collect();
        assert_eq!(snapshot(&many).len(), MAX_RESOURCES);
    }
}
