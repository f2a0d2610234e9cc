//! Typed configuration, layered: defaults in code, then `activepath.toml`,
//! then `ACTIVEPATH_*` environment variables (`__` for nesting, e.g.
//! `ACTIVEPATH_CLINIC__NAME`), then command-line flags. `DATABASE_URL` picks
//! the database. Values are parsed once, here: a time zone, an address or a
//! duration that does not parse stops start-up with the key's name. Secrets
//! are `SecretString` and never printed.

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use jiff::tz::TimeZone;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Every default, in the same shape as `activepath.toml`.
const DEFAULTS: &str = r##"
bind = "127.0.0.1:8080"
data_dir = "data"
result_ttl_days = 30

[clinic]
name = "Riverbend Mood Clinic (demo)"
phone = "+1 555 010 0123"
email = "care@riverbend.example"
address = "120 Example Avenue, Suite 4, Springfield, ST 00000"
time_zone = "America/New_York"
base_url = "http://127.0.0.1:8080"
hours = ["monday-friday 8:30-17:30", "thursday 8:30-19:00"]

[mail]
from = "Riverbend Mood Clinic <no-reply@riverbend.example>"
notify = "care@riverbend.example"

[server]
header_read_timeout = "10s"
keep_alive_timeout = "5s"
request_timeout = "30s"
max_connections = 10000
trusted_proxies = []

[rate_limit]
enabled = true
assessment = { per_hour = 120, burst = 30 }
api = { per_hour = 120, burst = 30 }
share = { per_hour = 10, burst = 3 }
booking = { per_hour = 20, burst = 5 }
sign_in = { per_hour = 30, burst = 10 }
staff_api = { per_hour = 3600, burst = 120 }

[staff]
require_second_factor = true
session_idle_timeout = "30m"
session_lifetime = "12h"
urgent_respond_within = "4h"
routine_respond_within = "48h"
max_code_failures = 10
password_checks_waiting = 16

[booking]
reminder_before = "24h"
seed_demo = true
confirm_within = "30m"
max_open_holds_per_client = 2
max_open_holds_per_email = 2
max_unconfirmed_per_location_per_day = 20

[tms]
max_intensity_percent_mt = 120
early_non_response_session = 20
baseline_valid_days = 14
check_in_cadence = "weekly"
check_in_sessions = [10, 20, 30, 36]
authorization_warn_sessions = 5
authorization_warn_days = 7
check_in_link_valid = "72h"
missed_sessions_alert = 2
motor_threshold_valid_days = 7

[theme]
show_name = true
primary_color = "#1f5f8b"
accent_color = "#9c4a1a"
"##;

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
    pub server: Server,
    pub rate_limit: RateLimits,
    pub staff: Staff,
    pub booking: Booking,
    pub theme: ThemeConfig,
    pub tms: Tms,
}

/// The clinic's look. Paths are read at start; colours are checked for
/// contrast (see `crate::theme`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeConfig {
    /// An SVG or PNG shown in the header; the built-in demo logo if unset.
    pub logo: Option<PathBuf>,
    /// A square SVG or PNG for browser tabs and home screens; the logo if unset.
    pub icon: Option<PathBuf>,
    /// Show the clinic's name beside the logo (turn off when the logo spells it).
    pub show_name: bool,
    /// Links, buttons and focus rings. `#rrggbb`.
    #[serde(deserialize_with = "text")]
    pub primary_color: String,
    /// The lead button, the current-page marker and the home page's band.
    #[serde(deserialize_with = "text")]
    pub accent_color: String,
    /// The family name of `fonts`; system fonts when there are none.
    pub font_family: Option<String>,
    #[serde(default)]
    pub fonts: Vec<FontFile>,
}

/// One self-hosted WOFF2 file of the theme's font family.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FontFile {
    pub file: PathBuf,
    #[serde(default = "normal_weight")]
    pub weight: u16,
    #[serde(default)]
    pub italic: bool,
}

impl ThemeConfig {
    /// The demo clinic's theme, as the built-in configuration sets it.
    pub fn demo() -> ThemeConfig {
        Figment::from(Toml::string(DEFAULTS))
            .extract_inner("theme")
            .expect("the built-in configuration is valid")
    }
}

fn normal_weight() -> u16 {
    400
}

/// How many days a result's private link works in the built-in settings
/// (`result_ttl_days`).
pub const DEFAULT_RESULT_DAYS: u32 = 30;

