//! Values people type into forms, parsed once into types that can only hold
//! valid values: text that is safe to store and show, e-mail addresses,
//! phone numbers, and dates bounded before any arithmetic. Every public
//! form and the staff portal use these.

pub mod day;
mod email;
mod phone;
mod text;

pub use email::EmailAddress;
pub use phone::PhoneNumber;
pub use text::{TextError, multi_line, single_line};
