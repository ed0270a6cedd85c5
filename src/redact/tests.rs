use super::*;

fn privacy(redact: bool, obfuscate: bool) -> Privacy {
    Privacy::new(PrivacyOptions {
        redact,
        obfuscate,
        map_file: None,
    })
    .expect("no map file to read")
}

/// Streams `input` through a filter line by line, as the collector does.
fn run_bytes(privacy: &mut Privacy, path: &str, input: &[u8]) -> (Vec<u8>, u64) {
    let mut filter = privacy.filter(path);
    let mut out = Vec::new();
    for line in input.split_inclusive(|&b| b == b'\n') {
        filter.apply(line, &mut out);
    }
    let count = filter.redactions();
    (out, count)
}

fn run(privacy: &mut Privacy, path: &str, input: &str) -> String {
    String::from_utf8(run_bytes(privacy, path, input.as_bytes()).0).expect("UTF-8 in, UTF-8 out")
}

/// Scans `data` in chunks of `chunk` bytes; the first leak description.
fn scan_in_chunks(checker: &mut LeakChecker, data: &[u8], chunk: usize) -> Option<String> {
    checker.reset();
    data.chunks(chunk)
        .find_map(|c| checker.scan(c))
        .or_else(|| checker.finish())
}

/// Scans `data` as the contents of the bundle member `name`.
fn scan_member(checker: &mut LeakChecker, name: &str, data: &[u8], chunk: usize) -> Option<String> {
    checker.begin(name);
    data.chunks(chunk)
        .find_map(|c| checker.scan(c))
        .or_else(|| checker.finish())
}

const RES: &str = "resource r0 {\n\
    \tnet {\n\
    \t\tcram-hmac-alg sha1;\n\
    \t\tshared-secret \"Dr8d-s3cret\";\n\
    \t}\n\
    \ton alpha-node1 {\n\
    \t\tdevice /dev/drbd0;\n\
    \t\tdisk /dev/sdb1;\n\
    \t\tmeta-disk internal;\n\
    \t\taddress ipv4 192.168.10.11:7789;\n\
    \t}\n\
    \ton alpha-node2 {\n\
    \t\taddress ipv4 192.168.10.12:7789;\n\
    \t}\n\
    }\n";

#[test]
fn res_file_secret_is_redacted_and_nothing_else_changes() {
    let mut p = privacy(true, false);
    let (out, count) = run_bytes(&mut p, "files/etc/bsr.d/r0.res", RES.as_bytes());
    let expected = RES.replace("\"Dr8d-s3cret\"", "\"[REDACTED]\"");
    assert_eq!(String::from_utf8(out).unwrap(), expected);
    assert_eq!(count, 1);
    assert_eq!(p.secrets_redacted(), 1);
}

#[test]
fn crlf_and_missing_final_newline_are_kept_byte_exact() {
    let mut p = privacy(true, true);
    let input = "password = a b\r\nplain line\r\nshared-secret x1y2z3;";
    let out = run(&mut p, "files/opt/DRX/drx.conf", input);
    assert_eq!(
        out,
        "password = [REDACTED]\r\nplain line\r\nshared-secret [REDACTED];"
    );
}

#[test]
fn untouched_bytes_survive_even_when_not_utf8() {
    let mut p = privacy(true, true);
    let input: &[u8] = b"\xff\xfe caf\xe9 10.1.2.3 token=abc\xff123 end\n\x00\x01 no match\n";
    let (out, count) = run_bytes(&mut p, "files/var/log/x.log", input);
    assert_eq!(
        out,
        b"\xff\xfe caf\xe9 240.0.1.3 token=[REDACTED] end\n\x00\x01 no match\n".to_vec()
    );
    assert_eq!(count, 1);
}

#[test]
fn nothing_requested_is_identity() {
    let mut p = privacy(false, false);
    let input = "shared-secret \"x\";\n10.0.0.1 aa:bb:cc:dd:ee:ff\r\nlast";
    assert_eq!(run(&mut p, "files/etc/bsr.d/r0.res", input), input);
    assert_eq!(p.redact_text("--password=abc"), "--password=abc");
    assert_eq!(p.obfuscate_text("10.0.0.1"), "10.0.0.1");
    assert!(p.leak_check().is_empty());
}