/// TMS treatment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tms {
    /// The highest intensity, as a percentage of the motor threshold, that
    /// a session may be given at; a higher one is refused.
    pub max_intensity_percent_mt: i64,
    /// The session count by which a course under 25% better is flagged as
    /// an early non-response (FACTS §5; 20 by default).
    pub early_non_response_session: u32,
    /// The baseline is the latest PHQ-9 taken before session 1 and at most
    /// this many days before it (14 by default); a check-in entered more
    /// than this many days before the course's start date is refused.
    #[serde(default = "baseline_valid_days")]
    pub baseline_valid_days: i64,
    /// When a check-in is due during the acute course: `weekly` (seven
    /// days after the last) or `sessions` (on reaching each number in
    /// `check_in_sessions`, so a missed week does not shift them).
    pub check_in_cadence: CheckInCadence,
    pub check_in_sessions: Vec<u32>,
    /// Warn when an authorization has this many sessions left or fewer…
    pub authorization_warn_sessions: i64,
    /// …or ends within this many days.
    pub authorization_warn_days: i64,
    /// How long an e-mailed check-in link works (it works once).
    #[serde(deserialize_with = "duration")]
    pub check_in_link_valid: Duration,
    /// Alert when this many booked sessions in a row were missed.
    pub missed_sessions_alert: usize,
    /// A motor threshold older than this many days is determined again
    /// before the next session (a hard stop; 7 by default, 1 to 90).
    pub motor_threshold_valid_days: i64,
    /// The clinic's own protocols, beside the built-in ones.
    #[serde(default)]
    pub protocols: Vec<ProtocolConfig>,
}

/// A clinic's own TMS protocol: `[[tms.protocols]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolConfig {
    /// Lower-case letters, digits and dashes; not a built-in id.
    pub id: String,
    pub name: String,
    pub pulses_per_session: Option<u32>,
    pub intensity_percent_mt: Option<u16>,
    #[serde(default = "one")]
    pub sessions_per_day: u32,
    pub default_planned_sessions: u32,
}

fn one() -> u32 {
    1
}

fn baseline_valid_days() -> i64 {
    14
}

impl ProtocolConfig {
    pub fn protocol(&self) -> clinical::protocol::Protocol {
        clinical::protocol::Protocol {
            id: self.id.clone().into(),
            name: self.name.clone().into(),
            pulses_per_session: self.pulses_per_session,
            intensity_percent_mt: self.intensity_percent_mt,
            sessions_per_day: self.sessions_per_day,
            default_planned_sessions: self.default_planned_sessions,
            session_seconds: None,
        }
    }
}

impl Tms {
    /// The built-in TMS settings.
    pub fn demo() -> Tms {
        Figment::from(Toml::string(DEFAULTS))
            .extract_inner("tms")
            .expect("the built-in configuration is valid")
    }
}

/// See [`Tms::check_in_cadence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckInCadence {
    Weekly,
    Sessions,
}

/// Booking appointments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Booking {
    /// How long before an appointment its reminder e-mail goes out.
    #[serde(deserialize_with = "duration")]
    pub reminder_before: Duration,
    /// Give a new database the demo clinic's locations, clinicians, types
    /// and hours (so the booking pages work at once). Set to false before
    /// the first start to begin with none.
    pub seed_demo: bool,
    /// How long a booking made on the site or through the API holds its
    /// time while the person has not yet opened the link e-mailed to them.
    /// Unconfirmed, the time is released.
    #[serde(deserialize_with = "duration")]
    pub confirm_within: Duration,
    /// Unconfirmed bookings one client (an address, IPv6 per /64) may hold
    /// at once.
    pub max_open_holds_per_client: u32,
    /// Unconfirmed bookings one e-mail address may hold at once.
    pub max_open_holds_per_email: u32,
    /// Bookings at one location in the last 24 hours that were not
    /// confirmed (still waiting, or lapsed): past this, online booking
    /// there pauses and the pages give the clinic's phone number.
    pub max_unconfirmed_per_location_per_day: u32,
}

/// The staff portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    /// Every account must use a second factor (TOTP). Only turn this off for
    /// a demonstration; the portal then says so on every page.
    pub require_second_factor: bool,
    /// A session unused this long ends.
    #[serde(deserialize_with = "duration")]
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    #[serde(deserialize_with = "duration")]
    pub session_lifetime: Duration,
    /// How soon an urgent case (question 9 above 0) should be answered.
    #[serde(deserialize_with = "duration")]
    pub urgent_respond_within: Duration,
    /// How soon a routine case should be answered.
    #[serde(deserialize_with = "duration")]
    pub routine_respond_within: Duration,
    /// Wrong second-factor codes in a row after which an account takes no
    /// code until its password is reset by e-mail or an administrator
    /// enables it again.
    pub max_code_failures: u32,
    /// Password checks (argon2, 19 MiB each) run at once; default: one per
    /// core of the machine.
    #[serde(default)]
    pub password_checks_at_once: Option<usize>,
    /// Password checks that may wait for a turn; past them, sign-in answers
    /// 503 with Retry-After.
    pub password_checks_waiting: usize,
}

