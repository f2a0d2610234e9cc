//! The route table: every route the app answers, with the method and the
//! query and body fields its handler reads, learnt from the handler's own
//! extractor types. Feature routers register through [`Routes`] and the
//! [`get`] / [`post`] here instead of axum's, so the table is made from the
//! same calls that build the router and cannot drift from what is served.
//! The route fuzz test walks it: every route, every field, hostile values.
//!
//! A handler's fields come from its extractors: `Query<T>` and `Form<T>`
//! name `T`'s fields (read off its `Deserialize` impl by a deserializer that
//! records what it is asked for, with each field's kind); a handler that
//! reads its body as raw bytes or as untyped pairs says so
//! ([`Body::Untyped`]), and the API's JSON bodies are described by the
//! OpenAPI document instead.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

/// What a field holds, as its type asks the deserializer for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number (`i64`, `u32`, …).
    Integer,
    Bool,
    /// Text, including dates and times read later from text.
    Text,
    /// A date or time, bounded by [`crate::domain::day`] when read.
    Date,
    /// Anything else (a list, a nested value).
    Other,
}

/// A field a handler reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

/// The body a handler reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Body {
    #[default]
    None,
    /// `application/x-www-form-urlencoded` into a typed form.
    Form(Vec<Field>),
    /// A JSON object into a typed value.
    Json(Vec<Field>),
    /// Bytes or untyped pairs, parsed by the handler itself (the API's
    /// JSON bodies: their fields are in the OpenAPI document).
    Untyped,
}

/// What a handler reads besides its path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reading {
    pub query: Vec<Field>,
    pub body: Body,
}

/// One route of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// The pattern, e.g. `/staff/courses/{id}`.
    pub path: &'static str,
    pub reads: Reading,
}

/// An extractor's part in what a handler reads.
pub trait Reads {
    fn reads(_: &mut Reading) {}
}

impl<T: DeserializeOwned> Reads for axum::extract::Query<T> {
    fn reads(r: &mut Reading) {
        r.query = fields_of::<T>().unwrap_or_default();
    }
}

impl<T: DeserializeOwned> Reads for axum::Form<T> {
    fn reads(r: &mut Reading) {
        r.body = fields_of::<T>().map_or(Body::Untyped, Body::Form);
    }
}

impl<T: DeserializeOwned> Reads for axum::Json<T> {
    fn reads(r: &mut Reading) {
        r.body = fields_of::<T>().map_or(Body::Untyped, Body::Json);
    }
}

impl Reads for axum::body::Bytes {
    fn reads(r: &mut Reading) {
        r.body = Body::Untyped;
    }
}

impl Reads for axum::extract::Request {
    fn reads(r: &mut Reading) {
        r.body = Body::Untyped;
    }
}

/// Extractors that read neither the query nor the body.
macro_rules! reads_nothing {
    ($($t:ty),* $(,)?) => { $(impl Reads for $t {})* };
}

reads_nothing!(
    axum::http::HeaderMap,
    axum::http::Method,
    axum::http::Uri,
    crate::web::staff::SignedIn,
    crate::web::staff::ClientIp,
);

impl<T> Reads for axum::extract::State<T> {}
impl<T> Reads for axum::extract::Path<T> {}
impl<T> Reads for axum::Extension<T> {}
impl<T> Reads for axum::extract::ConnectInfo<T> {}
impl<P: crate::web::staff::Needs> Reads for crate::web::staff::Allowed<P> {}
impl<R: crate::web::rate_limit::LimitedRoute> Reads for crate::web::rate_limit::RateLimit<R> {}

/// A handler's extractors, as axum's `Handler` impls list them: `((),)`
/// for none, else a marker then each extractor.
pub trait HandlerReads {
    fn reading() -> Reading;
}

impl HandlerReads for ((),) {
    fn reading() -> Reading {
        Reading::default()
    }
}

macro_rules! handler_reads {
    ($($t:ident),+) => {
        impl<M, $($t: Reads),+> HandlerReads for (M, $($t,)+) {
            fn reading() -> Reading {
                let mut r = Reading::default();
                $($t::reads(&mut r);)+
                r
            }
        }
    };
}

handler_reads!(T1);
handler_reads!(T1, T2);
handler_reads!(T1, T2, T3);
handler_reads!(T1, T2, T3, T4);
handler_reads!(T1, T2, T3, T4, T5);
handler_reads!(T1, T2, T3, T4, T5, T6);
handler_reads!(T1, T2, T3, T4, T5, T6, T7);
handler_reads!(T1, T2, T3, T4, T5, T6, T7, T8);

/// The methods of one path, with what each reads.
pub struct Methods<S> {
    router: MethodRouter<S>,
    reads: Vec<(Method, Reading)>,
}

/// `GET` (and `HEAD`) by `handler`.
pub fn get<H, T, S>(handler: H) -> Methods<S>
where
    H: Handler<T, S>,
    T: HandlerReads + 'static,
    S: Clone + Send + Sync + 'static,
{
    Methods {
        router: axum::routing::get(handler),
        reads: vec![(Method::GET, T::reading())],
    }
}

