//! The booking API for widgets on partner sites. `GET /api/v1/slots` lists
//! free times; `POST /api/v1/bookings` holds one until the person confirms
//! it from their e-mail: 201 with the hold and until when, 409 with the
//! nearest free times when it was just taken, 422
//! (`application/problem+json`) naming each bad field, 429 past the caps on
//! unconfirmed bookings.

use crate::app::AppState;
use crate::booking::{
    self, BookError, Cap, Catalogue, HoldError, Holder, RawDetails, Source, slots::Slot,
};
use crate::domain::day::{DateText, Window, parse_date};
use crate::i18n::Tr;
use crate::web::errors::Problem;
use crate::web::rate_limit::{BookingRoute, RateLimit};
use crate::web::{ApiError, json};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// RFC 3339 with the location's offset: `2026-12-01T09:00:00-05:00`.
fn with_offset(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// A free time.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotJson {
    /// RFC 3339 with the location's offset, e.g. `2026-12-01T09:00:00-05:00`.
    pub start: String,
    pub end: String,
}

fn slot_list(slots: &[Slot], tz: &TimeZone) -> Vec<SlotJson> {
    slots
        .iter()
        .map(|s| SlotJson {
            start: with_offset(s.start, tz),
            end: with_offset(s.end, tz),
        })
        .collect()
}

fn slots_json(slots: &[Slot], tz: &TimeZone) -> Value {
    serde_json::to_value(slot_list(slots, tz)).expect("slots serialize")
}

/// The free times of one appointment type at one location.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotsResponse {
    pub appointment_type: String,
    pub location: String,
    /// The location's IANA time zone.
    pub time_zone: String,
    pub duration_minutes: i64,
    pub slots: Vec<SlotJson>,
}

/// A time held for the person. It is booked when they open the link in
/// the e-mail sent to them; their link to change or cancel it comes with
/// the confirmation. Unconfirmed at `hold_expires_at`, the time is released.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingCreated {
    /// The booking's identifier (also its calendar invitation's UID).
    pub id: String,
    /// Always "held": waiting for the person to confirm it.
    #[schema(example = "held")]
    pub status: &'static str,
    pub appointment_type: String,
    pub location: String,
    pub start: String,
    pub end: String,
    /// Until when the time is held, RFC 3339 with the location's offset.
    pub hold_expires_at: String,
}

fn failed(e: booking::Error) -> ApiError {
    tracing::error!("booking failed: {:#}", anyhow::Error::from(e));
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The request could not be completed; nothing was changed",
    )
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    /// An appointment type visitors may book, e.g. `initial-consultation`.
    #[param(required = true, value_type = String, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    appointment_type: Option<String>,
    /// A location, e.g. `main`.
    #[param(required = true, value_type = String, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    location: Option<String>,
    /// First day, YYYY-MM-DD, in the location's calendar.
    #[param(required = true, value_type = String, format = Date)]
    from: Option<DateText>,
    /// Last day, YYYY-MM-DD; at most 31 days after `from`.
    #[param(required = true, value_type = String, format = Date)]
    to: Option<DateText>,
}

/// The type and location a request names, with every problem collected.
fn choose<'a>(
    cat: &'a Catalogue,
    kind: Option<&str>,
    location: Option<&str>,
    errors: &mut Vec<(String, String)>,
) -> Option<(&'a booking::AppointmentType, &'a booking::Location)> {
    let kind = match kind {
        None => {
            errors.push(("appointment_type".into(), "is required".into()));
            None
        }
        Some(k) => {
            let found = cat.public_type(k);
            if found.is_none() {
                errors.push((
                    "appointment_type".into(),
                    "is not an appointment type that can be booked online".into(),
                ));
            }
            found
        }
    };
    let location = match location {
        None => {
            errors.push(("location".into(), "is required".into()));
            None
        }
        Some(l) => {
            let found = cat.location(l);
            if found.is_none() {
                errors.push(("location".into(), "is not a location of the clinic".into()));
            }
            found
        }
    };
    let (kind, location) = (kind?, location?);
    if !cat.offered_at(kind, location) {
        errors.push((
            "location".into(),
            "does not offer this appointment type".into(),
        ));
        return None;
    }
    Some((kind, location))
}

