//! E-mail: each message is a template triple (subject, text, HTML), and a
//! transport delivers it: SMTP in production, a folder when SMTP is not
//! configured (so `serve` works out of the box), memory in tests. Messages
//! reach a transport only through the outbox (see `jobs`), sealed whole
//! ([`seal`]); the staff's delivery log reads them through [`log`].

pub mod booking;
pub mod log;
pub mod upgrade;

pub use crate::storage::outbox::MailKind;
pub use booking::BookingMail;

use crate::config::{Config, Smtp, SmtpSecurity};
use crate::crypto::{Aad, FieldCipher, random_id};
use crate::i18n::Tr;
use crate::storage::outbox::{NewMail, OutboxMail, SealedMail};
use anyhow::Context;
use askama::Template;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A rendered message's subject and bodies.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Rendered {
    fn addressed_to(self, to: &str) -> Envelope {
        Envelope {
            to: to.to_string(),
            subject: self.subject,
            text: self.text,
            html: self.html,
            calendar: None,
        }
    }
}

/// A message and its kind, ready to be sealed into the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Letter {
    pub kind: MailKind,
    pub envelope: Envelope,
}

impl Letter {
    fn new(kind: MailKind, envelope: Envelope) -> Self {
        Letter { kind, envelope }
    }

    /// To the clinic's own inbox (`mail.notify`).
    fn to_clinic(config: &Config, rendered: Rendered) -> Self {
        Letter::new(
            MailKind::ClinicNotification,
            rendered.addressed_to(&config.mail.notify),
        )
    }
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailHtml<'a> {
    subject: &'a str,
    paragraphs: &'a [String],
    link: Option<(&'a str, &'a str)>,
    clinic_name: &'a str,
}

/// A message of paragraphs and at most one link, signed with the clinic's
/// name, as text and as HTML.
pub(crate) fn compose(
    config: &Config,
    subject: String,
    paragraphs: Vec<String>,
    link: Option<(String, String)>,
) -> Rendered {
    let clinic_name = &config.clinic.name;
    let html = MailHtml {
        subject: &subject,
        paragraphs: &paragraphs,
        link: link.as_ref().map(|(l, u)| (l.as_str(), u.as_str())),
        clinic_name,
    }
    .render()
    .expect("the mail template renders");
    let mut text = paragraphs.join("\n\n");
    if let Some((label, url)) = &link {
        text.push_str(&format!("\n\n{label}:\n{url}"));
    }
    text.push_str(&format!("\n\n{clinic_name}\n"));
    Rendered {
        subject,
        text,
        html,
    }
}

/// Tells the clinic that a result was shared, and whether it is urgent. It
/// carries no health data and nothing that identifies the person: only that
/// there is something to read, and how soon.
pub fn new_share_notification(config: &Config, urgent: bool) -> Letter {
    let tr = Tr::default();
    let subject = tr.t(if urgent {
        "mail-new-share-subject-urgent"
    } else {
        "mail-new-share-subject"
    });
    let line1 = if urgent {
        format!(
            "{} {}",
            tr.t("mail-new-share-line1"),
            tr.t("mail-new-share-urgent")
        )
    } else {
        tr.t("mail-new-share-line1")
    };
    Letter::to_clinic(
        config,
        compose(
            config,
            subject,
            vec![line1, tr.t("mail-new-share-line2")],
            None,
        ),
    )
}

/// Tells the clinic a course has an urgent case (a check-in with question 9
/// above 0), with nothing that identifies the person or their answers.
pub fn course_alert_notification(config: &Config) -> Letter {
    let tr = Tr::default();
    Letter::to_clinic(
        config,
        compose(
            config,
            tr.t("mail-course-alert-subject"),
            vec![
                tr.t("mail-course-alert-line1"),
                tr.t("mail-new-share-line2"),
            ],
            None,
        ),
    )
}

/// Tells the clinic a message or a call-back request came in, with nothing
/// that identifies the person or says what they wrote.
pub fn contact_notification(config: &Config, request: crate::contact::Request) -> Letter {
    let tr = Tr::default();
    let (subject, line) = match request {
        crate::contact::Request::Message => ("mail-new-message-subject", "mail-new-message-line1"),
        crate::contact::Request::Callback => {
            ("mail-new-callback-subject", "mail-new-callback-line1")
        }
    };
    Letter::to_clinic(
        config,
        compose(
            config,
            tr.t(subject),
            vec![tr.t(line), tr.t("mail-new-contact-line2")],
            None,
        ),
    )
}

