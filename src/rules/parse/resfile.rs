//! DRBD/BSR resource configuration (bsr.conf, drbd.conf, global_common.conf, *.res; DRBD 8.4 and
//! 9 syntax, DRX `proxy on HOST { inside; outside; }`) read into what the checks need: resources,
//! their hosts with addresses, and the `net`/`startup` settings that apply.
use super::tree::{self, Node};
use crate::rules::model::{Endpoint, Located, Place};

/// One `key value;` setting of a `net {}` or `startup {}` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub place: Place,
}

/// An `on HOST { ... }` (or `floating ADDR { ... }`) section, or a host named by a DRBD 9
/// `connection` / `path`.
#[derive(Debug, Clone, Default)]
pub struct HostSection {
    /// Host names of `on` (empty for `floating`).
    pub names: Vec<String>,
    pub floating: bool,
    pub place: Place,
    pub address: Option<Located<Endpoint>>,
    pub proxy_inside: Option<Located<Endpoint>>,
    pub proxy_outside: Option<Located<Endpoint>>,
    /// `stacked-on-top-of LOWER { ... }`: the node that runs resource LOWER (three-node DR).
    pub stacked_on: Option<String>,
    /// The hosts `proxy on NAME...` names: where the proxy runs (often the node itself; DRBD 9
    /// also allows a separate proxy host shared by several nodes).
    pub proxy_on: Vec<String>,
    /// DRBD 9 / BSR `node-id N;`: how `drbdsetup show` names this host (`_peer_node_id`).
    pub node_id: Option<u32>,
}

impl HostSection {
    /// Every endpoint of this host in this resource: `address`, proxy `inside` and `outside`.
    pub fn endpoints(&self) -> impl Iterator<Item = (&'static str, &Located<Endpoint>)> {
        [
            ("address", self.address.as_ref()),
            ("proxy inside", self.proxy_inside.as_ref()),
            ("proxy outside", self.proxy_outside.as_ref()),
        ]
        .into_iter()
        .filter_map(|(role, e)| e.map(|e| (role, e)))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Resource {
    pub name: String,
    pub place: Place,
    pub hosts: Vec<HostSection>,
    pub net: Vec<Setting>,
    pub startup: Vec<Setting>,
    /// Host names given by DRBD 9 `connection-mesh { hosts ...; }`.
    pub mesh_hosts: Vec<String>,
    /// DRBD 9 syntax was seen (`node-id`, `connection`, `connection-mesh`).
    pub drbd9_syntax: bool,
    /// DRBD 9 `connection { }` blocks (outside `skip { }`), with their paths.
    pub connections: Vec<Connection>,
}

/// A DRBD 9 / BSR `connection { }`: each path names the hosts it joins, with the address of
/// each when given (a `host X;` without one takes the address of the `on X` section).
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub place: Place,
    /// `path { host A address ..; host B address ..; }` blocks; a connection that has none
    /// but `host` statements directly is one path.
    pub paths: Vec<Vec<PathHost>>,
}

/// One host of a path.
#[derive(Debug, Clone)]
pub struct PathHost {
    pub name: String,
    pub place: Place,
    pub address: Option<Located<Endpoint>>,
    /// `via proxy on X { inside ..; }`: the kernel's peer is then this proxy's inside.
    pub proxy_inside: Option<Located<Endpoint>>,
}

impl Resource {
    /// Every host name the resource knows (`on` sections and connection hosts).
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        self.hosts
            .iter()
            .flat_map(|h| h.names.iter().map(String::as_str))
            .chain(self.mesh_hosts.iter().map(String::as_str))
    }

    pub fn has_floating(&self) -> bool {
        self.hosts.iter().any(|h| h.floating)
    }

    /// Lower resources of `stacked-on-top-of` sections.
    pub fn stacked_on(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().filter_map(|h| h.stacked_on.as_deref())
    }
}

/// What one configuration file says.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    pub path: String,
    /// The file started with a UTF-8 BOM (it was parsed after stripping it).
    pub bom: bool,
    /// `include "glob";` statements, as written.
    pub includes: Vec<Located<String>>,
    /// BSR's `global { hostname "..."; }`.
    pub global_hostname: Option<String>,
    /// A `wfc-timeout` found inside `global {}`, where BSR rejects it.
    pub wfc_in_global: Option<Place>,
    pub common_net: Vec<Setting>,
    pub common_startup: Vec<Setting>,
    pub resources: Vec<Resource>,
}

/// Most bytes of one file that are parsed. Real resource files are a few KiB; a bigger one is
/// read up to here (its first resources still count), so parsing time and memory stay bounded.
pub const MAX_PARSE_BYTES: usize = 1 << 20;

