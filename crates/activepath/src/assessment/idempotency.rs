//! Idempotent API submissions, after the IETF Idempotency-Key draft
//! (draft-ietf-httpapi-idempotency-key-header): a client may send the same
//! request again with the same key and get the first response, without a
//! second result being stored. The key is bound to a fingerprint of the
//! request it was first used with, so it cannot be used to ask about any
//! other request, and it must be unguessable, so one client cannot find
//! another's result. Records expire after [`KEY_LIFETIME`].

use super::{Error, Recorded, Source, Submission, verify};
use crate::app::Services;
use crate::crypto::Purpose;
use crate::storage::StorageError;
use crate::storage::idempotency::IdempotencyRecord;
use clinical::Responses;
use jiff::{SignedDuration, Timestamp};

/// How long a key is remembered.
pub const KEY_LIFETIME: SignedDuration = SignedDuration::from_hours(24);

/// An Idempotency-Key with at least 128 bits that could not be guessed: a
/// random (version 4) or time-ordered (version 7) UUID, or 22 to 255
/// characters of base64url (`A-Z a-z 0-9 - _`; 32 or more when only hex
/// digits are used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Why a key is refused, in words for the client's developer.
    pub const RULE: &'static str = "must be a random UUID (version 4 or 7) or at least 128 random \
         bits written as 22 or more base64url characters (32 or more hex digits)";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let key = raw.trim();
        // The hyphenated form only: 32 bare hex digits are judged as hex below.
        let hyphenated = key.len() == 36 && key.matches('-').count() == 4;
        if hyphenated && let Ok(uuid) = uuid::Uuid::try_parse(key) {
            let random = matches!(uuid.get_version_num(), 4 | 7)
                && uuid.get_variant() == uuid::Variant::RFC4122;
            return if random {
                Ok(IdempotencyKey(uuid.hyphenated().to_string()))
            } else {
                Err(Self::RULE)
            };
        }
        let alphabet_ok = key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let hex_only = key.bytes().all(|b| b.is_ascii_hexdigit());
        let bits = key.len() * if hex_only { 4 } else { 6 };
        // A long run of one or two characters is padding, not randomness.
        let mut distinct: Vec<u8> = key.bytes().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if alphabet_ok && key.len() <= 255 && bits >= 128 && distinct.len() >= 8 {
            Ok(IdempotencyKey(key.to_string()))
        } else {
            Err(Self::RULE)
        }
    }
}

/// The request, as far as its meaning goes: the same answers sent with
/// different spacing or key order are the same request.
fn fingerprint(s: &Services, responses: &Responses) -> String {
    let def = responses.instrument().definition();
    let difficulty = responses.difficulty().map(|d| [d]).unwrap_or_default();
    s.cipher.digest(
        Purpose::RequestFingerprint,
        &[def.version.as_bytes(), responses.answers(), &difficulty],
    )
}

/// What makes the submission made under a key unique: the key and when its
/// record was made, so that a key used again after it expired makes a new
/// result rather than finding the old one.
fn nonce(key: &IdempotencyKey, created_at: Timestamp) -> Vec<u8> {
    let mut nonce = b"idempotency-key\0".to_vec();
    nonce.extend_from_slice(key.0.as_bytes());
    nonce.extend_from_slice(&created_at.as_millisecond().to_be_bytes());
    nonce
}

/// Stores `responses` under `key`, or answers as the first request with
/// this key did. The same key with another request is [`Error::KeyReused`].
#[tracing::instrument(skip_all)]
pub async fn record_idempotent(
    s: &Services,
    responses: &Responses,
    key: &IdempotencyKey,
) -> Result<Recorded, Error> {
    let key_hash = s
        .cipher
        .digest(Purpose::IdempotencyKey, &[key.0.as_bytes()]);
    let fingerprint = fingerprint(s, responses);
    // Two rounds at most: when a concurrent request with the same key
    // commits first, our insert conflicts and the second round finds its record.
    for _ in 0..2 {
        let now = s.clock.now();
        if let Some(record) = s.storage.idempotency_record(&key_hash, now).await? {
            if record.fingerprint != fingerprint {
                return Err(Error::KeyReused);
            }
            return replay(s, responses, key, &record).await;
        }
        let sub = Submission::new(&s.cipher, Source::Api, &nonce(key, now), responses);
        let new = sub.to_new_result(s, responses, Source::Api, now);
        let expires_at = new.expires_at;
        let record = IdempotencyRecord {
            key_hash: key_hash.clone(),
            fingerprint: fingerprint.clone(),
            result_id: 0,
            created_at: now,
            expires_at: crate::time::after(now, KEY_LIFETIME),
        };
        match s.storage.insert_result_with_key(new, record).await {
            Ok(_) => {
                return Ok(Recorded {
                    token: sub.token,
                    score: responses.score(),
                    expires_at,
                });
            }
            Err(StorageError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Storage(StorageError::NotCommitted(
        "another request with the same Idempotency-Key kept conflicting".into(),
    )))
}

/// The first response again, from the stored result.
async fn replay(
    s: &Services,
    responses: &Responses,
    key: &IdempotencyKey,
    record: &IdempotencyRecord,
) -> Result<Recorded, Error> {
    let sub = Submission::new(
        &s.cipher,
        Source::Api,
        &nonce(key, record.created_at),
        responses,
    );
    let fail = |why| Error::Integrity {
        id: record.result_id,
        why,
    };
    let stored = s
        .storage
        .result_by_id(record.result_id)
        .await?
        .ok_or(fail("an Idempotency-Key leads to a missing result"))?;
    if stored.token_hash != sub.token_hash {
        return Err(fail(
            "an Idempotency-Key leads to another submission's result",
        ));
    }
    let verified = verify(&s.cipher, stored)?;
    Ok(Recorded {
        token: sub.token,
        score: verified.score,
        expires_at: verified.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_unguessable() {
        for ok in [
            "7f1c1e0e-6a5b-4c1e-9d2a-3b4c5d6e7f80",
            "7F1C1E0E-6A5B-4C1E-9D2A-3B4C5D6E7F80",
            "01890a5d-ac96-774b-bcce-b302099a8057",
            "Xq3v_9PzLk2mN8rT-wY5aB",
            "9f86d081884c7d659a2feaa0c55ad015",
            "9f86d081884c3d659a2feaa0c55ad015", // would be a version-3 UUID, but is 128 bits of hex
        ] {
            assert!(IdempotencyKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "kiosk-3-000127",
            "kiosk-7-0001",
            "00000000-0000-0000-0000-000000000000",
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8", // version 1: time and MAC address
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "0101010101010101010101010101010101010101",
            "9f86d081884c7d659a2feaa0c55ad01", // 31 hex digits: 124 bits
            "Xq3v_9PzLk2mN8rT-wY5a",           // 21 characters: 126 bits
            "Xq3v 9PzLk2mN8rT wY5aB+xyz",      // outside the alphabet
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            IdempotencyKey::parse(&"a1".repeat(128)).is_err(),
            "over 255"
        );
    }

    #[test]
    fn random_ids_are_valid_keys() {
        for _ in 0..1000 {
            assert!(IdempotencyKey::parse(&crate::crypto::random_id()).is_ok());
        }
    }
}
