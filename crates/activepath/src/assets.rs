//! Files the site serves under names that carry a hash of their bytes
//! (stylesheet, logo, icons, fonts, the clinic's images), so that browsers
//! may keep them forever: a changed file gets a new name.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Asset {
    /// `/static/app.1a2b3c4d5e.css`
    pub path: String,
    pub body: axum::body::Bytes,
    /// A gzip copy, for text (stylesheets, drawings); images are compressed already.
    pub gzip: Option<axum::body::Bytes>,
    pub content_type: &'static str,
}

impl Asset {
    /// An asset at `{prefix}/{stem}.{hash}.{ext}`.
    pub fn hashed(
        prefix: &str,
        stem: &str,
        ext: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Asset {
        let hash = Sha256::digest(&body);
        let short: String = hash.iter().take(5).map(|b| format!("{b:02x}")).collect();
        let gzip = (content_type.starts_with("text/") || content_type == "image/svg+xml")
            .then(|| gzip(&body).into());
        Asset {
            path: format!("{prefix}/{stem}.{short}.{ext}"),
            body: body.into(),
            gzip,
            content_type,
        }
    }
}

/// `bytes` gzip-compressed, as tightly as gzip goes (done once per file).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut gz = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::best());
    gz.write_all(bytes).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// Assets by path.
#[derive(Debug, Clone, Default)]
pub struct Assets(HashMap<String, Arc<Asset>>);

impl Assets {
    /// Adds `asset` and returns its path.
    pub fn add(&mut self, asset: Asset) -> String {
        let path = asset.path.clone();
        self.0.insert(path.clone(), Arc::new(asset));
        path
    }

    pub fn get(&self, path: &str) -> Option<&Arc<Asset>> {
        self.0.get(path)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