#[derive(Debug, Clone, Deserialize)]
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
    pub time_zone: ClinicTimeZone,
    /// The public address of the site, used in links sent by e-mail and API.
    pub base_url: BaseUrl,
    /// When the phone and front desk are open, per weekday, in `time_zone`.
    #[serde(default)]
    pub hours: OpeningHours,
    /// Language-assistance taglines for the non-discrimination notice, one
    /// per language, each in its own language (the clinic writes them).
    #[serde(default)]
    pub language_taglines: Vec<String>,
    /// The services that handle the site's data for the clinic (hosting,
    /// e-mail, text messages), one line each, for the privacy notice.
    #[serde(default)]
    pub processors: Vec<String>,
    /// Who answers privacy questions and complaints, and how to reach them
    /// (one line), for the Notice of Privacy Practices.
    #[serde(default, deserialize_with = "some_text")]
    pub privacy_contact: Option<String>,
    /// The Section 1557 coordinator and how to reach them (one line), for
    /// the notice of non-discrimination: language help, aids and grievances.
    #[serde(default, deserialize_with = "some_text")]
    pub section_1557_coordinator: Option<String>,
    /// The day the notices take effect, shown on them: `"2026-12-07"`.
    #[serde(default, deserialize_with = "some_date")]
    pub notices_effective: Option<jiff::civil::Date>,
}

/// The demo clinic's name: a configuration that keeps it is the demo.
pub const DEMO_CLINIC_NAME: &str = "Riverbend Mood Clinic (demo)";

impl Clinic {
    /// `+1 (555) 010-0123` -> `+15550100123` for `tel:` links.
    pub fn phone_uri(&self) -> String {
        self.phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect()
    }

    /// The demo clinic of the built-in configuration.
    pub fn demo() -> Clinic {
        let mut clinic: Clinic = Figment::from(Toml::string(DEFAULTS))
            .extract_inner("clinic")
            .expect("the built-in configuration is valid");
        clinic.fill_demo_notices();
        clinic
    }

    /// Whether this is the demo clinic (its name was kept).
    pub fn is_demo(&self) -> bool {
        self.name == DEMO_CLINIC_NAME
    }

    /// The demo clinic's notices name its made-up contacts. They are not
    /// defaults: a clinic of its own never shows the demo's privacy contact
    /// on its legal notices; what it leaves unset, its notices say is
    /// missing, and `check-config` warns (see [`Config::warnings`]).
    fn fill_demo_notices(&mut self) {
        if !self.is_demo() {
            return;
        }
        self.privacy_contact.get_or_insert_with(|| {
            "Privacy officer, Riverbend Mood Clinic (demo): privacy@riverbend.example, \
             +1 555 010 0123"
                .into()
        });
        self.section_1557_coordinator.get_or_insert_with(|| {
            "Section 1557 coordinator, Riverbend Mood Clinic (demo), 120 Example Avenue, \
             Suite 4, Springfield, ST 00000: access@riverbend.example, +1 555 010 0123"
                .into()
        });
        self.notices_effective
            .get_or_insert(jiff::civil::date(2026, 12, 7));
    }

    /// The notice settings a clinic of its own has left unset: (key, what
    /// it is for).
    pub fn unset_notice_settings(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.privacy_contact.is_none() {
            out.push((
                "clinic.privacy_contact",
                "who answers privacy questions and complaints, on the Notice of Privacy Practices",
            ));
        }
        if self.section_1557_coordinator.is_none() {
            out.push((
                "clinic.section_1557_coordinator",
                "the Section 1557 coordinator, on the notice of non-discrimination",
            ));
        }
        if self.notices_effective.is_none() {
            out.push((
                "clinic.notices_effective",
                "the day the notices take effect",
            ));
        }
        out
    }
}

/// Opening hours per weekday as minutes after midnight, Monday first. In
/// TOML, a list of lines, each days then hours:
/// `hours = ["monday-friday 8:30-17:30", "thursday 8:30-19:00"]`; two spans
/// as `"saturday 9:00-12:00, 13:00-15:00"`. A later line replaces an earlier
/// one for its days; a day no line names is closed. (A list, not a table,
/// so that the clinic's file replaces the demo's hours instead of merging.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpeningHours {
    pub days: [Vec<(u16, u16)>; 7],
}

pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl OpeningHours {
    /// Parses one day's value: "closed", or spans "H:MM-H:MM" separated by commas.
    pub fn parse_day(raw: &str) -> Result<Vec<(u16, u16)>, String> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("closed") || raw.is_empty() {
            return Ok(Vec::new());
        }
        let clock = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
        };
        let mut spans = Vec::new();
        for span in raw.split(',') {
            let parsed = span
                .split_once(['-', '\u{2013}'])
                .and_then(|(a, b)| Some((clock(a)?, clock(b)?)));
            match parsed {
                Some((a, b)) if a < b => spans.push((a, b)),
                _ => {
                    return Err(format!(
                        "{:?} is not a span like \"8:30-17:30\" (24-hour clock, start before end); \
                         a day without hours is \"closed\"",
                        span.trim()
                    ));
                }
            }
        }
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[0].1 > w[1].0) {
            return Err(format!("{raw:?}: the spans overlap"));
        }
        Ok(spans)
    }

    pub fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }
}

