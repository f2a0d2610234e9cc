//! Phone numbers as people type them: 7 to 15 digits (E.164's maximum),
//! with spaces, dots, hyphens, brackets and one leading `+` allowed.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

/// The text is not a phone number we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid phone number")]
pub struct InvalidPhone;

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidPhone> {
        let s = raw.trim();
        let digits = s.chars().filter(char::is_ascii_digit).count();
        let ok = (7..=15).contains(&digits)
            && s.chars()
                .all(|c| c.is_ascii_digit() || " -().+".contains(c))
            && s.chars().filter(|&c| c == '+').count() <= 1
            && (!s.contains('+') || s.starts_with('+'));
        if ok {
            Ok(PhoneNumber(s.to_string()))
        } else {
            Err(InvalidPhone)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        for ok in [
            "(555) 010-0123",
            "+1 555 010 0123",
            "555.010.0123",
            "5550100123",
        ] {
            assert!(PhoneNumber::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "123",
            "555-CALL-NOW",
            "++1 555 010 0123",
            "555 010 0123+",
            "1234567890123456",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?}");
        }
    }
}
