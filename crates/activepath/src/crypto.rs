//! Field-level encryption of health data at rest, result tokens, and keyed
//! digests for every lookup value derived from personal data.
//!
//! One 256-bit master key, kept outside the database (config or a 0600 file in
//! the data directory), from which a key per purpose is derived.
//! XChaCha20-Poly1305 with a random 192-bit nonce per value, bound to the
//! table, column and row it is stored in: a stolen database file reveals no
//! one, and an edited one cannot move a value to another person's row. The
//! nonce is stored in front of the ciphertext; a version byte leaves room for
//! key rotation. Stored digests (submission keys, token hashes, idempotency
//! keys) are HMACs, so a copy of the database cannot be searched by guessing
//! answers.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::{Digest, Sha256};
use std::path::Path;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// The master key. Never printed: `Debug` is redacted.
pub struct MasterKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Parses a base64-encoded 32-byte key.
    pub fn from_base64(encoded: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .context("the encryption key is not valid base64")?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            anyhow::anyhow!("the encryption key must be 32 bytes (44 base64 characters)")
        })?;
        Ok(MasterKey(SecretBox::new(Box::new(key))))
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        MasterKey(SecretBox::new(Box::new(key)))
    }

    fn to_base64(&self) -> String {
        STANDARD.encode(self.0.expose_secret())
    }

    /// Reads the key file, or creates it (mode 0600) when it does not exist.
    /// Returns the key and whether it was just created.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(Self, bool)> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((
                Self::from_base64(&text).with_context(|| format!("reading {}", path.display()))?,
                false,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_private_file(path, key.to_base64().as_bytes())
                    .with_context(|| format!("creating {}", path.display()))?;
                Ok((key, true))
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Reads an existing key file without creating one.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_base64(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// A sub-key for one purpose, so no key is used for two jobs.
    fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes any key length");
        mac.update(b"activepath/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// What a sealed value is bound to: its table, its column and its row's
/// stable identifier. A value copied to another row or column no longer
/// decrypts, so a database edit cannot swap one person's data for another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aad(Vec<u8>);

impl Aad {
    /// `table.column` of the row identified by `row` (a value that is unique
    /// in its table and never changes).
    pub fn row(table: &str, column: &str, row: &str) -> Self {
        Aad(format!("{table}.{column}/{row}").into_bytes())
    }

    /// A value with no row of its own: the key check, and values written
    /// before rows were bound (read once, by the upgrade that re-seals them).
    pub fn context(context: &str) -> Self {
        Aad(context.as_bytes().to_vec())
    }
}

/// What a keyed digest is for. Each purpose has its own key derived from
/// the master key, so a value made for one purpose is useless for another,
/// and nothing stored can be recomputed from guesses without the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `assessment_results.submission_key`: finds a re-posted submission.
    SubmissionKey,
    /// `assessment_results.token_hash`: finds a result from its link.
    TokenLookup,
    /// `api_idempotency.key_hash`: an API client's Idempotency-Key.
    IdempotencyKey,
    /// `api_idempotency.fingerprint`: the request an Idempotency-Key was used for.
    RequestFingerprint,
    /// `staff_sessions.id_hash`: a staff session's cookie value.
    StaffSession,
    /// The CSRF token of a staff session (never stored: derived again).
    CsrfToken,
    /// `staff_recovery_codes.code_hash`.
    RecoveryCode,
    /// `staff_api_tokens.token_hash`.
    ApiToken,
    /// `sign_in_throttle.account_key`: an e-mail address someone tried.
    SignInAccount,
    /// `audit_log.hash`: the chain over the audit trail.
    AuditChain,
    /// Single-use links e-mailed to staff (invitations, password resets).
    EmailLink,
    /// `patients.email_index`: a patient's e-mail address, for exact lookup.
    PatientEmail,
    /// `patients.phone_index`: a patient's phone number, for exact lookup.
    PatientPhone,
    /// `patient_name_words.word_hash`: a word of a patient's name.
    PatientName,
    /// `appointments.manage_hash`: a visitor's link to their booking.
    BookingLink,
}

impl Purpose {
    const ALL: [Purpose; 15] = [
        Purpose::SubmissionKey,
        Purpose::TokenLookup,
        Purpose::IdempotencyKey,
        Purpose::RequestFingerprint,
        Purpose::StaffSession,
        Purpose::CsrfToken,
        Purpose::RecoveryCode,
        Purpose::ApiToken,
        Purpose::SignInAccount,
        Purpose::AuditChain,
        Purpose::EmailLink,
        Purpose::PatientEmail,
        Purpose::PatientPhone,
        Purpose::PatientName,
        Purpose::BookingLink,
    ];

    fn label(self) -> &'static str {
        match self {
            Purpose::SubmissionKey => "submission-key/v1",
            Purpose::TokenLookup => "token-lookup/v1",
            Purpose::IdempotencyKey => "idempotency-key/v1",
            Purpose::RequestFingerprint => "request-fingerprint/v1",
            Purpose::StaffSession => "staff-session/v1",
            Purpose::CsrfToken => "csrf-token/v1",
            Purpose::RecoveryCode => "recovery-code/v1",
            Purpose::ApiToken => "api-token/v1",
            Purpose::SignInAccount => "sign-in-account/v1",
            Purpose::AuditChain => "audit-chain/v1",
            Purpose::EmailLink => "email-link/v1",
            Purpose::PatientEmail => "patient-email/v1",
            Purpose::PatientPhone => "patient-phone/v1",
            Purpose::PatientName => "patient-name/v1",
            Purpose::BookingLink => "booking-link/v1",
        }
    }
}

