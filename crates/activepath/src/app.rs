//! The application as a value: build it (data folder, database, key,
//! listener, rendered site), learn its port (port 0 works), run it until a
//! shutdown signal, then stop cleanly.

use crate::config::Config;
use crate::content::{Content, MediaCache};
use crate::crypto::{Aad, FieldCipher, MasterKey};
use crate::jobs::{self, OutboxWorker};
use crate::mail::Transport;
use crate::staff::password::Gate;
use crate::storage::Storage;
use crate::time::Clock;
use crate::web::{self, HttpService, RateLimits, SiteCache};
use anyhow::Context;
use secrecy::ExposeSecret;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// What request handlers, features and jobs share. Cloned for every
/// request, so it is a single reference-counted pointer.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

#[derive(Debug)]
pub struct Services {
    pub config: Config,
    pub storage: Storage,
    pub cipher: Arc<FieldCipher>,
    pub clock: Clock,
    /// Wakes the outbox worker when a message is queued.
    pub mail_wake: Arc<Notify>,
    /// The public site's content and rendered pages.
    pub site: SiteCache,
    /// Per-client limits on the public forms and the API.
    pub limits: RateLimits,
    /// Logo, icons, colours and the stylesheet made from them.
    pub theme: Arc<crate::theme::Theme>,
    /// Page views and funnel steps not yet stored.
    pub figures: crate::figures::Counter,
    /// Every password check (argon2) takes a turn here.
    pub passwords: crate::staff::password::Gate,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    transport: Transport,
    limits: web::server::Limits,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
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

const KEY_CHECK: &str = "key_check";
const KEY_CHECK_VALUE: &[u8] = b"activepath key check v1";

/// Refuses to start with a key other than the one the database was written
/// with (say, a lost key file silently replaced by a new one).
async fn verify_key(
    storage: &Storage,
    cipher: &FieldCipher,
    config: &Config,
) -> anyhow::Result<()> {
    let aad = Aad::context(KEY_CHECK);
    match storage.key_check().await? {
        Some(sealed) => match cipher.decrypt(&aad, &sealed) {
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
                .set_key_check(cipher.encrypt(&aad, KEY_CHECK_VALUE))
                .await?;
            Ok(())
        }
    }
}

impl Services {
    /// Opens the data folder, the key and the database (applying
    /// migrations and one-time upgrades): everything but the listener.
    /// Commands such as `activepath user add` use this too.
    pub async fn open(config: Config, clock: Clock, content: Content) -> anyhow::Result<Self> {
        let theme = crate::theme::Theme::build(&config.theme)?;
        crate::data_dir::prepare(&config.data_dir)?;
        let key = master_key(&config)?;
        let storage = Storage::connect(&config.database_url()).await?;
        storage.migrate().await?;
        let cipher = FieldCipher::new(&key);
        verify_key(&storage, &cipher, &config).await?;
        if let Some(report) =
            crate::assessment::upgrade::run(&storage, FieldCipher::new(&key)).await?
            && report != Default::default()
        {
            tracing::info!(
                results = report.results,
                cases = report.cases,
                left_as_found = report.left_as_found,
                "upgraded stored rows to keyed lookups and row-bound encryption"
            );
        }
        if let Some(n) = crate::mail::upgrade::run(&storage, FieldCipher::new(&key)).await?
            && n > 0
        {
            tracing::info!(messages = n, "sealed mail that was queued in the clear");
        }
        if let Some(n) =
            crate::staff::patients::reindex_names(&storage, FieldCipher::new(&key)).await?
            && n > 0
        {
            tracing::info!(records = n, "re-indexed patient names for search");
        }
        if config.booking.seed_demo
            && crate::booking::demo::seed(&storage, config.clinic.time_zone.name()).await?
        {
            tracing::info!("wrote the demo clinic's booking set-up (locations, clinicians, hours)");
        }
        let passwords = match config.staff.password_checks_at_once {
            Some(n) => Gate::new(n, config.staff.password_checks_waiting),
            None => Gate::for_this_machine(config.staff.password_checks_waiting),
        };
        Ok(Services {
            passwords,
            limits: RateLimits::new(&config.rate_limit),
            theme: Arc::new(theme),
            figures: crate::figures::Counter::new(config.clinic.time_zone.tz().clone()),
            site: SiteCache::new(content),
            config,
            storage,
            cipher: Arc::new(cipher),
            clock,
            mail_wake: Arc::new(Notify::new()),
        })
    }
}

impl Application {
    /// Opens the database (applying migrations) and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, None, Clock::System).await
    }

