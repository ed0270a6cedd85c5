//! TCP sockets from `netstat -nap`, `ss -tanp` (Linux) and `netstat -ano` (Windows). The columns
//! differ but each line has a state word and the local and foreign `addr:port`, in that order.
use crate::rules::model::{Endpoint, Place};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    Listen,
    Established,
    SynSent,
    /// A connection half-opened by a peer: only a listening socket receives one.
    SynReceived,
    /// Closing or closed (TIME_WAIT, CLOSE_WAIT, FIN_WAIT, LAST_ACK, CLOSING, CLOSED) or not
    /// TCP (`UNCONN`): nothing listens or talks on it any more.
    Other,
}

#[derive(Debug, Clone)]
pub struct Socket {
    pub local: Endpoint,
    pub remote: Option<Endpoint>,
    pub state: TcpState,
    pub place: Place,
}

impl Socket {
    /// Whether this socket shows its local address:port in use: listening on it, or a live
    /// connection through it. A closing or closed connection (TIME_WAIT after the peer went
    /// away, CLOSE_WAIT, FIN_WAIT ...) is no listener and no connection.
    pub fn is_live(&self) -> bool {
        matches!(
            self.state,
            TcpState::Listen | TcpState::Established | TcpState::SynReceived
        )
    }
}

fn state_of(word: &str) -> Option<TcpState> {
    Some(match word {
        "LISTEN" | "LISTENING" => TcpState::Listen,
        "ESTABLISHED" | "ESTAB" => TcpState::Established,
        "SYN_SENT" | "SYN-SENT" => TcpState::SynSent,
        "SYN_RECV" | "SYN-RECV" | "SYN_RECEIVED" | "SYN_RCVD" => TcpState::SynReceived,
        // netstat (Linux) FIN_WAIT1, ss FIN-WAIT-1, Windows netstat FIN_WAIT_1.
        "TIME_WAIT" | "TIME-WAIT" | "CLOSE_WAIT" | "CLOSE-WAIT" | "FIN_WAIT1" | "FIN_WAIT2"
        | "FIN-WAIT-1" | "FIN-WAIT-2" | "FIN_WAIT_1" | "FIN_WAIT_2" | "LAST_ACK" | "LAST-ACK"
        | "CLOSING" | "CLOSED" | "UNCONN" => TcpState::Other,
        _ => return None,
    })
}

pub fn parse(path: &str, text: &str) -> Vec<Socket> {
    let mut sockets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(first) = words.clone().next() else {
            continue;
        };
        let first = first.to_ascii_lowercase();
        if first.starts_with("udp") || first.starts_with("unix") || first.starts_with("raw") {
            continue;
        }
        let mut state = None;
        let mut addresses: Vec<&str> = Vec::new();
        for word in words.by_ref() {
            if let Some(s) = state_of(word) {
                state.get_or_insert(s);
            } else if word.contains(':') && addresses.len() < 2 {
                addresses.push(word);
            }
        }
        let (Some(state), Some(local)) =
            (state, addresses.first().and_then(|a| Endpoint::parse(a)))
        else {
            continue;
        };
        sockets.push(Socket {
            local,
            remote: addresses.get(1).and_then(|a| Endpoint::parse(a)),
            state,
            place: Place::new(path, i as u64 + 1, line),
        });
    }
    sockets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstat_nap_from_the_guide() {
        let text = "Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\ntcp 0 0 192.168.100.3:7791 0.0.0.0:* LISTEN -\ntcp 0 0 192.168.100.3:7793 192.168.100.2:60676 ESTABLISHED 8033/drx\ntcp 0 1 10.10.0.182:50460 31.1.1.2:7793 SYN_SENT 8033/drx\ntcp6       0      0 :::7789                 :::*                    LISTEN      -\nudp 0 0 0.0.0.0:68 0.0.0.0:* 1/dhclient\nunix 3 [ ] STREAM CONNECTED 18779 2477/gconfd-2\n";
        let s = parse("commands/netstat-nap.txt", text);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].state, TcpState::Listen);
        assert_eq!(s[0].local.to_string(), "192.168.100.3:7791");
        assert!(s[0].remote.is_none());
        assert_eq!(s[2].state, TcpState::SynSent);
        assert_eq!(
            s[2].remote.map(|r| r.to_string()).as_deref(),
            Some("31.1.1.2:7793")
        );
        assert_eq!(s[2].place.line, Some(5));
        assert!(s[3].local.is_unspecified());
    }

    #[test]
    fn ss_and_windows_netstat() {
        let ss = "State    Recv-Q Send-Q Local Address:Port  Peer Address:Port Process\nLISTEN   0      5      10.0.0.1:7789       0.0.0.0:*\nSYN-SENT 0      1      10.0.0.1:40000      10.0.0.2:7789  users:((\"drx\",pid=1,fd=3))\nLISTEN   0      128    [::]:22             [::]:*\nESTAB    0      0      [::ffff:10.0.0.1]:7789 [::ffff:10.0.0.2]:5000\n";
        let s = parse("commands/ss-tanp.txt", ss);
        assert_eq!(s.len(), 4);
        assert_eq!(s[1].state, TcpState::SynSent);
        assert_eq!(s[3].local.to_string(), "10.0.0.1:7789");
        let win = "\nActive Connections\n\n  Proto  Local Address          Foreign Address        State           PID\n  TCP    0.0.0.0:7789           0.0.0.0:0              LISTENING       1234\n  TCP    [::]:7789              [::]:0                 LISTENING       1234\n  TCP    10.0.0.1:50000         10.0.0.2:7789          SYN_SENT        999\n  UDP    0.0.0.0:123            *:*                                    55\n";
        let s = parse("commands/netstat-ano.txt", win);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].state, TcpState::Listen);
    }

    #[test]
    fn garbage() {
        assert!(parse("x", "LISTEN\n:\n::::\nLISTEN a:b c:d\n").is_empty());
    }
}
