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

// --- Hostile cases (issue 12: 1, 2, 6, 7, 12; issue 13: 7) ----------------------------------

/// Scans bundle members (name, contents) as the collector's read-back does.
fn check_members(p: &Privacy, members: &[(&str, &[u8])]) -> Option<String> {
    let mut checker = p.leak_check();
    members.iter().find_map(|(name, data)| {
        scan_in_chunks(&mut checker, name.as_bytes(), 64)
            .or_else(|| scan_member(&mut checker, name, data, 4096))
    })
}

#[test]
fn regression_weak_secrets_are_masked_but_a_coincidence_is_not_a_leak() {
    let mut p = privacy(true, false);
    let conf = run(&mut p, "files/opt/DRX/drx.conf", "admin-password = admin\n");
    assert_eq!(conf, "admin-password = [REDACTED]\n");
    let res = run(
        &mut p,
        "files/etc/drbd.d/r0.res",
        "net { shared-secret \"drbd\"; }\nsecret = password\n",
    );
    assert_eq!(
        res,
        "net { shared-secret \"[REDACTED]\"; }\nsecret = [REDACTED]\n"
    );
    assert_eq!(p.hunted_secrets(), 0);
    let ps = "root 1 0 /usr/sbin/sshd -D admin\nroot 2 1 /usr/lib/drbd/drbd-helper admin\n";
    let dpkg =
        "ii  drbd-utils  9.15.0-1  amd64  RAID 1 over TCP/IP for Linux (drbd) password tools\n";
    assert_eq!(
        check_members(
            &p,
            &[
                ("top/files/opt/DRX/drx.conf", conf.as_bytes()),
                ("top/files/etc/drbd.d/r0.res", res.as_bytes()),
                ("top/commands/ps.txt", ps.as_bytes()),
                ("top/commands/dpkg-l.txt", dpkg.as_bytes()),
            ]
        ),
        None
    );
    // A weak value that is in a secret position in the bundle is still a leak, wherever.
    let found = check_members(&p, &[("top/commands/x.txt", b"login password=admin\n")]);
    assert!(found.is_some_and(|f| f.contains("secret position")));
}

#[test]
fn a_distinctive_secret_is_found_anywhere_else() {
    let mut p = privacy(true, false);
    run(
        &mut p,
        "files/opt/DRX/drx.conf",
        "admin-password = Adm1n-2026\n",
    );
    assert_eq!(p.hunted_secrets(), 1);
    for leak in ["x Adm1n-2026 y", "ADM1N-2026", "(adm1n-2026)"] {
        let found = check_members(&p, &[("top/files/var/log/messages", leak.as_bytes())]);
        let found = found.unwrap_or_else(|| panic!("{leak} missed"));
        assert!(found.contains("files/opt/DRX/drx.conf") && !found.contains("Adm1n"));
    }
    for innocent in ["xAdm1n-2026", "Adm1n-20261", "Adm1n-202"] {
        assert_eq!(
            check_members(&p, &[("top/files/var/log/messages", innocent.as_bytes())]),
            None,
            "{innocent}"
        );
    }
    // In a member's name, too.
    assert!(check_members(&p, &[("top/files/tmp/Adm1n-2026.log", b"")]).is_some());
}

#[test]
fn distinctive_means_long_and_varied() {
    for weak in [
        "admin",
        "drbd",
        "changeme",
        "password",
        "12345678",
        "aaaaaaaaaaaa",
        "$PASSWORD1",
        "shared-secret",
        "cluster-shared-secret-key",
        "Administrator",
    ] {
        assert!(!leak::Secrets::distinctive(weak.as_bytes()), "{weak}");
    }
    for strong in [
        "Adm1n-2026",
        "hunter22",
        "correcthorsebattery",
        "483920174652",
        "wpa psk with spaces",
        "Dr8d-s3cret",
    ] {
        assert!(leak::Secrets::distinctive(strong.as_bytes()), "{strong}");
    }
}

