//! Sealed bundles: `NAME.tgz.age`, the bundle encrypted to the vendor's key in the same streaming
//! pass that writes it (age format, the `age` crate: the files open with `age`/`rage` too), and
//! read back by decrypting in the stream. Recipients are age public keys (`age1…`) or SSH public
//! keys (`ssh-ed25519`, `ssh-rsa`); identities are age identity files (`AGE-SECRET-KEY-1…`) or
//! unencrypted SSH private keys.
//!
//! Reading is fail-closed: a sealed bundle is decrypted and authenticated once to the end before
//! anything is handed to `inspect`, `diff`, `--cat`, `--extract` or `--html`, so a wrong key,
//! a truncated file or a tampered byte is one sentence, exit 3, and nothing is written.
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// The first bytes of every binary age file (`age-encryption.org/v1`).
const MAGIC: &[u8] = b"age-encryption.org/";
/// The header ends within this many bytes (one stanza is at most ~600 bytes for ssh-rsa 4096):
/// a longer "header" is damage or an attack on the parser, not a bundle.
const HEADER_MAX: usize = 64 << 10;
/// Identity and recipient files are a few lines.
const KEY_FILE_MAX: u64 = 1 << 20;
/// The environment variable a vendor can set once for every run (comma- or newline-separated).
pub const ENV_RECIPIENTS: &str = "DRX_COLLECT_ENCRYPT_TO";

/// The first line of an ASCII-armored age file (`age -a`, `rage -a`): PEM-like base64 of the
/// same binary file.
const ARMOR_MAGIC: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// True when `head` (the first bytes of a file) starts an age file, binary or armored.
pub fn is_sealed(head: &[u8]) -> bool {
    head.starts_with(MAGIC) || head.starts_with(ARMOR_MAGIC)
}

/// Someone a bundle is encrypted to.
#[derive(Clone, Debug)]
pub enum Recipient {
    Age(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

impl Recipient {
    /// One public key: `age1…`, `ssh-ed25519 AAAA… [comment]` or `ssh-rsa AAAA… [comment]`.
    pub fn parse(text: &str) -> std::result::Result<Recipient, String> {
        let text = text.trim();
        if text.starts_with("age1") {
            return age::x25519::Recipient::from_str(text)
                .map(Recipient::Age)
                .map_err(|_| {
                    format!(
                        "'{}' is not a valid age public key (age1… as printed by age-keygen -y)",
                        shorten(text)
                    )
                });
        }
        if text.starts_with("ssh-") || text.starts_with("ecdsa-") {
            use age::ssh::ParseRecipientKeyError as E;
            return age::ssh::Recipient::from_str(text)
                .map(Recipient::Ssh)
                .map_err(|err| match err {
                    E::RsaModulusTooSmall => format!(
                        "the ssh-rsa key '{}' is shorter than 2048 bits, too weak to encrypt to",
                        shorten(text)
                    ),
                    E::RsaModulusTooLarge => format!(
                        "the ssh-rsa key '{}' is longer than age supports (16384 bits)",
                        shorten(text)
                    ),
                    E::Unsupported(kind) => format!(
                        "{kind} keys cannot be encrypted to; use an ssh-ed25519 or ssh-rsa key, or an age key"
                    ),
                    E::Ignore | E::Invalid(_) => format!(
                        "'{}' is not a valid SSH public key (one line of a .pub file)",
                        shorten(text)
                    ),
                });
        }
        if text.starts_with("AGE-SECRET-KEY-") || text.starts_with("-----BEGIN") {
            return Err(
                "that is a private key: --encrypt-to takes the public key (age1… or ssh-ed25519 …), and the private key must never leave the vendor"
                    .into(),
            );
        }
        Err(format!(
            "'{}' is not a recipient; give an age public key (age1…), an ssh-ed25519/ssh-rsa public key, or @FILE listing them",
            shorten(text)
        ))
    }

    fn as_dyn(&self) -> &dyn age::Recipient {
        match self {
            Recipient::Age(r) => r,
            Recipient::Ssh(r) => r,
        }
    }
}

/// Recipients of one `--encrypt-to` value: a key, or `@FILE` with one key a line (`#` comments
/// and blank lines skipped, like age's `-R` files).
pub fn recipients_of(arg: &str) -> std::result::Result<Vec<Recipient>, String> {
    let Some(file) = arg.trim().strip_prefix('@') else {
        return Recipient::parse(arg).map(|r| vec![r]);
    };
    let path = Path::new(file);
    let text = read_small(path)
        .map_err(|err| format!("cannot read the recipients file {}: {err}", path.display()))?;
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        found.push(
            Recipient::parse(line)
                .map_err(|err| format!("{} line {}: {err}", path.display(), number + 1))?,
        );
    }
    if found.is_empty() {
        return Err(format!(
            "the recipients file {} lists no key; put one public key a line",
            path.display()
        ));
    }
    Ok(found)
}

/// `DRX_COLLECT_ENCRYPT_TO`: keys or `@FILE`s separated by commas or line breaks.
pub fn recipients_from_env() -> std::result::Result<Vec<Recipient>, String> {
    let Some(value) = std::env::var_os(ENV_RECIPIENTS) else {
        return Ok(Vec::new());
    };
    let value = value.to_string_lossy();
    let mut found = Vec::new();
    for part in value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        found.extend(recipients_of(part).map_err(|err| format!("{ENV_RECIPIENTS}: {err}"))?);
    }
    Ok(found)
}

