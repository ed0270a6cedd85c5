//! Hostile and real-world privacy cases (issue 12 items 1, 2, 5, 6, 7, 12; issue 13 item 7):
//! a bundle always, secrets never.
use crate::diagnose::healthy_node;
use crate::util::*;

fn no_bundle(f: &Fixture) -> bool {
    f.bundles().is_empty()
        && std::fs::read_dir(f.out.path())
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().contains(".tgz"))
}

#[test]
fn regression_weak_secrets_give_a_bundle_even_when_the_word_is_elsewhere() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let res = crate::diagnose::RES_R0.replace(
        "net { ping-timeout 30; }",
        "net { ping-timeout 30; cram-hmac-alg sha1; shared-secret \"drbd\"; }",
    );
    f.file("/etc/drbd.d/r0.res", &res)
        .file("/opt/DRX/drx.conf", "loglevel-file = info\nadmin-password = admin\npassword = password\n")
        .prints("ps", "UID PID PPID C STIME TTY TIME CMD\nadmin 812 1 0 10:00 ? 00:00:01 /usr/sbin/drbd-admin --user admin\nroot 8033 1 0 10:00 ? 00:00:05 /opt/DRX/drx --config password-less\n")
        .prints("rpm", "drbd84-utils-8.9.10-1.el7.elrepo.x86_64\nadmin-tools-1.0-1.noarch\n");
    let output = f.collect(&[]);
    assert_success(&output);
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert!(bundle
        .read("files/etc/drbd.d/r0.res")
        .contains("shared-secret \"[REDACTED]\";"));
    let conf = bundle.read("files/opt/DRX/drx.conf");
    assert!(
        conf.contains("admin-password = [REDACTED]") && conf.contains("password = [REDACTED]"),
        "{conf}"
    );
    // The coincidences stay readable.
    assert!(bundle.read("commands/ps.txt").contains("--user admin"));
}

#[test]
fn a_distinctive_secret_that_survives_elsewhere_still_stops_the_bundle() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    f.file("/opt/DRX/drx.conf", "admin-password = Adm1n-2026!\n")
        .file(
            "/opt/DRX/logs/main.log",
            "I1120 16:37:02.000000 t1 auth] tried Adm1n-2026! for user root\n",
        );
    let output = f.collect(&[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("would have leaked a redacted secret value"),
        "{message}"
    );
    assert!(!message.contains("Adm1n"), "{message}");
    assert!(no_bundle(&f));
}

#[test]
fn regression_obfuscated_names_and_addresses_in_file_names() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    f.file(
        "/opt/DRX/logs/10.0.0.2/r0.log",
        "I1120 16:37:03.000000 t1 r0] peer 10.0.0.2 connected\n",
    )
    .file(
        "/var/log/bsr/node1-connect.log",
        "node1 connected to 10.0.0.2\n",
    );
    let map = f.out.path().join("map.json");
    let output = f.collect(&["--obfuscate", "--map-file", map.to_str().unwrap()]);
    assert_success(&output);
    let bundle = f.bundle();
    bundle.assert_verifies();
    let raw = tgz_bytes(&bundle.path);
    assert!(!contains(&raw, "10.0.0.2"));
    assert!(!contains(&raw, "node1-connect"));
    let names: Vec<String> = bundle.index["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["path"].as_str().map(String::from))
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("files/opt/DRX/logs/240.0.1.2/")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("/host-1-connect.log")),
        "{names:?}"
    );
    // The map keeps the mapping, outside the bundle.
    let map = std::fs::read_to_string(&map).unwrap();
    assert!(
        map.contains("10.0.0.0/24") && map.contains("node1"),
        "{map}"
    );
}

#[test]
fn regression_mac_and_address_forms_and_versions_under_obfuscate() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    f.file(
        "/var/log/messages",
        "Nov 20 10:00:01 node1 kernel: e1000: eth0 NIC Link is Up, hw 001a.2b3c.4d61 alt 001A2B3C4D62\n\
         Nov 20 10:00:02 node1 app: peer 010.000.000.002 src10.0.0.2 ok\n",
    )
    .prints("rpm", "bsr-1.2.5.1-2.el7.x86_64\nkernel-3.10.0-1160.el7.x86_64\ndrbd84-utils-8.9.10-1.el7.elrepo.x86_64\n")
    .prints("dpkg", "ii  bsr  1.2.5.1-2  amd64  Block Sync Replication\n");
    let output = f.collect(&["--obfuscate"]);
    assert_success(&output);
    let bundle = f.bundle();
    let raw = tgz_bytes(&bundle.path);
    for original in [
        "001a.2b3c.4d61",
        "001A2B3C4D62",
        "010.000.000.002",
        "src10.0.0.2",
    ] {
        assert!(!contains(&raw, original), "{original} is in the bundle");
    }
    // Evidence is not damaged: versions stay.
    assert!(bundle
        .read("commands/rpm-qa.txt")
        .contains("bsr-1.2.5.1-2.el7.x86_64"));
    assert!(bundle
        .read("commands/rpm-qa.txt")
        .contains("kernel-3.10.0-1160.el7.x86_64"));
    assert!(bundle.read("commands/dpkg-l.txt").contains("1.2.5.1-2"));
}