fn date(raw: Option<&str>, field: &str, errors: &mut Vec<(String, String)>) -> Option<Date> {
    match raw.map(|r| parse_date(r, Window::ALL)) {
        None => {
            errors.push((field.into(), "is required, as YYYY-MM-DD".into()));
            None
        }
        Some(Err(e)) => {
            errors.push((field.into(), e.message()));
            None
        }
        Some(Ok(d)) => Some(d),
    }
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let mut res = (
        status,
        serde_json::to_string(body).expect("a response serializes"),
    )
        .into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `GET /api/v1/slots?appointment_type=…&location=…&from=…&to=…`: free
/// times starting on the dates `from` to `to` (at most 31 days), in the
/// location's calendar.
#[utoipa::path(
    get,
    path = "/api/v1/slots",
    tag = "booking",
    summary = "Free times of an appointment type at a location",
    params(SlotsQuery),
    responses(
        (status = 200, description = "The free times, in time order", body = SlotsResponse),
        (status = 422, description = "A parameter is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn slots(
    State(state): State<AppState>,
    Query(query): Query<SlotsQuery>,
) -> Result<Response, ApiError> {
    let cat = Catalogue::load(&state).await.map_err(failed)?;
    let mut errors = Vec::new();
    let chosen = choose(
        &cat,
        query.appointment_type.as_deref(),
        query.location.as_deref(),
        &mut errors,
    );
    let from = date(
        query.from.as_ref().map(DateText::as_str),
        "from",
        &mut errors,
    );
    let to = date(query.to.as_ref().map(DateText::as_str), "to", &mut errors);
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            errors.push(("to".into(), "must not be before from".into()));
        } else if f.until(t).map_or(true, |span| {
            i64::from(span.get_days()) >= booking::MAX_RANGE_DAYS
        }) {
            errors.push((
                "to".into(),
                format!("must be within {} days of from", booking::MAX_RANGE_DAYS),
            ));
        }
    }
    let (Some((kind, location)), Some(from), Some(to), true) =
        (chosen, from, to, errors.is_empty())
    else {
        return Err(ApiError::invalid("The request is not valid", errors));
    };
    let slots = booking::free_slots(&state, &cat, kind, location, from, to)
        .await
        .map_err(failed)?;
    Ok(json_response(
        StatusCode::OK,
        &SlotsResponse {
            appointment_type: kind.slug.clone(),
            location: location.slug.clone(),
            time_zone: location.tz.iana_name().unwrap_or("UTC").to_string(),
            duration_minutes: kind.timing.duration.as_mins(),
            slots: slot_list(&slots, &location.tz),
        },
    ))
}

/// A booking request: unknown fields are refused, each value is checked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// An appointment type visitors may book.
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64, example = "initial-consultation")]
    appointment_type: Option<String>,
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64, example = "main")]
    location: Option<String>,
    /// One of the free times from `/api/v1/slots`, RFC 3339 with offset.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = DateTime, example = "2026-12-01T09:00:00-05:00")]
    start: Option<String>,
    /// The person's name: 1 to 100 characters on one line.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100, pattern = "^[^\\x00-\\x1f\\x7f]*\\S[^\\x00-\\x1f\\x7f]*$", example = "Zoë Example")]
    name: Option<String>,
    /// Where the confirmation and its calendar invitation go.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = Email, max_length = 254, example = "zoe@example.com")]
    email: Option<String>,
    /// 7 to 15 digits, with spaces, dots, hyphens, brackets and one
    /// leading `+`.
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^\\s*\\+?[ ().-]*([0-9][ ().-]*){7,15}\\s*$", example = "+1 555 010 4477")]
    phone: Option<String>,
    /// Optional, up to 1,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    reason: Option<String>,
    /// Must be true: the person agreed that the clinic stores these details
    /// to arrange the appointment.
    #[serde(default)]
    #[schema(required = true, value_type = Agreed)]
    consent: Option<bool>,
}

const INVALID: &str = "The booking is not valid";

/// A consent that must be given: the document says `true` is the only
/// value accepted.
pub struct Agreed;

impl utoipa::PartialSchema for Agreed {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Boolean)
            .enum_values(Some([true]))
            .into()
    }
}

impl ToSchema for Agreed {}

