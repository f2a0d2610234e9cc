//! The command line: `serve` (the default), `migrate`, `check-config`.

use crate::app::{Application, shutdown_signal};
use crate::config::{Config, Overrides};
use crate::storage::Storage;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
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
        Command::CheckConfig => {
            let content = crate::content::Content::load(config.content_dir.as_deref())?;
            println!("configuration is valid");
            println!(
                "  content:   {} ({} pages, {} posts)",
                config
                    .content_dir
                    .as_ref()
                    .map_or("built-in demo".into(), |d| d.display().to_string()),
                content.pages.len(),
                content.posts.len()
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
            Ok(())
        }
    }
}
