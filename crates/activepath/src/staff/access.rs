//! Two people for access to health data. An administrator who gives
//! someone a role in the portal only asks for it: the request waits, with
//! no account and no invitation, until a second person approves it, either
//! another administrator or a clinician who is the clinic's medical
//! director, never the one who asked. Every request and approval is mailed
//! to the clinic's administrators and medical directors (staff addresses
//! and roles only) and written to the audit trail.
//!
//! Roles that see health data need this (a lone administrator could
//! otherwise invite their own second address as a clinician), and so does
//! the administrator role itself, because an administrator one person makes
//! alone is a second approver that person controls. The server's operator
//! (`activepath user add`, `activepath user approve`) needs no second
//! person: whoever runs the server can read the database anyway.

use super::roles::approves_grants;
use super::sign_in::NewAccountError;
use super::{Actor, Error, Permission, Role, accounts, allows, normalise_email};
use crate::app::Services;
use crate::i18n::Tr;
use crate::mail::{Envelope, Letter, compose, seal};
use crate::storage::grants::{Approval, Grant, GrantStatus};
use crate::storage::outbox::{MailKind, NewMail};
use crate::storage::staff::{LinkPurpose, StaffUser};
use crate::storage::{Constraint, StorageError, TextEnum};

/// A request for a role, recorded and waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requested {
    pub grant_id: i64,
    /// Whether anyone but the requester can approve it in the portal; if
    /// not, only the server's operator can (`activepath user approve`).
    pub approver_in_portal: bool,
}

/// Why a request was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Account(#[from] NewAccountError),
    #[error("a request for that address is waiting already")]
    Waiting,
    #[error("only administrators give roles")]
    NotAllowed,
}

/// What became of an approval or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Approved: the account was made and its invitation sent.
    Approved {
        user_id: i64,
    },
    Declined,
    /// Decided already, or never made.
    NotWaiting,
    /// The approver asked for it: someone else must approve.
    OwnRequest,
    /// The account may not decide on requests.
    NotAllowed,
    /// An account with the address was made meanwhile; the request waits.
    Exists,
}

/// Who approves.
#[derive(Debug, Clone, Copy)]
pub enum Approver<'a> {
    /// An administrator or the medical director, in the portal.
    Account(&'a StaffUser, &'a Actor),
    /// The server's operator, on the command line.
    CommandLine,
}

/// Asks for `email` to get an account with `role`, as the administrator
/// `who`. Nothing is made and nothing is sent to `email` until someone
/// else approves.
pub async fn request(
    s: &Services,
    who: &StaffUser,
    actor: &Actor,
    email: &str,
    role: Role,
) -> Result<Requested, RequestError> {
    if !allows(who.role, Permission::ManageAccounts) {
        return Err(RequestError::NotAllowed);
    }
    let email = normalise_email(email);
    crate::domain::EmailAddress::parse(&email)
        .map_err(|_| NewAccountError::Email(email.clone()))?;
    let overseers = overseers(s).await.map_err(NewAccountError::Other)?;
    let approver_in_portal = overseers
        .iter()
        .any(|u| u.id != who.id && u.password_hash.is_some());
    let tr = Tr::default();
    let role_name = role_label(&tr, role);
    let clinic = &s.config.clinic.name;
    let mut lines = vec![
        tr.args(
            "mail-grant-request-line1",
            &[
                ("requester", who.email.clone()),
                ("email", email.clone()),
                ("role", role_name.clone()),
            ],
        ),
        tr.t1(
            if role.sees_health_data() {
                "mail-grant-why-health"
            } else {
                "mail-grant-why-admin"
            },
            "email",
            &email,
        ),
    ];
    if !approver_in_portal {
        lines.push(tr.t1("mail-grant-operator", "email", &email));
    }
    let message = compose(
        &s.config,
        tr.t2(
            "mail-grant-request-subject",
            "role",
            &role_name,
            "clinic",
            clinic,
        ),
        lines,
        Some((tr.t("mail-grant-link"), grants_url(s))),
    );
    let notices = to_each(s, &overseers, &message);
    let now = s.clock.now();
    let grant_id = match s
        .storage
        .request_grant(
            email,
            role,
            who.id,
            notices,
            &s.cipher.audit_chain(),
            actor.did("request_grant", "staff_grant", "", now),
        )
        .await
    {
        Ok(id) => id,
        Err(StorageError::Conflict(Constraint::StaffEmail)) => {
            return Err(NewAccountError::Exists.into());
        }
        Err(StorageError::Conflict(Constraint::GrantPending)) => {
            return Err(RequestError::Waiting);
        }
        Err(e) => return Err(NewAccountError::Other(e.into()).into()),
    };
    s.mail_wake.notify_one();
    Ok(Requested {
        grant_id,
        approver_in_portal,
    })
}