/// Encrypts and decrypts stored fields; derives result tokens and keyed
/// lookup digests.
pub struct FieldCipher {
    aead: XChaCha20Poly1305,
    token_key: [u8; 32],
    digest_keys: [[u8; 32]; Purpose::ALL.len()],
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldCipher([redacted])")
    }
}

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl FieldCipher {
    pub fn new(key: &MasterKey) -> Self {
        let enc = key.derive("field-encryption/v1");
        FieldCipher {
            aead: XChaCha20Poly1305::new((&enc).into()),
            token_key: key.derive("result-token/v1"),
            digest_keys: Purpose::ALL.map(|p| key.derive(p.label())),
        }
    }

    /// Encrypts `plain`, bound to `aad`.
    pub fn encrypt(&self, aad: &Aad, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let sealed = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad.0,
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, aad: &Aad, stored: &[u8]) -> anyhow::Result<Vec<u8>> {
        if stored.len() < 1 + NONCE_LEN || stored[0] != FORMAT_V1 {
            bail!("stored value is not in a known encrypted format");
        }
        let (nonce, sealed) = stored[1..].split_at(NONCE_LEN);
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad.0,
                },
            )
            .map_err(|_| {
                anyhow::anyhow!("stored value failed authentication (wrong key, moved or tampered)")
            })
    }

    /// A keyed digest of `parts` for one purpose, as 64 hex digits.
    pub fn digest(&self, purpose: Purpose, parts: &[&[u8]]) -> String {
        let index = Purpose::ALL
            .iter()
            .position(|p| *p == purpose)
            .expect("every purpose has a key");
        hex(&hmac(&self.digest_keys[index], parts))
    }

    /// The public token of a result, derived from the digest of its
    /// submission. The same submission always yields the same token, so a
    /// re-posted form can be sent to the result it already created without
    /// storing the token.
    pub fn result_token(&self, submission: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.token_key).expect("any key length");
        mac.update(submission.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// What the database stores for a token, so a copy of the database
    /// cannot be used to open results through the website.
    pub fn token_hash(&self, token: &str) -> String {
        self.digest(Purpose::TokenLookup, &[token.as_bytes()])
    }
}

/// Links the audit trail: each entry's hash is an HMAC, under a key the
/// database does not hold, of the hash before it and of the entry itself.
/// Someone who edits the database can change a row, but cannot make the
/// chain agree again.
#[derive(Clone)]
pub struct AuditChain([u8; 32]);

impl std::fmt::Debug for AuditChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditChain([redacted])")
    }
}

impl AuditChain {
    /// The hash before the first entry.
    pub const GENESIS: &'static str =
        "0000000000000000000000000000000000000000000000000000000000000000";

    pub fn link(&self, prev_hash: &str, entry: &[&[u8]]) -> String {
        let mut parts: Vec<&[u8]> = vec![prev_hash.as_bytes()];
        parts.extend_from_slice(entry);
        hex(&hmac(&self.0, &parts))
    }
}

