//! The e-mails of a booking. To the person who booked on the site or
//! through the API, first the link that confirms it (the address is not
//! yet known to be theirs, so that message names no one, carries nothing
//! they typed and no invitation). Then the confirmation, a change, a
//! cancellation and the reminder, each with the calendar object that keeps
//! their calendar in step; these name them and are sealed in the outbox. To the clinic: a notice that carries no name,
//! contact detail or reason, only what was booked, where and when (sealed
//! too: the time of a booking can be matched with a person).

use super::{Calendar, Envelope, Letter, MailKind, Rendered, compose};
use crate::booking::ics::{self, Method};
use crate::booking::{AppointmentType, Details, Location};
use crate::config::Config;
use crate::i18n::Tr;
use crate::time::format_appointment;
use jiff::Timestamp;

/// What every booking e-mail is made from.
#[derive(Debug, Clone)]
pub struct BookingMail<'a> {
    pub uid: &'a str,
    /// The invitation's SEQUENCE for this message.
    pub sequence: i64,
    pub kind: &'a AppointmentType,
    pub location: &'a Location,
    pub start: Timestamp,
    pub end: Timestamp,
    pub details: &'a Details,
    /// The person's link to change or cancel; empty where none is sent.
    pub manage_url: &'a str,
    pub now: Timestamp,
}

impl BookingMail<'_> {
    fn when(&self) -> String {
        format_appointment(self.start, &self.location.tz)
    }

    fn place(&self) -> String {
        if self.location.address.is_empty() {
            self.location.name.clone()
        } else {
            format!("{}, {}", self.location.name, self.location.address)
        }
    }

    fn calendar(&self, config: &Config, method: Method) -> Calendar {
        let uid = format!("{}@{}", self.uid, config.clinic.base_url.host());
        let description = if self.manage_url.is_empty() {
            String::new()
        } else {
            Tr::default().t1("mail-booking-ics-manage", "url", self.manage_url)
        };
        Calendar {
            method: method.as_str().into(),
            ics: ics::calendar(
                method,
                &ics::Event {
                    uid: &uid,
                    sequence: self.sequence,
                    start: self.start,
                    end: self.end,
                    tz: &self.location.tz,
                    summary: &format!("{} — {}", self.kind.name, config.clinic.name),
                    location: &self.place(),
                    description: &description,
                    organizer_name: &config.clinic.name,
                    organizer_email: &config.clinic.email,
                    attendee_name: &self.details.name,
                    attendee_email: &self.details.email,
                    stamp: self.now,
                },
            ),
        }
    }

    /// A message to the person who booked.
    fn to_person(
        &self,
        config: &Config,
        kind: MailKind,
        subject: &str,
        first: String,
        method: Method,
        with_link: bool,
    ) -> Letter {
        let tr = Tr::default();
        let mut paragraphs = vec![
            tr.t1("mail-booking-hello", "name", &self.details.name),
            first,
            tr.t1("mail-booking-where", "place", self.place()),
        ];
        if with_link {
            paragraphs.push(tr.t(if self.manage_url.is_empty() {
                "mail-booking-manage-earlier"
            } else {
                "mail-booking-manage"
            }));
        }
        paragraphs.push(tr.t1("mail-booking-phone", "phone", &config.clinic.phone));
        paragraphs.push(tr.t("mail-booking-crisis"));
        let link = (with_link && !self.manage_url.is_empty()).then(|| {
            (
                tr.t("mail-booking-manage-link"),
                self.manage_url.to_string(),
            )
        });
        let Rendered {
            subject,
            text,
            html,
        } = compose(config, subject.to_string(), paragraphs, link);
        Letter::new(
            kind,
            Envelope {
                to: self.details.email.clone(),
                subject,
                text,
                html,
                calendar: Some(self.calendar(config, method)),
            },
        )
    }
}