/// Encrypts one bundle. Besides the given recipients, the file is also encrypted to a key made
/// for this run only, whose private half never leaves memory: it lets the collector read its
/// own output back for the fail-closed leak check without the vendor's identity, and is gone
/// when the process ends.
pub struct Sealer {
    recipients: Vec<Recipient>,
    read_back: age::x25519::Identity,
}

impl Sealer {
    pub fn new(recipients: Vec<Recipient>) -> Sealer {
        Sealer {
            recipients,
            read_back: age::x25519::Identity::generate(),
        }
    }

    /// Starts the encrypted stream on `file`; `finish` it to write the last chunk.
    pub fn wrap(&self, file: File) -> io::Result<age::stream::StreamWriter<File>> {
        let own = self.read_back.to_public();
        let all = self
            .recipients
            .iter()
            .map(Recipient::as_dyn)
            .chain(std::iter::once(&own as &dyn age::Recipient));
        let encryptor = age::Encryptor::with_recipients(all)
            .map_err(|err| io::Error::other(format!("cannot encrypt: {err}")))?;
        encryptor.wrap_output(file)
    }

    /// The identity that opens what this sealer wrote (for the read-back only).
    pub fn read_back_key(&self) -> Key {
        Key::Age(self.read_back.clone())
    }
}

/// A private key that may open sealed bundles.
#[derive(Clone)]
pub enum Key {
    Age(age::x25519::Identity),
    Ssh(age::ssh::Identity),
}

impl Key {
    fn as_dyn(&self) -> &dyn age::Identity {
        match self {
            Key::Age(k) => k,
            Key::Ssh(k) => k,
        }
    }
}

/// Reads `--identity FILE`: an age identity file (one `AGE-SECRET-KEY-1…` a line, comments
/// allowed) or an unencrypted OpenSSH/PEM private key.
pub fn load_identity(path: &Path) -> Result<Vec<Key>> {
    let text = read_small(path).map_err(|err| {
        Error::usage(format!(
            "cannot read the identity file {}: {err}",
            path.display()
        ))
    })?;
    let bad = |what: String| Error::usage(format!("identity file {}: {what}", path.display()));
    if text.trim_start().starts_with("-----BEGIN") {
        let name = Some(path.display().to_string());
        return match age::ssh::Identity::from_buffer(BufReader::new(text.as_bytes()), name) {
            Ok(key @ age::ssh::Identity::Unencrypted(_)) => Ok(vec![Key::Ssh(key)]),
            Ok(age::ssh::Identity::Encrypted(_)) => Err(bad(
                "the SSH key is protected by a passphrase; give a copy without one (ssh-keygen -p -N '' -f COPY) kept on the support machine".into(),
            )),
            Ok(age::ssh::Identity::Unsupported(_)) => Err(bad(
                "this kind of SSH key cannot open age files; use the ssh-ed25519 or ssh-rsa key the bundle was encrypted to".into(),
            )),
            Err(_) => Err(bad("not a readable SSH private key".into())),
        };
    }
    let mut keys = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match age::x25519::Identity::from_str(line) {
            Ok(key) => keys.push(Key::Age(key)),
            Err(_) => {
                let hint = if line.starts_with("age1") || line.starts_with("ssh-") {
                    "a public key; --identity takes the private key (AGE-SECRET-KEY-1… or the SSH private key file)"
                } else {
                    "not an age identity (AGE-SECRET-KEY-1…)"
                };
                // The line itself is not shown: it may be a secret.
                return Err(bad(format!("line {} is {hint}", number + 1)));
            }
        }
    }
    if keys.is_empty() {
        return Err(bad("it holds no key".into()));
    }
    Ok(keys)
}

