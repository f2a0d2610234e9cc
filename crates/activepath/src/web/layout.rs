//! What every page shares: the translator, the clinic's details for the
//! header and the crisis footer, the page title and the asset addresses.

use crate::app::AppState;
use crate::i18n::Tr;
use crate::theme::Theme;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Layout {
    pub tr: Tr,
    pub title: String,
    pub description: String,
    /// Which navigation entry is current: "home", "assessment" or "".
    pub section: &'static str,
    /// Private pages (results, forms with answers) are kept out of search engines.
    pub noindex: bool,
    pub clinic_name: String,
    pub clinic_phone: String,
    pub clinic_phone_uri: String,
    pub clinic_address: String,
    pub theme: Arc<Theme>,
    /// The site's menu.
    pub menu: Arc<super::site::Nav>,
    /// This page's path, to mark its menu entry as current.
    pub path: String,
    /// The clinic's opening hours, one line per run of days.
    pub hours: Vec<String>,
    pub clinic_email: String,
    /// Absolute URL of this page, for `<link rel=canonical>` and Open Graph.
    pub canonical: Option<String>,
    pub og_type: &'static str,
    /// schema.org data, already serialised and safe to embed.
    pub json_ld: Option<String>,
    /// The clinic's locations, for the footer and the contact page.
    pub places: std::sync::Arc<Vec<super::site::Place>>,
    base_url: String,
}

impl Layout {
    /// A layout whose title and description are Fluent message ids.
    pub fn new(
        state: &AppState,
        section: &'static str,
        title_id: &str,
        description_id: &str,
    ) -> Self {
        let tr = Tr::default();
        let title = tr.t(title_id);
        let description = tr.t(description_id);
        Self::with_title(state, section, title, description)
    }

    pub fn with_title(
        state: &AppState,
        section: &'static str,
        title: String,
        description: String,
    ) -> Self {
        let clinic = &state.config.clinic;
        Layout {
            tr: Tr::default(),
            title,
            description,
            section,
            noindex: false,
            clinic_name: clinic.name.clone(),
            clinic_phone: clinic.phone.clone(),
            clinic_phone_uri: clinic.phone_uri(),
            clinic_address: clinic.address.clone(),
            theme: state.theme.clone(),
            menu: state.site.menu(),
            path: String::new(),
            hours: crate::time::format_week(&clinic.hours.days, true),
            clinic_email: clinic.email.clone(),
            canonical: None,
            og_type: "website",
            json_ld: None,
            places: state.site.places(),
            base_url: clinic.base_url.as_str().to_string(),
        }
    }

    /// Sets the page's canonical address from its path.
    pub fn at(mut self, path: &str) -> Self {
        self.canonical = Some(format!("{}{path}", self.base_url));
        self.path = path.to_string();
        self
    }

    /// Embeds schema.org data. `<` is escaped so the JSON cannot end the
    /// script element early.
    pub fn with_json_ld(mut self, value: &serde_json::Value) -> Self {
        self.json_ld = Some(value.to_string().replace('<', "\\u003c"));
        self
    }

    /// Whether a menu entry leads to this page.
    pub fn is_current(&self, item: &super::site::NavItem) -> bool {
        (!self.path.is_empty() && self.path == item.path)
            || (!item.section.is_empty() && self.section == item.section)
    }

    pub fn private(mut self) -> Self {
        self.noindex = true;
        self
    }
}

/// Renders a template as an HTML response with `status`. A form shown again
/// because of mistakes (422) or a conflict (409) has its title start with
/// "Error: ", so that screen-reader users hear it first.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(mut body) => {
            if matches!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT
            ) {
                let prefix = format!("<title>{} ", Tr::default().t("title-error-prefix"));
                body = body.replacen("<title>", &prefix, 1);
            }
            let mut res = (status, body).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            res
        }
        Err(e) => super::AppError::from(e).into_response(),
    }
}