    /// [`Application::build`] with another mail transport (tests use memory)
    /// and clock (tests set it).
    pub async fn build_with(
        config: Config,
        transport: Option<Transport>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        // The data folder first: the images' variants are kept in it.
        crate::data_dir::prepare(&config.data_dir)?;
        let content = Content::load_cached(
            config.content_dir.as_deref(),
            &crate::content::Facts::of(&config.clinic, config.result_ttl_days),
            &MediaCache::in_data_dir(&config.data_dir),
        )
        .context("the site's content has a problem")?;
        log_media(&content);
        let services = Services::open(config, clock, content).await?;
        let config = &services.config;
        let transport = match transport {
            Some(t) => t,
            None => Transport::from_config(config)?,
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let limits = web::server::Limits {
            header_read_timeout: config.server.header_read_timeout,
            keep_alive_timeout: config.server.keep_alive_timeout,
            max_connections: web::server::connection_cap(config.server.max_connections),
            shutdown_grace: config.server.request_timeout,
        };
        // Installed before the server says it is listening: SIGHUP's default
        // action would end the process.
        #[cfg(unix)]
        let hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot handle SIGHUP, content cannot be reloaded: {e}");
                None
            }
        };
        let state = AppState(Arc::new(services));
        web::publish_site(&state, None).await;
        for warning in state.config.warnings() {
            tracing::warn!("{warning}");
        }
        log_content_warnings(&state);
        Ok(Application {
            listener,
            state,
            transport,
            limits,
            #[cfg(unix)]
            hangup,
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
    /// stops the background work and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            state,
            transport,
            limits,
            #[cfg(unix)]
            hangup,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = jobs::spawn(
            OutboxWorker {
                storage: state.storage.clone(),
                transport,
                from: state.config.mail.from.clone(),
                cipher: state.cipher.clone(),
            },
            state.clock.clone(),
            state.mail_wake.clone(),
            stop_rx,
        );
        #[cfg(unix)]
        let reloader = tokio::spawn(reload_on_sighup(state.clone(), hangup));
        let upkeep = tokio::spawn(upkeep(state.clone()));
        let reminders = tokio::spawn(reminders(state.clone()));
        let figures = tokio::spawn(crate::figures::keep_storing(state.clone()));
        web::server::serve(listener, HttpService::new(state.clone()), limits, shutdown).await;
        let _ = stop_tx.send(true);
        let _ = worker.await;
        #[cfg(unix)]
        reloader.abort();
        upkeep.abort();
        reminders.abort();
        figures.abort();
        crate::figures::flush(&state).await;
        state.storage.close().await;
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

/// What the content's medical review and reading level need from the
/// clinic, in the log (`check-config` prints the same).
fn log_content_warnings(state: &AppState) {
    let today = crate::time::date_in(state.clock.now(), state.config.clinic.time_zone.tz());
    for warning in state.site.content().warnings(today) {
        tracing::warn!("content: {warning}");
    }
}

/// How the images were made ready: a start with unchanged images makes none.
fn log_media(content: &Content) {
    let stats = content.media.stats();
    tracing::info!(
        made = stats.made,
        from_cache = stats.from_cache,
        from_memory = stats.from_memory,
        "images ready"
    );
}

/// On SIGHUP, re-reads what can change while running: the content folder.
/// A broken edit is logged and the site keeps the content it had. The
/// signal never ends the process.
#[cfg(unix)]
async fn reload_on_sighup(state: AppState, hangup: Option<tokio::signal::unix::Signal>) {
    let Some(mut hangup) = hangup else {
        return;
    };
    while hangup.recv().await.is_some() {
        let Some(dir) = state.config.content_dir.clone() else {
            tracing::info!(
                "SIGHUP: nothing to reload (the site uses its built-in content); \
                 configuration changes take effect at the next start"
            );
            continue;
        };
        let read = {
            let dir = dir.clone();
            let facts =
                crate::content::Facts::of(&state.config.clinic, state.config.result_ttl_days);
            let cache = MediaCache::in_data_dir(&state.config.data_dir);
            tokio::task::spawn_blocking(move || Content::load_cached(Some(&dir), &facts, &cache))
                .await
        };
        match read {
            Ok(Ok(content)) => {
                log_media(&content);
                let (pages, posts) = (content.pages.len(), content.posts.len());
                web::publish_site(&state, Some(content)).await;
                tracing::info!(
                    pages,
                    posts,
                    "SIGHUP: content reloaded from {}; configuration changes take effect at the next start",
                    dir.display()
                );
                log_content_warnings(&state);
            }
            Ok(Err(e)) => {
                tracing::error!("SIGHUP: content not reloaded, keeping the previous version: {e}")
            }
            Err(e) => tracing::error!("SIGHUP: reading the content failed: {e}"),
        }
    }
}

/// Every minute: queue the appointment reminders that are due. Several
/// instances may run this at once; each reminder is still sent once.
async fn reminders(state: AppState) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        match crate::booking::send_reminders(&state, state.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(reminders = n, "queued appointment reminders"),
            Err(e) => tracing::error!("appointment reminders failed: {e:#}"),
        }
    }
}

/// Every few minutes: forget rate-limit counts of quiet clients, and render
/// the site again when the clinic's date has changed (so posts dated today
/// appear) or its locations have (another instance may have saved them).
async fn upkeep(state: AppState) {
    let tz = state.config.clinic.time_zone.tz().clone();
    let mut rendered_for = crate::time::date_in(state.clock.now(), &tz);
    loop {
        let now = state.clock.now();
        let until_midnight = crate::time::next_midnight(now, &tz).duration_since(now);
        let wait = Duration::try_from(until_midnight)
            .unwrap_or_default()
            .clamp(Duration::from_secs(1), Duration::from_secs(300));
        tokio::time::sleep(wait).await;
        state.limits.forget_quiet_clients();
        let today = crate::time::date_in(state.clock.now(), &tz);
        // A new day, or locations changed on another instance: render again.
        let places_changed = *state.site.places() != web::places(&state).await;
        if today != rendered_for || places_changed {
            web::publish_site(&state, None).await;
            if today != rendered_for {
                // Site figures are kept for a little over a year.
                let first = today.saturating_sub(jiff::Span::new().days(400));
                if let Err(e) = state.storage.purge_site_counts(&first.to_string()).await {
                    tracing::warn!("forgetting old site figures failed: {e}");
                }
            }
            rendered_for = today;
        }
    }
}
