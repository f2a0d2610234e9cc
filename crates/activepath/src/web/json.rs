//! Reading JSON request bodies for the API, the same way for every route:
//! 415 unless the body is declared `application/json`, 400 when it is not
//! JSON, 422 naming the field when it is JSON of the wrong shape (unknown or
//! repeated fields included; the request types deny unknown fields).

use super::ApiError;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// 415 with `title` unless the request says its body is JSON.
pub fn require_json(headers: &HeaderMap, title: &str) -> Result<(), ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, title))
    }
}

/// The body as a `T`. `shape` says what the body must be ("must be a JSON
/// object with …"); `title` heads a 422.
pub fn read<T: DeserializeOwned>(body: &[u8], title: &str, shape: &str) -> Result<T, ApiError> {
    let not_json = |e: serde_json::Error| {
        ApiError::new(StatusCode::BAD_REQUEST, "The body is not valid JSON")
            .field("body", e.to_string())
    };
    // serde would also take an array for a struct: anything but an object
    // is refused first.
    if body.trim_ascii_start().first() != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(not_json)?;
        return Err(ApiError::invalid(
            title,
            vec![("body".into(), shape.into())],
        ));
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            // serde's messages quote the field in backticks.
            let message = e.to_string();
            let quoted = message.split('`').nth(1).map(str::to_string);
            let (field, detail) = match quoted {
                Some(f) if message.starts_with("unknown field") => (f, "is not a known field"),
                Some(f) if message.starts_with("duplicate field") => (f, "is given more than once"),
                Some(f) if message.starts_with("missing field") => (f, "is required"),
                _ => ("body".to_string(), shape),
            };
            ApiError::invalid(title, vec![(field, detail.to_string())])
        }
        _ => not_json(e),
    })
}
