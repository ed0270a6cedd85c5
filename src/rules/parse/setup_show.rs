//! `bsrsetup show` / `drbdsetup show`: the configuration the kernel actually runs. Only the
//! connections and their addresses matter here: 8.4 `_this_host { address ipv4 A:P; }` /
//! `_remote_host { ... }` (one connection, one path), and 9 / BSR `connection { _peer_node_id N;
//! path { _this_host ipv4 A:P; _remote_host ipv4 A:P; } path { ... } net { _name "peer"; } }`
//! (one block per peer, any number of paths).
use super::resfile::endpoint_in;
use super::tree::{self, Node};
use crate::rules::model::{Endpoint, Located, Place};

#[derive(Debug, Clone, Default)]
pub struct LoadedResource {
    pub name: String,
    /// The connections the kernel has, each to one peer.
    pub connections: Vec<LoadedConnection>,
}

/// One loaded connection: the peer as the kernel names it, and its paths.
#[derive(Debug, Clone, Default)]
pub struct LoadedConnection {
    pub place: Place,
    /// `_peer_node_id` (9 / BSR).
    pub peer_node_id: Option<u32>,
    /// `_peer_node_name` (BSR) or the connection's `net { _name }` (9).
    pub peer_name: Option<String>,
    pub paths: Vec<LoadedPath>,
}

/// One path: this node's address and the peer's (or the local proxy's) as loaded.
#[derive(Debug, Clone)]
pub struct LoadedPath {
    pub local: Located<Endpoint>,
    pub remote: Located<Endpoint>,
}

pub fn parse(path: &str, content: &[u8]) -> Vec<LoadedResource> {
    let text = String::from_utf8_lossy(content);
    let lines: Vec<&str> = text.lines().collect();
    let mut loaded = Vec::new();
    for node in tree::parse(&text) {
        if node.keyword() != "resource" || !node.is_block() {
            continue;
        }
        let Some(name) = node.words.get(1) else {
            continue;
        };
        let mut resource = LoadedResource {
            name: name.clone(),
            ..LoadedResource::default()
        };
        // 8.4: the addresses sit in `_this_host { address ...; }` and `_remote_host { ... }`.
        let mut this_84 = None;
        let mut remote_84 = None;
        for child in node.children() {
            match (child.keyword(), child.is_block()) {
                ("connection", true) => {
                    resource.connections.push(connection(child, path, &lines));
                }
                ("_this_host", true) => this_84 = address_in(child, path, &lines),
                ("_remote_host", true) => remote_84 = address_in(child, path, &lines),
                _ => {}
            }
        }
        if let Some(remote) = remote_84 {
            let mut connection = LoadedConnection {
                place: remote.place.clone(),
                ..LoadedConnection::default()
            };
            if let Some(local) = this_84 {
                connection.paths.push(LoadedPath { local, remote });
            }
            resource.connections.push(connection);
        }
        loaded.push(resource);
    }
    loaded
}

/// `address ipv4 A:P;` inside an 8.4 `_this_host` / `_remote_host` block.
fn address_in(block: &Node, path: &str, lines: &[&str]) -> Option<Located<Endpoint>> {
    block
        .children()
        .iter()
        .filter(|s| s.keyword() == "address")
        .find_map(|s| {
            endpoint_in(&s.words[1..]).map(|value| Located {
                value,
                place: place(path, lines, s),
            })
        })
}

fn unquoted(word: Option<&String>) -> Option<String> {
    word.map(|w| w.trim_matches('"').to_string())
        .filter(|w| !w.is_empty())
}

