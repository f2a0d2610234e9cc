//! `POST /api/v1/assessments`: the same work as the form, for kiosks and
//! integrations. JSON in, JSON out; every problem is reported as
//! `application/problem+json` (RFC 9457) naming each bad field.

use super::{Source, offered, record, result_path};
use crate::app::AppState;
use crate::crypto::random_id;
use crate::time::rfc3339;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clinical::{FieldError, Problem, Responses};
use serde_json::{Value, json};

/// A problem document. `errors` pairs a field (JSON-pointer-like, e.g.
/// `answers[3]`) with what is wrong with it.
pub fn problem(status: StatusCode, title: &str, errors: Vec<(String, String)>) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
    });
    if !errors.is_empty() {
        body["errors"] = errors
            .into_iter()
            .map(|(field, detail)| json!({ "field": field, "detail": detail }))
            .collect();
    }
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

fn invalid(errors: Vec<(String, String)>) -> Response {
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "The assessment is not valid",
        errors,
    )
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let json_content = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_content {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the assessment as application/json",
            Vec::new(),
        );
    }
    let idempotency_key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if (1..=200).contains(&k.len()) => Some(k.to_string()),
        Some(_) => {
            return invalid(vec![(
                "Idempotency-Key".into(),
                "must be 1 to 200 visible ASCII characters".into(),
            )]);
        }
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "The body is not valid JSON",
                vec![("body".into(), e.to_string())],
            );
        }
    };
    let responses = match parse(&value) {
        Ok(r) => r,
        Err(errors) => return invalid(errors),
    };
    let nonce = idempotency_key.unwrap_or_else(random_id);
    match record(&state, &responses, &nonce, Source::Api).await {
        Ok(recorded) => {
            let def = responses.instrument().definition();
            let url = format!(
                "{}{}",
                state.config.clinic.base_url,
                result_path(&recorded.token)
            );
            let body = json!({
                "instrument": def.id.slug(),
                "instrument_version": def.version,
                "total": recorded.score.total,
                "max": recorded.score.max,
                "severity": recorded.score.severity.slug(),
                "self_harm_flag": recorded.score.self_harm_flag,
                "result_url": url,
                "expires_at": rfc3339(recorded.expires_at),
                "disclaimer": "This is a screening result, not a diagnosis.",
            });
            let mut res = (StatusCode::CREATED, body.to_string()).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(loc) = HeaderValue::from_str(&url) {
                h.insert(header::LOCATION, loc);
            }
            res
        }
        Err(e) => {
            tracing::error!(
                "storing an assessment from the API failed: {:#}",
                anyhow::Error::from(e)
            );
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The assessment could not be stored; nothing was saved",
                Vec::new(),
            )
        }
    }
}

/// Checks the document's shape and values, collecting every problem.
fn parse(value: &Value) -> Result<Responses, Vec<(String, String)>> {
    let Some(obj) = value.as_object() else {
        return Err(vec![("body".into(), "must be a JSON object".into())]);
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if !matches!(key.as_str(), "instrument" | "answers" | "difficulty") {
            errors.push((key.clone(), "is not a known field".into()));
        }
    }
    let instrument = match obj.get("instrument") {
        None => {
            errors.push((
                "instrument".into(),
                "is required: \"phq9\" or \"gad7\"".into(),
            ));
            None
        }
        Some(Value::String(s)) => {
            let found = offered(s);
            if found.is_none() {
                errors.push(("instrument".into(), "must be \"phq9\" or \"gad7\"".into()));
            }
            found
        }
        Some(_) => {
            errors.push((
                "instrument".into(),
                "must be a string: \"phq9\" or \"gad7\"".into(),
            ));
            None
        }
    };
    let small_int = |v: &Value| v.as_i64().filter(|n| (0..=3).contains(n));
    let answers: Option<Vec<Option<i64>>> = match obj.get("answers") {
        None => {
            errors.push((
                "answers".into(),
                "is required: an array of integers 0 to 3".into(),
            ));
            None
        }
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match small_int(item) {
                    Some(n) => out.push(Some(n)),
                    None => {
                        errors.push((format!("answers[{i}]"), "must be an integer 0 to 3".into()));
                        out.push(Some(-1));
                    }
                }
            }
            Some(out)
        }
        Some(_) => {
            errors.push((
                "answers".into(),
                "must be an array of integers 0 to 3".into(),
            ));
            None
        }
    };
    let difficulty = match obj.get("difficulty") {
        None | Some(Value::Null) => None,
        Some(v) => match small_int(v) {
            Some(n) => Some(n),
            None => {
                errors.push((
                    "difficulty".into(),
                    "must be an integer 0 to 3 or null".into(),
                ));
                Some(-1)
            }
        },
    };
    let (Some(id), Some(answers)) = (instrument, answers) else {
        return Err(errors);
    };
    let expected = id.definition().items.len();
    if answers.len() != expected {
        errors.push((
            "answers".into(),
            format!(
                "must have exactly {expected} answers for {id}, got {}",
                answers.len()
            ),
        ));
        return Err(errors);
    }
    match Responses::parse(id, &answers, difficulty) {
        Ok(r) if errors.is_empty() => Ok(r),
        Ok(_) => Err(errors),
        Err(problems) => {
            for (field, problem) in problems {
                let (name, detail) = match (field, problem) {
                    (FieldError::Item(n), _) => {
                        (format!("answers[{}]", n - 1), "must be an integer 0 to 3")
                    }
                    (FieldError::Difficulty, Problem::Missing) => (
                        "difficulty".into(),
                        "is required when any answer is above 0",
                    ),
                    (FieldError::Difficulty, Problem::OutOfRange) => {
                        ("difficulty".into(), "must be an integer 0 to 3 or null")
                    }
                };
                if !errors.iter().any(|(f, _)| *f == name) {
                    errors.push((name, detail.into()));
                }
            }
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Value) -> Vec<String> {
        parse(&v).unwrap_err().into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn accepts_the_documented_example() {
        let r = parse(&json!({"instrument":"phq9","answers":[0,1,2,3,0,1,2,3,0],"difficulty":1}))
            .unwrap();
        assert_eq!(r.score().total, 12);
    }

    #[test]
    fn names_each_bad_field() {
        assert_eq!(
            fields(json!({"instrument":"phq9","answers":[0,1,"2",3,0,1,2.5,3,9],"difficulty":1})),
            ["answers[2]", "answers[6]", "answers[8]"]
        );
        assert_eq!(
            fields(json!({"instrument":"bdi","answers":[0]})),
            ["instrument"]
        );
        assert_eq!(
            fields(json!({"instrument":"gad7","answers":[1,1,1,1,1,1,1]})),
            ["difficulty"]
        );
        assert_eq!(
            fields(json!({"instrument":"gad7","answers":[1,1,1]})),
            ["answers"]
        );
        assert_eq!(
            fields(json!({"instrument":"gad7","answers":[0,0,0,0,0,0,0],"x":1})),
            ["x"]
        );
        assert_eq!(fields(json!([1, 2])), ["body"]);
        assert_eq!(fields(json!({})), ["instrument", "answers"]);
        assert_eq!(
            fields(json!({"instrument":"phq2","answers":[0,0]})),
            ["instrument"]
        );
    }
}