/// Parses one configuration file; `path` is its bundle path (used in places).
pub fn parse(path: &str, content: &[u8]) -> ConfigFile {
    let bom = content.starts_with(&[0xEF, 0xBB, 0xBF]);
    let body = if bom { &content[3..] } else { content };
    let body = &body[..body.len().min(MAX_PARSE_BYTES)];
    let text = String::from_utf8_lossy(body);
    let lines: Vec<&str> = text.lines().collect();
    let ctx = Ctx {
        path,
        lines: &lines,
    };
    let mut file = ConfigFile {
        path: path.to_string(),
        bom,
        ..ConfigFile::default()
    };
    for node in tree::parse(&text) {
        match node.keyword() {
            "include" => {
                if let Some(glob) = node.words.get(1) {
                    file.includes.push(Located {
                        value: glob.clone(),
                        place: ctx.place(&node),
                    });
                }
            }
            "global" => {
                for child in node.children() {
                    match child.keyword() {
                        "hostname" => file.global_hostname = child.words.get(1).cloned(),
                        "wfc-timeout" => file.wfc_in_global = Some(ctx.place(child)),
                        _ => {}
                    }
                }
            }
            "common" => {
                for child in node.children() {
                    match child.keyword() {
                        "net" => file.common_net.extend(ctx.settings(child)),
                        "startup" => file.common_startup.extend(ctx.settings(child)),
                        _ => {}
                    }
                }
            }
            "resource" if node.is_block() => {
                if let Some(name) = node.words.get(1) {
                    file.resources.push(ctx.resource(name, &node));
                }
            }
            // `skip { }` comments a block out; anything else is not ours to judge here.
            _ => {}
        }
    }
    file
}

struct Ctx<'a> {
    path: &'a str,
    lines: &'a [&'a str],
}

