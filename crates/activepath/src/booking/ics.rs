//! Calendar invitations (RFC 5545 objects, with RFC 5546 methods) for a
//! booked appointment. The event keeps one UID for its whole life; each
//! change raises its SEQUENCE, and a cancellation is the same UID with
//! `METHOD:CANCEL`, so a calendar updates or removes the entry it already
//! has instead of adding another.
//!
//! Times are written in the location's zone (`TZID`) with a VTIMEZONE that
//! lists the zone's actual offsets around the appointment, taken from the
//! same time-zone database that computed the slots; a calendar program
//! therefore shows the same wall-clock time the clinic offered.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// What the invitation says.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Globally unique: the appointment's uid at the clinic's host.
    pub uid: &'a str,
    pub sequence: i64,
    pub start: Timestamp,
    pub end: Timestamp,
    pub tz: &'a TimeZone,
    pub summary: &'a str,
    pub location: &'a str,
    pub description: &'a str,
    pub organizer_name: &'a str,
    pub organizer_email: &'a str,
    pub attendee_name: &'a str,
    pub attendee_email: &'a str,
    /// When this version of the invitation was made (DTSTAMP).
    pub stamp: Timestamp,
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value (a CN): quoted, without the characters a quoted value
/// cannot hold.
fn param(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    format!("\"{clean}\"")
}

/// Appends a content line, folded so no line is longer than 75 octets
/// (§3.1), never inside a UTF-8 sequence, with CRLF line ends.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

