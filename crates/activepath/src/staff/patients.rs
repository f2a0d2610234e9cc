//! Patient records: made from a case or by hand, every personal field
//! sealed and bound to the record, found by exact e-mail or phone (blind
//! indexes: keyed digests) or by the words of a name (each word's keyed
//! digest in an index table).
//!
//! Why word digests rather than decrypting every record to search names: a
//! search then costs one indexed query however many records there are. The
//! price, which the database reveals to someone who holds it, is which
//! records share a name word (not the word itself); and only whole words
//! match ("Rivera" finds "Ana Rivera", "Riv" does not).

use super::{Actor, Error};
use crate::app::Services;
use crate::assessment::VerifiedResult;
use crate::crypto::{Aad, FieldCipher, Purpose, random_id};
use crate::storage::Storage;
use crate::storage::patients::{LinkCase, NewPatient, PatientLookup, PatientRecord};
use crate::storage::triage::ChangeOutcome;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// What a record holds besides clinical notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientDetails {
    pub name: String,
    pub date_of_birth: Option<Date>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub referring_provider: Option<String>,
}

/// A record, opened.
#[derive(Debug, Clone)]
pub struct Patient {
    pub record: PatientRecord,
    pub details: PatientDetails,
    /// Only for those allowed clinical notes.
    pub notes: Option<String>,
}

fn aad(uid: &str, column: &str) -> Aad {
    Aad::row("patients", column, uid)
}

/// The keyed digest of an e-mail address, for exact lookup.
pub fn email_index(s: &Services, email: &str) -> String {
    s.cipher.digest(
        Purpose::PatientEmail,
        &[email.trim().to_lowercase().as_bytes()],
    )
}

/// The keyed digest of a phone number: its digits, and of a longer number
/// its last ten (so "+1 555 010 0123" and "(555) 010-0123" meet). `None`
/// below seven digits.
pub fn phone_index(s: &Services, phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return None;
    }
    let tail = &digits[digits.len().saturating_sub(10)..];
    Some(s.cipher.digest(Purpose::PatientPhone, &[tail.as_bytes()]))
}

/// The words of a name, folded as [`name_tokens`] says, as keyed digests.
pub fn name_words(cipher: &FieldCipher, name: &str) -> Vec<String> {
    let mut words: Vec<String> = name_tokens(name)
        .iter()
        .map(|w| cipher.digest(Purpose::PatientName, &[w.as_bytes()]))
        .collect();
    words.sort();
    words.dedup();
    words
}

/// The name under which [`reindex_names`] is recorded as done.
pub const REINDEX_NAMES: &str = "patient_name_words_folded";

/// Recomputes every record's name words once: records made before names
/// were folded (accents, compatibility forms) had words as typed. A record
/// whose details do not open keeps its words (it shows the integrity error
/// page if opened). Returns how many were re-indexed, `None` if done before.
pub async fn reindex_names(
    storage: &Storage,
    cipher: FieldCipher,
) -> anyhow::Result<Option<usize>> {
    Ok(storage
        .reindex_patient_names(REINDEX_NAMES, move |uid, sealed| {
            let plain = cipher.decrypt(&aad(uid, "details"), sealed).ok()?;
            let details: PatientDetails = serde_json::from_slice(&plain).ok()?;
            Some(name_words(&cipher, &details.name))
        })
        .await?)
}

/// The words of a name as searched: compatibility forms unified (NFKD),
/// accents dropped, lower case, split at anything not a letter or digit;
/// single letters (initials) are left out.
fn name_tokens(name: &str) -> Vec<String> {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let folded: String = name
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_string)
        .collect()
}

/// A record's details (not its notes), for work on the patient's behalf
/// that is itself audited (a course's urgent case). `None`: no such record.
pub async fn details(s: &Services, id: i64) -> Result<Option<PatientDetails>, Error> {
    match s.storage.patient(id).await? {
        Some(record) => Ok(Some(open_record(s, record, false)?.details)),
        None => Ok(None),
    }
}

