//! TMS courses over HTTP: the staff API (bearer tokens), the portal's
//! course pages, and the patient's check-in page (by a single-use link).

pub mod adverse_events;
pub mod api;
pub mod check_in;
pub mod holds;
pub mod orders;
pub mod pages;
pub mod safety;

use crate::app::AppState;
use crate::web::routes::{Routes, get};

pub fn router() -> Routes<AppState> {
    Routes::new()
        .route(
            "/check-in/{token}",
            get(check_in::show).post(check_in::submit),
        )
        .route(
            "/kiosk/{token}",
            get(check_in::kiosk).post(check_in::kiosk_submit),
        )
}