impl OpeningHours {
    /// Reads one line: "monday-friday 8:30-17:30", "sat closed".
    pub fn apply_line(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim();
        let (days, spans) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let day = |name: &str| {
            let name = name.trim().to_ascii_lowercase();
            WEEKDAYS
                .iter()
                .position(|w| name.len() >= 3 && w.starts_with(&name))
        };
        let range = match days.split_once(['-', '\u{2013}']) {
            Some((a, b)) => day(a).zip(day(b)),
            None => day(days).map(|d| (d, d)),
        };
        let Some((first, last)) = range.filter(|(a, b)| a <= b) else {
            return Err(format!(
                "{line:?} must start with a weekday or a range of them, like \"monday-friday\""
            ));
        };
        let spans = Self::parse_day(spans).map_err(|e| format!("{line:?}: {e}"))?;
        for d in first..=last {
            self.days[d] = spans.clone();
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for OpeningHours {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut hours = OpeningHours::default();
        for line in Vec::<String>::deserialize(d)? {
            hours
                .apply_line(&line)
                .map_err(|e| serde::de::Error::custom(format!("clinic.hours: {e}")))?;
        }
        Ok(hours)
    }
}

/// The clinic's IANA time zone, looked up once at start.
#[derive(Debug, Clone)]
pub struct ClinicTimeZone {
    name: String,
    tz: TimeZone,
}

impl ClinicTimeZone {
    pub fn parse(name: &str) -> Result<Self, String> {
        match TimeZone::get(name) {
            Ok(tz) => Ok(ClinicTimeZone {
                name: name.to_string(),
                tz,
            }),
            Err(_) => Err(format!(
                "clinic.time_zone: {name:?} is not an IANA time zone name (e.g. America/New_York)"
            )),
        }
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<'de> Deserialize<'de> for ClinicTimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ClinicTimeZone::parse(&text(d)?).map_err(serde::de::Error::custom)
    }
}

/// The site's public origin, `http(s)://host[:port]`, without a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: Url,
    /// The URL without its trailing `/`, ready to have a path appended.
    prefix: String,
}

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!(
                "{raw:?} must start with http:// or https:// and name a host"
            ));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{raw:?} must be an origin only, like https://clinic.example (no path, query or fragment)"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{raw:?} must not hold a user name or password"));
        }
        let prefix = url.as_str().trim_end_matches('/').to_string();
        Ok(BaseUrl { url, prefix })
    }

    /// The absolute address of `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// The host name alone (for identifiers such as a calendar UID).
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or("localhost").to_string()
    }

    pub fn origin(&self) -> url::Origin {
        self.url.origin()
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// Whether the address only works on this machine (a sign that it was
    /// never set for the real site).
    pub fn is_local(&self) -> bool {
        match self.url.host() {
            Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
            None => true,
        }
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.prefix)
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BaseUrl::parse(&text(d)?)
            .map_err(|e| serde::de::Error::custom(format!("clinic.base_url: {e}")))
    }
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
    #[serde(default)]
    pub security: SmtpSecurity,
}

/// How the connection to the SMTP relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine.
    None,
}

fn default_smtp_port() -> u16 {
    587
}

