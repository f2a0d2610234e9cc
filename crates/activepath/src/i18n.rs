//! Every user-facing string goes through Project Fluent (`locales/*/main.ftl`),
//! so a Spanish edition is a new `.ftl` file, not a template change. English
//! (US) ships now. Instrument wording is not here: it is verbatim data in the
//! `clinical` crate, versioned per language.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use std::borrow::Cow;
use std::collections::HashMap;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en-US",
        // The output is HTML-escaped by the templates; Unicode isolation
        // marks around arguments would only get in the way of copy and paste.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

const EN_US: LanguageIdentifier = langid!("en-US");

/// A translator for one language, handed to every template.
#[derive(Debug, Clone)]
pub struct Tr {
    lang: LanguageIdentifier,
}

impl Default for Tr {
    fn default() -> Self {
        Tr { lang: EN_US }
    }
}

impl Tr {
    pub fn lang(&self) -> String {
        self.lang.to_string()
    }

    /// The message `id`. A missing id is a bug, caught by a test over every
    /// template; in production it shows the id rather than failing the page.
    pub fn t(&self, id: &str) -> String {
        LOCALES
            .try_lookup(&self.lang, id)
            .unwrap_or_else(|| id.to_string())
    }

    /// The message `id` with one argument.
    pub fn t1(&self, id: &str, name: &str, value: impl ToString) -> String {
        self.args(id, &[(name, value.to_string())])
    }

    /// The message `id` with two arguments.
    pub fn t2(&self, id: &str, n1: &str, v1: impl ToString, n2: &str, v2: impl ToString) -> String {
        self.args(id, &[(n1, v1.to_string()), (n2, v2.to_string())])
    }

    pub fn args(&self, id: &str, args: &[(&str, String)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(k, v)| (Cow::Owned(k.to_string()), FluentValue::from(v.clone())))
            .collect();
        LOCALES
            .try_lookup_with_args(&self.lang, id, &map)
            .unwrap_or_else(|| id.to_string())
    }

    /// Whether `id` exists. Fluent fails a lookup whose arguments are
    /// missing, so every argument name the messages use is filled in.
    pub fn has(&self, id: &str) -> bool {
        const NAMES: [&str; 38] = [
            "phone",
            "days",
            "instrument",
            "count",
            "number",
            "date",
            "total",
            "max",
            "band",
            "clinic",
            "title",
            "minutes",
            "author",
            "reviewer",
            "tag",
            "page",
            "pages",
            "urgent",
            "age",
            "id",
            "method",
            "outcome",
            "email",
            "why",
            "role",
            "name",
            "when",
            "kind",
            "place",
            "url",
            "within",
            "from",
            "to",
            "peak",
            "day",
            "until",
            "change",
            "next",
        ];
        let map: HashMap<Cow<'static, str>, FluentValue> = NAMES
            .iter()
            .map(|n| (Cow::Borrowed(*n), FluentValue::from("x")))
            .collect();
        LOCALES.try_lookup_with_args(&self.lang, id, &map).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_used_in_code_and_templates_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["templates", "src"] {
            collect(&root.join(dir), &mut files);
        }
        let tr = Tr::default();
        let mut missing = Vec::new();
        let quoted = regex_lite_keys();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for key in quoted(&text) {
                if !tr.has(&key) {
                    missing.push(format!("{}: {key}", file.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "missing Fluent messages:\n{}",
            missing.join("\n")
        );
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// Finds the first argument of `.t("…")`, `.t1("…"`, `.t2("…"` and `.args("…"`.
    fn regex_lite_keys() -> impl Fn(&str) -> Vec<String> {
        |text: &str| {
            let mut keys = Vec::new();
            for call in [".t(\"", ".t1(\"", ".t2(\"", ".args(\""] {
                let mut rest = text;
                while let Some(pos) = rest.find(call) {
                    rest = &rest[pos + call.len()..];
                    if let Some(end) = rest.find('"') {
                        let key = &rest[..end];
                        if !key.is_empty()
                            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        {
                            keys.push(key.to_string());
                        }
                    }
                }
            }
            keys
        }
    }

    #[test]
    fn arguments_are_substituted() {
        let tr = Tr::default();
        assert_eq!(
            tr.t2("result-score-of", "total", 12, "max", 27),
            "12 out of 27"
        );
    }
}