/// The identities given with `--identity` for this process (inspect, diff): the bundle reader
/// uses them wherever it meets a sealed bundle, so every reading command decrypts alike.
static REGISTERED: RwLock<Vec<Key>> = RwLock::new(Vec::new());

pub fn register(keys: Vec<Key>) {
    if let Ok(mut all) = REGISTERED.write() {
        all.extend(keys);
    }
}

pub fn registered() -> Vec<Key> {
    REGISTERED.read().map(|k| k.clone()).unwrap_or_default()
}

/// Opens the plaintext of a sealed bundle, again and again (the reader may walk it more than
/// once).
pub type Opener = Arc<dyn Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync>;

/// Checks that `keys` open the sealed file at `path` and that its whole content authenticates,
/// then returns a way to stream the plaintext. Errors are one sentence: a missing identity is a
/// usage error (2); a wrong key, truncation or tampering is an integrity failure (3).
pub fn open(path: &Path, keys: &[Key]) -> Result<Opener> {
    let shown = path.display().to_string();
    if keys.is_empty() {
        return Err(Error::usage(format!(
            "{shown} is encrypted (age); give the private key that opens it with --identity FILE (an age identity or the SSH private key)"
        )));
    }
    let mut stream = decrypting(path, keys).map_err(|err| err.into_error(&shown))?;
    // Authenticate every chunk, and the final one, before anyone sees a byte.
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(Broken::Payload(err).into_error(&shown)),
        }
    }
    let path = path.to_path_buf();
    let keys = keys.to_vec();
    Ok(Arc::new(move || {
        decrypting(&path, &keys)
            .map(|s| Box::new(s) as Box<dyn Read + Send>)
            .map_err(|err| io::Error::other(err.into_error(&path.display().to_string())))
    }))
}

enum Broken {
    Io(io::Error),
    Header,
    NoKey,
    Payload(io::Error),
}

impl Broken {
    fn into_error(self, shown: &str) -> Error {
        match self {
            Broken::Io(err) => Error::failed(format!(
                "cannot read {shown}: {}",
                crate::error::describe_io(&err)
            )),
            Broken::Header => Error::integrity(format!(
                "{shown} is damaged: its age header cannot be read; ask for the file again"
            )),
            Broken::NoKey => Error::integrity(format!(
                "{shown} was not encrypted to the key given with --identity; use the identity of one of its recipients"
            )),
            Broken::Payload(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                Error::integrity(format!(
                    "{shown} is truncated: the encrypted data ends early; ask for the file again"
                ))
            }
            Broken::Payload(_) => Error::integrity(format!(
                "{shown} is damaged or was altered: the encrypted data does not authenticate; ask for the file again"
            )),
        }
    }
}

/// The binary age file, from a binary or an armored one: age's own armor reader tells them
/// apart by the first line and decodes (and checks) the armor as it streams.
type Unarmored = age::armor::ArmoredReader<BufReader<BufReader<File>>>;

/// Armor that is not valid base64 or PEM framing is damage (as a bad header is), not an I/O
/// failure of the disk.
fn armor_or_io(err: io::Error) -> Broken {
    if err.kind() == io::ErrorKind::InvalidData {
        Broken::Header
    } else {
        Broken::Io(err)
    }
}

