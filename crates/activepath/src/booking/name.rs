//! What a booking's name may not carry: a web or e-mail address. The name
//! is printed in the clinic's own e-mail and on staff screens, so a "name"
//! such as `Visit evil.example/login to confirm` would have the clinic
//! deliver someone else's link under its brand.
//!
//! The rule looks for what mail programs turn into links: a scheme
//! (`http://`, `https://`, `mailto:` …), `www.`, an `@`, or a host name
//! — labels joined by dots ending in a top-level domain of two or more
//! letters, with or without a path, e.g. `evil.example/login`. Names with
//! initials and dots stay allowed (`J. R. Smith`, `A.J. Lee`, `St.John`):
//! a last label written with a capital and small letters is a name, not a
//! domain, because domains are written in one case.

/// Dots as they may be typed in other scripts; mail programs treat some
/// of them as a dot in a host name.
fn is_dot(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
}

/// Whether `name` holds a web address, a host name or an e-mail address.
pub fn has_address(name: &str) -> bool {
    let lower = name.to_lowercase();
    let www = lower
        .split("www")
        .skip(1)
        .any(|rest| rest.chars().next().is_some_and(is_dot));
    if www || lower.contains(['@', '\u{FF20}']) || lower.contains("://") {
        return true;
    }
    let has_scheme = lower
        .split(|c: char| !c.is_alphanumeric() && c != ':')
        .any(|w| {
            [
                "http:",
                "https:",
                "mailto:",
                "ftp:",
                "file:",
                "data:",
                "javascript:",
            ]
            .iter()
            .any(|scheme| w.starts_with(scheme))
        });
    has_scheme || name.split_whitespace().any(is_host)
}

/// `evil.example`, `evil.example/login`, `bit.ly,` — a host name with at
/// least two labels, the last of two or more letters all in one case.
fn is_host(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    let host = word
        .split(['/', '\\', '?', '#', ':'])
        .next()
        .unwrap_or_default();
    let labels: Vec<&str> = host.split(is_dot).collect();
    let Some((top, rest)) = labels.split_last() else {
        return false;
    };
    let label_ok = |l: &&str| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-');
    let one_case = top.chars().all(char::is_lowercase) || top.chars().all(char::is_uppercase);
    !rest.is_empty()
        && rest.iter().all(label_ok)
        && top.chars().count() >= 2
        && top.chars().all(char::is_alphabetic)
        && one_case
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_in_a_name_are_found() {
        for name in [
            "Hello Visit http://evil.example/login to confirm,",
            "https://evil.example",
            "HTTP://EVIL.EXAMPLE",
            "Ana www.evil.example",
            "Ana WWW.EVIL.EXAMPLE",
            "Visit evil.example/login",
            "evil.example",
            "EVIL.EXAMPLE",
            "bit.ly/x",
            "see bit.ly, now",
            "ana@example.org",
            "Ana (ana@example.org)",
            "ana\u{FF20}example.org",
            "go to evil\u{3002}example",
            "mailto:ana",
            "javascript:alert(1)",
            "evil.co.uk/path?x=1",
            "xn--80ak6aa92e.com",
            "(evil.example)",
        ] {
            assert!(has_address(name), "{name:?} should be refused");
        }
    }

    #[test]
    fn names_with_initials_and_dots_are_names() {
        for name in [
            "Zoë Example",
            "J. R. Smith",
            "A.J. Lee",
            "St.John Rivers",
            "Dr. Ana Rivera",
            "Mary-Ann O'Neil Jr.",
            "José Ñúñez-O'Brien",
            "Li Wei",
            "Ana 2",
            "Wwwanda Smith",
            "Ana.",
            "O.",
            "Fatima Al-Hassan",
            "Nguyễn Thị Minh Khai",
        ] {
            assert!(!has_address(name), "{name:?} is a name");
        }
    }

    proptest! {
        #[test]
        fn ordinary_names_pass(
            name in "[A-Z][a-z]{1,12}( [A-Z]\\.)?( [A-Z][a-z'-]{1,12}){0,2}"
        ) {
            prop_assert!(!has_address(&name));
        }

        #[test]
        fn a_link_anywhere_in_a_name_is_found(
            before in "[A-Z][a-z]{0,10} ?",
            after in " ?[a-z]{0,10}",
            host in "[a-z]{1,12}(\\.[a-z]{1,8})?\\.[a-z]{2,6}",
            form in 0usize..5,
        ) {
            let link = match form {
                0 => format!("http://{host}"),
                1 => format!("https://{host}/login"),
                2 => format!("www.{host}"),
                3 => format!("{host}/path"),
                _ => format!("someone@{host}"),
            };
            let name = format!("{before}{link}{after}");
            prop_assert!(has_address(&name), "{}", name);
        }
    }
}
