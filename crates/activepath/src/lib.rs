//! activepath: a self-hosted web platform for clinics that treat depression.
//! The binary is a thin wrapper around this library; tests drive it too.

pub mod app;
pub mod assessment;
pub mod assets;
pub mod booking;
pub mod cli;
pub mod config;
pub mod contact;
pub mod content;
pub mod crypto;
mod data_dir;
pub mod domain;
pub mod figures;
pub mod i18n;
pub mod jobs;
pub mod mail;
pub mod staff;
pub mod storage;
pub mod theme;
pub mod time;
pub mod tms;
pub mod web;
