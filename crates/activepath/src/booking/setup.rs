//! Checking what staff type into the booking set-up (locations, resources,
//! appointment types, weekly hours, exceptions) before it is stored: every
//! problem at once, each named by its field and a message id.

use super::FieldProblem;
use super::slots::{END_OF_DAY, ResourceKind};
use crate::domain::single_line;
use crate::storage::booking::{ExceptionRow, HoursRow, LocationRow, ResourceRow, TypeRow};
use std::collections::HashMap;

/// A posted form: field name to value (a field sent twice keeps every
/// value, in order).
#[derive(Debug, Clone, Default)]
pub struct Posted(pub HashMap<String, Vec<String>>);

impl Posted {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        Posted(map)
    }

    pub fn get(&self, field: &str) -> &str {
        self.0
            .get(field)
            .and_then(|v| v.first())
            .map_or("", |s| s.as_str())
    }

    pub fn all(&self, field: &str) -> &[String] {
        self.0.get(field).map_or(&[], |v| v.as_slice())
    }

    fn ticked(&self, field: &str) -> bool {
        self.get(field) == "yes"
    }
}

struct Check {
    problems: Vec<FieldProblem>,
}

impl Check {
    fn text(&mut self, p: &Posted, field: &'static str, max: usize, required: bool) -> String {
        let raw = p.get(field);
        if raw.trim().is_empty() {
            if required {
                self.problems.push((field, "setup-error-required"));
            }
            return String::new();
        }
        match single_line(raw, max) {
            Ok(t) => t,
            Err(_) => {
                self.problems.push((field, "setup-error-text"));
                String::new()
            }
        }
    }

    fn slug(&mut self, p: &Posted, field: &'static str) -> String {
        let raw = p.get(field).trim().to_string();
        let ok = !raw.is_empty()
            && raw.len() <= 40
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.starts_with('-');
        if !ok {
            self.problems.push((field, "setup-error-slug"));
        }
        raw
    }

    fn number(&mut self, p: &Posted, field: &'static str, min: i64, max: i64) -> i64 {
        match p.get(field).trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.problems.push((field, "setup-error-number"));
                min
            }
        }
    }

    /// "HH:MM" as minutes after midnight; "24:00" is the end of the day.
    fn time(&mut self, p: &Posted, field: &'static str, required: bool) -> Option<i64> {
        let raw = p.get(field).trim();
        if raw.is_empty() && !required {
            return None;
        }
        let parsed = raw.split_once(':').and_then(|(h, m)| {
            let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
            ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= i64::from(END_OF_DAY))
                .then_some(h * 60 + m)
        });
        if parsed.is_none() {
            self.problems.push((field, "setup-error-time"));
        }
        parsed
    }

    fn id(&mut self, p: &Posted, field: &'static str, known: &[i64]) -> i64 {
        match p.get(field).parse::<i64>() {
            Ok(id) if known.contains(&id) => id,
            _ => {
                self.problems.push((field, "setup-error-choose"));
                0
            }
        }
    }

    fn done<T>(self, value: T) -> Result<T, Vec<FieldProblem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }
}

fn check() -> Check {
    Check {
        problems: Vec::new(),
    }
}

/// A new location (`id` 0) or a change to one.
pub fn location(p: &Posted, id: i64) -> Result<LocationRow, Vec<FieldProblem>> {
    let mut c = check();
    let slug = if id == 0 {
        c.slug(p, "slug")
    } else {
        String::new()
    };
    let name = c.text(p, "name", 100, true);
    let address = c.text(p, "address", 200, true);
    let phone = c.text(p, "phone", 30, false);
    let map_url = c.text(p, "map_url", 300, false);
    if !map_url.is_empty() && !map_url.starts_with("https://") {
        c.problems.push(("map_url", "setup-error-url"));
    }
    let time_zone = p.get("time_zone").trim().to_string();
    if jiff::tz::TimeZone::get(&time_zone).is_err() {
        c.problems.push(("time_zone", "setup-error-zone"));
    }
    c.done(LocationRow {
        id,
        slug,
        name,
        address,
        phone,
        map_url,
        time_zone,
        position: 0,
        active: id == 0 || p.ticked("active"),
    })
}

pub fn resource(p: &Posted, id: i64) -> Result<ResourceRow, Vec<FieldProblem>> {
    let mut c = check();
    let slug = if id == 0 {
        c.slug(p, "slug")
    } else {
        String::new()
    };
    let name = c.text(p, "name", 100, true);
    let kind = p.get("kind").to_string();
    if id == 0 && ResourceKind::from_slug(&kind).is_none() {
        c.problems.push(("kind", "setup-error-choose"));
    }
    c.done(ResourceRow {
        id,
        slug,
        name,
        kind,
        active: id == 0 || p.ticked("active"),
    })
}

pub fn appointment_type(p: &Posted, id: i64) -> Result<TypeRow, Vec<FieldProblem>> {
    let mut c = check();
    let slug = if id == 0 {
        c.slug(p, "slug")
    } else {
        String::new()
    };
    let name = c.text(p, "name", 100, true);
    let description = c.text(p, "description", 400, false);
    let needs: Vec<String> = p
        .all("needs")
        .iter()
        .filter(|k| ResourceKind::from_slug(k).is_some())
        .cloned()
        .collect();
    if needs.is_empty() || needs.len() != p.all("needs").len() {
        c.problems.push(("needs", "setup-error-needs"));
    }
    let row = TypeRow {
        id,
        slug,
        name,
        description,
        duration_minutes: c.number(p, "duration_minutes", 5, 720),
        buffer_before_minutes: c.number(p, "buffer_before_minutes", 0, 240),
        buffer_after_minutes: c.number(p, "buffer_after_minutes", 0, 240),
        step_minutes: c.number(p, "step_minutes", 5, 240),
        min_notice_minutes: c.number(p, "min_notice_minutes", 0, 60 * 24 * 60),
        horizon_days: c.number(p, "horizon_days", 0, 730),
        public_booking: p.ticked("public_booking"),
        position: 0,
        active: id == 0 || p.ticked("active"),
        needs,
    };
    c.done(row)
}

