//! TMS courses over HTTP: for now the staff API (bearer tokens); the
//! portal's course pages come with sessions and check-ins.

pub mod api;
