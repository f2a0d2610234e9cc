//! Integration tests: the app on a random port with a fresh database each
//! (SQLite temp file, or a new PostgreSQL database when TEST_DATABASE_URL is
//! a postgres:// URL), mail kept in memory.

mod abuse;
mod assessment;
mod booking;
mod booking_holds;
mod bounds;
mod brand;
mod cli;
mod contact;
mod data_protection;
mod figures;
mod helpers;
mod holds_adverse_events;
mod json_api;
mod mail;
mod media_cache;
mod minimum_necessary;
mod public_site;
pub mod reliability;
mod result_pages;
mod route_fuzz;
mod safety_flag;
mod secrets_at_rest;
mod share;
mod sign_in;
mod site;
mod staff;
mod tms;
mod tms_baseline;
mod tms_order;
mod tms_portal;
mod tms_schedule;
mod wording;
mod writes;
