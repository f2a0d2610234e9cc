//! Staff passwords: a policy (length and a strength estimate), argon2id
//! hashing on the blocking pool, and a check that takes as long whether or
//! not the account exists.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};
use std::sync::LazyLock;

pub const MIN_CHARS: usize = 12;
/// Longer passphrases add nothing a guesser could try, and the strength
/// estimate's cost grows with length.
pub const MAX_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    TooShort,
    TooLong,
    /// Rated below 3 of 4 by zxcvbn; its advice, if it gave any.
    TooGuessable(Option<String>),
}

/// Checks a new password against the policy: at least 12 characters, rated
/// at least 3 of 4 by zxcvbn with the user's e-mail address and the clinic's
/// name counted as known words, and not mostly made of those words (zxcvbn
/// rates any three words run together at 3, "riverbendmoodclinic" too).
pub fn check(password: &str, email: &str, clinic_name: &str) -> Result<(), Problem> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(Problem::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(Problem::TooLong);
    }
    let local = email.split('@').next().unwrap_or("");
    let mut inputs: Vec<&str> = vec![email, local, clinic_name];
    inputs.extend(
        clinic_name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2),
    );
    inputs.extend(
        local
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2),
    );
    let mut rest = password.to_lowercase();
    for word in &inputs {
        let word = word.to_lowercase();
        if word.chars().count() > 2 {
            rest = rest.replace(&word, "");
        }
    }
    if rest.chars().filter(|c| c.is_alphanumeric()).count() < 8 {
        return Err(Problem::TooGuessable(Some(
            "it is mostly your e-mail address or the clinic's name".into(),
        )));
    }
    let entropy = zxcvbn::zxcvbn(password, &inputs);
    if (entropy.score() as u8) < 3 {
        let advice = entropy.feedback().and_then(|f| {
            f.warning()
                .map(|w| w.to_string())
                .or_else(|| f.suggestions().first().map(|s| s.to_string()))
        });
        return Err(Problem::TooGuessable(advice));
    }
    Ok(())
}

/// argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane:
/// the crate's defaults), as a PHC string.
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
    })
    .await?
}

/// A hash of a random password, checked when an account does not exist so
/// that the answer takes as long as for one that does.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(crate::crypto::random_token(24).as_bytes())
        .expect("hashing a random password")
        .to_string()
});

/// Whether `password` matches `hash`. With no hash (no such account, or no
/// password set yet), a dummy is checked and the answer is no.
pub async fn verify(password: SecretString, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let (stored, real) = match &hash {
            Some(h) => (h.as_str(), true),
            None => (DUMMY.as_str(), false),
        };
        let matches = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), stored)
            .is_ok();
        matches && real
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy() {
        let e = "morgan.ellis@riverbend.example";
        let c = "Riverbend Mood Clinic";
        assert_eq!(check("short", e, c), Err(Problem::TooShort));
        assert_eq!(check(&"x".repeat(201), e, c), Err(Problem::TooLong));
        for weak in [
            "password1234",
            "aaaaaaaaaaaa",
            "qwertyuiop12",
            "riverbendmoodclinic",
            "morgan.ellis2026",
            "Riverbend2026!",
        ] {
            assert!(
                matches!(check(weak, e, c), Err(Problem::TooGuessable(_))),
                "{weak}"
            );
        }
        for strong in [
            "correct horse battery staple",
            "Tq7#vLw9!pXz2@Rm",
            "lilac-otter-harbour-quietly",
        ] {
            assert_eq!(check(strong, e, c), Ok(()), "{strong}");
        }
    }

    #[tokio::test]
    async fn hashing_and_checking() {
        let h = hash("correct horse battery staple".to_string().into())
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            verify(
                "correct horse battery staple".to_string().into(),
                Some(h.clone())
            )
            .await
        );
        assert!(!verify("correct horse battery stapler".to_string().into(), Some(h)).await);
        assert!(!verify(String::new().into(), None).await);
    }
}