impl FieldCipher {
    pub fn audit_chain(&self) -> AuditChain {
        let index = Purpose::ALL
            .iter()
            .position(|p| *p == Purpose::AuditChain)
            .expect("every purpose has a key");
        AuditChain(self.digest_keys[index])
    }
}

/// A digest of `parts` that is never stored: the input to the keyed
/// derivations of a submission (its token and its stored key).
pub fn submission_digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex(&h.finalize())
}

/// The SHA-256 of a token, as results were looked up before lookups were
/// keyed; only the upgrade of such rows uses it.
pub fn legacy_token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// 128 random bits, URL-safe.
pub fn random_id() -> String {
    random_token(16)
}

/// `bytes` random bytes, URL-safe base64: 32 bytes for secrets that unlock
/// something (sessions, API tokens, e-mailed links).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding_to_the_row() {
        let c = FieldCipher::new(&MasterKey::generate());
        let here = Aad::row("t", "contact", "row-1");
        let sealed = c.encrypt(&here, b"Jane Doe");
        assert!(!sealed.windows(8).any(|w| w == b"Jane Doe"));
        assert_eq!(c.decrypt(&here, &sealed).unwrap(), b"Jane Doe");
        assert!(
            c.decrypt(&Aad::row("t", "other", "row-1"), &sealed)
                .is_err()
        );
        assert!(
            c.decrypt(&Aad::row("t", "contact", "row-2"), &sealed)
                .is_err(),
            "a value moved to another row does not decrypt"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(c.decrypt(&here, &tampered).is_err());
        // Two encryptions of the same value differ (random nonce).
        assert_ne!(c.encrypt(&here, b"x"), c.encrypt(&here, b"x"));
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let a = FieldCipher::new(&MasterKey::generate());
        let b = FieldCipher::new(&MasterKey::generate());
        let aad = Aad::context("c");
        assert!(b.decrypt(&aad, &a.encrypt(&aad, b"secret")).is_err());
    }

    #[test]
    fn digests_are_keyed_and_kept_apart_by_purpose() {
        let key = MasterKey::generate();
        let a = FieldCipher::new(&key);
        let same = FieldCipher::new(&MasterKey::from_base64(&key.to_base64()).unwrap());
        let other = FieldCipher::new(&MasterKey::generate());
        let d = a.digest(Purpose::SubmissionKey, &[b"web", b"nonce", &[1, 2, 3]]);
        assert_eq!(d.len(), 64);
        assert_eq!(
            d,
            same.digest(Purpose::SubmissionKey, &[b"web", b"nonce", &[1, 2, 3]])
        );
        assert_ne!(
            d,
            other.digest(Purpose::SubmissionKey, &[b"web", b"nonce", &[1, 2, 3]])
        );
        assert_ne!(
            d,
            a.digest(Purpose::TokenLookup, &[b"web", b"nonce", &[1, 2, 3]])
        );
        assert_ne!(
            a.digest(Purpose::SubmissionKey, &[b"ab", b"c"]),
            a.digest(Purpose::SubmissionKey, &[b"a", b"bc"])
        );
        // Not the bare hash an attacker with the database could recompute.
        assert_ne!(a.token_hash("t"), legacy_token_hash("t"));
    }

    #[test]
    fn tokens_are_stable_per_key_and_unlinkable_across_keys() {
        let key = MasterKey::generate();
        let a = FieldCipher::new(&key);
        let b = FieldCipher::new(&MasterKey::from_base64(&key.to_base64()).unwrap());
        assert_eq!(a.result_token("k"), b.result_token("k"));
        assert_ne!(a.result_token("k"), a.result_token("k2"));
        assert_ne!(
            a.result_token("k"),
            FieldCipher::new(&MasterKey::generate()).result_token("k")
        );
        assert_eq!(a.result_token("k").len(), 43);
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let (k1, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (k2, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k1.to_base64(), k2.to_base64());
    }

    #[test]
    fn bad_keys_are_explained() {
        assert!(
            MasterKey::from_base64("not base64!")
                .unwrap_err()
                .to_string()
                .contains("base64")
        );
        assert!(
            MasterKey::from_base64("AAAA")
                .unwrap_err()
                .to_string()
                .contains("32 bytes")
        );
    }
}