/// Asks a patient at `to` to answer a check-in by a single-use link. It
/// names no treatment or questionnaire: anyone who sees the message learns
/// only that the clinic asked for something.
pub fn check_in_link(config: &Config, to: &str, url: &str, until: &str) -> Letter {
    let tr = Tr::default();
    let rendered = compose(
        config,
        tr.t1("mail-check-in-subject", "clinic", &config.clinic.name),
        vec![
            tr.t1("mail-check-in-line1", "clinic", &config.clinic.name),
            tr.t1("mail-check-in-line2", "until", until),
            tr.t("mail-check-in-line3"),
        ],
        Some((tr.t("mail-check-in-link"), url.to_string())),
    );
    Letter::new(MailKind::CheckIn, rendered.addressed_to(to))
}

/// Invites `to` to the staff portal: a link to choose a password.
pub fn staff_invitation(config: &Config, to: &str, url: &str) -> Letter {
    let tr = Tr::default();
    let rendered = compose(
        config,
        tr.t1("mail-invite-subject", "clinic", &config.clinic.name),
        vec![
            tr.t1("mail-invite-line1", "clinic", &config.clinic.name),
            tr.t("mail-invite-line2"),
        ],
        Some((tr.t("mail-invite-link"), url.to_string())),
    );
    Letter::new(MailKind::StaffInvite, rendered.addressed_to(to))
}

/// A link to choose a new staff password. Sent only to an address that has
/// an account, and saying nothing that the request page did not.
pub fn password_reset(config: &Config, to: &str, url: &str) -> Letter {
    let tr = Tr::default();
    let rendered = compose(
        config,
        tr.t1("mail-reset-subject", "clinic", &config.clinic.name),
        vec![tr.t("mail-reset-line1"), tr.t("mail-reset-line2")],
        Some((tr.t("mail-reset-link"), url.to_string())),
    );
    Letter::new(MailKind::PasswordReset, rendered.addressed_to(to))
}

/// The message `activepath send-test-email` sends.
pub fn test_message(config: &Config, to: &str) -> Envelope {
    let tr = Tr::default();
    compose(
        config,
        tr.t1("mail-test-subject", "clinic", &config.clinic.name),
        vec![tr.t("mail-test-line1")],
        None,
    )
    .addressed_to(to)
}

/// An address as the delivery log shows it: the first character of the
/// name and of the domain, and the top-level domain (`j…@e….com`). Enough
/// to tell messages apart, not enough to find the person.
pub fn mask_address(address: &str) -> String {
    // "Name <addr>" (a configured notification address may have a name).
    let address = match (address.rfind('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    }
    .trim();
    let first = |part: &str| {
        part.chars()
            .next()
            .map(|c| format!("{c}…"))
            .unwrap_or_default()
    };
    let Some((name, domain)) = address.rsplit_once('@') else {
        return first(address);
    };
    let domain = match domain.rsplit_once('.') {
        Some((host, top)) if !top.is_empty() => format!("{}.{top}", first(host)),
        _ => first(domain),
    };
    format!("{}@{domain}", first(name))
}

/// An error text with every e-mail address in it replaced: delivery errors
/// are stored and shown to staff, and a server's reply may quote the
/// recipient of a sealed, personal message.
pub fn redact_addresses(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ','))
        .map(|word| {
            let end = word
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ','))
                .unwrap_or(word.len());
            let (token, rest) = word.split_at(end);
            if token.contains('@') {
                format!("[address]{rest}")
            } else {
                word.to_string()
            }
        })
        .collect()
}

/// Whether a delivery failure will not go away by trying again: the server
/// refused the message for good (a 5xx reply), or the message cannot be
/// built (an address that is not one).
pub fn is_permanent(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<lettre::transport::smtp::Error>()
            .is_some_and(|s| s.is_permanent())
            || cause
                .downcast_ref::<lettre::address::AddressError>()
                .is_some()
            || cause.downcast_ref::<lettre::error::Error>().is_some()
            || cause.downcast_ref::<Unopenable>().is_some()
    })
}

