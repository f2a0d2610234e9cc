//! The clinic's facts, inserted into Markdown as `{{ clinic.phone }}`, so a
//! phone number or opening hours are written once (in the configuration)
//! and every page follows when they change.

use crate::config::Clinic;

/// Placeholder names and the Markdown each stands for.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    values: Vec<(&'static str, String)>,
}

/// What a placeholder may name, for the error message.
const NAMES: &str = "name, phone, phone_link, email, email_link, address, hours, result_days, \
                     processors, language_taglines, privacy_contact, section_1557_coordinator, \
                     notices_effective";

/// A setting's text, or a visible note that it is missing (a notice must
/// not pass for complete while a contact is blank).
fn or_unset(value: Option<String>, key: &str) -> String {
    value.unwrap_or_else(|| format!("*Not set yet (`{key}`).*"))
}

/// A Markdown list of `lines`, or `empty` when there are none.
fn list_or(lines: &[String], empty: &str) -> String {
    if lines.is_empty() {
        return empty.to_string();
    }
    lines
        .iter()
        .map(|l| format!("- {}", escape(l)))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Facts {
    /// The facts of `clinic`, and `result_days`, how many days a
    /// self-assessment result's private link works (`result_ttl_days`).
    pub fn of(clinic: &Clinic, result_days: u32) -> Self {
        let phone_uri = clinic.phone_uri();
        let hours = crate::time::format_week(&clinic.hours.days, true)
            .iter()
            .map(|l| format!("- {}", escape(l)))
            .collect::<Vec<_>>()
            .join("\n");
        Facts {
            values: vec![
                ("name", escape(&clinic.name)),
                ("phone", escape(&clinic.phone)),
                (
                    "phone_link",
                    format!("[{}](tel:{phone_uri})", escape(&clinic.phone)),
                ),
                ("email", escape(&clinic.email)),
                (
                    "email_link",
                    format!("[{}](mailto:{})", escape(&clinic.email), clinic.email),
                ),
                ("address", escape(&clinic.address)),
                ("hours", hours),
                ("result_days", result_days.to_string()),
                (
                    "processors",
                    list_or(
                        &clinic.processors,
                        "*No services are listed yet (`clinic.processors`).*",
                    ),
                ),
                (
                    "language_taglines",
                    list_or(
                        &clinic.language_taglines,
                        "*No taglines are set (`clinic.language_taglines`).*",
                    ),
                ),
                (
                    "privacy_contact",
                    or_unset(
                        clinic.privacy_contact.as_deref().map(escape),
                        "clinic.privacy_contact",
                    ),
                ),
                (
                    "section_1557_coordinator",
                    or_unset(
                        clinic.section_1557_coordinator.as_deref().map(escape),
                        "clinic.section_1557_coordinator",
                    ),
                ),
                (
                    "notices_effective",
                    or_unset(
                        clinic.notices_effective.map(crate::time::format_civil),
                        "clinic.notices_effective",
                    ),
                ),
            ],
        }
    }

    /// The demo clinic's facts (the built-in configuration).
    pub fn demo() -> Self {
        Self::of(&Clinic::demo(), crate::config::DEFAULT_RESULT_DAYS)
    }

    /// `markdown` with every `{{ clinic.x }}` replaced. An unknown name is an
    /// error with the line (from 0) it is on; other `{{ … }}` text is left.
    pub fn insert(&self, markdown: &str) -> Result<String, (usize, String)> {
        let mut out = String::with_capacity(markdown.len());
        let mut rest = markdown;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            let inner = rest[start + 2..start + len].trim();
            let Some(name) = inner.strip_prefix("clinic.") else {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                continue;
            };
            let Some((_, value)) = self.values.iter().find(|(n, _)| *n == name) else {
                let line = markdown[..markdown.len() - rest.len() + start]
                    .matches('\n')
                    .count();
                return Err((
                    line,
                    format!("{{{{ {inner} }}}} is not one of the clinic's facts ({NAMES})"),
                ));
            };
            out.push_str(&rest[..start]);
            out.push_str(value);
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Text that Markdown shows as written.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Facts;

    #[test]
    fn placeholders_become_the_configured_facts() {
        let mut clinic = crate::config::Clinic::demo();
        clinic.phone = "+1 (555) 777-0000".into();
        clinic.address = "1 *Main* St".into();
        clinic.hours = Default::default();
        clinic.hours.apply_line("mon-fri 9:00-17:00").unwrap();
        let facts = Facts::of(&clinic, 30);
        let out = facts
            .insert("Call {{ clinic.phone_link }} at {{clinic.address}}.\n\n{{ clinic.hours }}\n{{ other }}")
            .unwrap();
        assert!(
            out.contains("[+1 (555) 777-0000](tel:+15557770000)"),
            "{out}"
        );
        assert!(out.contains("1 \\*Main\\* St"), "{out}");
        assert!(
            out.contains("- Monday–Friday: 9:00 AM–5:00 PM\n- Saturday–Sunday: Closed"),
            "{out}"
        );
        assert!(out.ends_with("{{ other }}"), "{out}");
    }

    #[test]
    fn the_notices_settings_are_escaped_or_say_they_are_missing() {
        let mut clinic = crate::config::Clinic::demo();
        clinic.privacy_contact = Some("Pat <b>Doe</b> [x](javascript:1)".into());
        clinic.section_1557_coordinator = None;
        clinic.notices_effective = Some(jiff::civil::date(2027, 3, 4));
        let out = Facts::of(&clinic, 30)
            .insert(
                "{{ clinic.privacy_contact }}|{{ clinic.section_1557_coordinator }}|{{ clinic.notices_effective }}",
            )
            .unwrap();
        assert_eq!(
            out,
            "Pat \\<b\\>Doe\\</b\\> \\[x\\](javascript:1)|\
             *Not set yet (`clinic.section_1557_coordinator`).*|March 4, 2027"
        );
    }

    #[test]
    fn an_unknown_fact_is_an_error_with_its_line() {
        let (line, message) = Facts::demo().insert("a\nb {{ clinic.fax }}").unwrap_err();
        assert_eq!(line, 1);
        assert!(
            message.contains("clinic.fax") && message.contains("phone"),
            "{message}"
        );
    }
}