#[test]
fn command_outputs_that_print_the_shared_secret() {
    let mut p = privacy(true, false);
    let show = "resource r0 {\n    net {\n        shared-secret       \"a b\\\"c\";\n        \
                cram-hmac-alg       \"sha1\";\n    }\n}\n";
    assert_eq!(
        run(&mut p, "commands/bsrsetup-show.txt", show),
        "resource r0 {\n    net {\n        shared-secret       \"[REDACTED]\";\n        \
         cram-hmac-alg       \"sha1\";\n    }\n}\n"
    );
    let log = "drbdsetup-84 net r0 ipv4:10.0.0.1:7789 ipv4:10.0.0.2:7789 --protocol=C \
               --shared-secret=xyzzy42 --cram-hmac-alg=sha1\n";
    assert_eq!(
        run(&mut p, "files/var/log/bsr/bsradm.log", log),
        "drbdsetup-84 net r0 ipv4:10.0.0.1:7789 ipv4:10.0.0.2:7789 --protocol=C \
         --shared-secret=[REDACTED] --cram-hmac-alg=sha1\n"
    );
}

#[test]
fn ifcfg_values() {
    let mut p = privacy(true, false);
    let ifcfg = "DEVICE=wlan0\nKEY_MGMT=WPA-PSK\nWPA_PSK=\"a b \\\"c\"\nIPMI_PASSWORD=s3cr3t\n\
                 PEERDNS=no\n";
    assert_eq!(
        run(
            &mut p,
            "files/etc/sysconfig/network-scripts/ifcfg-wlan0",
            ifcfg
        ),
        "DEVICE=wlan0\nKEY_MGMT=WPA-PSK\nWPA_PSK=\"[REDACTED]\"\nIPMI_PASSWORD=[REDACTED]\n\
         PEERDNS=no\n"
    );
}

#[test]
fn private_key_block_is_redacted_whole() {
    let mut p = privacy(true, false);
    let body1 = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
    let body2 = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8=";
    let input = format!(
        "cert ok\n-----BEGIN PRIVATE KEY-----\r\n{body1}\r\n\r\n{body2}\r\n\
         -----END PRIVATE KEY-----\r\nafter 1\n"
    );
    let (out, count) = run_bytes(&mut p, "files/etc/drx/key.pem", input.as_bytes());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "cert ok\n-----BEGIN PRIVATE KEY-----\r\n[REDACTED]\r\n\r\n[REDACTED]\r\n\
         -----END PRIVATE KEY-----\r\nafter 1\n"
    );
    assert_eq!(count, 1);
    let mut checker = p.leak_check();
    assert!(scan_in_chunks(&mut checker, body2.as_bytes(), 7).is_some());
    assert!(scan_in_chunks(&mut checker, b"-----BEGIN PRIVATE KEY-----", 7).is_none());
}

#[test]
fn private_key_without_end_is_redacted_to_the_end_of_the_file() {
    let mut p = privacy(true, false);
    let input = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB";
    assert_eq!(
        run(&mut p, "files/x.pem", input),
        "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n[REDACTED]"
    );
    // The next file starts outside a key.
    assert_eq!(run(&mut p, "files/y.txt", "AAAA\n"), "AAAA\n");
}

#[test]
fn private_key_on_one_line() {
    let mut p = privacy(true, false);
    let input = r#"{"k": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbcdefghijklmnop\n-----END EC PRIVATE KEY-----\n"}"#;
    assert_eq!(
        run(&mut p, "files/x.json", input),
        r#"{"k": "-----BEGIN EC PRIVATE KEY-----[REDACTED]-----END EC PRIVATE KEY-----\n"}"#
    );
}

