//! Typed configuration, layered: defaults in code, then `activepath.toml`,
//! then `ACTIVEPATH_*` environment variables (`__` for nesting, e.g.
//! `ACTIVEPATH_CLINIC__NAME`), then command-line flags. `DATABASE_URL` picks
//! the database. Secrets are `SecretString` and never printed.

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// Where the SQLite file, the key file and the mail folder live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: a SQLite file in `data_dir`.
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// Days an anonymous result stays viewable by its link.
    pub result_ttl_days: u32,
    /// Base64 of 32 random bytes. Default: `encryption_key_file`, which is
    /// created on first run.
    #[serde(default)]
    pub encryption_key: Option<SecretString>,
    #[serde(default)]
    pub encryption_key_file: Option<PathBuf>,
    /// The clinic's own Markdown pages and posts (`pages/*.md`, `posts/*.md`).
    /// Default: the demo content built into the binary. Re-read on SIGHUP.
    #[serde(default)]
    pub content_dir: Option<PathBuf>,
    pub clinic: Clinic,
    pub mail: Mail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clinic {
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "text")]
    pub phone: String,
    #[serde(deserialize_with = "text")]
    pub email: String,
    #[serde(deserialize_with = "text")]
    pub address: String,
    /// IANA time zone name, e.g. `America/New_York`.
    #[serde(deserialize_with = "text")]
    pub time_zone: String,
    /// The public address of the site, used in links sent by e-mail and API.
    #[serde(deserialize_with = "text")]
    pub base_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    /// Sender of every message.
    #[serde(deserialize_with = "text")]
    pub from: String,
    /// Where notifications of new shared results go (the clinic's inbox).
    #[serde(deserialize_with = "text")]
    pub notify: String,
    /// Without SMTP, messages are written as files under `data_dir/mail/`.
    #[serde(default)]
    pub smtp: Option<Smtp>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    #[serde(deserialize_with = "text")]
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `starttls` (default), `tls` (implicit, port 465) or `none` (local relay only).
    #[serde(default = "default_security")]
    pub security: String,
}

/// Environment values arrive untyped: `ACTIVEPATH_CLINIC__PHONE=5550100`
/// is read as a number. Text fields accept any scalar as its text.
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Scalar::deserialize(d)? {
        Scalar::Text(s) => s,
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Bool(b) => b.to_string(),
    })
}

fn default_smtp_port() -> u16 {
    587
}

fn default_security() -> String {
    "starttls".into()
}

#[derive(Serialize)]
struct Defaults {
    bind: SocketAddr,
    data_dir: PathBuf,
    result_ttl_days: u32,
    clinic: Clinic,
    mail: DefaultMail,
}

#[derive(Serialize)]
struct DefaultMail {
    from: String,
    notify: String,
}

fn defaults() -> Defaults {
    Defaults {
        bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
        data_dir: PathBuf::from("data"),
        result_ttl_days: 30,
        clinic: Clinic {
            name: "Riverbend Mood Clinic (demo)".into(),
            phone: "+1 555 010 0123".into(),
            email: "care@riverbend.example".into(),
            address: "120 Example Avenue, Suite 4, Springfield, ST 00000".into(),
            time_zone: "America/New_York".into(),
            base_url: "http://127.0.0.1:8080".into(),
        },
        mail: DefaultMail {
            from: "Riverbend Mood Clinic <no-reply@riverbend.example>".into(),
            notify: "care@riverbend.example".into(),
        },
    }
}

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads every layer. `file` is the TOML file to read if it exists.
    pub fn load(file: &Path, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(defaults()));
        if file.exists() {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(Env::prefixed("ACTIVEPATH_").ignore(&["config"]).split("__"))
            .merge(Env::raw().only(&["database_url"]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Fails fast, saying what to set.
    pub fn validate(&self) -> anyhow::Result<()> {
        if jiff::tz::TimeZone::get(&self.clinic.time_zone).is_err() {
            bail!(
                "clinic.time_zone {:?} is not an IANA time zone name (e.g. America/New_York)",
                self.clinic.time_zone
            );
        }
        let base = &self.clinic.base_url;
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.ends_with('/') {
            bail!(
                "clinic.base_url must start with http:// or https:// and not end with '/', got {base:?}"
            );
        }
        if self.result_ttl_days == 0 {
            bail!("result_ttl_days must be at least 1");
        }
        for (name, value) in [
            ("mail.from", &self.mail.from),
            ("mail.notify", &self.mail.notify),
        ] {
            value
                .parse::<lettre::message::Mailbox>()
                .with_context(|| format!("{name} is not a valid e-mail address: {value:?}"))?;
        }
        if let Some(smtp) = &self.mail.smtp
            && !matches!(smtp.security.as_str(), "starttls" | "tls" | "none")
        {
            bail!(
                "mail.smtp.security must be starttls, tls or none, got {:?}",
                smtp.security
            );
        }
        let url = self.database_url();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            bail!("DATABASE_URL must start with sqlite: or postgres://");
        }
        if let Some(key) = &self.encryption_key {
            crate::crypto::MasterKey::from_base64(key.expose_secret())
                .context("encryption_key (ACTIVEPATH_ENCRYPTION_KEY)")?;
        }
        Ok(())
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose_secret().to_string(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("activepath.db").display()
            ),
        }
    }

    /// The database URL with any password hidden, for logs.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url())
    }

    pub fn key_file(&self) -> PathBuf {
        self.encryption_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("encryption.key"))
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature, tests only
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "activepath.toml",
                "result_ttl_days = 7\n[clinic]\nname = \"From file\"\nphone = \"1\"\n",
            )?;
            jail.set_env("ACTIVEPATH_CLINIC__PHONE", "2");
            jail.set_env("DATABASE_URL", "postgres://a:b@localhost/x");
            let overrides = Overrides {
                bind: Some("127.0.0.1:9999".parse().unwrap()),
                data_dir: None,
            };
            let c = Config::load(Path::new("activepath.toml"), &overrides).unwrap();
            assert_eq!(c.result_ttl_days, 7);
            assert_eq!(c.clinic.name, "From file");
            assert_eq!(c.clinic.phone, "2");
            assert_eq!(c.bind.port(), 9999);
            assert_eq!(c.database_url_redacted(), "postgres://a:***@localhost/x");
            Ok(())
        });
    }

    #[test]
    fn mistakes_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "activepath.toml",
                "[clinic]\ntime_zone = \"Mars/Olympus\"\n",
            )?;
            let err =
                Config::load(Path::new("activepath.toml"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("clinic.time_zone"), "{err}");
            jail.create_file("activepath.toml", "reslt_ttl_days = 3\n")?;
            let err =
                Config::load(Path::new("activepath.toml"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("reslt_ttl_days"), "{err}");
            Ok(())
        });
    }
}
