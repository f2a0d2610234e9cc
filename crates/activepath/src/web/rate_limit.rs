//! Per-client limits on the public routes that change state, so that one
//! client cannot flood the clinic's triage queue and inbox.
//!
//! A client is its address (see `client.rs`): the connection's peer, or,
//! when the peer is a configured trusted proxy, the address that proxy
//! reports in `X-Forwarded-For`. IPv6 clients are counted per /64, the block one
//! household or phone usually holds. The counts live in this process's
//! memory only (a GCRA limiter per route, from `governor`): never stored,
//! never logged, forgotten once a client has been quiet for a while.
//!
//! Over the limit, a form gets a friendly 429 page and the API a problem
//! document, both with `Retry-After`. Only requests that would change
//! something count: a form sent back with a mistake to correct does not.

use super::client;
use crate::app::AppState;
use crate::config::{Limit, RateLimits as Config};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

/// The limited routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /assessment/{instrument}`.
    Assessment,
    /// `POST /api/v1/assessments`.
    Api,
    /// `POST /assessment/result/{token}/share`.
    Share,
    /// Staff sign-in: password and second factor.
    SignIn,
    /// `/api/v1/staff/…`.
    StaffApi,
    /// Booking, moving or cancelling an appointment (`/book…`,
    /// `POST /api/v1/bookings`).
    Booking,
}

type Limiter = DefaultKeyedRateLimiter<IpAddr>;

/// Every route's limiter; `None` when limits are turned off.
#[derive(Debug)]
pub struct RateLimits {
    limiters: Option<[Limiter; 6]>,
}

fn limiter(limit: Limit) -> Limiter {
    let per_hour = NonZeroU32::new(limit.per_hour).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    Limiter::keyed(Quota::per_hour(per_hour).allow_burst(burst))
}

impl RateLimits {
    pub fn new(config: &Config) -> Self {
        RateLimits {
            limiters: config.enabled.then(|| {
                [
                    config.assessment,
                    config.api,
                    config.share,
                    config.sign_in,
                    config.staff_api,
                    config.booking,
                ]
                .map(limiter)
            }),
        }
    }

    /// Counts one request from `client`; `Err` holds how long to wait.
    pub fn check(&self, route: Route, client: IpAddr) -> Result<(), Duration> {
        let Some(limiters) = &self.limiters else {
            return Ok(());
        };
        let limiter = &limiters[route as usize];
        limiter
            .check_key(&counted_as(client))
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Forgets clients whose allowance is full again. Run now and then.
    pub fn forget_quiet_clients(&self) {
        for limiter in self.limiters.iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// IPv4 as is (also when written as IPv4-mapped IPv6); IPv6 by its /64.
fn counted_as(ip: IpAddr) -> IpAddr {
    match client::canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Which route an extractor limits.
pub trait LimitedRoute: Send + Sync + 'static {
    const ROUTE: Route;
}

pub struct AssessmentRoute;
impl LimitedRoute for AssessmentRoute {
    const ROUTE: Route = Route::Assessment;
}

pub struct ApiRoute;
impl LimitedRoute for ApiRoute {
    const ROUTE: Route = Route::Api;
}

pub struct ShareRoute;
impl LimitedRoute for ShareRoute {
    const ROUTE: Route = Route::Share;
}

pub struct BookingRoute;
impl LimitedRoute for BookingRoute {
    const ROUTE: Route = Route::Booking;
}

pub struct SignInRoute;
impl LimitedRoute for SignInRoute {
    const ROUTE: Route = Route::SignIn;
}

/// The client of a request to a limited route. Extracting it counts
/// nothing: the handler calls [`RateLimit::spend`] once the input is valid,
/// just before the work that changes state. A person who mistyped a field is
/// not charged for it; the requests that could flood the clinic are.
pub struct RateLimit<R> {
    client: Option<IpAddr>,
    route: PhantomData<R>,
}

impl<R: LimitedRoute> RateLimit<R> {
    /// Counts one request; over the limit, how long to wait.
    pub fn spend(&self, state: &AppState) -> Result<(), Duration> {
        match self.client {
            Some(client) => state.limits.check(R::ROUTE, client),
            // A request that did not come over a socket (none in production).
            None => Ok(()),
        }
    }

    /// The client as the limits count it (IPv6 by its /64), for limits
    /// that must hold across instances and so are counted in the database
    /// (the booking holds').
    pub fn client(&self) -> Option<IpAddr> {
        self.client.map(counted_as)
    }
}

impl<R: LimitedRoute> FromRequestParts<AppState> for RateLimit<R> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| {
                client::address(
                    peer.ip(),
                    &parts.headers,
                    &state.config.server.trusted_proxies,
                )
            });
        Ok(RateLimit {
            client,
            route: PhantomData,
        })
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up.
pub fn retry_after(wait: Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        assert_eq!(counted_as(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(counted_as(ip("2001:db8:1:2:bbbb::9")), ip("2001:db8:1:2::"));
        assert_eq!(counted_as(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn limits_count_per_client_and_route() {
        let mut config = crate::config::RateLimits {
            enabled: true,
            assessment: Limit {
                per_hour: 60,
                burst: 2,
            },
            api: Limit {
                per_hour: 60,
                burst: 2,
            },
            share: Limit {
                per_hour: 1,
                burst: 1,
            },
            sign_in: Limit {
                per_hour: 60,
                burst: 2,
            },
            staff_api: Limit {
                per_hour: 60,
                burst: 2,
            },
            booking: Limit {
                per_hour: 60,
                burst: 2,
            },
        };
        let limits = RateLimits::new(&config);
        let a = ip("192.0.2.1");
        assert!(limits.check(Route::Share, a).is_ok());
        let wait = limits.check(Route::Share, a).unwrap_err();
        assert!(
            wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600),
            "{wait:?}"
        );
        assert!(
            limits.check(Route::Share, ip("192.0.2.2")).is_ok(),
            "another client"
        );
        assert!(limits.check(Route::Assessment, a).is_ok(), "another route");
        config.enabled = false;
        let off = RateLimits::new(&config);
        for _ in 0..100 {
            assert!(off.check(Route::Share, a).is_ok());
        }
    }
}