#[test]
fn redaction_is_idempotent_so_the_recheck_never_fires_on_its_own_output() {
    let lines = [
        "password = a b c",
        "login password=Hunter2-very-secret",
        "shared-secret \"x y\"; cram-hmac-alg sha1;",
        "Authorization: Basic dXNlcjpwYXNz",
        "Authorization: abc",
        "fetch https://admin:pa55word@repo.example.com/x",
        "using Bearer abcdefghijkl now",
        "<password>abc</password>",
        "{\"password\": \"p w\", \"token\": \"t\"}",
        "sshpass -p s3cretpw ssh root@host",
        "mysql -u root -pS3cret-db mydb",
        "curl -u admin:S3cret-web https://x",
        "curl --user=admin:S3cret-web https://x",
        "mail password = a b",
        "password = \u{201C}a b\u{201D}",
        "password\u{FF1D}hunter2",
        "api_key: [value] next",
        "token=abc]def",
    ];
    let rules = secrets::SecretRules::new();
    for kind in [
        FileKind::Config,
        FileKind::Command,
        FileKind::Log,
        FileKind::Text,
        FileKind::Shell,
    ] {
        for line in lines {
            let mut p = privacy(true, false);
            let path = match kind {
                FileKind::Config => "files/etc/x.conf",
                FileKind::Command => "commands/x.txt",
                FileKind::Log => "files/var/log/x.log",
                FileKind::Shell => "files/etc/sysconfig/x",
                FileKind::Text => "files/x.txt",
            };
            assert_eq!(FileKind::of(path), kind);
            let once = run(&mut p, path, &format!("{line}\n"));
            let mut spans = Vec::new();
            rules.find(kind, once.trim_end().as_bytes(), &mut spans);
            assert!(
                spans.is_empty(),
                "{kind:?}: {line:?} -> {once:?} still has {spans:?}"
            );
            let twice = run(&mut p, path, &once);
            assert_eq!(once, twice, "{kind:?}");
        }
    }
}

#[test]
fn secrets_in_process_arguments_and_unusual_punctuation() {
    let mut p = privacy(true, false);
    for (input, expected) in [
        (
            "root 9 1 sshpass -p s3cretpw ssh root@node2",
            "root 9 1 sshpass -p [REDACTED] ssh root@node2",
        ),
        (
            "root 9 1 /usr/bin/sshpass -ps3cretpw ssh x",
            "root 9 1 /usr/bin/sshpass -p[REDACTED] ssh x",
        ),
        (
            "mysql -u root -pS3cret-db mydb",
            "mysql -u root -p[REDACTED] mydb",
        ),
        (
            "mysqldump -uroot -pS3cret-db --all",
            "mysqldump -uroot -p[REDACTED] --all",
        ),
        (
            "curl -u admin:S3cret-web https://x",
            "curl -u admin:[REDACTED] https://x",
        ),
        (
            "curl -s --user admin:S3cret-web https://x",
            "curl -s --user admin:[REDACTED] https://x",
        ),
        ("curl -u admin https://x", "curl -u admin https://x"),
        (
            "wget http://user:S3cret@host/file",
            "wget http://user:[REDACTED]@host/file",
        ),
        (
            "ipmitool -I lanplus -H 10.0.0.9 -U admin -P Ipmi-pw1 power status",
            "ipmitool -I lanplus -H 10.0.0.9 -U admin -P [REDACTED] power status",
        ),
        ("redis-cli -a R3dis-pw ping", "redis-cli -a [REDACTED] ping"),
        (
            "ldapsearch -x -D cn=admin -w Ldap-pw1 -b dc=x",
            "ldapsearch -x -D cn=admin -w [REDACTED] -b dc=x",
        ),
        (
            "smbclient //srv/share -U user%Smb-pw1",
            "smbclient //srv/share -U user%[REDACTED]",
        ),
        ("echo sshpass | grep -p x", "echo sshpass | grep -p x"),
    ] {
        assert_eq!(
            run(&mut p, "commands/ps.txt", &format!("{input}\n")),
            format!("{expected}\n")
        );
    }
    for (input, expected) in [
        ("mail password = a b c", "mail password = [REDACTED]"),
        ("smtp auth password: a b", "smtp auth password: [REDACTED]"),
        (
            "password = \u{201C}smart quoted\u{201D};",
            "password = \u{201C}[REDACTED]\u{201D};",
        ),
        (
            "x password \u{2018}single smart\u{2019};",
            "x password \u{2018}[REDACTED]\u{2019};",
        ),
        ("password\u{FF1D}fullwidth", "password\u{FF1D}[REDACTED]"),
        (
            "db password\u{FF1A} fullwidth colon",
            "db password\u{FF1A} [REDACTED]",
        ),
    ] {
        assert_eq!(
            run(&mut p, "files/etc/app.conf", &format!("{input}\n")),
            format!("{expected}\n")
        );
    }
}