/// A delivery failure in words an operator can act on: what happened, and
/// which setting to look at.
pub fn explain(config: &Config, e: &anyhow::Error) -> String {
    let Some(smtp) = &config.mail.smtp else {
        return format!(
            "could not write the test e-mail to {}: {e:#}. Check that the data folder is writable.",
            config.mail_dir().display()
        );
    };
    let server = format!("{}:{}", smtp.host, smtp.port);
    let smtp_error = e
        .chain()
        .find_map(|c| c.downcast_ref::<lettre::transport::smtp::Error>());
    let hint = match smtp_error {
        Some(s) if s.is_tls() => format!(
            "the TLS handshake with {server} failed. Check mail.smtp.security: \"starttls\" \
             usually goes with port 587, \"tls\" with port 465, and the server's certificate \
             must be valid for {}",
            smtp.host
        ),
        Some(s) if s.is_timeout() => format!(
            "{server} did not answer in time. Check mail.smtp.host and mail.smtp.port, and \
             that this machine may connect to it (firewall)"
        ),
        Some(s) if s.status().is_some_and(|c| c.to_string().starts_with("535")) => {
            "the server refused the user name or password. Check mail.smtp.username and \
             mail.smtp.password (or password_file)"
                .to_string()
        }
        Some(s) if s.is_permanent() => format!(
            "{server} refused the message for good ({s}). Check mail.from (the server may not \
             allow that sender) and the recipient address"
        ),
        Some(s) if s.is_transient() => {
            format!("{server} refused the message for now ({s}); the outbox would try again later")
        }
        Some(_) | None => format!(
            "could not talk to {server}. Check mail.smtp.host and mail.smtp.port, and that an \
             SMTP server is listening there"
        ),
    };
    format!("the test e-mail was not sent: {hint}.\n  cause: {e:#}")
}

/// A message as handed to a transport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// An iCalendar object sent with the message (an invitation or its
    /// cancellation).
    #[serde(default)]
    pub calendar: Option<Calendar>,
}

/// An RFC 5545 object and its iTIP method (RFC 5546): `REQUEST` for an
/// invitation or a change, `CANCEL` for a cancellation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    pub method: String,
    pub ics: String,
}

/// What a sealed outbox message is bound to.
fn sealed_mail_aad(uid: &str) -> Aad {
    Aad::row("mail_outbox", "sealed", uid)
}

/// An envelope sealed whole (recipient included) under a new uid.
fn seal_envelope(cipher: &FieldCipher, envelope: &Envelope) -> SealedMail {
    let uid = random_id();
    let sealed = cipher.encrypt(
        &sealed_mail_aad(&uid),
        &serde_json::to_vec(envelope).expect("an envelope serializes"),
    );
    SealedMail { uid, sealed }
}

/// A letter as the outbox keeps it: sealed whole, the recipient included,
/// so that the database holds no working link and no address. Readable
/// stay its kind and the masked recipient, for the delivery log.
pub fn seal(cipher: &FieldCipher, letter: &Letter) -> NewMail {
    NewMail {
        kind: letter.kind,
        recipient_hint: mask_address(&letter.envelope.to),
        sealed: seal_envelope(cipher, &letter.envelope),
    }
}

/// Why a claimed message cannot be opened. Trying again will not help.
#[derive(Debug, thiserror::Error)]
#[error("outbox message {id} {problem}")]
pub struct Unopenable {
    id: i64,
    problem: &'static str,
}

/// The message a claimed outbox row holds.
pub fn open(cipher: &FieldCipher, mail: &OutboxMail) -> Result<Envelope, Unopenable> {
    let fail = |problem| Unopenable {
        id: mail.id,
        problem,
    };
    let s = mail
        .sealed
        .as_ref()
        .ok_or_else(|| fail("has no content left"))?;
    let plain = cipher
        .decrypt(&sealed_mail_aad(&s.uid), &s.sealed)
        .map_err(|_| fail("does not decrypt for its row"))?;
    serde_json::from_slice(&plain).map_err(|_| fail("is not a message"))
}

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
    Memory(Arc<Mutex<Vec<Envelope>>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::Folder(p) => write!(f, "Transport::Folder({})", p.display()),
            Transport::Memory(_) => f.write_str("Transport::Memory"),
        }
    }
}

