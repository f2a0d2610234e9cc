//! The audit trail, as the portal and `activepath audit verify` and
//! `audit anchor` use it.

use crate::app::Services;
use crate::crypto::AuditChain;
use crate::storage::Storage;
use crate::storage::audit::AuditEntry;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// Records an access that changes nothing (a page or record seen).
/// Fails closed: when the entry cannot be written, the caller shows nothing.
pub async fn seen(s: &Services, entry: AuditEntry) -> Result<(), super::Error> {
    Ok(s.storage.audit(&s.cipher.audit_chain(), entry).await?)
}

/// What `activepath audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry follows the one before and is as it was written.
    Intact { entries: u64 },
    /// The first entry that is not: its id and what is wrong.
    Broken { id: i64, problem: String },
    /// Every entry is intact, but there are fewer than an anchor recorded:
    /// the newest were removed (which the chain alone cannot show).
    Truncated { entries: u64, anchored: u64 },
}

/// The trail's length and newest hash at one moment, for keeping where the
/// database cannot reach it (printed by `activepath audit anchor`). Later,
/// the trail must still hold that entry at that position with that hash:
/// removing the newest entries, which leaves an intact but shorter chain,
/// is then seen. Entries are chained by a keyed hash, so nobody without
/// the key can make up a trail that matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// How many entries the trail held.
    pub entries: u64,
    /// The newest entry's hash (the chain's start when there were none).
    pub hash: String,
    /// When the newest entry was written, for people; not checked.
    pub at: Option<Timestamp>,
}

impl Anchor {
    /// One line: `entries=1234 hash=… at=2026-12-08T10:00:00Z`.
    pub fn line(&self) -> String {
        let mut line = format!("entries={} hash={}", self.entries, self.hash);
        if let Some(at) = self.at {
            line.push_str(&format!(" at={}", crate::time::rfc3339(at)));
        }
        line
    }

    /// Every anchor in `text`, one a line as [`Anchor::line`] writes them
    /// (blank lines and lines starting with `#` are skipped), or what is
    /// wrong with the first line that is not one.
    pub fn parse_all(text: &str) -> Result<Vec<Anchor>, String> {
        let mut anchors = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            anchors.push(Anchor::parse(line).map_err(|e| format!("line {}: {e}", n + 1))?);
        }
        if anchors.is_empty() {
            return Err("no anchor in it (a line like entries=… hash=…)".into());
        }
        Ok(anchors)
    }

    fn parse(line: &str) -> Result<Anchor, String> {
        let (mut entries, mut hash, mut at) = (None, None, None);
        for part in line.split_whitespace() {
            match part.split_once('=') {
                Some(("entries", v)) => {
                    entries = Some(v.parse::<u64>().map_err(|_| format!("entries={v}"))?)
                }
                Some(("hash", v))
                    if v.len() == AuditChain::GENESIS.len()
                        && v.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    hash = Some(v.to_ascii_lowercase())
                }
                Some(("at", v)) => at = Some(v.parse().map_err(|_| format!("at={v}"))?),
                _ => return Err(format!("{part:?} is not entries=N, hash=HEX or at=TIME")),
            }
        }
        match (entries, hash) {
            (Some(entries), Some(hash)) => Ok(Anchor { entries, hash, at }),
            _ => Err("needs both entries= and hash=".into()),
        }
    }
}

/// Walks the whole trail, in order, recomputing the chain.
pub async fn verify(storage: &Storage, chain: &AuditChain) -> Result<Verdict, super::Error> {
    Ok(walk(storage, chain, &[]).await?.0)
}

/// [`verify`], and that the trail still holds each anchored entry where it
/// was, with its hash.
pub async fn verify_anchored(
    storage: &Storage,
    chain: &AuditChain,
    anchors: &[Anchor],
) -> Result<Verdict, super::Error> {
    Ok(walk(storage, chain, anchors).await?.0)
}