fn connection(node: &Node, path: &str, lines: &[&str]) -> LoadedConnection {
    let mut out = LoadedConnection {
        place: place(path, lines, node),
        ..LoadedConnection::default()
    };
    let mut net_name = None;
    for child in node.children() {
        match (child.keyword(), child.is_block()) {
            ("_peer_node_id", false) => {
                out.peer_node_id = child.words.get(1).and_then(|w| w.parse().ok())
            }
            ("_peer_node_name", false) => out.peer_name = unquoted(child.words.get(1)),
            ("net", true) => {
                net_name = child
                    .children()
                    .iter()
                    .find(|s| s.keyword() == "_name")
                    .and_then(|s| unquoted(s.words.get(1)));
            }
            ("path", true) => {
                let side = |keyword: &str| {
                    child
                        .children()
                        .iter()
                        .filter(|s| s.keyword() == keyword && !s.is_block())
                        .find_map(|s| {
                            endpoint_in(&s.words[1..]).map(|value| Located {
                                value,
                                place: place(path, lines, s),
                            })
                        })
                };
                if let (Some(local), Some(remote)) = (side("_this_host"), side("_remote_host")) {
                    out.paths.push(LoadedPath { local, remote });
                }
            }
            _ => {}
        }
    }
    out.peer_name = out.peer_name.or(net_name);
    out
}

fn place(path: &str, lines: &[&str], node: &Node) -> Place {
    let text = usize::try_from(node.line)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| lines.get(i))
        .map(|l| l.to_string())
        .unwrap_or_else(|| node.describe());
    Place::new(path, node.line, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drbd84_show() {
        let text = "resource r0 {\n    options {\n    }\n    net {\n        ping-timeout 30;\n    }\n    _remote_host {\n        address ipv4 10.0.0.2:7789;\n    }\n    _this_host {\n        address ipv4 10.0.0.1:7789;\n        volume 0 {\n            device minor 0;\n            disk \"/dev/sdb1\";\n            meta-disk internal;\n        }\n    }\n}\n";
        let loaded = parse("commands/drbdsetup-show.txt", text.as_bytes());
        assert_eq!(loaded[0].name, "r0");
        let path = &loaded[0].connections[0].paths[0];
        assert_eq!(path.local.value.to_string(), "10.0.0.1:7789");
        assert_eq!(path.local.place.line, Some(11));
        assert_eq!(path.remote.value.to_string(), "10.0.0.2:7789");
    }

    #[test]
    fn bsr_and_drbd9_show() {
        let text = "resource r0 {\n    options {\n    }\n    _this_host {\n        node-id 0;\n        node-name \"node1\";\n        volume 0 {\n            device minor 1;\n        }\n    }\n    connection {\n        _peer_node_id 1;\n        _peer_node_name \"node2\";\n        path {\n            _this_host ipv4 10.0.0.1:7789;\n            _remote_host ipv4 10.0.0.2:7789;\n        }\n        net {\n            _name \"node2\";\n        }\n    }\n}\n";
        let loaded = parse("commands/bsrsetup-show.txt", text.as_bytes());
        let connection = &loaded[0].connections[0];
        assert_eq!(connection.paths.len(), 1);
        assert_eq!(connection.paths[0].local.value.to_string(), "10.0.0.1:7789");
        assert_eq!(
            connection.paths[0].remote.value.to_string(),
            "10.0.0.2:7789"
        );
        assert_eq!(connection.peer_node_id, Some(1));
        assert_eq!(connection.peer_name.as_deref(), Some("node2"));
    }

    /// Real `drbdsetup show` of drbd-utils' tests: two connections, named by `net { _name }`.
    #[test]
    fn drbd9_show_of_drbd_utils_tests() {
        let text = include_str!(
            "../../../tests/realworld/linux/drbd-utils/v9-drbdsetup_show_switch_interface_r0.txt"
        );
        let loaded = parse("commands/drbdsetup-show.txt", text.as_bytes());
        // `resource "r0"`: the name is unquoted.
        assert_eq!(loaded[0].name, "r0");
        let c = &loaded[0].connections;
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].peer_node_id, Some(0));
        assert_eq!(c[0].peer_name.as_deref(), Some("n1.ryzen9.home"));
        assert_eq!(c[1].paths[0].local.value.to_string(), "192.168.122.49:7000");
        assert_eq!(
            c[1].paths[0].remote.value.to_string(),
            "192.168.122.48:7000"
        );
    }

    #[test]
    fn garbage() {
        assert!(parse("x", b"\x00\xff{{}}}resource").is_empty());
        let _ = parse("x", b"resource r { _this_host { address } _remote_host; }");
    }
}