impl Transport {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match &config.mail.smtp {
            Some(smtp) => Ok(Transport::Smtp(smtp_transport(smtp)?)),
            None => Ok(Transport::Folder(config.mail_dir())),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Transport::Smtp(_) => "smtp",
            Transport::Folder(_) => "folder",
            Transport::Memory(_) => "memory",
        }
    }

    pub fn memory() -> (Self, Arc<Mutex<Vec<Envelope>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        (Transport::Memory(sent.clone()), sent)
    }

    #[tracing::instrument(skip_all, fields(transport = self.kind()))]
    pub async fn send(&self, from: &str, envelope: &Envelope) -> anyhow::Result<()> {
        let build = || -> anyhow::Result<Message> {
            Ok(Message::builder()
                .from(from.parse::<Mailbox>().context("invalid sender")?)
                .to(envelope
                    .to
                    .parse::<Mailbox>()
                    .context("invalid recipient")?)
                .subject(envelope.subject.clone())
                .multipart(body(envelope)?)?)
        };
        match self {
            Transport::Smtp(smtp) => {
                smtp.send(build()?).await.context("SMTP delivery failed")?;
            }
            Transport::Folder(dir) => {
                let bytes = build()?.formatted();
                tokio::fs::create_dir_all(dir)
                    .await
                    .with_context(|| format!("creating {}", dir.display()))?;
                let name = format!(
                    "{}-{}.eml",
                    jiff::Timestamp::now().as_millisecond(),
                    crate::crypto::random_id()
                );
                let tmp = dir.join(format!(".{name}.tmp"));
                write_private(&tmp, &bytes)
                    .await
                    .with_context(|| format!("writing {}", tmp.display()))?;
                tokio::fs::rename(&tmp, dir.join(&name)).await?;
            }
            Transport::Memory(sent) => {
                build()?;
                sent.lock()
                    .expect("mail memory lock")
                    .push(envelope.clone());
            }
        }
        Ok(())
    }
}

/// Text and HTML as alternatives; with a calendar object, that pair and the
/// object as an `invite.ics` attachment whose content type carries the
/// method, which is how mail programs recognise an invitation.
fn body(envelope: &Envelope) -> anyhow::Result<MultiPart> {
    let text = MultiPart::alternative_plain_html(envelope.text.clone(), envelope.html.clone());
    let Some(calendar) = &envelope.calendar else {
        return Ok(text);
    };
    let content_type = ContentType::parse(&format!(
        "text/calendar; charset=utf-8; method={}",
        calendar.method
    ))
    .context("calendar content type")?;
    Ok(MultiPart::mixed()
        .multipart(text)
        .singlepart(Attachment::new("invite.ics".into()).body(calendar.ics.clone(), content_type)))
}

/// Writes a file only its owner can read: mail may name the clinic's
/// patients in future messages.
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