pub fn hours(
    p: &Posted,
    resources: &[i64],
    locations: &[i64],
) -> Result<HoursRow, Vec<FieldProblem>> {
    let mut c = check();
    let resource_id = c.id(p, "resource", resources);
    let location_id = c.id(p, "location", locations);
    let weekday = c.number(p, "weekday", 1, 7);
    let start = c.time(p, "start", true).unwrap_or(0);
    let end = c.time(p, "end", true).unwrap_or(0);
    if c.problems.is_empty() && start >= end {
        c.problems.push(("end", "setup-error-order"));
    }
    c.done(HoursRow {
        id: 0,
        resource_id,
        location_id,
        weekday,
        start_minute: start,
        end_minute: end,
    })
}

pub fn exception(
    p: &Posted,
    resources: &[i64],
    locations: &[i64],
) -> Result<ExceptionRow, Vec<FieldProblem>> {
    let mut c = check();
    let location_id = c.id(p, "location", locations);
    let resource_id = match p.get("resource") {
        "" => None,
        _ => Some(c.id(p, "resource", resources)),
    };
    let day = p.get("day").trim().to_string();
    if crate::domain::day::parse_date(&day, crate::domain::day::Window::ALL).is_err() {
        c.problems.push(("day", "setup-error-date"));
    }
    let start = c.time(p, "start", false);
    let end = c.time(p, "end", false);
    if start.is_some() != end.is_some() || start.zip(end).is_some_and(|(a, b)| a >= b) {
        c.problems.push(("end", "setup-error-order"));
    }
    let kind = p.get("kind").to_string();
    match kind.as_str() {
        "closed" => {}
        "open" if resource_id.is_some() && start.is_some() => {}
        "open" => c.problems.push(("kind", "setup-error-open")),
        _ => c.problems.push(("kind", "setup-error-choose")),
    }
    let note = c.text(p, "note", 200, false);
    c.done(ExceptionRow {
        id: 0,
        location_id,
        resource_id,
        day,
        start_minute: start,
        end_minute: end,
        kind,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(s: &str) -> Posted {
        Posted::from_pairs(serde_urlencoded::from_str(s).unwrap())
    }

    #[test]
    fn hours_are_wall_clock_times_in_order() {
        let ok = hours(
            &posted("resource=1&location=2&weekday=3&start=09:30&end=24:00"),
            &[1],
            &[2],
        )
        .unwrap();
        assert_eq!((ok.start_minute, ok.end_minute, ok.weekday), (570, 1440, 3));
        let e = hours(
            &posted("resource=9&location=2&weekday=8&start=9&end=08:00"),
            &[1],
            &[2],
        )
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["resource", "weekday", "start"]);
        let e = hours(
            &posted("resource=1&location=2&weekday=1&start=10:00&end=09:00"),
            &[1],
            &[2],
        )
        .unwrap_err();
        assert_eq!(e, [("end", "setup-error-order")]);
    }

    #[test]
    fn exceptions_close_anything_but_open_only_a_resource_for_some_hours() {
        let holiday = exception(
            &posted("location=2&resource=&day=2026-12-25&kind=closed&note=Christmas"),
            &[1],
            &[2],
        )
        .unwrap();
        assert_eq!((holiday.resource_id, holiday.start_minute), (None, None));
        let e = exception(
            &posted("location=2&resource=&day=2026-12-27&kind=open"),
            &[1],
            &[2],
        )
        .unwrap_err();
        assert_eq!(e, [("kind", "setup-error-open")]);
        let e = exception(
            &posted("location=2&resource=1&day=27/12&start=10:00&kind=closed"),
            &[1],
            &[2],
        )
        .unwrap_err();
        assert_eq!(
            e,
            [("day", "setup-error-date"), ("end", "setup-error-order")]
        );
    }

    #[test]
    fn types_need_a_resource_kind_and_sane_numbers() {
        let ok = appointment_type(
            &posted("slug=intake&name=Intake&duration_minutes=45&buffer_before_minutes=0&buffer_after_minutes=15&step_minutes=15&min_notice_minutes=720&horizon_days=30&public_booking=yes&needs=clinician&needs=room"),
            0,
        )
        .unwrap();
        assert_eq!(ok.needs, ["clinician", "room"]);
        assert!(ok.public_booking && ok.active);
        let e = appointment_type(
            &posted("slug=Intake!&name=&duration_minutes=2&step_minutes=x&needs=robot"),
            0,
        )
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|(f, _)| *f).collect();
        for f in ["slug", "name", "needs", "duration_minutes", "step_minutes"] {
            assert!(fields.contains(&f), "{f}: {fields:?}");
        }
    }

    #[test]
    fn a_location_needs_a_real_time_zone() {
        let e = location(
            &posted("slug=west&name=West&address=1+Road&time_zone=Mars%2FBase"),
            0,
        )
        .unwrap_err();
        assert_eq!(e, [("time_zone", "setup-error-zone")]);
        assert!(
            location(
                &posted("slug=west&name=West&address=1+Road&time_zone=America%2FChicago"),
                0
            )
            .is_ok()
        );
    }
}
