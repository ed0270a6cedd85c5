//! Writes SIZE bytes of realistic syslog text to stdout (for the benchmark in bench/): kernel
//! DRBD state changes, DRX-like messages, sshd and cron noise, with varying addresses and numbers.
//! Usage: cargo run --release --example gen-syslog -- 256MiB > messages
use std::io::{BufWriter, Write};

fn main() {
    let size = std::env::args()
        .nth(1)
        .map(|s| drx_collect::units::parse_size(&s).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or(256 << 20);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    // A small deterministic generator: the same SIZE gives the same file.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let months = ["Nov"];
    let programs = [
        "kernel",
        "sshd",
        "CROND",
        "systemd",
        "drx",
        "NetworkManager",
        "chronyd",
    ];
    let mut written = 0u64;
    let mut second = 0u64;
    while written < size {
        let r = next();
        second += r % 3;
        let (h, m, s) = ((second / 3600) % 24, (second / 60) % 60, second % 60);
        let day = 1 + (second / 86400) % 28;
        let program = programs[(r >> 8) as usize % programs.len()];
        let pid = 1000 + (r >> 16) % 30000;
        let a = (r >> 24) % 254 + 1;
        let b = (r >> 32) % 254 + 1;
        let message = match (r >> 40) % 8 {
            0 => format!(
                "drbd r{}: conn( WFConnection -> WFReportParams ) peer 10.0.{a}.{b}:7789",
                r % 4
            ),
            1 => format!(
                "Accepted publickey for root from 192.168.{a}.{b} port {} ssh2: RSA SHA256:{:016x}",
                40000 + r % 20000,
                next()
            ),
            2 => format!("(root) CMD (/usr/lib64/sa/sa1 1 1) job {}", r % 100000),
            3 => format!("Started Session {} of user root.", r % 100000),
            4 => format!(
                "I1120 16:{m:02}:{s:02}.{:06} t{} r{}] state: bridged, buffered {} bytes",
                r % 1000000,
                pid,
                r % 4,
                r % 10_000_000
            ),
            5 => format!(
                "e1000e: eth{}: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
                r % 2
            ),
            6 => format!(
                "Selected source 10.{a}.{b}.1 (offset {}.{:06}s)",
                r % 3,
                next() % 1000000
            ),
            _ => format!(
                "dhcp-{a}-{b}: lease renewed for {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                r & 0xff,
                (r >> 8) & 0xff,
                (r >> 16) & 0xff,
                a,
                b,
                (r >> 48) & 0xff
            ),
        };
        let line = format!(
            "{} {day:>2} {h:02}:{m:02}:{s:02} node1 {program}[{pid}]: {message}\n",
            months[0]
        );
        if out.write_all(line.as_bytes()).is_err() {
            return;
        }
        written += line.len() as u64;
    }
    let _ = out.flush();
}