fn decrypting(
    path: &Path,
    keys: &[Key],
) -> std::result::Result<age::stream::StreamReader<Unarmored>, Broken> {
    let file = File::open(path).map_err(Broken::Io)?;
    let mut head = Vec::with_capacity(4096);
    age::armor::ArmoredReader::new(file)
        .take(HEADER_MAX as u64)
        .read_to_end(&mut head)
        .map_err(armor_or_io)?;
    // The header ends with the MAC line "--- …"; it must be within HEADER_MAX.
    if !is_sealed(&head) || memchr::memmem::find(&head, b"\n--- ").is_none() {
        return Err(Broken::Header);
    }
    let file = File::open(path).map_err(Broken::Io)?;
    let unarmored = age::armor::ArmoredReader::new(BufReader::with_capacity(256 * 1024, file));
    let decryptor = age::Decryptor::new_buffered(unarmored).map_err(|err| match err {
        age::DecryptError::Io(err) if err.kind() != io::ErrorKind::UnexpectedEof => {
            armor_or_io(err)
        }
        _ => Broken::Header,
    })?;
    if decryptor.is_scrypt() {
        return Err(Broken::NoKey);
    }
    decryptor
        .decrypt(keys.iter().map(Key::as_dyn))
        .map_err(|err| match err {
            age::DecryptError::NoMatchingKeys => Broken::NoKey,
            age::DecryptError::Io(err) => Broken::Io(err),
            _ => Broken::Header,
        })
}

/// A key file's text. Only a regular file is opened (`platform::open_regular`): a FIFO or a
/// device given for `--identity` or `--encrypt-to @FILE` would block the run or never end.
fn read_small(path: &Path) -> std::result::Result<String, String> {
    let file = crate::platform::open_regular(path).map_err(|e| {
        if e.kind() == io::ErrorKind::InvalidInput {
            "it is a FIFO, device or socket, not a key file; give the path of the key file itself"
                .to_string()
        } else {
            crate::error::describe_io(&e)
        }
    })?;
    let mut bytes = Vec::new();
    file.take(KEY_FILE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| crate::error::describe_io(&e))?;
    if bytes.len() as u64 > KEY_FILE_MAX {
        return Err("it is larger than 1 MiB, not a key file".into());
    }
    String::from_utf8(bytes).map_err(|_| "it is not text".into())
}

fn shorten(text: &str) -> String {
    let first: String = text.chars().take(24).collect();
    if first.len() < text.len() {
        format!("{first}…")
    } else {
        first
    }
}

/// The path of a sealed bundle for a clear name: `NAME.tgz` → `NAME.tgz.age`.
pub fn sealed_path(clear: &Path) -> PathBuf {
    let mut name = clear.as_os_str().to_os_string();
    name.push(".age");
    PathBuf::from(name)
}

/// Writes through an age stream; used by the archive `Sink`.
pub struct SealedFile(pub age::stream::StreamWriter<File>);

