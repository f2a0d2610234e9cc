//! E-mail addresses as browsers accept them: the WHATWG HTML "valid e-mail
//! address" rule (the one behind `<input type=email>`), which admits no
//! quoted local parts, comments or spaces. We also require a domain name:
//! at least one dot (an address at a bare host name such as `localhost`
//! reaches no one outside it) and a top-level label that is not all digits
//! (RFC 3696 section 2), so no IP address in any spelling (`127.0.0.1`,
//! `[127.0.0.1]`, `[IPv6:…]`) can make the clinic's server mail itself or
//! its network. At most 254 characters (RFC 5321), and our mailer must be
//! able to send to it.

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

/// A name in the DNS, not a host alone and not an address: a dot, and a
/// top-level label with a letter in it (every top-level domain has one,
/// `xn--` ones too; an IPv4 address in any of its short forms has none).
fn domain_name(domain: &str) -> bool {
    domain
        .rsplit_once('.')
        .is_some_and(|(_, top)| top.chars().any(|c| c.is_ascii_alphabetic()))
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let s = raw.trim();
        let ok = s.len() <= 254
            && whatwg_valid(s)
            && s.rsplit_once('@').is_some_and(|(_, d)| domain_name(d))
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
            // Internationalized domains, as browsers send them (A-labels).
            "ana@xn--bcher-kva.example",
            "ana@example.xn--p1ai",
            // Digits are fine below the top level.
            "ana@123.example.org",
            "ana@mail.1und1.de",
            "ana@example.co2",
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
            // No domain name: a host alone, or an address.
            "a@localhost",
            "someone@127.0.0.1",
            "a@[127.0.0.1]",
            "a@[IPv6:::1]",
            "a@[IPv6:2001:db8::1]",
            "a@127.1",
            "a@2130706433",
            "a@0177.0.0.1",
            "a@10.0.0.1.",
            "a@example.123",
            "a@example.",
            "a@.example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    proptest! {
        #[test]
        fn no_ip_address_is_accepted(a: u8, b: u8, c: u8, d: u8, local in "[a-z]{1,10}") {
            for domain in [
                format!("{a}.{b}.{c}.{d}"),
                format!("[{a}.{b}.{c}.{d}]"),
                format!("{a}.{b}"),
                format!("[IPv6:::ffff:{a}.{b}.{c}.{d}]"),
                format!("[IPv6:{a:x}::{b:x}]"),
            ] {
                let address = format!("{local}@{domain}");
                prop_assert!(EmailAddress::parse(&address).is_err(), "{}", address);
            }
        }

        #[test]
        fn a_domain_of_digits_and_dots_or_without_a_dot_is_refused(
            local in "[a-z]{1,10}",
            domain in "[0-9.]{1,20}|[a-z0-9-]{1,20}",
        ) {
            let address = format!("{local}@{domain}");
            prop_assert!(EmailAddress::parse(&address).is_err(), "{}", address);
        }

        #[test]
        fn ordinary_addresses_are_accepted(
            local in "[a-z0-9]([a-z0-9_+-]{0,20}[a-z0-9])?(\\.[a-z0-9]{1,5})?",
            labels in proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 1..4),
            top in "[a-z]{2,6}|xn--[a-z0-9]{2,10}",
        ) {
            let address = format!("{local}@{}.{top}", labels.join("."));
            prop_assert_eq!(EmailAddress::parse(&address).map(|e| e.as_str().to_string()), Ok(address));
        }

        #[test]
        fn anything_accepted_is_plain_ascii_with_one_at(s in "\\PC{0,40}") {
            if let Ok(e) = EmailAddress::parse(&s) {
                prop_assert!(e.as_str().is_ascii());
                prop_assert_eq!(e.as_str().matches('@').count(), 1);
                prop_assert!(!e.as_str().chars().any(|c| c.is_whitespace() || "<>\"()[]\\,;:".contains(c)));
                prop_assert!(domain_name(e.as_str().rsplit_once('@').unwrap().1));
            }
        }
    }
}
