//! E-mail addresses as browsers accept them: the WHATWG HTML "valid e-mail
//! address" rule (the one behind `<input type=email>`), which admits no
//! quoted local parts, comments or spaces. We also require a dot in the
//! domain (an address at a bare host name reaches no one outside it), at
//! most 254 characters (RFC 5321), and that our mailer can send to it.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

/// The text is not an e-mail address we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid e-mail address")]
pub struct InvalidEmail;

/// `atext` of the local part, as the WHATWG rule lists it.
fn local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c)
}

/// A domain label: 1 to 63 letters, digits and hyphens, not starting or
/// ending with a hyphen.
fn label(l: &str) -> bool {
    (1..=63).contains(&l.len())
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

fn whatwg_valid(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty() && local.chars().all(local_char) && domain.split('.').all(label)
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let s = raw.trim();
        let ok = s.len() <= 254
            && whatwg_valid(s)
            && s.rsplit_once('@').is_some_and(|(_, d)| d.contains('.'))
            && s.parse::<lettre::Address>().is_ok();
        if ok {
            Ok(EmailAddress(s.to_string()))
        } else {
            Err(InvalidEmail)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_what_browsers_accept() {
        for ok in [
            "ana@example.org",
            "ana.b+x@example.co.uk",
            "a_b-c@sub-domain.example.com",
            "o'brien@example.ie",
            "UPPER@EXAMPLE.ORG",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "ana",
            "ana@localhost",
            "\"<script>\"@x.org",
            "<script>@x.org",
            "ana @example.org",
            "ana@exa mple.org",
            "ana@-example.org",
            "ana@example-.org",
            "ana@example..org",
            "ana@@example.org",
            "ana@example.org\0",
            "ana@example.org\r\nBcc: x@y.org",
            "@example.org",
            "ana@",
            "ana(comment)@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    proptest! {
        #[test]
        fn anything_accepted_is_plain_ascii_with_one_at(s in "\\PC{0,40}") {
            if let Ok(e) = EmailAddress::parse(&s) {
                prop_assert!(e.as_str().is_ascii());
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
                prop_assert!(!e.as_str().chars().any(|c| c.is_whitespace() || "<>\"()[]\\,;:".contains(c)));
            }
        }
    }
}