#[test]
fn near_misses_stay_untouched() {
    let mut p = privacy(true, false);
    let input = "\t\tcram-hmac-alg sha1;\n\tmeta-disk internal;\n\tdisk /dev/sdb1;\n\
                 I1120 16:37:02.690660 t42053 config] key not found, keepalive sent\n\
                 the monkey bypassed the passive node\n\
                 net.ipv4.tcp_keepalive_time = 7200\n";
    assert_eq!(run(&mut p, "files/var/log/drx/main.log", input), input);
    assert_eq!(run(&mut p, "files/etc/bsr.d/r0.res", input), input);
    assert_eq!(p.secrets_redacted(), 0);
}

#[test]
fn redact_text_covers_the_tools_own_command_line() {
    let mut p = privacy(true, false);
    assert_eq!(
        p.redact_text("drx-collect --output /tmp --password hunter22 --since 2d"),
        "drx-collect --output /tmp --password [REDACTED] --since 2d"
    );
    assert_eq!(p.secrets_redacted(), 1);
    let mut checker = p.leak_check();
    assert!(scan_in_chunks(&mut checker, b"x hunter22 y", 3).is_some());
}

#[test]
fn ipv4_structure_ports_and_kept_values() {
    let mut p = privacy(false, true);
    let input = "address ipv4 192.168.10.11:7789;\n\
                 peer 192.168.10.12 and 10.0.0.1/24 via 192.168.10.1\n\
                 lo 127.0.0.1 any 0.0.0.0 mask 255.255.255.0 bcast 255.255.255.255 vrrp 224.0.0.18\n";
    assert_eq!(
        run(&mut p, "files/etc/bsr.d/r0.res", input),
        "address ipv4 240.0.1.11:7789;\n\
         peer 240.0.1.12 and 240.0.2.1/24 via 240.0.1.1\n\
         lo 127.0.0.1 any 0.0.0.0 mask 255.255.255.0 bcast 255.255.255.255 vrrp 224.0.0.18\n"
    );
}

#[test]
fn ipv4_inside_longer_tokens() {
    let mut p = privacy(false, true);
    let input = "dhcp-192-168-0-66.example.org 10.0.0.1:7789 [10.0.0.2]:22 src=10.0.0.3,\n\
                 tcpdump IP 10.0.0.4.7789 > 10.0.0.5.22\n";
    assert_eq!(
        run(&mut p, "commands/x.txt", input),
        "dhcp-240-0-1-66.example.org 240.0.2.1:7789 [240.0.2.2]:22 src=240.0.2.3,\n\
         tcpdump IP 240.0.2.4.7789 > 240.0.2.5.22\n"
    );
}

#[test]
fn version_numbers_are_not_addresses() {
    let mut p = privacy(false, true);
    let input = "BSR_KERNEL_VERSION=1.7.8.1\nbsr-1.7.8.1-1.el7.x86_64\ndrbd-utils-9.1.2.3\n\
                 version: 8.4.11.1\nv1.2.3.4\n1.7.8.1 (api:genl2/proto:86-118/transport:15)\n\
                 oid 1.3.6.1.4.1.2021\n8.4.11\n2024-01-15 12-30\n";
    assert_eq!(run(&mut p, "commands/bsradm-V.txt", input), input);
    // But an address after an ordinary word is one.
    assert_eq!(
        run(&mut p, "files/etc/chrony.conf", "server 10.9.8.7 iburst\n"),
        "server 240.0.1.7 iburst\n"
    );
}

#[test]
fn ipv6_forms() {
    let mut p = privacy(false, true);
    let input = "inet6 fe80::211:22ff:fe33:4455/64 scope link\n\
                 ping fe80::211:22ff:fe33:4455%eth0\n\
                 address ipv6 [2a01:4f8:1:2::5]:7789;\n\
                 peer 2A01:4F8:1:2:0:0:0:6 and 2a01:4f8:1:3::5\n\
                 mapped ::ffff:10.0.0.1 listen :::22 [::]:22 lo ::1 mcast ff02::1\n\
                 tcp6 0 0 ::ffff:10.0.0.1:7789 ESTABLISHED\n\
                 std::vector Foo::bar at 10:20:30\n";
    assert_eq!(
        run(&mut p, "commands/ip-a.txt", input),
        "inet6 fe80::ffff:0:0:1/64 scope link\n\
         ping fe80::ffff:0:0:1%eth0\n\
         address ipv6 [2001:db8:0:1::5]:7789;\n\
         peer 2001:db8:0:1::6 and 2001:db8:0:2::5\n\
         mapped ::ffff:240.0.1.1 listen :::22 [::]:22 lo ::1 mcast ff02::1\n\
         tcp6 0 0 ::ffff:240.0.1.1:7789 ESTABLISHED\n\
         std::vector Foo::bar at 10:20:30\n"
    );
}

