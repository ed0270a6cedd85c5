//! Secrets never leave the node, and `--obfuscate` hides addresses and names consistently
//! without changing the diagnosis.
use crate::diagnose::healthy_node;
use crate::util::*;

const SECRETS: &[&str] = &[
    "Xy7-shared-SECRET",
    "drx-admin-pw-4711",
    "wpa psk with spaces",
    "MIIEowIBAAKCAQEAprivatekeybody",
    "tok3n.abc.def",
];

fn node_with_secrets() -> Fixture {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let res = crate::diagnose::RES_R0.replace(
        "net { ping-timeout 30; }",
        "net { ping-timeout 30; cram-hmac-alg sha1; shared-secret \"Xy7-shared-SECRET\"; }",
    );
    f.file("/etc/drbd.d/r0.res", &res)
        .file("/opt/DRX/drx.conf", "loglevel-file = info\nadmin-password = drx-admin-pw-4711\n")
        .file("/etc/sysconfig/network-scripts/ifcfg-wlan0", "DEVICE=wlan0\nIPADDR=10.0.0.1\nHWADDR=52:54:00:12:34:56\nWPA_PSK='wpa psk with spaces'\n")
        .file("/etc/drbd.d/tls.pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAprivatekeybody\n-----END RSA PRIVATE KEY-----\n")
        .file("/opt/DRX/logs/main.log", "I1120 16:37:02.000000 t1 http] Authorization: Bearer tok3n.abc.def\nI1120 16:37:03.000000 t1 main] peer node2 at 10.0.0.2\n")
        // bsradm/drbdadm dump print the shared secret too.
        .prints_by_args("drbdadm", &[
            ("-V", "DRBD_KERNEL_VERSION_CODE=0x08040b\nDRBDADM_VERSION=8.9.10\n"),
            ("dump", &res),
        ]);
    f
}