/// The HTTP server's protection against slow and numerous connections.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The whole request head must arrive within this, counted from when the
    /// connection is ready for a request.
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    /// A connection with no request in progress is closed after this.
    #[serde(deserialize_with = "duration")]
    pub keep_alive_timeout: Duration,
    /// A request (reading its body included) that takes longer gets 408.
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Open connections at most. When full, the connection idle the longest
    /// makes room for a new one.
    pub max_connections: usize,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` is
    /// believed when they connect to us.
    pub trusted_proxies: Vec<IpNet>,
}

/// Per-client limits on the public state-changing routes, kept in memory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// `false` turns every limit off (for load tests).
    pub enabled: bool,
    /// `POST /assessment/{instrument}`: questionnaires sent from the site.
    pub assessment: Limit,
    /// `POST /api/v1/assessments`.
    pub api: Limit,
    /// `POST /assessment/result/{token}/share`: results sent to the clinic.
    pub share: Limit,
    /// Booking, moving and cancelling appointments (pages and API).
    pub booking: Limit,
    /// `POST /staff/login` and the second-factor form, per client address
    /// (guesses per account are limited in the database as well).
    pub sign_in: Limit,
    /// `/api/v1/staff/…` requests with an API token.
    pub staff_api: Limit,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Sustained rate: requests an hour from one client.
    pub per_hour: u32,
    /// How many may come at once before the hourly rate applies.
    pub burst: u32,
}

/// Environment values arrive untyped: `ACTIVEPATH_CLINIC__PHONE=5550100`
/// is read as a number. Text fields accept any scalar as its text.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
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

/// An optional text setting: blank is the same as unset.
fn some_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = text(d)?;
    let raw = raw.trim();
    Ok((!raw.is_empty()).then(|| raw.to_string()))
}

/// An optional day, written `"2026-12-07"`.
fn some_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<jiff::civil::Date>, D::Error> {
    let Some(raw) = some_text(d)? else {
        return Ok(None);
    };
    raw.parse::<jiff::civil::Date>().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "{raw:?} is not a day written like \"2026-12-07\" (in quotes)"
        ))
    })
}

/// "10s", "2m", "1h 30m", ISO 8601 ("PT10S"), or a number of seconds.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let raw = text(d)?;
    let parsed = match raw.trim().parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => raw
            .trim()
            .parse::<jiff::SignedDuration>()
            .map_err(|e| e.to_string())
            .and_then(|d| Duration::try_from(d).map_err(|e| e.to_string())),
    };
    match parsed {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(serde::de::Error::custom(format!(
            "{raw:?} must be longer than zero"
        ))),
        Err(e) => Err(serde::de::Error::custom(format!(
            "{raw:?} is not a duration like \"10s\" or \"5m\" ({e})"
        ))),
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
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if file.exists() {
            figment = figment.merge(Toml::file_exact(file));
        }
        let figment = figment
            .merge(Env::prefixed("ACTIVEPATH_").ignore(&["config"]).split("__"))
            .merge(Env::raw().only(&["database_url"]))
            .merge(Serialized::defaults(overrides));
        let mut config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration error: {}", redact_text(&e.to_string())))?;
        config.clinic.fill_demo_notices();
        config.resolve_paths(&figment);
        config.validate()?;
        Ok(config)
    }

    /// Paths written in a configuration file are relative to that file's
    /// folder (so a clinic's folder can move as a whole); paths from the
    /// environment or the command line stay relative to the working folder.
    fn resolve_paths(&mut self, figment: &Figment) {
        use figment::value::magic::RelativePathBuf;
        let path = |key: &str| {
            figment
                .extract_inner::<Option<RelativePathBuf>>(key)
                .ok()
                .flatten()
                .map(|p| p.relative())
        };
        if let Some(p) = path("content_dir") {
            self.content_dir = Some(p);
        }
        if let Some(p) = path("theme.logo") {
            self.theme.logo = Some(p);
        }
        if let Some(p) = path("theme.icon") {
            self.theme.icon = Some(p);
        }
        #[derive(Deserialize)]
        struct Font {
            file: RelativePathBuf,
        }
        if let Ok(fonts) = figment.extract_inner::<Vec<Font>>("theme.fonts") {
            for (font, rel) in self.theme.fonts.iter_mut().zip(fonts) {
                font.file = rel.file.relative();
            }
        }
    }

    /// Fails fast, saying what to set.
    pub fn validate(&self) -> anyhow::Result<()> {
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
        let tms = &self.tms;
        // The database allows an ordered intensity of 1 to 200% only.
        if !(1..=200).contains(&tms.max_intensity_percent_mt) {
            bail!("tms.max_intensity_percent_mt must be from 1 to 200");
        }
        if !(1..=200).contains(&tms.early_non_response_session) {
            bail!("tms.early_non_response_session must be from 1 to 200");
        }
        if !(1..=90).contains(&tms.baseline_valid_days) {
            bail!("tms.baseline_valid_days must be from 1 to 90");
        }
        if tms.check_in_sessions.is_empty()
            || tms.check_in_sessions.windows(2).any(|w| w[0] >= w[1])
            || tms.check_in_sessions.iter().any(|n| !(1..=200).contains(n))
        {
            bail!(
                "tms.check_in_sessions must list session numbers from 1 to 200 in increasing order"
            );
        }
        if tms.authorization_warn_sessions < 0 || tms.authorization_warn_days < 0 {
            bail!(
                "tms.authorization_warn_sessions and tms.authorization_warn_days must not be negative"
            );
        }
        for (i, p) in tms.protocols.iter().enumerate() {
            let at = format!("tms.protocols[{i}] ({:?})", p.id);
            if p.id.is_empty()
                || !p
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                bail!("{at}: id must be lower-case letters, digits and dashes");
            }
            if clinical::protocol::built_in(&p.id).is_some()
                || tms.protocols[..i].iter().any(|q| q.id == p.id)
            {
                bail!("{at}: id is taken (by a built-in protocol or another of the clinic's)");
            }
            if p.name.trim().is_empty() || p.name.chars().count() > 120 {
                bail!("{at}: name must be 1 to 120 characters");
            }
            if !(1..=20).contains(&p.sessions_per_day) {
                bail!("{at}: sessions_per_day must be from 1 to 20");
            }
            if !(1..=200).contains(&p.default_planned_sessions) {
                bail!("{at}: default_planned_sessions must be from 1 to 200");
            }
            if p.intensity_percent_mt
                .is_some_and(|i| i64::from(i) > tms.max_intensity_percent_mt || i == 0)
            {
                bail!("{at}: intensity_percent_mt must be from 1 to tms.max_intensity_percent_mt");
            }
        }
        if !(1..=90).contains(&tms.motor_threshold_valid_days) {
            bail!("tms.motor_threshold_valid_days must be from 1 to 90");
        }
        if tms.missed_sessions_alert == 0 {
            bail!("tms.missed_sessions_alert must be at least 1");
        }
        if tms.check_in_link_valid < Duration::from_secs(3600) {
            bail!("tms.check_in_link_valid must be at least 1h");
        }
        if self.staff.max_code_failures == 0 {
            bail!("staff.max_code_failures must be at least 1");
        }
        if self.staff.password_checks_at_once == Some(0) {
            bail!(
                "staff.password_checks_at_once must be at least 1 (leave it out for one per core)"
            );
        }
        let booking = &self.booking;
        if booking.confirm_within < Duration::from_secs(5 * 60)
            || booking.confirm_within > Duration::from_secs(24 * 3600)
        {
            bail!("booking.confirm_within must be from 5m to 24h");
        }
        for (name, cap) in [
            (
                "max_open_holds_per_client",
                booking.max_open_holds_per_client,
            ),
            ("max_open_holds_per_email", booking.max_open_holds_per_email),
            (
                "max_unconfirmed_per_location_per_day",
                booking.max_unconfirmed_per_location_per_day,
            ),
        ] {
            if !(1..=10_000).contains(&cap) {
                bail!("booking.{name} must be from 1 to 10000");
            }
        }
        if self.server.max_connections == 0 {
            bail!("server.max_connections must be at least 1");
        }
        for (name, limit) in [
            ("assessment", self.rate_limit.assessment),
            ("api", self.rate_limit.api),
            ("share", self.rate_limit.share),
            ("sign_in", self.rate_limit.sign_in),
            ("staff_api", self.rate_limit.staff_api),
        ] {
            if limit.per_hour == 0 || limit.burst == 0 {
                bail!(
                    "rate_limit.{name}: per_hour and burst must be at least 1 \
                     (set rate_limit.enabled = false to turn limits off)"
                );
            }
        }
        Ok(())
    }

    /// Settings that work but are probably not what a real clinic wants.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.clinic.is_demo() {
            for (key, what) in self.clinic.unset_notice_settings() {
                out.push(format!(
                    "{key} is not set ({what}): the notices that use {{{{ {key} }}}} say it is \
                     missing; set it, and have the clinic's counsel review the notices"
                ));
            }
        }
        if self.clinic.base_url.is_local() {
            out.push(format!(
                "clinic.base_url is {}, which only works on this machine: links in e-mails and \
                 the API will not reach anyone else; set it to the site's public address",
                self.clinic.base_url
            ));
        }
        if !self.staff.require_second_factor {
            out.push(
                "staff.require_second_factor is false: staff can sign in with a password alone"
                    .into(),
            );
        }
        if !self.rate_limit.enabled {
            out.push(
                "rate_limit.enabled is false: the public forms and the API have no limits".into(),
            );
        }
        if let Some(smtp) = &self.mail.smtp
            && smtp.security == SmtpSecurity::None
            && !matches!(smtp.host.as_str(), "localhost" | "127.0.0.1" | "::1")
        {
            out.push(format!(
                "mail.smtp.security is none for {}: mail and the SMTP password cross the network unencrypted",
                smtp.host
            ));
        }
        out
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

    /// The database URL with every credential hidden, for logs.
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

/// Query parameters of a database URL that carry secrets.
fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "key"]
        .iter()
        .any(|s| name.contains(s))
}

/// A URL with its password and every secret query parameter replaced by
/// `***`. A URL that does not parse is hidden whole rather than guessed at.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return "[a URL that could not be parsed, hidden]".into();
    };
    if url.password().is_some() {
        // Fails only for URLs that cannot hold a password at all.
        let _ = url.set_password(Some("***"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_parameter(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// Every secret a URL holds, as typed and percent-decoded, for scrubbing
/// them out of error messages that may quote the URL.
pub fn url_secrets(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(url) = Url::parse(raw) else {
        // Unparseable: hide everything between "://" and the host's end.
        if let Some((_, rest)) = raw.split_once("://") {
            out.push(rest.to_string());
        }
        return out;
    };
    // The password as the URL crate holds it (re-encoded), as it was typed,
    // and decoded.
    let mut passwords: Vec<String> = url.password().map(str::to_string).into_iter().collect();
    if let Some((_, rest)) = raw.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, typed)) = userinfo.split_once(':')
        {
            passwords.push(typed.to_string());
        }
    }
    for p in passwords {
        if let Ok(decoded) = percent_encoding::percent_decode_str(&p).decode_utf8() {
            out.push(decoded.into_owned());
        }
        out.push(p);
    }
    for (k, v) in url.query_pairs() {
        if is_secret_parameter(&k) && !v.is_empty() {
            out.push(v.into_owned());
        }
    }
    if let Some(q) = url.query() {
        for part in q.split('&') {
            if let Some((k, v)) = part.split_once('=')
                && is_secret_parameter(k)
                && !v.is_empty()
            {
                out.push(v.to_string());
            }
        }
    }
    out.retain(|s| s.len() >= 2 && s != "***");
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// `text` with every secret of `DATABASE_URL` (from the environment) removed.
fn redact_text(text: &str) -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) => scrub(text, &url_secrets(&url)),
        Err(_) => text.to_string(),
    }
}

/// `text` with each of `secrets` replaced by `***`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature, tests only
mod tests {
    use super::*;

    #[test]
    fn every_credential_is_redacted() {
        for (raw, shown) in [
            ("postgres://u:pw@h:5432/d", "postgres://u:***@h:5432/d"),
            ("postgres://u@h/d", "postgres://u@h/d"),
            ("sqlite://data/x.db?mode=rwc", "sqlite://data/x.db?mode=rwc"),
            // A password with '@' in it, typed unencoded: the last '@' ends it.
            ("postgres://u:p@ss@h/d", "postgres://u:***@h/d"),
            (
                "postgres://u@h/d?sslmode=require&password=hunter22",
                "postgres://u@h/d?sslmode=require&password=***",
            ),
            (
                "postgres://u:a%40b@h/d?sslpassword=x1y2",
                "postgres://u:***@h/d?sslpassword=***",
            ),
            (
                "not a url with s3cret",
                "[a URL that could not be parsed, hidden]",
            ),
        ] {
            assert_eq!(redact_url(raw), shown, "{raw}");
        }
    }

    #[test]
    fn secrets_are_scrubbed_from_error_text() {
        let url = "postgres://u:p@ss%21@h/d?password=hunter22";
        let secrets = url_secrets(url);
        let message = format!("could not connect to {url} (p@ss! rejected, hunter22)");
        let clean = scrub(&message, &secrets);
        for s in ["p@ss", "hunter22", "%21"] {
            assert!(!clean.contains(s), "{clean}");
        }
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "activepath.toml",
                "result_ttl_days = 7\n[clinic]\nname = \"From file\"\nphone = \"1\"\n[server]\nkeep_alive_timeout = \"2m\"\n",
            )?;
            jail.set_env("ACTIVEPATH_CLINIC__PHONE", "2");
            jail.set_env("ACTIVEPATH_RATE_LIMIT__ENABLED", "false");
            jail.set_env("ACTIVEPATH_RATE_LIMIT__SHARE__PER_HOUR", "4");
            jail.set_env(
                "ACTIVEPATH_SERVER__TRUSTED_PROXIES",
                "[10.0.0.0/8, 127.0.0.1/32]",
            );
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
            assert_eq!(c.server.keep_alive_timeout, Duration::from_secs(120));
            assert_eq!(c.server.header_read_timeout, Duration::from_secs(10));
            assert!(!c.rate_limit.enabled);
            assert_eq!(c.rate_limit.share.per_hour, 4);
            assert_eq!(c.rate_limit.assessment.per_hour, 120);
            assert_eq!(c.server.trusted_proxies.len(), 2);
            assert_eq!(c.database_url_redacted(), "postgres://a:***@localhost/x");
            assert_eq!(c.clinic.time_zone.name(), "America/New_York");
            assert_eq!(c.clinic.base_url.join("/a"), "http://127.0.0.1:8080/a");
            Ok(())
        });
    }

    #[test]
    fn mistakes_are_named() {
        figment::Jail::expect_with(|jail| {
            for (toml, key) in [
                ("[clinic]\ntime_zone = \"Mars/Olympus\"\n", "time_zone"),
                ("reslt_ttl_days = 3\n", "reslt_ttl_days"),
                ("[clinic]\nbase_url = \"ftp://x.example\"\n", "base_url"),
                (
                    "[clinic]\nbase_url = \"https://x.example/clinic\"\n",
                    "base_url",
                ),
                (
                    "[server]\nheader_read_timeout = \"soon\"\n",
                    "header_read_timeout",
                ),
                (
                    "[mail.smtp]\nhost = \"m\"\nsecurity = \"ssl\"\n",
                    "security",
                ),
                (
                    "[rate_limit.share]\nper_hour = 0\nburst = 1\n",
                    "rate_limit.share",
                ),
                (
                    "[[tms.protocols]]\nid = \"10hz\"\nname = \"Mine\"\ndefault_planned_sessions = 30\n",
                    "tms.protocols[0] (\"10hz\"): id is taken",
                ),
                (
                    "[[tms.protocols]]\nid = \"one-hz\"\nname = \"1 Hz\"\nintensity_percent_mt = 130\ndefault_planned_sessions = 30\n",
                    "intensity_percent_mt",
                ),
                ("[tms]\ncheck_in_sessions = [20, 10]\n", "check_in_sessions"),
                (
                    "[tms]\nbaseline_valid_days = 0\n",
                    "tms.baseline_valid_days",
                ),
                (
                    "[tms]\nbaseline_valid_days = 91\n",
                    "tms.baseline_valid_days",
                ),
                (
                    "[tms]\nmotor_threshold_valid_days = 0\n",
                    "tms.motor_threshold_valid_days",
                ),
                (
                    "[tms]\nmotor_threshold_valid_days = 91\n",
                    "tms.motor_threshold_valid_days",
                ),
                (
                    "[tms]\nmax_intensity_percent_mt = 0\n",
                    "tms.max_intensity_percent_mt",
                ),
                (
                    "[tms]\nmax_intensity_percent_mt = 201\n",
                    "tms.max_intensity_percent_mt",
                ),
            ] {
                jail.create_file("activepath.toml", toml)?;
                let err =
                    Config::load(Path::new("activepath.toml"), &Overrides::default()).unwrap_err();
                assert!(err.to_string().contains(key), "{toml}: {err}");
            }
            Ok(())
        });
    }

    #[test]
    fn base_url_is_an_origin() {
        let b = BaseUrl::parse("https://Clinic.Example:443").unwrap();
        assert_eq!(b.as_str(), "https://clinic.example");
        assert_eq!(b.join("/x"), "https://clinic.example/x");
        assert!(b.is_https() && !b.is_local());
        assert!(BaseUrl::parse("http://localhost:8080").unwrap().is_local());
        assert!(BaseUrl::parse("https://u:p@clinic.example").is_err());
    }

    #[test]
    fn the_notices_settings_are_the_demos_only_in_the_demo() {
        assert_eq!(Clinic::demo().name, DEMO_CLINIC_NAME);
        assert!(Clinic::demo().unset_notice_settings().is_empty());
        figment::Jail::expect_with(|jail| {
            // The demo: its made-up contacts, and nothing to warn about.
            let c = Config::load(Path::new("none.toml"), &Overrides::default()).unwrap();
            assert!(c.clinic.privacy_contact.is_some());
            assert!(
                !c.warnings()
                    .iter()
                    .any(|w| w.contains("clinic.privacy_contact"))
            );
            // A clinic of its own never gets the demo's contacts.
            jail.create_file("activepath.toml", "[clinic]\nname = \"Lakeside TMS\"\n")?;
            let c = Config::load(Path::new("activepath.toml"), &Overrides::default()).unwrap();
            assert_eq!(c.clinic.privacy_contact, None);
            assert_eq!(c.clinic.section_1557_coordinator, None);
            assert_eq!(c.clinic.notices_effective, None);
            let w = c.warnings();
            for key in [
                "clinic.privacy_contact",
                "clinic.section_1557_coordinator",
                "clinic.notices_effective",
            ] {
                assert!(
                    w.iter()
                        .any(|w| w.starts_with(&format!("{key} is not set"))),
                    "{w:?}"
                );
            }
            jail.create_file(
                "activepath.toml",
                "[clinic]\nname = \"Lakeside TMS\"\nprivacy_contact = \"Privacy officer: 555 0100\"\n\
                 section_1557_coordinator = \"Ann Lee, 555 0101\"\nnotices_effective = \"2027-01-02\"\n",
            )?;
            let c = Config::load(Path::new("activepath.toml"), &Overrides::default()).unwrap();
            assert_eq!(
                c.clinic.notices_effective,
                Some(jiff::civil::date(2027, 1, 2))
            );
            assert!(!c.warnings().iter().any(|w| w.contains("is not set")));
            jail.create_file(
                "activepath.toml",
                "[clinic]\nnotices_effective = \"soon\"\n",
            )?;
            let err =
                Config::load(Path::new("activepath.toml"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("2026-12-07"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_local_base_url_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&dir.path().join("none.toml"), &Overrides::default()).unwrap();
        assert!(c.warnings().iter().any(|w| w.contains("clinic.base_url")));
    }
}
