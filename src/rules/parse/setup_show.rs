//! `bsrsetup show` / `drbdsetup show`: the configuration the kernel actually runs. Only the
//! addresses matter here: 8.4 `_this_host { address ipv4 A:P; }` / `_remote_host { ... }`, and
//! 9 / BSR `connection { path { _this_host ipv4 A:P; _remote_host ipv4 A:P; } }`.
use super::resfile::endpoint_in;
use super::tree::{self, Node};
use crate::rules::model::{Endpoint, Located, Place};

#[derive(Debug, Clone, Default)]
pub struct LoadedResource {
    pub name: String,
    pub this_host: Vec<Located<Endpoint>>,
    pub remote_host: Vec<Located<Endpoint>>,
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
        collect(&node, path, &lines, &mut resource, 0);
        loaded.push(resource);
    }
    loaded
}

fn collect(node: &Node, path: &str, lines: &[&str], out: &mut LoadedResource, depth: usize) {
    if depth > 8 {
        return;
    }
    for child in node.children() {
        let target = match child.keyword() {
            "_this_host" => Some(&mut out.this_host),
            "_remote_host" => Some(&mut out.remote_host),
            _ => None,
        };
        match (target, child.is_block()) {
            // 9: `_this_host ipv4 A:P;` inside `path`.
            (Some(list), false) => {
                if let Some(value) = endpoint_in(&child.words[1..]) {
                    list.push(Located {
                        value,
                        place: place(path, lines, child),
                    });
                }
            }
            // 8.4: `_this_host { address ipv4 A:P; volume ... }`.
            (Some(list), true) => {
                for stmt in child.children() {
                    if stmt.keyword() == "address" {
                        if let Some(value) = endpoint_in(&stmt.words[1..]) {
                            list.push(Located {
                                value,
                                place: place(path, lines, stmt),
                            });
                        }
                    }
                }
            }
            (None, true) => collect(child, path, lines, out, depth + 1),
            (None, false) => {}
        }
    }
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
        assert_eq!(loaded[0].this_host[0].value.to_string(), "10.0.0.1:7789");
        assert_eq!(loaded[0].this_host[0].place.line, Some(11));
        assert_eq!(loaded[0].remote_host[0].value.to_string(), "10.0.0.2:7789");
    }

    #[test]
    fn bsr_and_drbd9_show() {
        let text = "resource r0 {\n    options {\n    }\n    _this_host {\n        node-id 0;\n        node-name \"node1\";\n        volume 0 {\n            device minor 1;\n        }\n    }\n    connection {\n        _peer_node_id 1;\n        _peer_node_name \"node2\";\n        path {\n            _this_host ipv4 10.0.0.1:7789;\n            _remote_host ipv4 10.0.0.2:7789;\n        }\n        net {\n            _name \"node2\";\n        }\n    }\n}\n";
        let loaded = parse("commands/bsrsetup-show.txt", text.as_bytes());
        assert_eq!(loaded[0].this_host.len(), 1);
        assert_eq!(loaded[0].this_host[0].value.to_string(), "10.0.0.1:7789");
        assert_eq!(loaded[0].remote_host[0].value.to_string(), "10.0.0.2:7789");
    }

    #[test]
    fn garbage() {
        assert!(parse("x", b"\x00\xff{{}}}resource").is_empty());
        let _ = parse("x", b"resource r { _this_host { address } _remote_host; }");
    }
}
