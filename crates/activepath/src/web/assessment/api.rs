//! `POST /api/v1/assessments`: the same work as the form, for kiosks and
//! integrations. JSON in, JSON out; every problem is reported as
//! `application/problem+json` (RFC 9457) naming each bad field. A client that
//! may retry sends an `Idempotency-Key` (see `crate::assessment`).

use crate::app::AppState;
use crate::assessment::{self, IdempotencyKey, Source, offered, record, result_path};
use crate::crypto::random_id;
use crate::time::rfc3339;
use crate::web::errors::Problem as ProblemDocument;
use crate::web::rate_limit::{ApiRoute, RateLimit};
use crate::web::{ApiError, json};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clinical::{FieldError, Problem, Responses};
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The request as sent. Unknown fields and a field given twice are refused
/// by the parser; each value is then checked on its own so that every bad
/// one is named. (Read as loose JSON values so that each bad one can be
/// named; its documented shape is [`AssessmentRequest::schema`].)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentRequest {
    #[serde(default)]
    instrument: Option<Value>,
    #[serde(default)]
    answers: Option<Value>,
    #[serde(default)]
    difficulty: Option<Value>,
}

/// The documented shape is exactly what [`parse`] accepts: one object per
/// questionnaire offered, with that questionnaire's number of answers, each
/// 0 to 3, and the optional closing question 0 to 3 (or null).
impl utoipa::PartialSchema for AssessmentRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type,
        };
        let zero_to_three = |nullable: bool| {
            let kind = if nullable {
                SchemaType::from_iter([Type::Integer, Type::Null])
            } else {
                SchemaType::new(Type::Integer)
            };
            ObjectBuilder::new()
                .schema_type(kind)
                .minimum(Some(0))
                .maximum(Some(3))
        };
        let mut shapes = OneOfBuilder::new().description(Some(
            "One answer per question, in order, each 0 (\"Not at all\") to 3 (\"Nearly every day\"), \
             and how difficult the problems made daily life, 0 to 3 (required when any answer is above 0).",
        ));
        for id in [clinical::InstrumentId::Phq9, clinical::InstrumentId::Gad7] {
            let items = id.definition().items.len();
            shapes = shapes.item(
                ObjectBuilder::new()
                    .property(
                        "instrument",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some([id.slug()])),
                    )
                    .required("instrument")
                    .property(
                        "answers",
                        ArrayBuilder::new()
                            .items(zero_to_three(false))
                            .min_items(Some(items))
                            .max_items(Some(items)),
                    )
                    .required("answers")
                    .property("difficulty", zero_to_three(true))
                    .additional_properties(Some(AdditionalProperties::<
                        utoipa::openapi::schema::Schema,
                    >::FreeForm(false))),
            );
        }
        utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::OneOf(shapes.build()))
    }
}

impl ToSchema for AssessmentRequest {}

/// A screening result, recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentCreated {
    pub instrument: &'static str,
    /// The version of the instrument's text and scoring used.
    pub instrument_version: &'static str,
    pub total: u8,
    pub max: u8,
    /// The band of the total, e.g. `moderate`.
    pub severity: &'static str,
    /// True when question 9 (thoughts of self-harm) was answered above "Not
    /// at all": show crisis help at once.
    pub self_harm_flag: bool,
    /// The person's private result page (also in `Location`).
    pub result_url: String,
    pub expires_at: String,
    pub disclaimer: &'static str,
}

fn invalid(errors: Vec<(String, String)>) -> ApiError {
    ApiError::invalid("The assessment is not valid", errors)
}

fn read_request(body: &[u8]) -> Result<AssessmentRequest, ApiError> {
    json::read(
        body,
        "The assessment is not valid",
        "must be a JSON object with instrument, answers and difficulty",
    )
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let refused = |why: &str| {
        ApiError::new(StatusCode::BAD_REQUEST, "The Idempotency-Key is not usable")
            .field("Idempotency-Key", why)
    };
    if values.next().is_some() {
        return Err(refused("must be sent once"));
    }
    let raw = value.to_str().map_err(|_| refused(IdempotencyKey::RULE))?;
    IdempotencyKey::parse(raw).map(Some).map_err(refused)
}