#[test]
fn a_file_stored_from_the_middle_of_a_line_withholds_that_line() {
    let mut p = privacy(true, false);
    p.starts_mid_line("files/var/log/cut.log");
    let out = run(
        &mut p,
        "files/var/log/cut.log",
        "CRETVALUE; next\nsecond line\n",
    );
    assert_eq!(out, "[REDACTED]\nsecond line\n");
    // Other files are not affected; without redaction nothing is withheld.
    assert_eq!(run(&mut p, "files/var/log/other.log", "a\n"), "a\n");
    let mut q = privacy(false, false);
    q.starts_mid_line("files/var/log/cut.log");
    assert_eq!(run(&mut q, "files/var/log/cut.log", "abc\n"), "abc\n");
}

#[test]
fn a_long_line_is_cut_only_where_no_key_value_or_address_is() {
    // Pieces of 64 KiB stand for the collector's 1 MiB: the secret is placed across every
    // possible boundary.
    const PIECE: usize = 64 * 1024;
    for shift in (0..80).step_by(7) {
        let mut line = "x ".repeat((PIECE - 40 + shift) / 2);
        line.push_str("password=Sup3r-secret-value 10.1.2.3 ");
        while line.len() < 3 * PIECE {
            line.push_str("filler ");
        }
        line.push('\n');
        let mut p = privacy(true, true);
        let mut filter = p.filter("files/var/log/long.log");
        let mut out = Vec::new();
        let mut data = line.as_bytes();
        while data.len() > PIECE {
            let used = filter.apply_partial(&data[..PIECE], &mut out);
            assert!((PIECE / 2..=PIECE).contains(&used), "{used}");
            data = &data[used..];
        }
        filter.apply(data, &mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("Sup3r"), "shift {shift}");
        assert!(!out.contains("secret-value"), "shift {shift}");
        assert!(!out.contains("10.1.2.3"), "shift {shift}");
        assert!(
            out.contains("password=[REDACTED] 240.0.1.3 filler"),
            "shift {shift}"
        );
        assert!(out.ends_with("filler \n"));
    }
}

#[test]
fn a_long_line_without_a_safe_cut_is_redacted_to_its_end() {
    const PIECE: usize = 64 * 1024;
    // Key words all the way: no place is far enough from a key.
    let mut line = "keykey".repeat(PIECE / 3);
    line.push_str(" password=Sup3r-secret tail\nnext line\n");
    let mut p = privacy(true, false);
    let mut filter = p.filter("files/var/log/long.log");
    let mut out = Vec::new();
    let mut data = line.as_bytes();
    while memchr::memchr(b'\n', data).is_some_and(|at| at >= PIECE) {
        let used = filter.apply_partial(&data[..PIECE], &mut out);
        data = &data[used..];
    }
    filter.apply_lines(data, &mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains("Sup3r"));
    assert!(
        out.ends_with("[REDACTED]\nnext line\n"),
        "{}",
        &out[out.len() - 40..]
    );
}