#[test]
fn mac_addresses() {
    let mut p = privacy(false, true);
    let input = "link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff\n\
                 Physical Address. . . : 52-54-00-12-34-56\n\
                 Physical Address. . . : 00-15-5D-0A-0B-0C\n\
                 other 00:15:5D:AA:BB:CC zero 00:00:00:00:00:00\n";
    assert_eq!(
        run(&mut p, "commands/ip-link.txt", input),
        "link/ether 52:54:00:fe:00:01 brd ff:ff:ff:ff:ff:ff\n\
         Physical Address. . . : 52-54-00-fe-00-01\n\
         Physical Address. . . : 00-15-5D-FE-00-02\n\
         other 00:15:5D:FE:00:03 zero 00:00:00:00:00:00\n"
    );
}

#[test]
fn pseudonyms_are_consistent_across_files_and_free_text() {
    let mut p = privacy(true, true);
    p.learn_hostname("alpha-node1");
    p.learn("files/etc/bsr.d/r0.res", RES.as_bytes());
    let res = run(&mut p, "files/etc/bsr.d/r0.res", RES);
    assert!(res.contains("on host-1 {"), "{res}");
    assert!(res.contains("on host-2 {"), "{res}");
    assert!(res.contains("address ipv4 240.0.1.11:7789;"), "{res}");
    let ip = run(
        &mut p,
        "commands/ip-a.txt",
        "    inet 192.168.10.11/24 brd 192.168.10.255 scope global eth0\n",
    );
    assert_eq!(
        ip,
        "    inet 240.0.1.11/24 brd 240.0.1.255 scope global eth0\n"
    );
    let log = run(
        &mut p,
        "files/var/log/messages",
        "Nov 24 10:00:00 ALPHA-NODE1 kernel: bsr r0 alpha-node2: conn( Connecting -> Connected )\n",
    );
    assert_eq!(
        log,
        "Nov 24 10:00:00 host-1 kernel: bsr r0 host-2: conn( Connecting -> Connected )\n"
    );
    assert_eq!(
        p.obfuscate_text("peer alpha-node2 at 192.168.10.12 unreachable"),
        "peer host-2 at 240.0.1.12 unreachable"
    );
    assert_eq!(
        p.obfuscate_text("drx-collect-alpha-node1-20261124T100000Z"),
        "drx-collect-host-1-20261124T100000Z"
    );
}

#[test]
fn obfuscating_twice_changes_nothing() {
    let mut p = privacy(false, true);
    p.learn_hostname("db-east-01.corp.example.com");
    let once = p.obfuscate_text(
        "db-east-01.corp.example.com 10.1.2.3 fe80::211:22ff:fe33:4455 2a01::1:2:3:4 \
         52:54:00:12:34:56 corp.example.com",
    );
    assert_eq!(
        once,
        "host-1.domain-1.example 240.0.1.3 fe80::ffff:0:0:1 2001:db8:0:1:ffff::2 \
         52:54:00:fe:00:01 domain-1.example"
    );
    assert_eq!(p.obfuscate_text(&once), once);
}

#[test]
fn a_pseudonym_is_never_an_original_seen() {
    let mut p = privacy(false, true);
    // A (reserved, never seen in practice) original inside our pseudonym range comes first.
    assert_eq!(p.obfuscate_text("240.0.1.5"), "240.0.2.5");
    assert_eq!(p.obfuscate_text("10.0.0.5"), "240.0.3.5");
}

