//! The clinical domain of activepath: screening instruments defined as data,
//! their scoring, severity bands and safety flags; TMS protocols as data; and
//! measurement-based care over a course (response, remission).
//!
//! Pure code: no I/O, no async, no clock. Every page, export and report reads
//! the one definition held here, so the wording, the codes and the scoring
//! cannot drift apart.

pub mod instrument;
pub mod mbc;
pub mod protocol;
pub mod score;

pub use instrument::{
    AnswerOption, Band, DifficultyQuestion, Instrument, InstrumentId, Interpretation, Item,
    Severity,
};
pub use score::{FieldError, Problem, Responses, Score, Syndrome};