/// The trail's anchor now, after checking it and the `earlier` anchors:
/// an anchor of a trail that was tampered with would vouch for the
/// tampering. `Err` says what is wrong instead.
pub async fn anchor(
    storage: &Storage,
    chain: &AuditChain,
    earlier: &[Anchor],
) -> Result<Result<Anchor, Verdict>, super::Error> {
    Ok(match walk(storage, chain, earlier).await? {
        (Verdict::Intact { .. }, newest) => Ok(newest),
        (broken, _) => Err(broken),
    })
}

/// Checks the chain from the start, and each anchor at its position; also
/// the anchor of the trail as far as it is intact.
async fn walk(
    storage: &Storage,
    chain: &AuditChain,
    anchors: &[Anchor],
) -> Result<(Verdict, Anchor), super::Error> {
    let mut expected: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for a in anchors.iter().filter(|a| a.entries > 0) {
        expected.entry(a.entries).or_default().push(&a.hash);
    }
    let mut prev_hash = AuditChain::GENESIS.to_string();
    let mut prev_id: Option<i64> = None;
    let mut newest_at = None;
    let mut after = 0;
    let mut entries = 0u64;
    // The first entry that is wrong, and how.
    let broken = 'walk: loop {
        let rows = storage.audit_rows(after, 1000).await?;
        if rows.is_empty() {
            break None;
        }
        for row in rows {
            let position = entries + 1;
            let problem = if row.prev_hash != prev_hash {
                Some(match prev_id {
                    Some(p) => format!(
                        "does not follow entry {p}: an entry between them was removed, or one of them changed"
                    ),
                    None => "does not start the trail: earlier entries were removed".into(),
                })
            } else if row.entry.link(chain, &row.prev_hash) != row.hash {
                Some("its contents are not what was written (changed, or inserted)".into())
            } else if expected
                .get(&position)
                .is_some_and(|hashes| hashes.iter().any(|h| *h != row.hash))
            {
                Some(format!(
                    "is entry number {position}, which the anchor recorded with another hash: \
                     entries up to it were removed and others written since"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                break 'walk Some((row.id, problem));
            }
            entries = position;
            prev_hash = row.hash;
            prev_id = Some(row.id);
            newest_at = Some(row.entry.at);
            after = row.id;
        }
    };
    let verdict = match (broken, expected.last_key_value()) {
        (Some((id, problem)), _) => Verdict::Broken { id, problem },
        (None, Some((&anchored, _))) if anchored > entries => {
            Verdict::Truncated { entries, anchored }
        }
        (None, _) => Verdict::Intact { entries },
    };
    let intact = Anchor {
        entries,
        hash: prev_hash,
        at: newest_at,
    };
    Ok((verdict, intact))
}

#[cfg(test)]
mod tests {
    use super::Anchor;

    #[test]
    fn an_anchor_reads_back_as_written() {
        let anchor = Anchor {
            entries: 1234,
            hash: "ab".repeat(32),
            at: Some("2026-12-08T10:00:00Z".parse().unwrap()),
        };
        let line = anchor.line();
        assert_eq!(
            line,
            format!(
                "entries=1234 hash={} at=2026-12-08T10:00:00Z",
                "ab".repeat(32)
            )
        );
        let file = format!(
            "# kept offline\n\n{line}\nentries=1 hash={}\n",
            "0".repeat(64)
        );
        let read = Anchor::parse_all(&file).unwrap();
        assert_eq!(read[0], anchor);
        assert_eq!((read[1].entries, read[1].at), (1, None));
    }

    #[test]
    fn a_line_that_is_not_an_anchor_is_named() {
        for (text, problem) in [
            ("", "no anchor"),
            ("entries=12", "line 1: needs both"),
            ("\nentries=x hash=00", "line 2: entries=x"),
            ("entries=1 hash=abc", "line 1: \"hash=abc\""),
            ("entries=1 hash=00 extra", "line 1:"),
        ] {
            let e = Anchor::parse_all(text).unwrap_err();
            assert!(e.starts_with(problem), "{text:?}: {e}");
        }
    }
}