/// Approves a waiting request: the account is made and its invitation
/// sent, and the clinic's administrators are told.
pub async fn approve(
    s: &Services,
    approver: Approver<'_>,
    grant_id: i64,
) -> Result<Decision, Error> {
    let Some(grant) = s.storage.grant(grant_id).await? else {
        return Ok(Decision::NotWaiting);
    };
    if grant.status != GrantStatus::Pending {
        return Ok(Decision::NotWaiting);
    }
    let (decided_by, actor, approver_name) = match approver {
        Approver::Account(user, actor) => {
            if !approves_grants(user) {
                return Ok(Decision::NotAllowed);
            }
            if user.id == grant.requested_by {
                return Ok(Decision::OwnRequest);
            }
            (Some(user.id), actor.clone(), user.email.clone())
        }
        Approver::CommandLine => {
            let tr = Tr::default();
            (None, Actor::command_line(), tr.t("mail-grant-the-operator"))
        }
    };
    let tr = Tr::default();
    let role_name = role_label(&tr, grant.role);
    let message = compose(
        &s.config,
        tr.t2(
            "mail-grant-approved-subject",
            "role",
            &role_name,
            "clinic",
            &s.config.clinic.name,
        ),
        vec![tr.args(
            "mail-grant-approved-line1",
            &[
                ("approver", approver_name),
                ("requester", grant.requester.clone()),
                ("email", grant.email.clone()),
                ("role", role_name.clone()),
            ],
        )],
        Some((tr.t("mail-grant-link"), grants_url(s))),
    );
    let now = s.clock.now();
    let approval = Approval {
        grant_id,
        decided_by,
        at: now,
        link: accounts::new_link(s, LinkPurpose::Invite, &grant.email),
        notices: to_each(s, &overseers(s).await?, &message),
        audit_entry: actor.did("approve_grant", "staff_grant", grant_id, now),
    };
    match s
        .storage
        .approve_grant(approval, &s.cipher.audit_chain())
        .await
    {
        Ok(Some(user_id)) => {
            s.mail_wake.notify_one();
            Ok(Decision::Approved { user_id })
        }
        // Decided meanwhile (or, by the database's own check, the
        // approver's own request).
        Ok(None) => Ok(Decision::NotWaiting),
        Err(StorageError::Conflict(Constraint::StaffEmail)) => Ok(Decision::Exists),
        Err(e) => Err(e.into()),
    }
}

/// Declines a waiting request, as an approver, or withdraws it, as the
/// one who asked.
pub async fn decline(
    s: &Services,
    who: &StaffUser,
    actor: &Actor,
    grant_id: i64,
) -> Result<Decision, Error> {
    let Some(grant) = s.storage.grant(grant_id).await? else {
        return Ok(Decision::NotWaiting);
    };
    if !(approves_grants(who) || who.id == grant.requested_by) {
        return Ok(Decision::NotAllowed);
    }
    let now = s.clock.now();
    let done = s
        .storage
        .decline_grant(
            grant_id,
            Some(who.id),
            &s.cipher.audit_chain(),
            actor.did("decline_grant", "staff_grant", grant_id, now),
        )
        .await?;
    Ok(if done {
        Decision::Declined
    } else {
        Decision::NotWaiting
    })
}

/// Approves the request waiting for `email`, as the server's operator
/// (`activepath user approve`). `None` when no request is waiting for it.
pub async fn approve_on_command_line(
    s: &Services,
    email: &str,
) -> Result<Option<(Grant, Decision)>, Error> {
    let Some(grant) = s.storage.pending_grant_for(&normalise_email(email)).await? else {
        return Ok(None);
    };
    let decision = approve(s, Approver::CommandLine, grant.id).await?;
    Ok(Some((grant, decision)))
}