fn smtp_transport(smtp: &Smtp) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let builder = match smtp.security {
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?,
    };
    let mut builder = builder.port(smtp.port);
    if let Some(user) = &smtp.username {
        let password = match (&smtp.password, &smtp.password_file) {
            (Some(p), _) => p.expose_secret().to_string(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("reading mail.smtp.password_file {}", file.display()))?
                .trim_end()
                .to_string(),
            (None, None) => anyhow::bail!(
                "mail.smtp.username is set: set mail.smtp.password or password_file too"
            ),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_taken_out_of_errors() {
        assert_eq!(
            redact_addresses("550 5.1.1 <zoe@example.com>: Recipient address rejected"),
            "550 5.1.1 <[address]>: Recipient address rejected"
        );
        assert_eq!(
            redact_addresses("invalid recipient zoe@x, also 'a@b'"),
            "invalid recipient [address], also '[address]'"
        );
        assert_eq!(redact_addresses("connection refused"), "connection refused");
    }

    #[test]
    fn addresses_are_masked_for_the_log() {
        for (address, masked) in [
            ("jane.doe@example.com", "j…@e….com"),
            ("Care Desk <care@riverbend.example>", "c…@r….example"),
            ("zoë@mail.co.uk", "z…@m….uk"),
            ("a@localhost", "a…@l…"),
            ("not an address", "n…"),
            ("", ""),
        ] {
            assert_eq!(mask_address(address), masked, "{address}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_masked_address_keeps_one_letter_of_each_part_and_the_top_level_domain(
            name in "[a-z0-9._+-]{2,20}",
            host in "[a-z0-9-]{2,20}(\\.[a-z0-9-]{1,10}){0,2}",
            top in "[a-z]{2,6}",
        ) {
            let masked = mask_address(&format!("{name}@{host}.{top}"));
            let first = |s: &str| s.chars().next().unwrap();
            proptest::prop_assert_eq!(
                &masked,
                &format!("{}…@{}….{top}", first(&name), first(&host))
            );
        }
    }

    #[test]
    fn a_sealed_letter_opens_whole_only_for_its_own_row() {
        let cipher = FieldCipher::new(&crate::crypto::MasterKey::generate());
        let letter = Letter::new(
            MailKind::CheckIn,
            Envelope {
                to: "kim@example.org".into(),
                subject: "A check-in".into(),
                text: "http://clinic.example/check-in/secret-token".into(),
                html: "<p>http://clinic.example/check-in/secret-token</p>".into(),
                calendar: Some(Calendar {
                    method: "REQUEST".into(),
                    ics: "BEGIN:VCALENDAR".into(),
                }),
            },
        );
        let new = seal(&cipher, &letter);
        assert_eq!(
            (new.kind, new.recipient_hint.as_str()),
            (MailKind::CheckIn, "k…@e….org")
        );
        let stored = String::from_utf8_lossy(&new.sealed.sealed).to_string();
        assert!(!stored.contains("kim@") && !stored.contains("secret-token"));
        let claimed = |sealed| OutboxMail {
            id: 7,
            sealed,
            attempts: 1,
        };
        let opened = open(&cipher, &claimed(Some(new.sealed.clone()))).unwrap();
        assert_eq!(opened, letter.envelope);
        // Moved to another row, or gone: refused for good, never retried.
        let moved = SealedMail {
            uid: random_id(),
            ..new.sealed
        };
        for sealed in [Some(moved), None] {
            let e = anyhow::Error::from(open(&cipher, &claimed(sealed)).unwrap_err());
            assert!(is_permanent(&e), "{e}");
        }
    }

    #[tokio::test]
    async fn the_folder_transport_writes_a_complete_message() {
        let dir = tempfile::tempdir().unwrap();
        let transport = Transport::Folder(dir.path().join("mail"));
        let envelope = Envelope {
            to: "care@clinic.example".into(),
            subject: "Hello".into(),
            text: "plain body".into(),
            html: "<p>html body</p>".into(),
            calendar: None,
        };
        transport
            .send("Clinic <no-reply@clinic.example>", &envelope)
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        assert!(files[0].extension().is_some_and(|e| e == "eml"));
        let eml = std::fs::read_to_string(&files[0]).unwrap();
        assert!(eml.contains("To: care@clinic.example"));
        assert!(eml.contains("Subject: Hello"));
        assert!(eml.contains("plain body") && eml.contains("html body"));
    }

    #[test]
    fn the_clinic_notification_carries_no_health_data() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::load(
            &dir.path().join("none.toml"),
            &crate::config::Overrides::default(),
        )
        .unwrap();
        for urgent in [false, true] {
            let letter = new_share_notification(&config, urgent);
            assert_eq!(letter.kind, MailKind::ClinicNotification);
            let m = letter.envelope;
            assert!(m.text.contains("Sign in"));
            let all = format!("{} {} {}", m.subject, m.text, m.html).to_lowercase();
            for word in [
                "PHQ", "score", "suicid", "harm", "depress", "question", "answer",
            ] {
                assert!(!all.contains(&word.to_lowercase()), "{word}");
            }
            assert_eq!(all.contains("urgent — please review today"), urgent);
            assert_eq!(all.contains("please review it today"), urgent);
        }
    }
}
