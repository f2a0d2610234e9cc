//! The application as a value: build it (database, key, listener), learn its
//! port (port 0 works), run it until a shutdown signal, then stop cleanly.

use crate::config::Config;
use crate::crypto::{FieldCipher, MasterKey};
use crate::jobs::{self, OutboxWorker};
use crate::mail::Transport;
use crate::storage::Storage;
use anyhow::Context;
use secrecy::ExposeSecret;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// What request handlers share. Cloned for every request, so it is a single
/// reference-counted pointer.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub storage: Storage,
    pub cipher: FieldCipher,
    /// Wakes the outbox worker when a message is queued.
    pub mail_wake: Arc<Notify>,
    /// The public site's content and rendered pages.
    pub site: crate::web::SiteCache,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    transport: Transport,
}

/// Loads the master key from config, or from (or into) the key file.
fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(key) = &config.encryption_key {
        return MasterKey::from_base64(key.expose_secret());
    }
    let path = config.key_file();
    let (key, created) = MasterKey::load_or_create(&path)?;
    if created {
        tracing::warn!(
            "created a new encryption key at {}: back it up. Without it, contact details stored in the database cannot be read.",
            path.display()
        );
    }
    Ok(key)
}

const KEY_CHECK_CONTEXT: &str = "key_check";
const KEY_CHECK_VALUE: &[u8] = b"activepath key check v1";

/// Refuses to start with a key other than the one the database was written
/// with (say, a lost key file silently replaced by a new one).
async fn verify_key(
    storage: &Storage,
    cipher: &FieldCipher,
    config: &Config,
) -> anyhow::Result<()> {
    match storage.key_check().await? {
        Some(sealed) => match cipher.decrypt(KEY_CHECK_CONTEXT, &sealed) {
            Ok(value) if value == KEY_CHECK_VALUE => Ok(()),
            _ => anyhow::bail!(
                "the encryption key ({}) is not the key this database was written with; \
                 restore the original key (encryption_key or the key file) from your backup",
                if config.encryption_key.is_some() {
                    "encryption_key".to_string()
                } else {
                    config.key_file().display().to_string()
                }
            ),
        },
        None => {
            storage
                .set_key_check(&cipher.encrypt(KEY_CHECK_CONTEXT, KEY_CHECK_VALUE))
                .await?;
            Ok(())
        }
    }
}

impl Application {
    /// Opens the database (applying migrations) and binds the listener.
    /// `transport` overrides the mail transport (tests use memory).
    pub async fn build(config: Config, transport: Option<Transport>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        let content = crate::content::Content::load(config.content_dir.as_deref())
            .context("the site's content has a problem")?;
        let key = master_key(&config)?;
        let storage = Storage::connect(&config.database_url())
            .await
            .with_context(|| format!("connecting to {}", config.database_url_redacted()))?;
        storage.migrate().await?;
        let cipher = FieldCipher::new(&key);
        verify_key(&storage, &cipher, &config).await?;
        let transport = match transport {
            Some(t) => t,
            None => Transport::from_config(&config)?,
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let state = AppState(Arc::new(Shared {
            config,
            storage,
            cipher,
            mail_wake: Arc::new(Notify::new()),
            site: crate::web::SiteCache::new(content),
        }));
        Ok(Application {
            listener,
            state,
            transport,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; then finishes in-flight requests,
    /// stops the background worker and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            state,
            transport,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = jobs::spawn(
            OutboxWorker {
                storage: state.storage.clone(),
                transport,
                from: state.config.mail.from.clone(),
            },
            state.mail_wake.clone(),
            stop_rx,
        );
        let storage = state.storage.clone();
        let reloader = tokio::spawn(reload_content_on_sighup(state.clone()));
        let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(
            crate::web::App::new(state),
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
        let _ = stop_tx.send(true);
        let _ = worker.await;
        reloader.abort();
        storage.close().await;
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Re-reads `content_dir` on SIGHUP. A broken edit is logged and the site
/// keeps serving the content it had.
async fn reload_content_on_sighup(state: AppState) {
    #[cfg(unix)]
    {
        let Some(dir) = state.config.content_dir.clone() else {
            return;
        };
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            match crate::content::Content::load(Some(&dir)) {
                Ok(content) => {
                    state.site.replace(content);
                    tracing::info!("content reloaded from {}", dir.display());
                }
                Err(e) => {
                    tracing::error!("content not reloaded, keeping the previous version: {e}")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = state;
}