/// The names of these patients, by id, for a list (a record that does not
/// exist is not there). The caller records the read.
pub async fn names(
    s: &Services,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, Error> {
    s.storage
        .patients(ids)
        .await?
        .into_iter()
        .map(|record| {
            let id = record.id;
            Ok((id, open_record(s, record, false)?.details.name))
        })
        .collect()
}

fn open_record(s: &Services, record: PatientRecord, with_notes: bool) -> Result<Patient, Error> {
    let fail = || Error::Integrity(format!("patient record {}", record.id));
    let plain = s
        .cipher
        .decrypt(&aad(&record.uid, "details"), &record.details_sealed)
        .map_err(|_| fail())?;
    let details: PatientDetails = serde_json::from_slice(&plain).map_err(|_| fail())?;
    let notes = match (&record.notes_sealed, with_notes) {
        (Some(sealed), true) => Some(
            String::from_utf8(
                s.cipher
                    .decrypt(&aad(&record.uid, "notes"), sealed)
                    .map_err(|_| fail())?,
            )
            .map_err(|_| fail())?,
        ),
        _ => None,
    };
    Ok(Patient {
        record,
        details,
        notes,
    })
}

/// Makes a record; with `from_case`, links that case to it if the case is
/// still at the version seen. `Ok(None)`: the case changed meanwhile.
pub async fn create(
    s: &Services,
    actor: &Actor,
    details: PatientDetails,
    notes: Option<String>,
    from_case: Option<(i64, i64)>,
) -> Result<Option<i64>, Error> {
    let uid = random_id();
    let now = s.clock.now();
    let new = NewPatient {
        details_sealed: s.cipher.encrypt(
            &aad(&uid, "details"),
            &serde_json::to_vec(&details).expect("details serialize"),
        ),
        notes_sealed: notes.map(|n| s.cipher.encrypt(&aad(&uid, "notes"), n.as_bytes())),
        email_index: details.email.as_deref().map(|e| email_index(s, e)),
        phone_index: details.phone.as_deref().and_then(|p| phone_index(s, p)),
        name_words: name_words(&s.cipher, &details.name),
        created_at: now,
        uid,
    };
    let link = match (from_case, actor.user_id) {
        (Some((case_id, version)), Some(user_id)) => Some(LinkCase {
            case_id,
            version,
            user_id,
            event_uid: random_id(),
        }),
        _ => None,
    };
    Ok(s.storage
        .add_patient(
            new,
            link,
            &s.cipher.audit_chain(),
            actor.did("create", "patient", "", now),
        )
        .await?)
}

/// A record with its self-assessments (through its linked cases), oldest
/// first; the viewing is recorded first.
pub async fn open(
    s: &Services,
    actor: &Actor,
    id: i64,
    with_notes: bool,
) -> Result<Option<(Patient, Vec<(i64, VerifiedResult)>)>, Error> {
    let Some(record) = s.storage.patient(id).await? else {
        return Ok(None);
    };
    super::audit::seen(s, actor.did("view", "patient", id, s.clock.now())).await?;
    let patient = open_record(s, record, with_notes)?;
    let mut results = Vec::new();
    for (case_id, stored) in s.storage.patient_results(id).await? {
        results.push((case_id, crate::assessment::verify_stored(s, stored)?));
    }
    Ok(Some((patient, results)))
}

/// Finds records: an e-mail address or a phone number exactly, or else
/// every word of a name. The search is recorded, without its words.
pub async fn search(s: &Services, actor: &Actor, query: &str) -> Result<Vec<Patient>, Error> {
    let query = query.trim();
    let digits = query.chars().filter(char::is_ascii_digit).count();
    let lookup = if query.contains('@') {
        PatientLookup::Email(email_index(s, query))
    } else if digits >= 7
        && query
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        match phone_index(s, query) {
            Some(i) => PatientLookup::Phone(i),
            None => return Ok(Vec::new()),
        }
    } else {
        PatientLookup::NameWords(name_words(&s.cipher, query))
    };
    super::audit::seen(s, actor.did("search", "patient", "", s.clock.now())).await?;
    let found = s.storage.find_patients(lookup, 50).await?;
    found
        .into_iter()
        .map(|r| open_record(s, r, false))
        .collect()
}