impl Write for SealedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl SealedFile {
    /// Writes the final chunk; returns the file (flushed, not synced).
    pub fn finish(self) -> io::Result<File> {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(bytes: &[u8], recipients: Vec<Recipient>) -> (tempfile::TempDir, PathBuf, Sealer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tgz.age");
        let sealer = Sealer::new(recipients);
        let mut w = SealedFile(sealer.wrap(File::create(&path).unwrap()).unwrap());
        w.write_all(bytes).unwrap();
        w.finish().unwrap();
        (dir, path, sealer)
    }

    fn read_all(opener: &Opener) -> Vec<u8> {
        let mut out = Vec::new();
        opener().unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn the_vendor_and_the_read_back_key_open_it_and_nobody_else() {
        let vendor = age::x25519::Identity::generate();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let (_d, path, sealer) = seal(&data, vec![Recipient::Age(vendor.to_public())]);
        let bytes = std::fs::read(&path).unwrap();
        assert!(is_sealed(&bytes));
        assert!(memchr::memmem::find(&bytes, &data[1000..1100]).is_none());
        assert_eq!(read_all(&open(&path, &[Key::Age(vendor)]).unwrap()), data);
        assert_eq!(
            read_all(&open(&path, &[sealer.read_back_key()]).unwrap()),
            data
        );
        let stranger = Key::Age(age::x25519::Identity::generate());
        let err = open(&path, &[stranger]).err().unwrap();
        assert_eq!(err.status(), crate::error::ExitStatus::Integrity);
        assert!(err.message().contains("not encrypted to the key"), "{err}");
        let err = open(&path, &[]).err().unwrap();
        assert_eq!(err.status(), crate::error::ExitStatus::Usage);
    }

    #[test]
    fn truncation_and_tampering_are_integrity_failures() {
        let vendor = age::x25519::Identity::generate();
        let data = vec![b'x'; 200_000];
        let (_d, path, _) = seal(&data, vec![Recipient::Age(vendor.to_public())]);
        let whole = std::fs::read(&path).unwrap();
        let key = [Key::Age(vendor)];
        // Cut at a chunk boundary (64 KiB + tag) too: the missing last-chunk flag must show.
        let header_end = memchr::memmem::find(&whole, b"\n--- ").unwrap();
        let payload = whole.len() - header_end;
        for cut in [whole.len() - 1, whole.len() - payload / 2, header_end + 60] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            let err = open(&path, &key).err().expect("truncated file accepted");
            assert_eq!(err.status(), crate::error::ExitStatus::Integrity, "{err}");
        }
        let mut flipped = whole.clone();
        let at = whole.len() - 5000;
        flipped[at] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        let err = open(&path, &key).err().unwrap();
        assert_eq!(err.status(), crate::error::ExitStatus::Integrity);
        assert!(err.message().contains("does not authenticate"), "{err}");
        // A damaged header, and a header that never ends.
        let mut bad = whole.clone();
        bad[30] ^= 0x20;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(
            open(&path, &key).err().unwrap().status(),
            crate::error::ExitStatus::Integrity
        );
        let mut endless = b"age-encryption.org/v1\n".to_vec();
        endless.extend(std::iter::repeat_n(b'a', 1 << 20));
        std::fs::write(&path, &endless).unwrap();
        assert_eq!(
            open(&path, &key).err().unwrap().status(),
            crate::error::ExitStatus::Integrity
        );
    }

    #[test]
    fn recipients_parse_and_private_keys_are_refused() {
        let vendor = age::x25519::Identity::generate();
        let public = vendor.to_public().to_string();
        assert!(matches!(Recipient::parse(&public), Ok(Recipient::Age(_))));
        use age::secrecy::ExposeSecret;
        let secret = vendor.to_string().expose_secret().to_string();
        assert!(Recipient::parse(&secret)
            .unwrap_err()
            .contains("private key"));
        assert!(Recipient::parse("age1nope").is_err());
        assert!(Recipient::parse("hello").is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.txt");
        std::fs::write(&file, format!("# vendor\n\n{public}\n")).unwrap();
        assert_eq!(
            recipients_of(&format!("@{}", file.display()))
                .unwrap()
                .len(),
            1
        );
        std::fs::write(&file, "# nothing\n").unwrap();
        assert!(recipients_of(&format!("@{}", file.display())).is_err());
    }

    #[test]
    fn identity_files_name_the_line_but_never_show_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("id.txt");
        let key = age::x25519::Identity::generate();
        use age::secrecy::ExposeSecret;
        let secret = key.to_string().expose_secret().to_string();
        std::fs::write(&file, format!("# created\n{secret}\n")).unwrap();
        assert_eq!(load_identity(&file).unwrap().len(), 1);
        std::fs::write(&file, format!("{secret}\n{}x\n", &secret[..40])).unwrap();
        let err = load_identity(&file).err().unwrap().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains(&secret[..40]), "{err}");
        std::fs::write(&file, format!("{}\n", key.to_public())).unwrap();
        let err = load_identity(&file).err().unwrap().to_string();
        assert!(err.contains("public key"), "{err}");
    }
}