/// `POST /api/v1/bookings`.
#[utoipa::path(
    post,
    path = "/api/v1/bookings",
    tag = "booking",
    summary = "Book a free time",
    description = "Checked against the same rules that offered the time. Of several requests for one time, exactly one holds it; the others get 409 with the nearest free times. The time is held (`status` \"held\") until `hold_expires_at`: the person is e-mailed a link to confirm it within that time (booking.confirm_within, 30 minutes by default), or the time is released. Only once confirmed is the booking made, and the confirmation with its calendar invitation and the person's manage link sent. Unconfirmed holds are capped per client (429 with Retry-After), per e-mail address (422 naming `email`) and per location and day (409 with Retry-After); past a cap nothing is held or mailed. A name holding a web or e-mail address is refused (422 naming `name`).",
    request_body(content = BookingRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Held until the person confirms it from their e-mail, at the latest `hold_expires_at`", body = BookingCreated),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The time was just taken (`nearest` lists the nearest free times), or the location has had too many unconfirmed bookings in the last day (see Retry-After; call the clinic)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong (or the time is not offered, the name holds an address, or the e-mail address has too many unconfirmed bookings); each is named", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests, or too many unconfirmed bookings, from this client; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    limit: RateLimit<BookingRoute>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    json::require_json(&headers, "Send the booking as application/json")?;
    let request: BookingRequest = json::read(
        &body,
        INVALID,
        "must be a JSON object with appointment_type, location, start, name, email, phone and consent",
    )?;
    let cat = Catalogue::load(&state).await.map_err(failed)?;
    let mut errors = Vec::new();
    let chosen = choose(
        &cat,
        request.appointment_type.as_deref(),
        request.location.as_deref(),
        &mut errors,
    );
    let start = match request.start.as_deref().map(str::parse::<Timestamp>) {
        None => {
            errors.push((
                "start".into(),
                "is required, as RFC 3339 with an offset".into(),
            ));
            None
        }
        Some(Err(_)) => {
            errors.push((
                "start".into(),
                "must be a time as RFC 3339 with an offset, e.g. 2026-12-01T09:00:00-05:00".into(),
            ));
            None
        }
        Some(Ok(t)) => Some(t),
    };
    let raw = RawDetails {
        name: request.name.unwrap_or_default(),
        email: request.email.unwrap_or_default(),
        phone: request.phone.unwrap_or_default(),
        reason: request.reason.unwrap_or_default(),
        consent: request.consent == Some(true),
    };
    let tr = Tr::default();
    let details = booking::parse_details(&raw)
        .map_err(|problems| {
            errors.extend(
                problems
                    .iter()
                    .map(|(field, key)| ((*field).to_string(), tr.t(key))),
            )
        })
        .ok();
    let (Some((kind, location)), Some(start), Some(details), true) =
        (chosen, start, details, errors.is_empty())
    else {
        return Err(ApiError::invalid(INVALID, errors));
    };
    if let Err(wait) = limit.spend(&state) {
        return Ok(ApiError::too_many_requests(wait));
    }
    let holder = Holder {
        source: Source::Api,
        client: limit.client(),
    };
    match booking::hold(&state, &cat, kind, location, start, &details, holder).await {
        Ok(held) => Ok(json_response(
            StatusCode::CREATED,
            &BookingCreated {
                status: "held",
                appointment_type: kind.slug.clone(),
                location: location.slug.clone(),
                start: with_offset(held.start, &location.tz),
                end: with_offset(held.end, &location.tz),
                hold_expires_at: with_offset(held.expires_at, &location.tz),
                id: held.uid,
            },
        )),
        Err(HoldError::Capped(reached)) => Ok(capped(&state, reached)),
        Err(HoldError::Book(BookError::Taken { nearest })) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "That time was just taken; the nearest free times are listed",
        )
        .with_nearest(slots_json(&nearest, &location.tz))),
        Err(HoldError::Book(BookError::NotOffered(why))) => Err(ApiError::invalid(
            INVALID,
            vec![(
                "start".into(),
                match why {
                    booking::slots::Unavailable::TooSoon => {
                        "is sooner than the notice this appointment type needs"
                    }
                    booking::slots::Unavailable::TooFar => {
                        "is further ahead than this appointment type can be booked"
                    }
                    booking::slots::Unavailable::NotOffered => {
                        "is not one of the free times; ask /api/v1/slots for them"
                    }
                }
                .into(),
            )],
        )),
        Err(HoldError::Book(BookError::Failed(e))) => Err(failed(e)),
    }
}

/// The refusal past a cap on unconfirmed bookings: nothing was held or
/// mailed. `Retry-After` says when the first of the holds that fill the
/// cap stops counting.
fn capped(state: &AppState, reached: booking::CapReached) -> Response {
    let phone = &state.config.clinic.phone;
    let mut res = match reached.cap {
        Cap::Client => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many unconfirmed bookings from this client; each is confirmed by the link \
             e-mailed to the person, or released unconfirmed. Send again after the time in \
             Retry-After",
        ),
        Cap::Email => ApiError::invalid(
            INVALID,
            vec![(
                "email".into(),
                format!(
                    "already has bookings waiting to be confirmed by the link e-mailed to it; \
                     confirm those, wait until they are released, or call the clinic on {phone}"
                ),
            )],
        ),
        Cap::Location => ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "Online booking at this location is paused: too many bookings in the last day \
                 were not confirmed. Call the clinic on {phone}, or send again after the time \
                 in Retry-After"
            ),
        ),
    }
    .into_response();
    let wait = reached.until.duration_since(state.clock.now());
    res.headers_mut().insert(
        header::RETRY_AFTER,
        crate::web::rate_limit::retry_after(
            std::time::Duration::try_from(wait).unwrap_or_default(),
        ),
    );
    res
}