/// `POST /api/v1/assessments`.
#[utoipa::path(
    post,
    path = "/api/v1/assessments",
    tag = "self-assessment",
    summary = "Score a PHQ-9 or GAD-7",
    description = "Records an anonymous screening result and returns its score, band and the item-9 flag. A screening result, never a diagnosis.",
    params(("Idempotency-Key" = Option<String>, Header, min_length = 36, max_length = 36, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[47][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$", description = "Send the same key to retry safely: the first result is returned again. A random UUID, version 4 or 7. (At least 128 random bits as 22 or more base64url characters are also accepted.)")),
    request_body(content = AssessmentRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded", body = AssessmentCreated),
        (status = 400, description = "The body is not JSON, or the Idempotency-Key is not usable", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as application/json", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this client; see Retry-After", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    limit: RateLimit<ApiRoute>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    json::require_json(&headers, "Send the assessment as application/json")?;
    let key = idempotency_key(&headers)?;
    let request = read_request(&body)?;
    let responses = parse(&request).map_err(invalid)?;
    if let Err(wait) = limit.spend(&state) {
        return Ok(ApiError::too_many_requests(wait));
    }
    let recorded = match &key {
        Some(key) => assessment::record_idempotent(&state, &responses, key).await?,
        None => record(&state, &responses, &random_id(), Source::Api).await?,
    };
    let def = responses.instrument().definition();
    let url = state
        .config
        .clinic
        .base_url
        .join(&result_path(&recorded.token));
    let body = AssessmentCreated {
        instrument: def.id.slug(),
        instrument_version: def.version,
        total: recorded.score.total,
        max: recorded.score.max,
        severity: recorded.score.severity.slug(),
        self_harm_flag: recorded.score.self_harm_flag,
        result_url: url.clone(),
        expires_at: rfc3339(recorded.expires_at),
        disclaimer: "This is a screening result, not a diagnosis.",
    };
    let mut res = (
        StatusCode::CREATED,
        serde_json::to_string(&body).expect("a result serializes"),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(loc) = HeaderValue::from_str(&url) {
        h.insert(header::LOCATION, loc);
    }
    Ok(res)
}

/// Checks the document's shape and values, collecting every problem.
fn parse(request: &AssessmentRequest) -> Result<Responses, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let instrument = match &request.instrument {
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
    let answers: Option<Vec<Option<i64>>> = match &request.answers {
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
    let difficulty = match &request.difficulty {
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

    fn fields(v: &str) -> Vec<String> {
        match read_request(v.as_bytes()) {
            Ok(request) => parse(&request).unwrap_err(),
            Err(e) => e.errors,
        }
        .into_iter()
        .map(|(f, _)| f)
        .collect()
    }

    #[test]
    fn accepts_the_documented_example() {
        let request: AssessmentRequest = serde_json::from_str(
            r#"{"instrument":"phq9","answers":[0,1,2,3,0,1,2,3,0],"difficulty":1}"#,
        )
        .unwrap();
        assert_eq!(parse(&request).unwrap().score().total, 12);
    }

    #[test]
    fn names_each_bad_field() {
        assert_eq!(
            fields(r#"{"instrument":"phq9","answers":[0,1,"2",3,0,1,2.5,3,9],"difficulty":1}"#),
            ["answers[2]", "answers[6]", "answers[8]"]
        );
        assert_eq!(
            fields(r#"{"instrument":"bdi","answers":[0]}"#),
            ["instrument"]
        );
        assert_eq!(
            fields(r#"{"instrument":"gad7","answers":[1,1,1,1,1,1,1]}"#),
            ["difficulty"]
        );
        assert_eq!(
            fields(r#"{"instrument":"gad7","answers":[1,1,1]}"#),
            ["answers"]
        );
        assert_eq!(
            fields(r#"{"instrument":"gad7","answers":[0,0,0,0,0,0,0],"x":1}"#),
            ["x"]
        );
        assert_eq!(fields("[1, 2]"), ["body"]);
        assert_eq!(fields("{}"), ["instrument", "answers"]);
        assert_eq!(
            fields(r#"{"instrument":"phq2","answers":[0,0]}"#),
            ["instrument"]
        );
    }

    #[test]
    fn a_field_given_twice_is_refused_not_overwritten() {
        assert_eq!(
            fields(
                r#"{"instrument":"phq9","answers":[3,3,3,3,3,3,3,3,3],"answers":[0,0,0,0,0,0,0,0,0],"difficulty":0}"#
            ),
            ["answers"]
        );
        assert_eq!(
            fields(r#"{"instrument":"gad7","instrument":"phq9","answers":[0,0,0,0,0,0,0]}"#),
            ["instrument"]
        );
    }
}