/// Makes the clinician with `email` the medical director, or not
/// (`activepath user medical-director`). `false` when there is no such
/// clinician.
pub async fn set_medical_director(s: &Services, email: &str, on: bool) -> Result<bool, Error> {
    let Some(user) = s
        .storage
        .staff_user_by_email(&normalise_email(email))
        .await?
    else {
        return Ok(false);
    };
    let now = s.clock.now();
    Ok(s.storage
        .set_medical_director(
            user.id,
            on,
            &s.cipher.audit_chain(),
            Actor::command_line().did(
                if on {
                    "make_medical_director"
                } else {
                    "unmake_medical_director"
                },
                "staff_user",
                user.id,
                now,
            ),
        )
        .await?)
}

/// What became of setting the medical-director mark in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Done,
    /// An administrator's own account: never by themselves.
    OwnAccount,
    /// The mark is for clinicians only.
    NotClinician,
    NoSuchAccount,
    /// Only administrators set it.
    NotAllowed,
}

/// Sets or removes the medical-director mark on clinician `user_id`, as
/// the administrator `admin` in the portal: never on their own account;
/// written to the audit trail and mailed, like requests for roles, to every
/// administrator and medical director (and to the clinician), so a second
/// person sees it at once. The mark widens a clinician's clinical authority
/// (clearing holds after serious adverse events, the clinic's list of
/// them) and lets them approve roles, but gives no access to data the
/// clinician cannot already see, and the account itself was made under the
/// two-person rule: so no second approver is asked for.
pub async fn mark_medical_director(
    s: &Services,
    admin: &StaffUser,
    actor: &Actor,
    user_id: i64,
    on: bool,
) -> Result<Mark, Error> {
    if !allows(admin.role, Permission::ManageAccounts) {
        return Ok(Mark::NotAllowed);
    }
    if admin.id == user_id {
        return Ok(Mark::OwnAccount);
    }
    let Some(user) = s.storage.staff_user(user_id).await? else {
        return Ok(Mark::NoSuchAccount);
    };
    if user.role != Role::Clinician {
        return Ok(Mark::NotClinician);
    }
    let tr = Tr::default();
    let clinic = &s.config.clinic.name;
    let message = compose(
        &s.config,
        tr.t2(
            if on {
                "mail-md-set-subject"
            } else {
                "mail-md-unset-subject"
            },
            "email",
            &user.email,
            "clinic",
            clinic,
        ),
        vec![
            tr.t2(
                if on {
                    "mail-md-set-line1"
                } else {
                    "mail-md-unset-line1"
                },
                "requester",
                &admin.email,
                "email",
                &user.email,
            ),
            tr.t("mail-md-why"),
        ],
        None,
    );
    let mut people = overseers(s).await?;
    if !people.iter().any(|u| u.id == user.id) {
        people.push(user.clone());
    }
    let now = s.clock.now();
    let done = s
        .storage
        .set_medical_director_noticed(
            user.id,
            on,
            to_each(s, &people, &message),
            &s.cipher.audit_chain(),
            actor.did(
                if on {
                    "make_medical_director"
                } else {
                    "unmake_medical_director"
                },
                "staff_user",
                user.id,
                now,
            ),
        )
        .await?;
    if !done {
        return Ok(Mark::NotClinician);
    }
    s.mail_wake.notify_one();
    Ok(Mark::Done)
}

/// Whether anyone but `user_id` can approve requests in the portal.
pub async fn approver_besides(s: &Services, user_id: i64) -> Result<bool, Error> {
    Ok(overseers(s)
        .await?
        .iter()
        .any(|u| u.id != user_id && u.password_hash.is_some()))
}

/// Who is told about requests and approvals, and may approve them: every
/// enabled administrator and medical director.
async fn overseers(s: &Services) -> Result<Vec<StaffUser>, Error> {
    Ok(s.storage
        .staff_users()
        .await?
        .into_iter()
        .filter(approves_grants)
        .collect())
}

/// The message to each of `people`, sealed.
fn to_each(s: &Services, people: &[StaffUser], message: &crate::mail::Rendered) -> Vec<NewMail> {
    people
        .iter()
        .map(|u| {
            seal(
                &s.cipher,
                &Letter {
                    kind: MailKind::StaffAccess,
                    envelope: Envelope {
                        to: u.email.clone(),
                        subject: message.subject.clone(),
                        text: message.text.clone(),
                        html: message.html.clone(),
                        calendar: None,
                    },
                },
            )
        })
        .collect()
}

fn grants_url(s: &Services) -> String {
    s.config.clinic.base_url.join("/staff/grants")
}

/// A role as people read it.
pub fn role_label(tr: &Tr, role: Role) -> String {
    tr.t(&format!("staff-role-{}", role.as_text()))
}