impl Ctx<'_> {
    fn place(&self, node: &Node) -> Place {
        let text = usize::try_from(node.line)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.lines.get(i))
            .map(|l| l.to_string())
            .unwrap_or_else(|| node.describe());
        Place::new(self.path, node.line, &text)
    }

    fn settings(&self, section: &Node) -> Vec<Setting> {
        section
            .children()
            .iter()
            .filter(|c| !c.is_block() && c.words.len() >= 2)
            .map(|c| Setting {
                key: c.words[0].clone(),
                value: c.words[1].clone(),
                place: self.place(c),
            })
            .collect()
    }

    fn endpoint(&self, node: &Node) -> Option<Located<Endpoint>> {
        endpoint_in(&node.words[1..]).map(|value| Located {
            value,
            place: self.place(node),
        })
    }

    fn resource(&self, name: &str, node: &Node) -> Resource {
        let mut resource = Resource {
            name: name.to_string(),
            place: self.place(node),
            ..Resource::default()
        };
        let mut resource_proxies: Vec<(String, HostSection)> = Vec::new();
        for child in node.children() {
            match (child.keyword(), child.is_block()) {
                ("on", true) => {
                    let names = child.words[1..].to_vec();
                    if child.children().iter().any(|c| c.keyword() == "node-id") {
                        resource.drbd9_syntax = true;
                    }
                    resource.hosts.push(self.host(names, false, child));
                }
                ("stacked-on-top-of", true) => {
                    let mut host = self.host(Vec::new(), false, child);
                    host.stacked_on = child.words.get(1).cloned();
                    resource.hosts.push(host);
                }
                ("floating", true) | ("floating", false) => {
                    let mut host = self.host(Vec::new(), true, child);
                    host.address = self.endpoint(child);
                    resource.hosts.push(host);
                }
                ("net", true) => resource.net.extend(self.settings(child)),
                ("startup", true) => resource.startup.extend(self.settings(child)),
                ("proxy", true) if child.words.get(1).map(String::as_str) == Some("on") => {
                    // `proxy on HOST { inside; outside; }` at resource level: attach below.
                    for name in &child.words[2..] {
                        let mut host = HostSection::default();
                        self.proxy_into(&mut host, child);
                        resource_proxies.push((name.clone(), host));
                    }
                }
                ("connection", true) => {
                    resource.drbd9_syntax = true;
                    self.connection(&mut resource, child)
                }
                ("connection-mesh", true) => {
                    resource.drbd9_syntax = true;
                    for stmt in child.children() {
                        if stmt.keyword() == "hosts" {
                            resource.mesh_hosts.extend(stmt.words[1..].iter().cloned());
                        }
                    }
                    for section in child.children() {
                        if section.keyword() == "net" && section.is_block() {
                            resource.net.extend(self.settings(section));
                        }
                    }
                }
                _ => {}
            }
        }
        for (name, proxy) in resource_proxies {
            match resource.hosts.iter_mut().find(|h| h.names.contains(&name)) {
                Some(host) => {
                    host.proxy_inside = host.proxy_inside.take().or(proxy.proxy_inside);
                    host.proxy_outside = host.proxy_outside.take().or(proxy.proxy_outside);
                    host.proxy_on.extend(proxy.proxy_on);
                }
                None => resource.hosts.push(HostSection {
                    names: vec![name],
                    place: resource.place.clone(),
                    ..proxy
                }),
            }
        }
        resource
    }

    fn host(&self, names: Vec<String>, floating: bool, node: &Node) -> HostSection {
        let mut host = HostSection {
            names,
            floating,
            place: self.place(node),
            ..HostSection::default()
        };
        for child in node.children() {
            match child.keyword() {
                "node-id" => host.node_id = child.words.get(1).and_then(|w| w.parse().ok()),
                "address" if !child.is_block() => host.address = self.endpoint(child),
                "proxy" if child.is_block() => self.proxy_into(&mut host, child),
                _ => {}
            }
        }
        host
    }

    fn proxy_into(&self, host: &mut HostSection, proxy: &Node) {
        // `proxy on A B {` or `host X address A:P via proxy on A {`: the names after `proxy on`.
        let words = &proxy.words;
        if let Some(at) = words
            .windows(2)
            .position(|w| w[0] == "proxy" && w[1] == "on")
        {
            for name in &words[at + 2..] {
                if !host.proxy_on.contains(name) {
                    host.proxy_on.push(name.clone());
                }
            }
        }
        for child in proxy.children() {
            match child.keyword() {
                "inside" => host.proxy_inside = self.endpoint(child),
                "outside" => host.proxy_outside = self.endpoint(child),
                _ => {}
            }
        }
    }

    /// DRBD 9: `connection { host A [address [af] X:P]; path { host A address X:P; ... } net {} }`.
    /// Hosts named here with an address become host sections, merged into `on` sections of the
    /// same name when those lack an address.
    fn connection(&self, resource: &mut Resource, node: &Node) {
        let mut statements: Vec<&Node> = Vec::new();
        let mut direct: Vec<&Node> = Vec::new();
        let mut paths: Vec<Vec<&Node>> = Vec::new();
        for child in node.children() {
            match child.keyword() {
                // `host X [address A] [via proxy on X { inside; outside; }]`: a block when proxied.
                "host" => {
                    statements.push(child);
                    direct.push(child);
                }
                "path" if child.is_block() => {
                    let hosts: Vec<&Node> = child
                        .children()
                        .iter()
                        .filter(|c| c.keyword() == "host")
                        .collect();
                    statements.extend(hosts.iter().copied());
                    paths.push(hosts);
                }
                "net" if child.is_block() => resource.net.extend(self.settings(child)),
                // `skip { }` comments its content out: those paths are not configured.
                _ => {}
            }
        }
        if paths.is_empty() && !direct.is_empty() {
            paths.push(direct);
        }
        let path_host = |stmt: &Node| {
            let mut proxy = HostSection::default();
            if stmt.is_block() {
                self.proxy_into(&mut proxy, stmt);
            }
            PathHost {
                name: stmt.words.get(1).cloned().unwrap_or_default(),
                place: self.place(stmt),
                address: self.endpoint(stmt),
                proxy_inside: proxy.proxy_inside,
            }
        };
        resource.connections.push(Connection {
            place: self.place(node),
            paths: paths
                .iter()
                .map(|hosts| hosts.iter().map(|h| path_host(h)).collect())
                .collect(),
        });
        for stmt in statements {
            let Some(name) = stmt.words.get(1) else {
                continue;
            };
            let address = self.endpoint(stmt);
            let mut proxy = HostSection::default();
            if stmt.is_block() {
                self.proxy_into(&mut proxy, stmt);
            }
            // drbdadm 9 finds a connection's `host` among the `on` sections as it matches
            // host names (`host n1` is `on n1.example.com`).
            let host = match resource
                .hosts
                .iter_mut()
                .position(|h| h.names.iter().any(|n| hostnames_equal(n, name)))
            {
                Some(at) => &mut resource.hosts[at],
                None => {
                    resource.hosts.push(HostSection {
                        names: vec![name.clone()],
                        place: self.place(stmt),
                        ..HostSection::default()
                    });
                    let last = resource.hosts.len() - 1;
                    &mut resource.hosts[last]
                }
            };
            if host.address.is_none() {
                host.address = address;
            }
            if host.proxy_inside.is_none() {
                host.proxy_inside = proxy.proxy_inside;
            }
            if host.proxy_outside.is_none() {
                host.proxy_outside = proxy.proxy_outside;
            }
            for name in proxy.proxy_on {
                if !host.proxy_on.contains(&name) {
                    host.proxy_on.push(name);
                }
            }
        }
    }
}

