//! The audit trail, as the portal and `activepath audit verify` use it.

use crate::app::Services;
use crate::crypto::AuditChain;
use crate::storage::Storage;
use crate::storage::audit::AuditEntry;

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
}

/// Walks the whole trail, in order, recomputing the chain.
pub async fn verify(storage: &Storage, chain: &AuditChain) -> Result<Verdict, super::Error> {
    let mut prev_hash = AuditChain::GENESIS.to_string();
    let mut prev_id: Option<i64> = None;
    let mut after = 0;
    let mut entries = 0u64;
    loop {
        let rows = storage.audit_rows(after, 1000).await?;
        if rows.is_empty() {
            return Ok(Verdict::Intact { entries });
        }
        for row in rows {
            if row.prev_hash != prev_hash {
                return Ok(Verdict::Broken {
                    id: row.id,
                    problem: match prev_id {
                        Some(p) => format!(
                            "does not follow entry {p}: an entry between them was removed, or one of them changed"
                        ),
                        None => "does not start the trail: earlier entries were removed".into(),
                    },
                });
            }
            if row.entry.link(chain, &row.prev_hash) != row.hash {
                return Ok(Verdict::Broken {
                    id: row.id,
                    problem: "its contents are not what was written (changed, or inserted)".into(),
                });
            }
            prev_hash = row.hash;
            prev_id = Some(row.id);
            after = row.id;
            entries += 1;
        }
    }
}