#[test]
fn no_secret_reaches_the_bundle_and_it_still_verifies() {
    let f = node_with_secrets();
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    let raw = tgz_bytes(&bundle.path);
    for secret in SECRETS {
        assert!(
            !contains(&raw, secret),
            "secret {secret:?} is in the bundle"
        );
    }
    // The key and the line stay, so the configuration still reads.
    let res = bundle.read("files/etc/drbd.d/r0.res");
    assert!(res.contains("shared-secret \"[REDACTED]\";"), "{res}");
    assert!(res.contains("cram-hmac-alg sha1;"), "{res}");
    assert!(bundle
        .read("commands/drbdadm-dump.txt")
        .contains("[REDACTED]"));
    assert!(bundle
        .read("files/opt/DRX/drx.conf")
        .contains("admin-password = [REDACTED]"));
    assert!(bundle
        .read("files/etc/drbd.d/tls.pem")
        .contains("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(
        bundle.index["redaction"]["secrets_redacted"]
            .as_u64()
            .unwrap()
            >= 5
    );
    let per_item: u64 = bundle.index["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["redactions"].as_u64().unwrap_or(0))
        .sum();
    assert!(per_item >= 5, "redactions are counted per item");
}

#[test]
fn no_redact_keeps_secrets_and_says_so() {
    let f = node_with_secrets();
    assert_success(&f.collect(&["--no-redact"]));
    let bundle = f.bundle();
    assert!(bundle
        .read("files/etc/drbd.d/r0.res")
        .contains("Xy7-shared-SECRET"));
    assert_eq!(bundle.index["options"]["redact"], false);
    assert!(bundle.read("SUMMARY.txt").contains("--no-redact"));
}

fn rule_places(bundle: &Bundle) -> Vec<(String, String)> {
    let mut places: Vec<(String, String)> = bundle.index["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    places.sort();
    places
}

#[test]
fn obfuscate_hides_addresses_names_and_macs_consistently() {
    let f = node_with_secrets();
    // Something for the rules to find, so that findings can be compared.
    f.file("/proc/drbd", "version: 8.4.5 (api:1/proto:86-101)\n")
        .prints("modinfo", "version: 8.4.5\n");
    let clear_out = tempfile::tempdir().unwrap();
    let clear = f
        .cmd()
        .arg("--root")
        .arg(f.root.path())
        .arg("-o")
        .arg(clear_out.path())
        .output()
        .unwrap();
    assert_success(&clear);
    let clear_path = std::fs::read_dir(clear_out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .unwrap();
    let clear_bundle = Bundle::open(&clear_path);

    let map = f.out.path().join("private/map.json");
    std::fs::create_dir_all(map.parent().unwrap()).unwrap();
    assert_success(&f.collect(&["--obfuscate", "--map-file", map.to_str().unwrap()]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    let name = bundle.file_name();
    assert!(
        !name.contains("node1"),
        "the file name shows the host: {name}"
    );

    let raw = tgz_bytes(&bundle.path);
    for original in [
        "10.0.0.1",
        "10.0.0.2",
        "node1",
        "node2",
        "52:54:00:12:34:56",
        "Xy7-shared-SECRET",
    ] {
        assert!(
            !contains(&raw, original),
            "{original} is in the obfuscated bundle"
        );
    }
    // The same address is the same pseudonym in every file.
    let map_text = std::fs::read_to_string(&map).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&map).unwrap().permissions())
            & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        map_text.contains("10.0.0.0/24") && map_text.contains("node1"),
        "the map keeps the originals: {map_text}"
    );
    let ifcfg = bundle.read("files/etc/sysconfig/network-scripts/ifcfg-wlan0");
    let pseudonym = ifcfg
        .lines()
        .find_map(|l| l.strip_prefix("IPADDR="))
        .unwrap()
        .to_string();
    assert_ne!(pseudonym, "10.0.0.1");
    assert!(bundle.read("commands/ip-a.txt").contains(&pseudonym));
    assert!(
        bundle
            .read("commands/netstat-nap.txt")
            .contains(&format!("{pseudonym}:7791")),
        "ports are kept"
    );
    assert!(bundle
        .read("files/etc/drbd.d/r0.res")
        .contains(&format!("{pseudonym}:7789")));
    assert!(
        bundle
            .read("commands/netstat-nap.txt")
            .contains("127.0.0.1:7790"),
        "loopback stays"
    );
    assert!(
        !contains(&raw, "drx-collect/privacy-map/v1"),
        "the map is not inside the bundle"
    );

    // The diagnosis is the same as on the clear bundle.
    assert_eq!(rule_places(&bundle), rule_places(&clear_bundle));
    let output = inspect(&[bundle.path.as_os_str()]);
    assert_success(&output);

    // A later run with the same map file gives the same pseudonyms.
    let again = tempfile::tempdir().unwrap();
    let output = f
        .cmd()
        .arg("--root")
        .arg(f.root.path())
        .arg("-o")
        .arg(again.path())
        .args(["--obfuscate", "--map-file"])
        .arg(&map)
        .output()
        .unwrap();
    assert_success(&output);
    let second = std::fs::read_dir(again.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .unwrap();
    let second = Bundle::open(&second);
    assert_eq!(
        second.read("files/etc/sysconfig/network-scripts/ifcfg-wlan0"),
        ifcfg
    );
}

#[test]
fn a_secret_that_escaped_redaction_deletes_the_bundle() {
    let f = node_with_secrets();
    // The secret also appears in free text, where no key announces it.
    f.file(
        "/var/log/messages",
        "Nov 20 10:00:00 node1 app: debug dump Xy7-shared-SECRET end\n",
    );
    let output = f.collect(&[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(
        message.contains("deleted") && message.contains("leaked"),
        "{message}"
    );
    assert!(
        !message.contains("Xy7-shared-SECRET"),
        "the error must not print the secret"
    );
    assert_eq!(
        std::fs::read_dir(f.out.path()).unwrap().count(),
        0,
        "a bundle was left behind"
    );
}

#[test]
fn a_large_log_with_a_secret_is_redacted_and_the_archive_stays_valid() {
    // Large files are written in one pass when redaction leaves their length alone; a secret
    // changes it, so the entry is taken back out and written again in two passes.
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let mut log = String::with_capacity(10 << 20);
    let mut n = 0;
    while log.len() < 10 << 20 {
        log.push_str(&format!(
            "Nov 24 10:00:{:02} node1 app[1]: event {n}\n",
            n % 60
        ));
        n += 1;
        if n == 5000 {
            log.push_str("Nov 24 10:00:00 node1 app[1]: login password=Hunter2-very-secret\n");
        }
    }
    f.file("/var/log/messages", &log);
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    let stored = bundle.read("files/var/log/messages");
    assert!(!stored.contains("Hunter2-very-secret"));
    assert!(stored.contains("login password=[REDACTED]"));
    assert_eq!(stored.lines().count(), log.lines().count());
    // Files after it are intact too.
    assert!(bundle.read("commands/lsmod.txt").contains("drbd"));
    let output = inspect(&[bundle.path.as_os_str()]);
    assert_success(&output);
}