/// Host names compared as bsr-utils and drbd-utils 9 compare them (`hostnames_equal`):
/// case-insensitive, and when either name is short, only the parts before the first dot.
pub fn hostnames_equal(a: &str, b: &str) -> bool {
    let a = a.to_lowercase();
    let b = b.to_lowercase();
    if a == b {
        return true;
    }
    if !a.contains('.') || !b.contains('.') {
        let short = |s: &str| s.split('.').next().unwrap_or("").to_string();
        return short(&a) == short(&b);
    }
    false
}

/// The first word that reads as `IP:PORT` (after `address`, `ipv4`, `ipv6`, a host name...).
pub fn endpoint_in(words: &[String]) -> Option<Endpoint> {
    words.iter().find_map(|w| Endpoint::parse(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRBD84: &str = r#"# /etc/drbd.d/r0.res
resource r0 {
  protocol C;
  startup { wfc-timeout 1; degr-wfc-timeout 1; }
  net {
    ping-timeout 30;
    shared-secret "s;e{c}ret";   # quoted specials
  }
  volume 0 { device /dev/drbd0; disk /dev/sdb1; meta-disk internal; }
  on node1 {
    address ipv4 192.168.100.3:7791;
    proxy on node1 { inside 127.0.0.1:7792; outside 10.10.0.182:7793; }
  }
  on node2 {
    address 192.168.100.2:7791;
    proxy on node2 { inside 127.0.0.1:7792; outside 31.1.1.2:7793; }
  }
  skip { on ghost { address 9.9.9.9:1; } }
}
"#;

    #[test]
    fn drbd84_resource_with_drx_proxy() {
        let file = parse("files/etc/drbd.d/r0.res", DRBD84.as_bytes());
        assert!(!file.bom);
        let r = &file.resources[0];
        assert_eq!(r.name, "r0");
        assert_eq!(r.place.line, Some(2));
        assert_eq!(r.hosts.len(), 2);
        let node1 = &r.hosts[0];
        assert_eq!(node1.names, ["node1"]);
        assert_eq!(
            node1
                .address
                .as_ref()
                .map(|a| a.value.to_string())
                .as_deref(),
            Some("192.168.100.3:7791")
        );
        assert_eq!(node1.address.as_ref().and_then(|a| a.place.line), Some(11));
        assert_eq!(
            node1
                .proxy_outside
                .as_ref()
                .map(|a| a.value.to_string())
                .as_deref(),
            Some("10.10.0.182:7793")
        );
        assert_eq!(
            node1
                .proxy_inside
                .as_ref()
                .map(|a| a.value.to_string())
                .as_deref(),
            Some("127.0.0.1:7792")
        );
        assert!(r
            .net
            .iter()
            .any(|s| s.key == "ping-timeout" && s.value == "30"));
        assert!(r.startup.iter().any(|s| s.key == "wfc-timeout"));
        assert!(r.host_names().all(|n| n != "ghost"));
    }

    #[test]
    fn bom_crlf_common_global_include() {
        let text = "\u{feff}global { usage-count no; hostname \"Node1\"; wfc-timeout 1; }\r\ncommon {\r\n startup { wfc-timeout 1; }\r\n net { ping-timeout 25; }\r\n}\r\ninclude \"bsr.d/*.res\";\r\n";
        let file = parse("files/etc/bsr.conf", text.as_bytes());
        assert!(file.bom);
        assert_eq!(file.global_hostname.as_deref(), Some("Node1"));
        assert_eq!(file.wfc_in_global.as_ref().and_then(|p| p.line), Some(1));
        assert_eq!(file.common_startup[0].key, "wfc-timeout");
        assert_eq!(file.common_net[0].value, "25");
        assert_eq!(file.includes[0].value, "bsr.d/*.res");
        assert_eq!(file.includes[0].place.line, Some(6));
    }

    #[test]
    fn drbd9_connection_paths_mesh_ipv6_and_floating() {
        let text = r#"
resource r9 {
  on alpha { node-id 0; volume 0 { device minor 1; disk /dev/a; meta-disk internal; } }
  on beta { node-id 1; }
  connection {
    path { host alpha address ipv6 [fd00::1]:7000; host beta address ipv6 [fd00::2]:7000; }
    net { ping-timeout 40; }
  }
  connection-mesh { hosts alpha beta gamma; }
}
resource f {
  floating ipv4 10.1.1.1:7788 { device /dev/drbd5; }
  floating 10.1.1.2:7788 { device /dev/drbd5; }
}
"#;
        let file = parse("x.res", text.as_bytes());
        let r = &file.resources[0];
        let alpha = r
            .hosts
            .iter()
            .find(|h| h.names == ["alpha"])
            .expect("alpha");
        assert_eq!(
            alpha
                .address
                .as_ref()
                .map(|a| a.value.to_string())
                .as_deref(),
            Some("[fd00::1]:7000")
        );
        assert!(r.host_names().any(|n| n == "gamma"));
        assert_eq!(r.net[0].value, "40");
        let f = &file.resources[1];
        assert!(f.has_floating());
        assert_eq!(f.hosts.len(), 2);
        assert!(f.hosts[1].address.is_some());
    }

    #[test]
    fn resource_level_proxy_on_attaches_to_its_host() {
        let text = "resource r { on a { address 10.0.0.1:7789; } proxy on a { inside 127.0.0.1:7790; outside 10.0.0.1:7791; } }";
        let file = parse("x.res", text.as_bytes());
        let host = &file.resources[0].hosts[0];
        assert!(host.proxy_outside.is_some() && host.address.is_some());
    }

    #[test]
    fn stacked_v9_proxy_and_ipv6_zone() {
        let text = r#"
resource upper {
  stacked-on-top-of r0 { device /dev/drbd10; address 10.56.84.142:7788; }
  on node_c { address ipv6 [fe80::1%eth0]:7788; }
}
resource p {
  on a { node-id 0; }
  on b { node-id 1; }
  connection {
    host a address 10.0.0.1:7789 via proxy on site-pxy { inside 10.0.1.4:7800; outside 10.0.2.4:7801; }
    host b address 10.0.0.2:7789;
  }
}
"#;
        let file = parse("x.res", text.as_bytes());
        let upper = &file.resources[0];
        assert_eq!(upper.stacked_on().collect::<Vec<_>>(), ["r0"]);
        assert!(upper.hosts[0].address.is_some());
        let c = &upper.hosts[1];
        assert_eq!(
            c.address.as_ref().map(|a| a.value.to_string()).as_deref(),
            Some("[fe80::1]:7788")
        );
        let p = &file.resources[1];
        assert!(p.drbd9_syntax);
        let a = &p.hosts[0];
        assert_eq!(a.proxy_on, ["site-pxy"]);
        assert_eq!(
            a.proxy_outside
                .as_ref()
                .map(|e| e.value.to_string())
                .as_deref(),
            Some("10.0.2.4:7801")
        );
        assert!(a.address.is_some());
    }

    #[test]
    fn parsing_is_capped_and_linear() {
        // 4 MiB of resources: only the first MAX_PARSE_BYTES are read, quickly.
        let mut text = String::new();
        let mut i = 0;
        while text.len() < 4 << 20 {
            text.push_str(&format!(
                "resource r{i} {{ on a {{ address 10.0.0.1:{}; }} }}\n",
                i % 60000
            ));
            i += 1;
        }
        let started = std::time::Instant::now();
        let file = parse("big.res", text.as_bytes());
        assert!(
            file.resources.len() < i / 3,
            "{} of {i}",
            file.resources.len()
        );
        assert!(!file.resources.is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        // One enormous word or statement does not hold memory either.
        let long = format!(
            "resource r {{ net {{ shared-secret {}; }} }}",
            "x".repeat(1 << 20)
        );
        let file = parse("w.res", long.as_bytes());
        assert!(file.resources[0].net[0].value.len() <= 4096);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed: u64 = 99;
        for _ in 0..300 {
            let mut bytes = Vec::new();
            for _ in 0..400 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let words: [&[u8]; 14] = [
                    b"resource ",
                    b"on ",
                    b"{",
                    b"}",
                    b";",
                    b"address ",
                    b"1.2.3.4:5",
                    b"proxy ",
                    b"connection ",
                    b"path ",
                    b"host ",
                    b"\xff\xfe",
                    b"\"",
                    b"\n",
                ];
                bytes.extend_from_slice(words[(seed >> 33) as usize % words.len()]);
            }
            let _ = parse("g.res", &bytes);
        }
        let _ = parse("e.res", b"");
        let _ = parse("e.res", b"\xEF\xBB");
    }
}
