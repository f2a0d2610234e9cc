//! The command line: `serve` (the default), `migrate`, `check-config`,
//! `user add`, `user token`, `user approve`, `user medical-director`,
//! `audit verify` and `audit anchor`.

use crate::app::{Application, Services, shutdown_signal};
use crate::config::{Config, Overrides};
use crate::content::Content;
use crate::staff::{Actor, Role, sign_in};
use crate::storage::Storage;
use crate::time::Clock;
use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "activepath",
    version,
    about = "A web platform for clinics that treat depression"
)]
pub struct Cli {
    /// Configuration file (read if it exists).
    #[arg(
        long,
        global = true,
        env = "ACTIVEPATH_CONFIG",
        default_value = "activepath.toml"
    )]
    pub config: PathBuf,
    /// Address to listen on, e.g. 127.0.0.1:8080 (env ACTIVEPATH_BIND).
    #[arg(long, global = true)]
    pub bind: Option<SocketAddr>,
    /// Folder for the SQLite file, the key file and mail (env ACTIVEPATH_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the site (the default).
    Serve,
    /// Apply database migrations, then exit.
    Migrate,
    /// Check the configuration and say what is wrong, then exit.
    CheckConfig,
    /// Staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The site's content.
    Content {
        #[command(subcommand)]
        command: ContentCommand,
    },
    /// Send a test e-mail now, with the mail settings, and say plainly what
    /// is wrong if it does not go.
    SendTestEmail {
        /// Where to send it; the clinic's notification address when not given.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account. The password comes from --password-file, or
    /// is asked for (twice) when none is given.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A file whose first line is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The clinic's medical director (a clinician): may approve roles
        /// given in the portal, like a second administrator.
        #[arg(long)]
        medical_director: bool,
    },
    /// Approve a role an administrator asked for in the portal (the
    /// account is made and its invitation sent), as the server's operator.
    Approve {
        /// The address the request is for.
        #[arg(long)]
        email: String,
    },
    /// Make a clinician the clinic's medical director (who may approve
    /// roles given in the portal), or with --remove, no longer.
    MedicalDirector {
        #[arg(long)]
        email: String,
        #[arg(long)]
        remove: bool,
    },
    /// Make an API token for an account and print it, once.
    Token {
        #[arg(long)]
        email: String,
        /// What the token is for, e.g. "EHR sync".
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContentCommand {
    /// Write the demo content (pages, posts, images) and an example
    /// activepath.toml into DIR, as a starting point for the clinic's own.
    Export {
        /// An empty (or new) folder.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no entry of the audit trail was changed, removed or
    /// inserted; exits non-zero naming the first one that was.
    Verify {
        /// A file of anchors written by `audit anchor`: also check that the
        /// trail still holds each anchored entry, so that removing the
        /// newest entries is seen too.
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
    },
    /// Check the trail, then print its anchor (the number of entries and
    /// the newest entry's hash) to keep where the database cannot reach it.
    Anchor {
        /// Also add the anchor as a line to FILE (created if missing), after
        /// checking the trail against the anchors already in it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Admin,
    Clinician,
    Coordinator,
    Technician,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Clinician => Role::Clinician,
            RoleArg::Coordinator => Role::Coordinator,
            RoleArg::Technician => Role::Technician,
        }
    }
}

/// Reads a new password: the first line of `file`, or typed at the
/// terminal (twice, without echo).
fn read_password(file: Option<&Path>) -> anyhow::Result<SecretString> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the password file {}", file.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_string().into());
    }
    let first = prompt_hidden("New password: ")?;
    let second = prompt_hidden("The same password again: ")?;
    anyhow::ensure!(first == second, "the two passwords are not the same");
    Ok(first.into())
}

/// A line from the terminal without echoing it; from a pipe, just a line.
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    #[cfg(unix)]
    let restore = {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        match tcgetattr(&stdin) {
            Ok(original) => {
                let mut quiet = original.clone();
                quiet.local_modes.remove(LocalModes::ECHO);
                tcsetattr(&stdin, OptionalActions::Now, &quiet)?;
                Some(original)
            }
            Err(_) => None,
        }
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    #[cfg(unix)]
    if let Some(original) = restore {
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &original)?;
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

impl Cli {
    fn config(&self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            bind: self.bind,
            data_dir: self.data_dir.clone(),
        };
        Config::load(&self.config, &overrides)
    }
}

/// How many entries an intact audit trail has, or what is wrong, in words.
fn audit_outcome(verdict: crate::staff::audit::Verdict) -> Result<u64, String> {
    use crate::staff::audit::Verdict;
    match verdict {
        Verdict::Intact { entries } => Ok(entries),
        Verdict::Broken { id, problem } => Err(format!("audit entry {id}: {problem}")),
        Verdict::Truncated { entries, anchored } => Err(format!(
            "the audit trail has {entries} entries but the anchor recorded {anchored}: \
             the newest were removed, from entry {} on",
            entries + 1
        )),
    }
}