/// "Please confirm within N minutes or the time is released", with the
/// link that confirms. Whoever typed the address may not own it: the
/// message greets no one by name, repeats nothing they wrote, and says
/// what to do if they did not ask for it.
pub fn hold_request(config: &Config, m: &BookingMail, confirm_url: &str, minutes: i64) -> Letter {
    let tr = Tr::default();
    let minutes = ("minutes", minutes.to_string());
    let rendered = compose(
        config,
        tr.args("mail-booking-hold-subject", &args(m, config)),
        vec![
            tr.t("mail-booking-hold-hello"),
            tr.args("mail-booking-hold", &args(m, config)),
            tr.args("mail-booking-hold-confirm", std::slice::from_ref(&minutes)),
            tr.t1("mail-booking-where", "place", m.place()),
            tr.t("mail-booking-hold-not-you"),
            tr.t1("mail-booking-phone", "phone", &config.clinic.phone),
            tr.t("mail-booking-crisis"),
        ],
        Some((tr.t("mail-booking-hold-link"), confirm_url.to_string())),
    );
    Letter::new(
        MailKind::BookingHold,
        Envelope {
            to: m.details.email.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            calendar: None,
        },
    )
}

fn args<'a>(m: &'a BookingMail, config: &'a Config) -> [(&'a str, String); 3] {
    [
        ("kind", m.kind.name.clone()),
        ("when", m.when()),
        ("clinic", config.clinic.name.clone()),
    ]
}

/// "Your appointment is booked", with the invitation.
pub fn confirmation(config: &Config, m: &BookingMail) -> Letter {
    let tr = Tr::default();
    m.to_person(
        config,
        MailKind::BookingConfirmation,
        &tr.args("mail-booking-confirmed-subject", &args(m, config)),
        tr.args("mail-booking-confirmed", &args(m, config)),
        Method::Request,
        true,
    )
}

/// "Your appointment has moved", with the updated invitation.
pub fn rescheduled(config: &Config, m: &BookingMail) -> Letter {
    let tr = Tr::default();
    m.to_person(
        config,
        MailKind::BookingChange,
        &tr.args("mail-booking-moved-subject", &args(m, config)),
        tr.args("mail-booking-moved", &args(m, config)),
        Method::Request,
        true,
    )
}

/// "Your appointment is cancelled", with the cancellation for the calendar.
pub fn cancellation(config: &Config, m: &BookingMail) -> Letter {
    let tr = Tr::default();
    m.to_person(
        config,
        MailKind::BookingCancellation,
        &tr.args("mail-booking-cancelled-subject", &args(m, config)),
        tr.args("mail-booking-cancelled", &args(m, config)),
        Method::Cancel,
        false,
    )
}

/// The reminder before the appointment.
pub fn reminder(config: &Config, m: &BookingMail) -> Letter {
    let tr = Tr::default();
    m.to_person(
        config,
        MailKind::BookingReminder,
        &tr.args("mail-booking-reminder-subject", &args(m, config)),
        tr.args("mail-booking-reminder", &args(m, config)),
        Method::Request,
        false,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Booked,
    Moved,
    Cancelled,
}

/// Tells the clinic an appointment was booked, moved or cancelled: the
/// type, place and time only.
pub fn clinic_notice(config: &Config, m: &BookingMail, notice: Notice) -> Letter {
    let tr = Tr::default();
    let (subject, line) = match notice {
        Notice::Booked => (
            "mail-booking-notice-booked-subject",
            "mail-booking-notice-booked",
        ),
        Notice::Moved => (
            "mail-booking-notice-moved-subject",
            "mail-booking-notice-moved",
        ),
        Notice::Cancelled => (
            "mail-booking-notice-cancelled-subject",
            "mail-booking-notice-cancelled",
        ),
    };
    let a = [
        ("kind", m.kind.name.clone()),
        ("when", m.when()),
        ("place", m.location.name.clone()),
    ];
    let rendered = compose(
        config,
        tr.args(subject, &a),
        vec![tr.args(line, &a), tr.t("mail-booking-notice-private")],
        None,
    );
    Letter::to_clinic(config, rendered)
}