#[test]
fn hostnames_learned_from_hosts_file_match_whole_words_only() {
    let mut p = privacy(false, true);
    let hosts = "127.0.0.1 localhost localhost.localdomain\n\
                 ::1 localhost6\n\
                 192.168.10.11 node1.corp.example.com node1 # this host\n\
                 192.168.10.12 node2\n";
    p.learn("files/etc/hosts", hosts.as_bytes());
    assert_eq!(
        run(&mut p, "files/etc/hosts", hosts),
        "127.0.0.1 localhost localhost.localdomain\n\
         ::1 localhost6\n\
         240.0.1.11 host-1.domain-1.example host-1 # this host\n\
         240.0.1.12 host-2\n"
    );
    assert_eq!(
        p.obfuscate_text(
            "node1 NODE2 node10 xnode1 node1-eth0 /var/log/node1/a mail.corp.example.com"
        ),
        "host-1 host-2 node10 xnode1 host-1-eth0 /var/log/host-1/a mail.domain-1.example"
    );
}

#[test]
fn common_word_hostnames_only_in_hostname_contexts() {
    let mut p = privacy(false, true);
    p.learn_hostname("primary");
    p.learn(
        "files/etc/bsr.d/r0.res",
        b"resource r0 {\n on primary {\n }\n on drbd1 {\n }\n}\n",
    );
    let res = "resource r0 {\n  on primary {\n    device /dev/drbd0;\n  }\n  on drbd1 {\n    device /dev/drbd1;\n  }\n}\n";
    assert_eq!(
        run(&mut p, "files/etc/bsr.d/r0.res", res),
        "resource r0 {\n  on host-1 {\n    device /dev/drbd0;\n  }\n  on host-2 {\n    device /dev/drbd1;\n  }\n}\n"
    );
    let log = "r0: role( Secondary -> Primary ) on primary node, primary is up\n";
    assert_eq!(run(&mut p, "files/var/log/messages", log), log);
    assert_eq!(
        run(
            &mut p,
            "commands/bsrsetup-show.txt",
            "_this_host { node-name \"primary\"; }\n"
        ),
        "_this_host { node-name \"host-1\"; }\n"
    );
    assert_eq!(run(&mut p, "files/etc/hostname", "primary\n"), "host-1\n");
    assert_eq!(p.obfuscate_text("primary"), "host-1");
    assert_eq!(p.hostname_pseudonym("primary"), "host-1");
    assert_eq!(p.hostname_pseudonym("localhost"), "localhost");
    assert_eq!(p.hostname_pseudonym("h\u{f6}st"), "host-0");
    // Common words are not searched by the leak scan: "primary" rightly stays in prose.
    let mut checker = p.leak_check();
    assert!(scan_in_chunks(&mut checker, log.as_bytes(), 7).is_none());
}

#[test]
fn learning_from_ifcfg_and_sysconfig() {
    let mut p = privacy(false, true);
    p.learn(
        "files/etc/sysconfig/network-scripts/ifcfg-eth0",
        b"DEVICE=eth0\nDHCP_HOSTNAME=web-07\n",
    );
    p.learn(
        "files/etc/sysconfig/network",
        b"NETWORKING=yes\nHOSTNAME=db-02.corp.example.com\n",
    );
    assert_eq!(
        p.obfuscate_text("web-07 db-02 db-02.corp.example.com"),
        "host-1 host-2 host-2.domain-1.example"
    );
}

#[test]
fn map_file_round_trip_gives_the_same_pseudonyms_and_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("drx-collect.map.json");
    let options = PrivacyOptions {
        redact: true,
        obfuscate: true,
        map_file: Some(map.clone()),
    };
    let text = "node-a 10.1.1.1 10.2.2.2 fe80::211:22ff:fe33:4455 2a01::5 52:54:00:12:34:56";
    let mut first = Privacy::new(options.clone()).unwrap();
    first.learn_hostname("node-a");
    let first_out = first.obfuscate_text(text);
    first.save_map().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&map).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&map).unwrap()).unwrap();
    assert_eq!(json["schema"], "drx-collect/privacy-map/v1");
    assert_eq!(json["ipv4_networks"]["10.1.1.0/24"], "240.0.1.0/24");
    assert_eq!(json["hosts"]["node-a"], "host-1");

    // A later run sees the addresses in another order and learns nothing: same pseudonyms,
    // and new originals continue the numbering.
    let mut second = Privacy::new(options.clone()).unwrap();
    assert_eq!(
        second.obfuscate_text("10.2.2.9 10.3.3.3"),
        "240.0.2.9 240.0.3.3"
    );
    assert_eq!(second.obfuscate_text(text), first_out);
    assert_eq!(
        second.obfuscate_text("52:54:00:99:99:99"),
        "52:54:00:fe:00:02"
    );
    second.save_map().unwrap();
    let mut third = Privacy::new(options).unwrap();
    assert_eq!(third.obfuscate_text("10.3.3.3"), "240.0.3.3");
}