#[test]
fn regression_an_unwritable_map_file_fails_before_collecting() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let map = f.out.path().join("no-such-folder").join("map.json");
    let output = f.collect(&["--obfuscate", "--map-file", map.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("map.json"), "{message}");
    assert!(no_bundle(&f), "a bundle without its map was left behind");
    // A writable one: the map is there whenever the bundle is.
    let map = f.out.path().join("map.json");
    assert_success(&f.collect(&["--obfuscate", "--map-file", map.to_str().unwrap()]));
    assert!(map.exists());
    assert_eq!(f.bundles().len(), 1);
}

#[test]
fn regression_secrets_across_line_buffer_and_cuts() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    // A 3 MiB line with the secret across the 1 MiB read buffer.
    let mut long = "a".repeat((1 << 20) - 12);
    long.push_str(" password=Sup3r-secret-value ");
    while long.len() < 3 << 20 {
        long.push_str("filler ");
    }
    long.push('\n');
    f.file("/var/log/messages", &long);
    // A tail cut with no newline near it: the key is before the cut, the value after.
    let mut cut = String::from("first line\n");
    cut.push_str("db password=");
    cut.push_str(&"Tail-secret-".repeat(20_000));
    cut.push_str("\nlast line\n");
    f.file("/opt/DRX/logs/cut.log", &cut);
    let output = f.collect(&["--max-file-size", "100KiB"]);
    assert_success(&output);
    let bundle = f.bundle();
    bundle.assert_verifies();
    let raw = tgz_bytes(&bundle.path);
    assert!(!contains(&raw, "Sup3r") && !contains(&raw, "secret-value"));
    assert!(!contains(&raw, "Tail-secret"));
    let stored = bundle.read("files/opt/DRX/logs/cut.log");
    assert!(
        stored.starts_with("[REDACTED]\nlast line"),
        "{}",
        &stored[..stored.len().min(80)]
    );
}

#[test]
fn regression_passwords_in_process_arguments() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    f.prints(
        "ps",
        "UID PID PPID C STIME TTY TIME CMD\n\
         root 901 1 0 10:00 ? 00:00:00 sshpass -p Ssh-pass-1 ssh root@node2\n\
         root 902 1 0 10:00 ? 00:00:00 mysql -u root -pMy-sql-pw2 drx\n\
         root 903 1 0 10:00 ? 00:00:00 curl -u admin:Curl-pw-3 http://10.0.0.2/\n\
         root 904 1 0 10:00 ? 00:00:00 wget http://backup:Url-pw-4@10.0.0.2/x\n",
    )
    .file("/opt/DRX/mail.conf", "mail password = two words\n")
    .file(
        "/opt/DRX/drx.conf",
        "admin-password\u{FF1D}Full-width-5\nsmtp-password = \u{201C}smart quoted 6\u{201D}\n",
    );
    assert_success(&f.collect(&[]));
    let raw = tgz_bytes(&f.bundle().path);
    for secret in [
        "Ssh-pass-1",
        "My-sql-pw2",
        "Curl-pw-3",
        "Url-pw-4",
        "Full-width-5",
        "smart quoted 6",
    ] {
        assert!(!contains(&raw, secret), "{secret} is in the bundle");
    }
}

#[test]
fn many_distinct_secrets_do_not_stall_the_leak_check() {
    // An access log with 80,000 distinct tokens (the old check built one regex of them all and
    // ran for minutes).
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let mut log = String::new();
    for i in 0..80_000u32 {
        log.push_str(&format!(
            "I1120 16:37:02.000000 t1 http] GET /api?token=T{:08x}-{i}\n",
            i.wrapping_mul(2_654_435_761)
        ));
    }
    f.file("/opt/DRX/logs/access.log", &log);
    let started = std::time::Instant::now();
    let output = f.collect(&["--total-timeout", "60s"]);
    assert_success(&output);
    assert!(started.elapsed().as_secs() < 60);
    let bundle = f.bundle();
    assert!(!contains(&tgz_bytes(&bundle.path), "token=T"));
    assert!(
        bundle.index["redaction"]["secrets_redacted"]
            .as_u64()
            .unwrap()
            >= 80_000
    );
}

#[test]
fn a_run_that_used_its_whole_total_timeout_still_checks_and_writes_its_bundle() {
    // The deadline passes during collection (a slow command); the leak check still runs in its
    // grace and the partial bundle is written, redacted.
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    f.file("/opt/DRX/drx.conf", "admin-password = Adm1n-2026!\n")
        .command("uptime", "sleep 3; echo up");
    let output = f.collect(&["--total-timeout", "1s"]);
    assert_success(&output);
    let bundle = f.bundle();
    assert_eq!(bundle.index["partial"], true);
    assert!(!contains(&tgz_bytes(&bundle.path), "Adm1n-2026!"));
}

#[test]
fn regression_a_tail_cut_inside_a_private_key_keeps_the_key_out() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let mut pem = "# filler\n".repeat(16_000);
    pem.push_str("-----BEGIN RSA PRIVATE KEY-----\n");
    for i in 0..2_000 {
        pem.push_str(&format!("KeyBody{i:05}{}\n", "Q".repeat(52)));
    }
    pem.push_str("-----END RSA PRIVATE KEY-----\n");
    f.file("/etc/drbd.d/tls.pem", &pem);
    assert_success(&f.collect(&["--max-file-size", "100KiB"]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    let stored = bundle.read("files/etc/drbd.d/tls.pem");
    assert!(!stored.contains("# filler"), "the newest part only");
    assert!(!stored.contains("KeyBody"), "{}", &stored[..200]);
    assert!(stored.ends_with("[REDACTED]\n-----END RSA PRIVATE KEY-----\n"));
}
