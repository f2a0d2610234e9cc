//! Staff passwords: a policy (length and a strength estimate), argon2id
//! hashing on the blocking pool behind a [`Gate`], and a check that takes
//! as long whether or not the account exists.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, LazyLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// Every argon2 run takes a turn here. Each run holds 19 MiB for tens of
/// milliseconds on one core, so without a bound a hundred sign-ins at once
/// take gigabytes and starve everything else. At most `at_once` run at a
/// time, at most `waiting` more wait for a turn, and anyone past them is
/// told at once to come back shortly ([`Busy`]) rather than queued.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Places: those running and those waiting.
    places: Arc<Semaphore>,
    running: Arc<Semaphore>,
}

/// The gate is full: try again after [`Busy::RETRY_AFTER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once")]
pub struct Busy;

impl Busy {
    /// What to tell a client: the queue drains in well under this.
    pub const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
}

impl Gate {
    /// `at_once` is raised to at least 1.
    pub fn new(at_once: usize, waiting: usize) -> Self {
        let at_once = at_once.max(1);
        Gate {
            places: Arc::new(Semaphore::new(at_once.saturating_add(waiting))),
            running: Arc::new(Semaphore::new(at_once)),
        }
    }

    /// Runs as many at once as the machine has cores.
    pub fn for_this_machine(waiting: usize) -> Self {
        Gate::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            waiting,
        )
    }

    /// A place in the queue, or [`Busy`] when there is none. Never waits.
    pub fn admit(&self) -> Result<Turn, Busy> {
        let place = self.places.clone().try_acquire_owned().map_err(|_| Busy)?;
        Ok(Turn {
            place,
            running: self.running.clone(),
        })
    }
}

/// A place at the [`Gate`]: argon2 runs only with one.
#[derive(Debug)]
pub struct Turn {
    place: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
}

impl Turn {
    /// Waits for a free core, then runs `work` on the blocking pool. Both
    /// permits move into the blocking task, so a request that is dropped
    /// meanwhile (the client went away) still counts until the work ends.
    async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let running = self.running.clone().acquire_owned().await?;
        let place = self.place;
        Ok(tokio::task::spawn_blocking(move || {
            let _held = (running, place);
            work()
        })
        .await?)
    }
}

/// argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane:
/// the crate's defaults), as a PHC string.
pub async fn hash(turn: Turn, password: SecretString) -> anyhow::Result<String> {
    turn.run(move || {
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
pub async fn verify(turn: Turn, password: SecretString, hash: Option<String>) -> bool {
    turn.run(move || {
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
        let gate = Gate::new(1, 0);
        let turn = || gate.admit().unwrap();
        let h = hash(turn(), "correct horse battery staple".to_string().into())
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            verify(
                turn(),
                "correct horse battery staple".to_string().into(),
                Some(h.clone())
            )
            .await
        );
        assert!(
            !verify(
                turn(),
                "correct horse battery stapler".to_string().into(),
                Some(h)
            )
            .await
        );
        assert!(!verify(turn(), String::new().into(), None).await);
    }

    #[tokio::test]
    async fn the_gate_admits_those_running_and_waiting_and_no_more() {
        let gate = Gate::new(2, 3);
        let turns: Vec<Turn> = (0..5).map(|_| gate.admit().unwrap()).collect();
        assert_eq!(gate.admit().unwrap_err(), Busy);
        drop(turns);
        let turns: Vec<Turn> = (0..5).map(|_| gate.admit().unwrap()).collect();
        assert!(gate.admit().is_err());
        // A place is given back when its work ends, not before.
        let (started, go) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(std::sync::Barrier::new(2)),
        );
        let mut turns = turns.into_iter();
        let work = {
            let (started, go) = (started.clone(), go.clone());
            tokio::spawn(turns.next().unwrap().run(move || {
                started.notify_one();
                go.wait();
            }))
        };
        started.notified().await;
        drop(turns);
        let four: Vec<Turn> = (0..4).map(|_| gate.admit().unwrap()).collect();
        assert!(
            gate.admit().is_err(),
            "the running one still holds its place"
        );
        go.wait();
        work.await.unwrap().unwrap();
        assert!(gate.admit().is_ok());
        drop(four);
    }

    #[test]
    fn a_gate_runs_at_least_one() {
        let gate = Gate::new(0, 0);
        assert!(gate.admit().is_ok());
    }
}