/// `POST` by `handler`.
pub fn post<H, T, S>(handler: H) -> Methods<S>
where
    H: Handler<T, S>,
    T: HandlerReads + 'static,
    S: Clone + Send + Sync + 'static,
{
    Methods {
        router: axum::routing::post(handler),
        reads: vec![(Method::POST, T::reading())],
    }
}

impl<S: Clone + Send + Sync + 'static> Methods<S> {
    pub fn post<H, T>(mut self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: HandlerReads + 'static,
    {
        self.router = self.router.post(handler);
        self.reads.push((Method::POST, T::reading()));
        self
    }
}

/// A router and its table, built together.
pub struct Routes<S> {
    router: Router<S>,
    table: Vec<Route>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, path: &'static str, methods: Methods<S>) -> Self {
        self.router = self.router.route(path, methods.router);
        self.table
            .extend(methods.reads.into_iter().map(|(method, reads)| Route {
                method,
                path,
                reads,
            }));
        self
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// Applies `f` to the router (layers, fallbacks, state): the table is
    /// unchanged.
    pub fn map(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = f(self.router);
        self
    }

    pub fn into_parts(self) -> (Router<S>, Vec<Route>) {
        (self.router, self.table)
    }
}

/// The fields of `T`'s `Deserialize` impl with their kinds, or `None` when
/// it is not a struct of named fields (a list of pairs, a map).
pub fn fields_of<T: DeserializeOwned>() -> Option<Vec<Field>> {
    let mut probe = Probe::default();
    // The probe answers with default values; whether `T` accepts them does
    // not matter, only what it asked for.
    let _ = T::deserialize(&mut probe);
    probe.fields
}

/// A deserializer that records the struct fields it is asked for and, for
/// each, the kind of value.
#[derive(Default)]
struct Probe {
    fields: Option<Vec<Field>>,
}

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for &mut Probe {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        let mut access = FieldAccess {
            names,
            at: 0,
            kinds: vec![Kind::Other; names.len()],
        };
        let _ = visitor.visit_map(&mut access);
        self.fields = Some(
            names
                .iter()
                .zip(access.kinds)
                .map(|(name, kind)| Field { name, kind })
                .collect(),
        );
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// Hands a struct its fields one by one, each with a [`Value`] probe.
struct FieldAccess {
    names: &'static [&'static str],
    at: usize,
    kinds: Vec<Kind>,
}

impl<'de> de::MapAccess<'de> for &mut FieldAccess {
    type Error = Stop;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Stop> {
        let Some(name) = self.names.get(self.at) else {
            return Ok(None);
        };
        seed.deserialize(de::value::BorrowedStrDeserializer::<Stop>::new(name))
            .map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Stop> {
        let mut value = Value(Kind::Other);
        let out = seed.deserialize(&mut value);
        if let Some(kind) = self.kinds.get_mut(self.at) {
            *kind = value.0;
        }
        self.at += 1;
        out
    }
}

/// One field's value: notes the kind asked for and answers with a default.
struct Value(Kind);

impl<'de> Deserializer<'de> for &mut Value {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.0 = Kind::Text;
        v.visit_str("")
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Stop> {
        let out = v.visit_newtype_struct(&mut *self);
        if name == crate::domain::day::DATE_TEXT {
            self.0 = Kind::Date;
        }
        out
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.0 = Kind::Bool;
        v.visit_bool(false)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.0 = Kind::Integer;
        v.visit_i64(0)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.0 = Kind::Integer;
        v.visit_u64(0)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.deserialize_i64(v)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.deserialize_i64(v)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.deserialize_i64(v)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.deserialize_u64(v)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.deserialize_u64(v)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.deserialize_u64(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        if self.0 != Kind::Date {
            self.0 = Kind::Text;
        }
        v.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.deserialize_str(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Stop> {
        self.0 = Kind::Other;
        v.visit_seq(
            de::value::SeqDeserializer::<std::iter::Empty<u8>, Stop>::new(std::iter::empty()),
        )
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 char bytes byte_buf unit unit_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::day::DateText;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Example {
        week: Option<DateText>,
        #[serde(rename = "type")]
        kind: String,
        resource: Option<i64>,
        count: u32,
        consent: bool,
        items: Vec<String>,
    }

    #[test]
    fn a_structs_fields_and_kinds_are_read_off_its_type() {
        let fields = fields_of::<Example>().unwrap();
        let got: Vec<(&str, Kind)> = fields.iter().map(|f| (f.name, f.kind)).collect();
        assert_eq!(
            got,
            [
                ("week", Kind::Date),
                ("type", Kind::Text),
                ("resource", Kind::Integer),
                ("count", Kind::Integer),
                ("consent", Kind::Bool),
                ("items", Kind::Other),
            ]
        );
        assert_eq!(fields_of::<Vec<(String, String)>>(), None);
    }
}