/// What `audit verify` says, and its exit status.
fn audit_verdict(verdict: crate::staff::audit::Verdict, anchors: usize) -> anyhow::Result<()> {
    let entries = audit_outcome(verdict).map_err(anyhow::Error::msg)?;
    if anchors > 0 {
        println!(
            "the audit trail is intact: {entries} entries, holding every entry of the {anchors} anchor(s)"
        );
    } else {
        println!("the audit trail is intact: {entries} entries");
    }
    Ok(())
}

/// The anchors in `file`.
fn read_anchors(file: &Path) -> anyhow::Result<Vec<crate::staff::audit::Anchor>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the anchor file {}", file.display()))?;
    crate::staff::audit::Anchor::parse_all(&text)
        .map_err(|e| anyhow::anyhow!("the anchor file {} is not one: {e}", file.display()))
}

/// Prints the anchor (and adds it to `out`), or fails saying why the trail
/// cannot be anchored.
fn write_anchor(
    anchor: Result<crate::staff::audit::Anchor, crate::staff::audit::Verdict>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let anchor = anchor.map_err(|broken| {
        anyhow::anyhow!(
            "not anchored, the audit trail is not intact: {}",
            audit_outcome(broken).err().unwrap_or_default()
        )
    })?;
    let line = anchor.line();
    if let Some(file) = out {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .with_context(|| format!("opening {}", file.display()))?;
        writeln!(f, "{line}")
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", file.display()))?;
    }
    println!("{line}");
    Ok(())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Needs no configuration: it is how a clinic gets its first one.
    if let Some(Command::Content {
        command: ContentCommand::Export { dir },
    }) = &cli.command
    {
        let written = crate::content::export(dir)?;
        println!(
            "wrote {} files to {}; start the site from them with:\n  activepath --config {} serve",
            written.len(),
            dir.display(),
            dir.join("activepath.toml").display()
        );
        return Ok(());
    }
    let config = cli.config()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(config).await?;
            let addr = app.local_addr();
            tracing::info!(database = %app.state().config.database_url_redacted(), "listening on http://{addr}");
            // Printed for people and for tests that start the binary on port 0.
            println!("activepath listening on http://{addr}");
            app.run_until(shutdown_signal()).await
        }
        Command::Migrate => {
            let storage = Storage::connect(&config.database_url()).await?;
            storage.migrate().await?;
            storage.close().await;
            println!("migrations applied to {}", config.database_url_redacted());
            Ok(())
        }
        Command::User { command } => {
            let services = Services::open(config, Clock::System, Content::default()).await?;
            let actor = Actor::command_line();
            let done = match command {
                UserCommand::Add {
                    email,
                    role,
                    password_file,
                    medical_director,
                } => {
                    let role = Role::from(role);
                    anyhow::ensure!(
                        !medical_director || role == Role::Clinician,
                        "a medical director is a clinician: use --role clinician"
                    );
                    let password = read_password(password_file.as_deref())?;
                    if medical_director {
                        sign_in::add_medical_director(&services, &actor, &email, password).await?;
                    } else {
                        sign_in::add_account(&services, &actor, &email, role, password).await?;
                    }
                    println!(
                        "created the {} account {}{}",
                        crate::storage::TextEnum::as_text(role),
                        crate::staff::normalise_email(&email),
                        if medical_director {
                            " (medical director)"
                        } else {
                            ""
                        }
                    );
                    Ok(())
                }
                UserCommand::Approve { email } => {
                    use crate::staff::access::{self, Decision};
                    match access::approve_on_command_line(&services, &email).await? {
                        None => Err(anyhow::anyhow!(
                            "no request is waiting for {email}; administrators ask for roles at /staff/accounts"
                        )),
                        Some((grant, Decision::Approved { .. })) => {
                            println!(
                                "approved: {} gets an account with the {} role (asked for by {}); the invitation is on its way",
                                grant.email,
                                crate::storage::TextEnum::as_text(grant.role),
                                grant.requester
                            );
                            Ok(())
                        }
                        Some((_, Decision::Exists)) => Err(anyhow::anyhow!(
                            "an account with the address {email} exists already"
                        )),
                        Some((_, other)) => Err(anyhow::anyhow!(
                            "not approved ({other:?}): it was decided meanwhile"
                        )),
                    }
                }
                UserCommand::MedicalDirector { email, remove } => {
                    if crate::staff::access::set_medical_director(&services, &email, !remove)
                        .await?
                    {
                        println!(
                            "{} is {} the medical director",
                            crate::staff::normalise_email(&email),
                            if remove { "no longer" } else { "now" }
                        );
                        Ok(())
                    } else {
                        Err(anyhow::anyhow!(
                            "no clinician has the address {email} (a medical director is a clinician)"
                        ))
                    }
                }
                UserCommand::Token { email, name } => {
                    let user = services
                        .storage
                        .staff_user_by_email(&crate::staff::normalise_email(&email))
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no account has the address {email}"))?;
                    anyhow::ensure!(
                        !name.trim().is_empty(),
                        "--name must say what the token is for"
                    );
                    let token = sign_in::new_api_token(&services, &actor, &user, &name).await?;
                    println!("{token}");
                    eprintln!(
                        "This is the only time the token is shown. It acts as {} ({}).",
                        user.email,
                        crate::storage::TextEnum::as_text(user.role)
                    );
                    Ok(())
                }
            };
            services.storage.close().await;
            done
        }
        Command::Audit { command } => {
            // Read before the database is opened: a wrong path fails fast.
            let anchors = match &command {
                AuditCommand::Verify { anchor: Some(file) } => read_anchors(file)?,
                // A new file starts the list.
                AuditCommand::Anchor { out: Some(file) } if file.exists() => read_anchors(file)?,
                _ => Vec::new(),
            };
            let services = Services::open(config, Clock::System, Content::default()).await?;
            let chain = services.cipher.audit_chain();
            let done = match command {
                AuditCommand::Verify { .. } => {
                    crate::staff::audit::verify_anchored(&services.storage, &chain, &anchors)
                        .await
                        .map(|v| audit_verdict(v, anchors.len()))
                }
                AuditCommand::Anchor { out } => {
                    crate::staff::audit::anchor(&services.storage, &chain, &anchors)
                        .await
                        .map(|a| write_anchor(a, out.as_deref()))
                }
            };
            services.storage.close().await;
            done?
        }
        Command::Content { .. } => unreachable!("handled before the configuration is read"),
        Command::SendTestEmail { to } => {
            let to = to.unwrap_or_else(|| config.mail.notify.clone());
            let transport = crate::mail::Transport::from_config(&config)?;
            let envelope = crate::mail::test_message(&config, &to);
            match transport.send(&config.mail.from, &envelope).await {
                Ok(()) => {
                    match &config.mail.smtp {
                        Some(smtp) => println!(
                            "sent a test e-mail to {to} through {}:{}",
                            smtp.host, smtp.port
                        ),
                        None => println!(
                            "SMTP is not configured: the test e-mail was written to {} \
                             (set [mail.smtp] to send real mail)",
                            config.mail_dir().display()
                        ),
                    }
                    Ok(())
                }
                Err(e) => Err(anyhow::anyhow!(crate::mail::explain(&config, &e))),
            }
        }
        Command::CheckConfig => {
            let content = crate::content::Content::load(
                config.content_dir.as_deref(),
                &crate::content::Facts::of(&config.clinic, config.result_ttl_days),
            )?;
            let theme = crate::theme::Theme::build(&config.theme)?;
            println!("configuration is valid");
            println!(
                "  content:   {} ({} pages, {} posts, {} images)",
                config
                    .content_dir
                    .as_ref()
                    .map_or("built-in demo".into(), |d| d.display().to_string()),
                content.pages.len(),
                content.posts.len(),
                content.media.names().len()
            );
            println!(
                "  theme:     {} and {} pass WCAG AA contrast; logo {}",
                theme.palette.primary,
                theme.palette.accent,
                config
                    .theme
                    .logo
                    .as_ref()
                    .map_or("built-in demo".into(), |p| p.display().to_string())
            );
            println!("  bind:      {}", config.bind);
            println!("  data dir:  {}", config.data_dir.display());
            println!("  database:  {}", config.database_url_redacted());
            println!(
                "  clinic:    {} ({})",
                config.clinic.name,
                config.clinic.time_zone.name()
            );
            println!("  address:   {}", config.clinic.base_url);
            println!(
                "  mail:      {}",
                if config.mail.smtp.is_some() {
                    "SMTP"
                } else {
                    "files in data dir"
                }
            );
            println!(
                "  limits:    {}",
                if config.rate_limit.enabled {
                    "per-client rate limits on"
                } else {
                    "rate limits OFF"
                }
            );
            for warning in config.warnings() {
                println!("warning: {warning}");
            }
            let today = crate::time::date_in(jiff::Timestamp::now(), config.clinic.time_zone.tz());
            for warning in content.warnings(today) {
                println!("warning: content: {warning}");
            }
            Ok(())
        }
    }
}