#[test]
fn unreadable_map_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("broken.json");
    std::fs::write(&map, "{ not json").unwrap();
    let error = Privacy::new(PrivacyOptions {
        redact: true,
        obfuscate: true,
        map_file: Some(map.clone()),
    })
    .err()
    .expect("a broken map file is an error");
    assert!(
        error.message().contains("broken.json"),
        "{}",
        error.message()
    );
    // Without --obfuscate the map file is not read at all.
    assert!(Privacy::new(PrivacyOptions {
        redact: true,
        obfuscate: false,
        map_file: Some(map),
    })
    .is_ok());
}

#[test]
fn save_map_reports_an_unwritable_place() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("missing-folder").join("map.json");
    let p = Privacy::new(PrivacyOptions {
        redact: true,
        obfuscate: true,
        map_file: Some(map),
    })
    .unwrap();
    let error = p.save_map().expect_err("folder does not exist");
    assert!(error.message().contains("map.json"), "{}", error.message());
}

#[test]
fn leak_checker_finds_a_secret_split_across_chunks() {
    let mut p = privacy(true, false);
    run(&mut p, "files/etc/bsr.d/r0.res", RES);
    let mut checker = p.leak_check();
    assert!(!checker.is_empty());
    let data = b"....... some text Dr8d-s3cret more text .......";
    for chunk in 1..data.len() {
        let found = scan_in_chunks(&mut checker, data, chunk);
        let description = found.unwrap_or_else(|| panic!("missed with chunk size {chunk}"));
        assert!(!description.contains("Dr8d"), "{description}");
        assert!(
            description.contains("files/etc/bsr.d/r0.res"),
            "{description}"
        );
    }
    assert!(scan_in_chunks(
        &mut checker,
        RES.replace("Dr8d-s3cret", "[REDACTED]").as_bytes(),
        5
    )
    .is_none());
}

#[test]
fn leak_checker_finds_originals_of_pseudonyms_only_as_whole_tokens() {
    let mut p = privacy(false, true);
    p.learn_hostname("node1");
    let out = run(
        &mut p,
        "files/var/log/messages",
        "node1 talks to 10.0.0.7 via fe80::211:22ff:fe33:4455 hw 52:54:00:12:34:56\n",
    );
    let mut checker = p.leak_check();
    assert!(
        scan_in_chunks(&mut checker, out.as_bytes(), 3).is_none(),
        "{out}"
    );
    for (leak, what) in [
        ("x node1 y", "hostname host-1"),
        ("NODE1.", "hostname host-1"),
        ("to 10.0.0.7:22", "address 240.0.1.7"),
        ("dhcp-10-0-0-7.lan", "address 240.0.1.7"),
        ("FE80:0:0:0:211:22FF:FE33:4455", "address fe80::ffff:0:0:1"),
        ("52-54-00-12-34-56", "MAC address 52:54:00:fe:00:01"),
    ] {
        for chunk in [1, 2, 5, 100] {
            let found = scan_in_chunks(&mut checker, leak.as_bytes(), chunk)
                .unwrap_or_else(|| panic!("{leak} missed with chunk size {chunk}"));
            assert!(found.contains(what), "{leak}: {found}");
        }
    }
    for innocent in [
        "node10 xnode1 10.0.0.70 110.0.0.7 10.0.0.8",
        "host-1 240.0.1.7",
    ] {
        assert!(
            scan_in_chunks(&mut checker, innocent.as_bytes(), 4).is_none(),
            "{innocent}"
        );
    }
}