fn utc(at: Timestamp) -> String {
    at.to_zoned_datetime(TimeZone::UTC)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

fn local(at: Timestamp, offset: Offset) -> String {
    offset.to_datetime(at).strftime("%Y%m%dT%H%M%S").to_string()
}

/// `+0530`, `-0400`; seconds only when the offset has them.
fn offset(o: Offset) -> String {
    let secs = o.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.unsigned_abs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

/// The VTIMEZONE for `name`: each offset change from the one in force at
/// `start` to the first after `end`, as explicit observances.
fn vtimezone(out: &mut String, tz: &TimeZone, name: &str, start: Timestamp, end: Timestamp) {
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{name}"));
    let mut changes: Vec<_> = tz
        .preceding(start + jiff::SignedDuration::from_nanos(1))
        .take(1)
        .collect();
    changes.extend(tz.following(start).take_while(|t| t.timestamp() <= end));
    changes.extend(tz.following(end).take(1));
    changes.dedup_by_key(|t| t.timestamp());
    if changes.is_empty() {
        let o = tz.to_offset(start);
        line(out, "BEGIN:STANDARD");
        line(out, "DTSTART:19700101T000000");
        line(out, &format!("TZOFFSETFROM:{}", offset(o)));
        line(out, &format!("TZOFFSETTO:{}", offset(o)));
        line(out, "END:STANDARD");
    }
    for t in changes {
        let before = tz.to_offset(t.timestamp() - jiff::SignedDuration::from_nanos(1));
        let kind = if t.dst().is_dst() {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        line(out, &format!("BEGIN:{kind}"));
        line(out, &format!("DTSTART:{}", local(t.timestamp(), before)));
        line(out, &format!("TZOFFSETFROM:{}", offset(before)));
        line(out, &format!("TZOFFSETTO:{}", offset(t.offset())));
        if !t.abbreviation().is_empty() {
            line(out, &format!("TZNAME:{}", text(t.abbreviation())));
        }
        line(out, &format!("END:{kind}"));
    }
    line(out, "END:VTIMEZONE");
}

/// The whole iCalendar object for `event` with `method`.
pub fn calendar(method: Method, event: &Event) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//activepath//booking//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, &format!("METHOD:{}", method.as_str()));
    let zone = event
        .tz
        .iana_name()
        .filter(|n| *n != "UTC" && !n.is_empty());
    if let Some(name) = zone {
        vtimezone(&mut out, event.tz, name, event.start, event.end);
    }
    let at = |property: &str, when: Timestamp| match zone {
        Some(name) => format!(
            "{property};TZID={name}:{}",
            local(when, event.tz.to_offset(when))
        ),
        None => format!("{property}:{}", utc(when)),
    };
    line(&mut out, "BEGIN:VEVENT");
    line(&mut out, &format!("UID:{}", event.uid));
    line(&mut out, &format!("SEQUENCE:{}", event.sequence));
    line(&mut out, &format!("DTSTAMP:{}", utc(event.stamp)));
    line(&mut out, &at("DTSTART", event.start));
    line(&mut out, &at("DTEND", event.end));
    line(&mut out, &format!("SUMMARY:{}", text(event.summary)));
    if !event.location.is_empty() {
        line(&mut out, &format!("LOCATION:{}", text(event.location)));
    }
    if !event.description.is_empty() {
        line(
            &mut out,
            &format!("DESCRIPTION:{}", text(event.description)),
        );
    }
    line(
        &mut out,
        &format!(
            "ORGANIZER;CN={}:mailto:{}",
            param(event.organizer_name),
            event.organizer_email
        ),
    );
    line(
        &mut out,
        &format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT:mailto:{}",
            param(event.attendee_name),
            event.attendee_email
        ),
    );
    line(
        &mut out,
        match method {
            Method::Request => "STATUS:CONFIRMED",
            Method::Cancel => "STATUS:CANCELLED",
        },
    );
    line(&mut out, "TRANSP:OPAQUE");
    line(&mut out, "END:VEVENT");
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(tz: &TimeZone) -> Event<'_> {
        Event {
            uid: "abc123@clinic.example",
            sequence: 0,
            start: "2026-11-01T14:00:00Z".parse().unwrap(),
            end: "2026-11-01T15:00:00Z".parse().unwrap(),
            tz,
            summary: "Initial consultation, in person",
            location: "Riverbend Clinic; 12 Main St, Suite 4",
            description: "To change or cancel: https://clinic.example/book/manage/t",
            organizer_name: "Riverbend \"Mind\" Clinic",
            organizer_email: "care@clinic.example",
            attendee_name: "Zoë Example",
            attendee_email: "zoe@example.com",
            stamp: "2026-10-20T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_event_is_at_the_clinics_wall_clock_time_with_its_zone() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let ics = calendar(Method::Request, &event(&ny));
        assert!(ics.contains("METHOD:REQUEST\r\n"));
        // 14:00Z on the day New York falls back is 9:00 EST.
        assert!(ics.contains("DTSTART;TZID=America/New_York:20261101T090000\r\n"));
        assert!(ics.contains("DTEND;TZID=America/New_York:20261101T100000\r\n"));
        // The change to EST at 2:00 EDT that morning is listed.
        assert!(ics.contains(
            "BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n"
        ));
        assert!(ics.contains("LOCATION:Riverbend Clinic\\; 12 Main St\\, Suite 4\r\n"));
        assert!(ics.contains("ORGANIZER;CN=\"Riverbend Mind Clinic\":mailto:care@clinic.example"));
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "{l}");
        }
        let cancel = calendar(
            Method::Cancel,
            &Event {
                sequence: 1,
                ..event(&ny)
            },
        );
        assert!(cancel.contains("METHOD:CANCEL\r\n") && cancel.contains("STATUS:CANCELLED"));
        assert!(cancel.contains("UID:abc123@clinic.example\r\nSEQUENCE:1\r\n"));
    }

    #[test]
    fn half_hour_and_fixed_zones_and_utc() {
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let ics = calendar(Method::Request, &event(&kolkata));
        assert!(ics.contains("DTSTART;TZID=Asia/Kolkata:20261101T193000\r\n"));
        assert!(ics.contains("TZOFFSETTO:+0530\r\n"));
        let ics = calendar(Method::Request, &event(&TimeZone::UTC));
        assert!(ics.contains("DTSTART:20261101T140000Z\r\n"));
        assert!(!ics.contains("VTIMEZONE"));
    }

    #[test]
    fn long_lines_fold_on_character_boundaries() {
        let mut out = String::new();
        let long = format!("DESCRIPTION:{}", "é".repeat(100));
        line(&mut out, &long);
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{long}\r\n"));
        for l in out.split("\r\n") {
            assert!(l.len() <= 75);
        }
    }
}