/// The newest records (the list shown before a search).
pub async fn recent(s: &Services, actor: &Actor) -> Result<Vec<Patient>, Error> {
    super::audit::seen(s, actor.did("list", "patient", "", s.clock.now())).await?;
    let found = s.storage.recent_patients(20).await?;
    found
        .into_iter()
        .map(|r| open_record(s, r, false))
        .collect()
}

/// Records that may be the person of a case: the same e-mail address or
/// phone number.
pub async fn candidates(
    s: &Services,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<Vec<Patient>, Error> {
    let mut found: Vec<PatientRecord> = Vec::new();
    if let Some(e) = email {
        found.extend(
            s.storage
                .find_patients(PatientLookup::Email(email_index(s, e)), 10)
                .await?,
        );
    }
    if let Some(i) = phone.and_then(|p| phone_index(s, p)) {
        for r in s.storage.find_patients(PatientLookup::Phone(i), 10).await? {
            if !found.iter().any(|f| f.id == r.id) {
                found.push(r);
            }
        }
    }
    found
        .into_iter()
        .map(|r| open_record(s, r, false))
        .collect()
}

/// Replaces the clinical notes, if the record is still at `version`.
pub async fn set_notes(
    s: &Services,
    actor: &Actor,
    id: i64,
    version: i64,
    notes: &str,
) -> Result<ChangeOutcome, Error> {
    let Some(record) = s.storage.patient(id).await? else {
        return Ok(ChangeOutcome::Missing);
    };
    let now = s.clock.now();
    Ok(s.storage
        .set_patient_notes(
            id,
            version,
            s.cipher
                .encrypt(&aad(&record.uid, "notes"), notes.as_bytes()),
            now,
            &s.cipher.audit_chain(),
            actor.did("update_notes", "patient", id, now),
        )
        .await?)
}

/// Links a case to a record, if the case is still at `version`.
pub async fn link_case(
    s: &Services,
    actor: &Actor,
    patient_id: i64,
    case_id: i64,
    version: i64,
) -> Result<ChangeOutcome, Error> {
    let Some(user_id) = actor.user_id else {
        return Err(Error::Internal(anyhow::anyhow!(
            "cases are linked by staff accounts"
        )));
    };
    if s.storage.patient(patient_id).await?.is_none() {
        return Ok(ChangeOutcome::Missing);
    }
    let now = s.clock.now();
    Ok(s.storage
        .link_case_to_patient(
            patient_id,
            LinkCase {
                case_id,
                version,
                user_id,
                event_uid: random_id(),
            },
            now,
            &s.cipher.audit_chain(),
            actor.did("link_patient", "case", case_id, now),
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::name_tokens;

    #[test]
    fn name_words_ignore_accents_case_form_and_initials() {
        assert_eq!(name_tokens("José  O'Neill-Ruiz"), ["jose", "neill", "ruiz"]);
        // The same name typed as decomposed characters, or in full width.
        assert_eq!(name_tokens("Jose\u{301}"), ["jose"]);
        assert_eq!(name_tokens("\u{ff2a}\u{ff4f}s\u{e9}"), ["jose"]);
        assert_eq!(name_tokens("ZOË Åsa"), ["zoe", "asa"]);
        // Other scripts are kept, lower-cased.
        assert_eq!(name_tokens("Иван Петров"), ["иван", "петров"]);
        assert!(name_tokens("J. K.").is_empty());
    }
}
