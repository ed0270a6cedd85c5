//! Parsers for the evidence, one per format. They never fail: what they cannot read, they skip.
pub mod events2;
pub mod firewalld;
pub mod gi;
pub mod interfaces;
pub mod iptables;
pub mod netsh;
pub mod resfile;
pub mod setup_show;
pub mod sockets;
pub mod tree;
pub mod versions;
pub mod windows;
