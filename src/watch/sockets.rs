//! The socket sampler: the TCP sockets of the watched ports, read from `/proc/net/tcp` and
//! `/proc/net/tcp6` (under `--root` for a sysroot): what `netstat -nap | grep 779` shows, a few
//! times a second, without starting a process each time.
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The most sockets one sample keeps: a host with a socket storm cannot swell a sample.
pub const MAX_SOCKETS: usize = 4096;
/// The most bytes read of one `/proc/net/tcp*` file per sample.
const MAX_READ: u64 = 8 << 20;

/// (local, remote) → state name as netstat spells it.
pub type Sample = BTreeMap<(SocketAddr, SocketAddr), &'static str>;

/// The kernel's TCP states (include/net/tcp_states.h), in netstat's words.
fn state_name(code: u8) -> &'static str {
    match code {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// `0100007F:1F90` (IPv4, the address a little-endian word) or 32 hex digits (IPv6, four words
/// each in the kernel's byte order, little-endian on every platform this runs on).
fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match addr.len() {
        8 => {
            let word = u32::from_str_radix(addr, 16).ok()?;
            IpAddr::V4(Ipv4Addr::from(word.swap_bytes()))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            let v6 = Ipv6Addr::from(bytes);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Adds the sockets of one `/proc/net/tcp*` text whose local or remote port is in `ports`
/// (every socket when `ports` is empty) to `sample`.
pub fn parse_into(text: &str, ports: &[u16], sample: &mut Sample) {
    for line in text.lines().skip(1) {
        if sample.len() >= MAX_SOCKETS {
            return;
        }
        let mut words = line.split_whitespace();
        let (Some(_slot), Some(local), Some(remote), Some(state)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Some(local), Some(remote), Ok(code)) = (
            parse_endpoint(local),
            parse_endpoint(remote),
            u8::from_str_radix(state, 16),
        ) else {
            continue;
        };
        if ports.is_empty() || ports.contains(&local.port()) || ports.contains(&remote.port()) {
            sample.insert((local, remote), state_name(code));
        }
    }
}

/// Reads the socket tables.
pub struct Sampler {
    files: Vec<PathBuf>,
    ports: Vec<u16>,
}

impl Sampler {
    pub fn new(root: Option<&Path>, ports: Vec<u16>) -> Sampler {
        let base = root.map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        Sampler {
            files: vec![base.join("proc/net/tcp"), base.join("proc/net/tcp6")],
            ports,
        }
    }

    /// The source, for the series' start record.
    pub fn describe(&self) -> String {
        format!("sockets: {}", crate::watch::display_paths(&self.files))
    }

    /// One sample; `Err` with a reason when no table could be read.
    pub fn sample(&self) -> Result<Sample, String> {
        use std::io::Read;
        let mut sample = Sample::new();
        let mut read_any = false;
        let mut last_error = String::new();
        for file in &self.files {
            let mut text = String::new();
            match crate::platform::open_regular(file)
                .or_else(|_| std::fs::File::open(file))
                .and_then(|f| f.take(MAX_READ).read_to_string(&mut text))
            {
                Ok(_) => {
                    read_any = true;
                    parse_into(&text, &self.ports, &mut sample);
                }
                Err(err) => {
                    last_error = format!(
                        "cannot read {}: {}",
                        file.display(),
                        crate::error::describe_io(&err)
                    )
                }
            }
        }
        if read_any {
            Ok(sample)
        } else {
            Err(last_error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines in the layout of Linux's /proc/net/tcp (net/ipv4/tcp_ipv4.c, get_tcp4_sock).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1E6C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100A8C0:9C40 0200A8C0:1E6C 02 00000001:00000000 01:00000100 00000002     0        0 12346 2 0000000000000000 200 0 0 1 7\n   2: 0100A8C0:0016 0200A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 20 4 30 10 -1\n";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:1E6D 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0\n   1: 0000000000000000FFFF00000100A8C0:1E6D 0000000000000000FFFF00000300A8C0:A000 01 00000000:00000000 00:00000000 00000000     0        0 2223 1 0000000000000000 100 0 0 10 0\n";

    #[test]
    fn the_watched_ports_states_and_addresses_are_read() {
        let mut sample = Sample::new();
        parse_into(TCP, &[7788], &mut sample);
        let got: Vec<String> = sample
            .iter()
            .map(|((l, r), s)| format!("{l} {r} {s}"))
            .collect();
        assert_eq!(
            got,
            [
                "127.0.0.1:7788 0.0.0.0:0 LISTEN",
                "192.168.0.1:40000 192.168.0.2:7788 SYN_SENT"
            ]
        );
        let mut six = Sample::new();
        parse_into(TCP6, &[7789], &mut six);
        let got: Vec<String> = six
            .iter()
            .map(|((l, r), s)| format!("{l} {r} {s}"))
            .collect();
        assert_eq!(
            got,
            [
                "192.168.0.1:7789 192.168.0.3:40960 ESTABLISHED",
                "[::1]:7789 [::]:0 LISTEN"
            ]
        );
    }

    #[test]
    fn garbage_and_floods_are_bounded() {
        let mut sample = Sample::new();
        parse_into("header\nx y z\n 0: zz:zz 00:00 0A\n", &[], &mut sample);
        assert!(sample.is_empty());
        let mut flood = String::from("header\n");
        for port in 0..(MAX_SOCKETS as u32 + 100) {
            flood.push_str(&format!(
                " 0: 0100007F:{:04X} 0100007F:1E6C 01 0 0 0 0 0 0\n",
                port % 65536
            ));
        }
        parse_into(&flood, &[], &mut sample);
        assert_eq!(sample.len(), MAX_SOCKETS);
    }
}
