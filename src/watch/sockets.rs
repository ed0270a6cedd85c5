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

/// The endpoint of a socket as the kernel's sock_diag reports it (`family`, the port in network
/// order, the address: 4 bytes for IPv4, 16 for IPv6; a v4-mapped IPv6 address reads as IPv4,
/// as in the /proc reader).
fn diag_endpoint(family: u8, port: [u8; 2], addr: &[u8]) -> Option<SocketAddr> {
    let port = u16::from_be_bytes(port);
    let ip = match family {
        2 => IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
        10 => {
            let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(addr.get(..16)?).ok()?);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Adds the sockets of one sock_diag reply (`inet_diag_msg`s after their `nlmsghdr`s) to
/// `sample`; `Ok(true)` when the reply ends the dump (`NLMSG_DONE`).
fn parse_diag_reply(reply: &[u8], ports: &[u16], sample: &mut Sample) -> Result<bool, String> {
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    let mut off = 0;
    while off + 16 <= reply.len() {
        let len = u32::from_ne_bytes(reply[off..off + 4].try_into().unwrap_or_default()) as usize;
        let kind = u16::from_ne_bytes(reply[off + 4..off + 6].try_into().unwrap_or_default());
        if len < 16 || off + len > reply.len() {
            return Err("a sock_diag reply was cut short".into());
        }
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => return Err("the kernel refused the sock_diag request".into()),
            _ => {}
        }
        // inet_diag_msg: family, state, timer, retrans, then inet_diag_sockid: sport, dport
        // (network order), src[16], dst[16], ...
        let msg = &reply[off + 16..off + len];
        if msg.len() >= 40 && sample.len() < MAX_SOCKETS {
            let (family, state) = (msg[0], msg[1]);
            if let (Some(local), Some(remote)) = (
                diag_endpoint(family, [msg[4], msg[5]], &msg[8..24]),
                diag_endpoint(family, [msg[6], msg[7]], &msg[24..40]),
            ) {
                if ports.is_empty()
                    || ports.contains(&local.port())
                    || ports.contains(&remote.port())
                {
                    sample.insert((local, remote), state_name(state));
                }
            }
        }
        off += (len + 3) & !3;
    }
    Ok(false)
}

/// One dump of the kernel's TCP sockets of `family` (AF_INET, AF_INET6) through
/// NETLINK_SOCK_DIAG (`ss` reads them so): a few hundred microseconds where reading
/// /proc/net/tcp walks and formats the whole table as text (about 10 ms on a VM at rest,
/// most of an idle recorder's CPU; bench/README.md).
#[cfg(target_os = "linux")]
fn diag_dump(family: u8, ports: &[u16], sample: &mut Sample) -> Result<(), String> {
    const NETLINK_SOCK_DIAG: i32 = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const FLAGS: u16 = 0x1 | 0x300; // NLM_F_REQUEST | NLM_F_DUMP
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(format!("sock_diag: {}", std::io::Error::last_os_error()));
    }
    struct Fd(i32);
    impl Drop for Fd {
        fn drop(&mut self) {
            unsafe { libc::close(self.0) };
        }
    }
    let fd = Fd(fd);
    // A kernel that does not answer cannot hold the sampler: at most a second a receive.
    let timeout = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    unsafe {
        libc::setsockopt(
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    // nlmsghdr (16) + inet_diag_req_v2 (56): family, IPPROTO_TCP, no extensions, every state.
    let mut request = Vec::with_capacity(72);
    request.extend_from_slice(&72u32.to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request.extend_from_slice(&FLAGS.to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes());
    request.extend_from_slice(&0u32.to_ne_bytes());
    request.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    request.extend_from_slice(&u32::MAX.to_ne_bytes());
    request.resize(72, 0);
    let sent = unsafe { libc::send(fd.0, request.as_ptr().cast(), request.len(), 0) };
    if sent != request.len() as isize {
        return Err(format!("sock_diag: {}", std::io::Error::last_os_error()));
    }
    let mut buf = vec![0u8; 64 << 10];
    // Bounded: MAX_SOCKETS sockets fit in far fewer replies; a kernel that never says DONE
    // ends the sample anyway.
    for _ in 0..4096 {
        let got = unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if got <= 0 {
            return Err(format!("sock_diag: {}", std::io::Error::last_os_error()));
        }
        if parse_diag_reply(&buf[..got as usize], ports, sample)? {
            return Ok(());
        }
    }
    Err("sock_diag: the dump did not end".into())
}

/// Reads the socket tables.
pub struct Sampler {
    files: Vec<PathBuf>,
    ports: Vec<u16>,
    /// The live host's sockets come from sock_diag (a sysroot's from its files); `false` once
    /// sock_diag failed, and /proc/net/tcp is read from then on.
    diag: std::cell::Cell<bool>,
}

impl Sampler {
    pub fn new(root: Option<&Path>, ports: Vec<u16>) -> Sampler {
        let base = root.map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        let diag = cfg!(target_os = "linux") && root.is_none();
        let sampler = Sampler {
            files: vec![base.join("proc/net/tcp"), base.join("proc/net/tcp6")],
            ports,
            diag: std::cell::Cell::new(diag),
        };
        if diag && sampler.sample_diag().is_err() {
            sampler.diag.set(false);
        }
        sampler
    }

    /// The source, for the series' start record.
    pub fn describe(&self) -> String {
        if self.diag.get() {
            return "sockets: NETLINK_SOCK_DIAG (TCP, IPv4 and IPv6; /proc/net/tcp{,6} if it fails)".into();
        }
        format!("sockets: {}", crate::watch::display_paths(&self.files))
    }

    #[cfg(target_os = "linux")]
    fn sample_diag(&self) -> Result<Sample, String> {
        let mut sample = Sample::new();
        diag_dump(libc::AF_INET as u8, &self.ports, &mut sample)?;
        diag_dump(libc::AF_INET6 as u8, &self.ports, &mut sample)?;
        Ok(sample)
    }

    #[cfg(not(target_os = "linux"))]
    fn sample_diag(&self) -> Result<Sample, String> {
        Err("sock_diag is Linux's".into())
    }

    /// One sample; `Err` with a reason when no table could be read.
    pub fn sample(&self) -> Result<Sample, String> {
        if self.diag.get() {
            match self.sample_diag() {
                Ok(sample) => return Ok(sample),
                // Read the files from now on (and this time).
                Err(_) => self.diag.set(false),
            }
        }
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

    /// sock_diag and /proc/net/tcp agree on a socket this test opens (a listener on a port of
    /// its own, and a connection to it).
    #[cfg(target_os = "linux")]
    #[test]
    fn sock_diag_sees_what_proc_net_tcp_shows() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let live = Sampler::new(None, vec![port]);
        assert!(live.describe().contains("SOCK_DIAG"), "{}", live.describe());
        let diag = live.sample().unwrap();
        let from_files = Sampler {
            diag: std::cell::Cell::new(false),
            ..Sampler::new(Some(Path::new("/")), vec![port])
        }
        .sample()
        .unwrap();
        let local = client.local_addr().unwrap();
        let server = listener.local_addr().unwrap();
        assert_eq!(
            diag.get(&(server, "0.0.0.0:0".parse().unwrap())),
            Some(&"LISTEN")
        );
        assert_eq!(diag.get(&(local, server)), Some(&"ESTABLISHED"));
        assert_eq!(diag, from_files);
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