#[test]
fn leak_checker_knows_only_what_was_seen() {
    let mut p = privacy(true, true);
    p.learn_hostname("never-seen-host");
    assert!(p.leak_check().is_empty());
    let mut checker = p.leak_check();
    assert!(scan_in_chunks(&mut checker, b"never-seen-host 10.0.0.1", 5).is_none());
}

#[test]
fn weak_or_placeholder_secrets_are_redacted_but_not_searched() {
    let mut p = privacy(true, false);
    let out = run(
        &mut p,
        "files/opt/DRX/drx.conf",
        "password = none\ntoken = 42\nsecret = yes\n",
    );
    assert_eq!(
        out,
        "password = [REDACTED]\ntoken = [REDACTED]\nsecret = [REDACTED]\n"
    );
    assert_eq!(p.hunted_secrets(), 0);
}

#[test]
fn very_long_lines_are_linear() {
    let mut p = privacy(true, true);
    p.learn_hostname("node1");
    let mut line = Vec::new();
    for i in 0..100_000u32 {
        line.extend_from_slice(
            format!(
                "10.{}.{}.{} node1 key=v{i} ",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            )
            .as_bytes(),
        );
    }
    line.push(b'\n');
    let started = std::time::Instant::now();
    let (out, count) = run_bytes(&mut p, "files/var/log/big.log", &line);
    assert_eq!(count, 100_000);
    assert!(out.len() > line.len() / 2);
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    let plain = vec![b'a'; 8 << 20];
    let started = std::time::Instant::now();
    let (out, _) = run_bytes(&mut p, "files/var/log/big.log", &plain);
    assert_eq!(out, plain);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

#[test]
fn regression_package_names_with_secret_and_a_colon_are_not_key_value_pairs() {
    // `dpkg -l` on a live Debian host: "libsecret-1-0:amd64" once made "amd64" a secret, and the
    // fail-closed check then deleted every bundle.
    let mut p = privacy(true, false);
    let line = "ii  libsecret-1-0:amd64   0.20.5-3   amd64   Secret store\n";
    assert_eq!(run(&mut p, "commands/dpkg-l.txt", line), line);
    assert_eq!(p.secrets_redacted(), 0);
    assert!(p.leak_check().is_empty());
    // The YAML/header form with its blank still is one, and so is quoted JSON.
    let out = run(&mut p, "commands/x.txt", "password: Hunter2-long-value\n");
    assert_eq!(out, "password: [REDACTED]\n");
    let out = run(
        &mut p,
        "commands/x.txt",
        "{\"password\":\"Hunter2-long-value\"}\n",
    );
    assert!(
        out.contains("[REDACTED]") && !out.contains("Hunter2"),
        "{out}"
    );
}

#[test]
fn a_batch_of_lines_is_redacted_exactly_like_line_by_line() {
    let text = "plain line\n\
        PaSsWoRd=Mixed-Case-Secret-1\n\
        another plain line\n\
        -----BEGIN RSA PRIVATE KEY-----\n\
        MIIEowIBAAKCAQEAbodybodybody\n\
        \n\
        -----END RSA PRIVATE KEY-----\n\
        Authorization: Bearer abcdefgh12345678\n\
        last line without newline token=zzzzzzzz9999";
    for path in [
        "files/var/log/messages",
        "files/etc/drbd.d/r0.res",
        "commands/x.txt",
    ] {
        let mut one = privacy(true, false);
        let expected = run(&mut one, path, text);
        let mut batch = privacy(true, false);
        let mut filter = batch.filter(path);
        let mut out = Vec::new();
        filter.apply_lines(text.as_bytes(), &mut out);
        let count = filter.redactions();
        assert_eq!(String::from_utf8(out).unwrap(), expected, "{path}");
        assert_eq!(count, one.secrets_redacted(), "{path}");
        assert!(!expected.contains("Mixed-Case-Secret-1") && !expected.contains("bodybody"));
    }
}