#[test]
fn many_distinct_secrets_are_checked_in_bounded_time_and_memory() {
    // An access log with 80,000 distinct tokens: the old check built one regex of them all.
    let mut p = privacy(true, false);
    let mut log = String::new();
    for i in 0..80_000u32 {
        log.push_str(&format!(
            "GET /api?token=T{:08x}-{i} HTTP/1.1\n",
            i.wrapping_mul(2_654_435_761)
        ));
    }
    let out = run(&mut p, "files/var/log/access.log", &log);
    assert_eq!(p.hunted_secrets(), 80_000);
    let started = std::time::Instant::now();
    assert_eq!(
        check_members(&p, &[("top/files/var/log/access.log", out.as_bytes())]),
        None
    );
    let planted = format!(
        "some text T{:08x}-{} more",
        77_777u32.wrapping_mul(2_654_435_761),
        77_777
    );
    assert!(check_members(&p, &[("top/commands/x.txt", planted.as_bytes())]).is_some());
    // Linear: 4 MB of bundle text, checked in a debug build well within the test's patience.
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[test]
fn the_number_of_hunted_values_is_capped() {
    let mut s = leak::Secrets::default();
    for i in 0..(leak::MAX_VALUES as u64 + 10) {
        if i < 10 || i > leak::MAX_VALUES as u64 - 5 {
            s.insert(format!("Secret-{i:012}").as_bytes(), "x");
        } else if i == 10 {
            // Fill quickly: the cap is what is tested, not the insertion of two million values.
            break;
        }
    }
    assert_eq!(s.len(), 10);
    assert_eq!(s.dropped, 0);
}

#[test]
fn regression_versions_in_package_lists_and_version_outputs_stay() {
    let mut p = privacy(false, true);
    let rpm = "bsr-1.2.5.1-2.el7.x86_64\nkernel-3.10.0-1160.el7.x86_64\nkmod-drbd84-8.4.11.1-1.el7_5.elrepo.x86_64\n";
    assert_eq!(run(&mut p, "commands/rpm-qa.txt", rpm), rpm);
    let dpkg = "ii  bsr  1.2.5.1-2  amd64  Block Sync Replication\nii  drx  2.0.0.1  amd64  DRX\n";
    assert_eq!(run(&mut p, "commands/dpkg-l.txt", dpkg), dpkg);
    for text in [
        "DRBDADM_VERSION=9.22.0.1\n",
        "version:        9.1.2.4\n",
        "bsr 1.2.5.1-2 (api:2/proto:86-118)\n",
        "package 1:1.2.3.4-1 installed\n",
        "drx_1.2.3.4+dfsg built\n",
        "release 1.2.3.4~rc1\n",
        "file drbd-9.1.2.4.tar.gz\n",
        "1.2.3.4el7 1.2.3.4rc2\n",
    ] {
        assert_eq!(run(&mut p, "files/var/log/messages", text), text, "{text}");
    }
    // Addresses stay addresses: glued to other words, in ranges, zero-padded.
    assert_eq!(
        run(
            &mut p,
            "files/var/log/messages",
            "inet10.0.0.1 10.0.0.2eth0 range 10.0.0.3-10.0.0.9 pad 010.000.000.004\n"
        ),
        "inet240.0.1.1 240.0.1.2eth0 range 240.0.1.3-240.0.1.9 pad 240.000.001.004\n"
    );
}

#[test]
fn mac_and_address_forms_are_obfuscated_and_checked_alike() {
    let mut p = privacy(false, true);
    let input = "cisco 5254.0012.3456 bare 525400AB3457 colon 52:54:00:12:34:58 \
                 known 0x0a000001 after 10.0.0.1 uuid 123e4567-e89b-12d3-a456-426614174000\n";
    let out = run(&mut p, "files/var/log/messages", input);
    assert_eq!(
        out,
        "cisco 5254.00fe.0001 bare 525400FE0002 colon 52:54:00:fe:00:03 \
         known 0x0a000001 after 240.0.1.1 uuid 123e4567-e89b-12d3-a456-426614174000\n"
    );
    // The hex form is replaced once the address is known.
    assert_eq!(
        run(&mut p, "files/var/log/messages", "again 0x0A000001\n"),
        "again 0xF0000101\n"
    );
    // What was obfuscated passes the check; each original form is caught.
    let again = run(&mut p, "files/var/log/messages", "again 0x0A000001\n");
    assert_eq!(
        check_members(&p, &[("top/files/var/log/messages", again.as_bytes())]),
        None
    );
    for leak in [
        "5254.0012.3456",
        "525400ab3457",
        "52-54-00-12-34-58",
        "x 0x0a000001 y",
        "inet10.0.0.1",
    ] {
        assert!(
            check_members(&p, &[("top/files/var/log/messages", leak.as_bytes())]).is_some(),
            "{leak}"
        );
    }
    // Versions and hashes that look like these forms are not leaks.
    for innocent in ["bsr-10.0.0.1-2", "sha 525400ab3457abcdef", "10.0.0.1.el7"] {
        assert_eq!(
            check_members(&p, &[("top/files/var/log/messages", innocent.as_bytes())]),
            None,
            "{innocent}"
        );
    }
}

#[test]
fn regression_a_key_word_redacted_as_a_value_is_not_hunted() {
    let mut p = privacy(true, false);
    let conf = run(
        &mut p,
        "files/opt/DRX/drx.conf",
        "auth-password = shared-secret\n",
    );
    assert_eq!(conf, "auth-password = [REDACTED]\n");
    let res = "net { shared-secret \"[REDACTED]\"; }\n";
    assert_eq!(
        check_members(
            &p,
            &[
                ("top/files/opt/DRX/drx.conf", conf.as_bytes()),
                ("top/files/etc/drbd.d/r0.res", res.as_bytes()),
            ]
        ),
        None
    );
}

#[test]
fn the_recheck_reads_whole_lines_below_the_collectors_buffer_only() {
    let mut p = privacy(true, false);
    run(&mut p, "files/opt/DRX/drx.conf", "password = x\n");
    // Just below 1 MiB: rechecked; a missed value is found.
    let mut line = "a".repeat((1 << 20) - 20);
    line.push_str(" password=missed\n");
    assert!(line.len() - 1 < leak::RECHECK_LINE);
    assert!(check_members(&p, &[("top/commands/x.txt", line.as_bytes())]).is_some());
    // A line the collector passed on in pieces is not re-parsed (its pieces were cut safely).
    let mut long = "a".repeat(1 << 20);
    long.push_str(" password=x\n");
    assert_eq!(
        check_members(&p, &[("top/commands/x.txt", long.as_bytes())]),
        None
    );
}

/// Every release version in BSR's own packaging (tests/realworld/privacy), as rpm and dpkg print
/// the packages built from it.
#[test]
fn real_bsr_versions_survive_obfuscation() {
    let spec = include_str!("../../tests/realworld/privacy/bsr-kernel.spec");
    let debian = include_str!("../../tests/realworld/privacy/bsr-debian-changelog");
    let mut versions: Vec<String> = spec
        .lines()
        .filter(|l| l.starts_with("* ") && l.contains("<bsr@mantech.co.kr> - "))
        .filter_map(|l| l.rsplit(" - ").next())
        .map(String::from)
        .collect();
    versions.extend(
        debian
            .lines()
            .filter(|l| l.starts_with("bsr ("))
            .filter_map(|l| l.split(['(', ')']).nth(1))
            .map(String::from),
    );
    let four_part = versions
        .iter()
        .filter(|v| v.split(['-', 'A']).next().unwrap_or("").split('.').count() == 4)
        .count();
    assert!(
        four_part > 40,
        "{four_part} four-part versions in {versions:?}"
    );
    let mut p = privacy(false, true);
    p.learn_hostname("node1");
    run(&mut p, "files/etc/hosts", "10.1.2.3 node1\n");
    for v in &versions {
        // The spec: Name-Version-Release; kmod-bsr's version is version_kernel (`-` → `_`).
        let rpm = format!(
            "bsr-kernel-{v}-1.el7.x86_64\nkmod-bsr-{}_3.10.0_1160-1.el7.x86_64\nbsr-utils-{v}-1.el7.x86_64\n",
            v.replace('-', "_")
        );
        assert_eq!(run(&mut p, "commands/rpm-qa.txt", &rpm), rpm);
        let dpkg = format!("ii  bsr  {v}  amd64  Block Sync Replication\n");
        assert_eq!(run(&mut p, "commands/dpkg-l.txt", &dpkg), dpkg);
        // Outside package lists, the name-version forms stay too (a log line, a file name).
        let log = format!("Installed: bsr-kernel-{v}-1.el7.x86_64 from bsr-{v}.tar.gz\n");
        assert_eq!(run(&mut p, "files/var/log/yum.log", &log), log);
    }
}

#[test]
fn a_cut_inside_a_private_key_redacts_the_key_lines_it_starts_with() {
    let mut p = privacy(true, false);
    p.starts_after_cut("files/etc/drx/tls.pem");
    let input = "MIIEowIBAAKCAQEAprivatekeybody1\nZm9vYmFyYmF6cXV4cXV1eGNvcmdl\n\
                 -----END RSA PRIVATE KEY-----\nabcdefghijklmnopqrstuvwx\n";
    assert_eq!(
        run(&mut p, "files/etc/drx/tls.pem", input),
        "[REDACTED]\n[REDACTED]\n-----END RSA PRIVATE KEY-----\nabcdefghijklmnopqrstuvwx\n"
    );
    // A file not cut keeps such lines (they are not known to be a key).
    assert_eq!(
        run(
            &mut p,
            "files/etc/drx/other.txt",
            "abcdefghijklmnopqrstuvwx\n"
        ),
        "abcdefghijklmnopqrstuvwx\n"
    );
    // Batches behave like single lines.
    let mut q = privacy(true, false);
    q.starts_after_cut("files/etc/drx/tls.pem");
    let mut filter = q.filter("files/etc/drx/tls.pem");
    let mut out = Vec::new();
    filter.apply_lines(input.as_bytes(), &mut out);
    assert!(!String::from_utf8(out).unwrap().contains("privatekeybody"));
}

/// One table for the two nodes of a pair: the peer's run starts from this node's map, and what
/// it adds comes back; a peer's pair that contradicts the map is refused.
#[test]
fn a_peers_map_merged_into_ours_keeps_one_pseudonym_per_original() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.json");
    let theirs = dir.path().join("theirs.json");
    let options = |map: &std::path::Path| PrivacyOptions {
        redact: true,
        obfuscate: true,
        map_file: Some(map.to_path_buf()),
    };
    let mut local = Privacy::new(options(&ours)).unwrap();
    local.learn_hostname("node-a");
    local.learn_hostname("node-b");
    assert_eq!(
        local.obfuscate_text("node-a node-b 10.1.1.1"),
        "host-1 host-2 240.0.1.1"
    );
    local.save_map().unwrap();
    // The peer: this node's map, and an address only it met.
    std::fs::copy(&ours, &theirs).unwrap();
    let mut peer = Privacy::new(options(&theirs)).unwrap();
    peer.learn_hostname("node-b");
    assert_eq!(
        peer.obfuscate_text("node-b node-a 10.1.1.2 10.9.9.9"),
        "host-2 host-1 240.0.1.2 240.0.2.9"
    );
    peer.save_map().unwrap();
    let refused = merge_map_file(&ours, &std::fs::read(&theirs).unwrap()).unwrap();
    assert_eq!(refused, 0);
    let mut after = Privacy::new(options(&ours)).unwrap();
    assert_eq!(
        after.obfuscate_text("node-a node-b 10.9.9.1 10.1.1.1"),
        "host-1 host-2 240.0.2.1 240.0.1.1"
    );
    // A hostile map: another pseudonym for a known original, a known pseudonym for a new one.
    let hostile = r#"{"schema": "drx-collect/privacy-map/v1",
        "hosts": {"node-a": "host-7", "node-z": "host-2", "node-y": "host-9"},
        "ipv4_networks": {"10.1.1.0/24": "240.0.9.0/24"}}"#;
    let refused = merge_map_file(&ours, hostile.as_bytes()).unwrap();
    assert_eq!(refused, 3);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&ours).unwrap()).unwrap();
    assert_eq!(json["hosts"]["node-a"], "host-1");
    assert_eq!(json["hosts"]["node-b"], "host-2");
    assert_eq!(json["hosts"]["node-y"], "host-9");
    assert!(json["hosts"].get("node-z").is_none());
    assert_eq!(json["ipv4_networks"]["10.1.1.0/24"], "240.0.1.0/24");
    // Not a map at all: refused with a sentence, ours unchanged.
    let before = std::fs::read(&ours).unwrap();
    assert!(merge_map_file(&ours, b"{\"schema\": \"other\"}").is_err());
    assert!(merge_map_file(&ours, b"\x00garbage").is_err());
    assert_eq!(std::fs::read(&ours).unwrap(), before);
}
