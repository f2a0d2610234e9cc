//! Managing staff accounts: links by e-mail (an invitation, once a role is
//! approved, see `access`; a password reset), choosing a password from one,
//! and disabling an account. Only an account's newest link works, and none
//! once one was used.

use super::sign_in::password_problem;
use super::{Actor, Error, normalise_email, password};
use crate::app::Services;
use crate::crypto::{Purpose, random_token};
use crate::storage::staff::{LinkPurpose, NewLink, StaffUser};
use jiff::SignedDuration;
use secrecy::{ExposeSecret, SecretString};

/// How long an invitation's link works.
pub const INVITE_LIFETIME: SignedDuration = SignedDuration::from_hours(72);
/// How long a password-reset link works.
pub const RESET_LIFETIME: SignedDuration = SignedDuration::from_mins(30);

fn link_hash(s: &Services, token: &str) -> String {
    s.cipher.digest(Purpose::EmailLink, &[token.as_bytes()])
}

/// A new link of `purpose`, with its message to `email`.
pub(super) fn new_link(s: &Services, purpose: LinkPurpose, email: &str) -> NewLink {
    let token = random_token(32);
    let now = s.clock.now();
    let (path, lifetime) = match purpose {
        LinkPurpose::Invite => ("/staff/welcome/", INVITE_LIFETIME),
        LinkPurpose::Reset => ("/staff/password-reset/", RESET_LIFETIME),
    };
    let url = s.config.clinic.base_url.join(&format!("{path}{token}"));
    let letter = match purpose {
        LinkPurpose::Invite => crate::mail::staff_invitation(&s.config, email, &url),
        LinkPurpose::Reset => crate::mail::password_reset(&s.config, email, &url),
    };
    NewLink {
        token_hash: link_hash(s, &token),
        purpose,
        created_at: now,
        expires_at: crate::time::after(now, lifetime),
        // Sealed: the link works, so the database must not hold it readable.
        mail: crate::mail::seal(&s.cipher, &letter),
    }
}

/// Sends a password-reset link if `email` has an enabled account; does
/// nothing otherwise. The caller answers the same either way. Every link
/// the account had before stops working.
pub async fn request_reset(s: &Services, email: &str) -> Result<(), Error> {
    let email = normalise_email(email);
    let Some(user) = s.storage.staff_user_by_email(&email).await? else {
        return Ok(());
    };
    if user.disabled_at.is_some() {
        return Ok(());
    }
    s.storage
        .add_email_link(user.id, new_link(s, LinkPurpose::Reset, &user.email))
        .await?;
    s.mail_wake.notify_one();
    Ok(())
}

/// Where an e-mailed link leads.
pub enum Link {
    /// Usable: the account it is for.
    Open(Box<StaffUser>, LinkPurpose),
    /// Used before, expired, replaced by a newer link (or one was used
    /// since), or for a disabled account.
    Spent,
    Unknown,
}

pub async fn open_link(s: &Services, token: &str) -> Result<Link, Error> {
    if token.len() != 43 {
        return Ok(Link::Unknown);
    }
    let Some(link) = s.storage.email_link(&link_hash(s, token)).await? else {
        return Ok(Link::Unknown);
    };
    let usable = link.used_at.is_none()
        && link.newest
        && link.expires_at > s.clock.now()
        && link.user.disabled_at.is_none();
    Ok(if usable {
        Link::Open(Box::new(link.user), link.purpose)
    } else {
        Link::Spent
    })
}

pub enum PasswordSet {
    Done,
    /// The new password does not meet the policy: why.
    Weak(String),
    /// The link was used, replaced or expired meanwhile.
    Spent,
    /// Too many password checks at once: nothing was done; try again
    /// shortly.
    Busy,
}

/// Sets the account's password from a link, once.
pub async fn set_password(
    s: &Services,
    token: &str,
    user: &StaffUser,
    purpose: LinkPurpose,
    new_password: SecretString,
    client_ip: Option<String>,
) -> Result<PasswordSet, Error> {
    if let Err(p) = password::check(
        new_password.expose_secret(),
        &user.email,
        &s.config.clinic.name,
    ) {
        return Ok(PasswordSet::Weak(password_problem(&p)));
    }
    let Ok(turn) = s.passwords.admit() else {
        return Ok(PasswordSet::Busy);
    };
    let hash = password::hash(turn, new_password).await?;
    let actor = Actor {
        user_id: Some(user.id),
        label: user.email.clone(),
        client_ip,
    };
    let action = match purpose {
        LinkPurpose::Invite => "accept_invitation",
        LinkPurpose::Reset => "reset_password",
    };
    let now = s.clock.now();
    let done = s
        .storage
        .set_password_with_link(
            link_hash(s, token),
            user.id,
            hash,
            now,
            &s.cipher.audit_chain(),
            actor.did(action, "staff_user", user.id, now),
        )
        .await?;
    Ok(if done {
        PasswordSet::Done
    } else {
        PasswordSet::Spent
    })
}

/// Disables an account (its sessions end at once, its API tokens are
/// revoked) or enables it again (with no session or token of before, and
/// its count of wrong second-factor codes cleared).
pub async fn set_disabled(
    s: &Services,
    actor: &Actor,
    user_id: i64,
    disabled: bool,
) -> Result<bool, Error> {
    let now = s.clock.now();
    Ok(s.storage
        .set_staff_disabled(
            user_id,
            disabled.then_some(now),
            &s.cipher.audit_chain(),
            actor.did(
                if disabled { "disable" } else { "enable" },
                "staff_user",
                user_id,
                now,
            ),
        )
        .await?)
}
