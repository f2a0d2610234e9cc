//! The clinic's images (`content_dir/media/`): each decoded, turned
//! upright, resized to a few widths and re-encoded, which leaves every bit
//! of metadata (EXIF, GPS, camera) behind. Served under hashed, immutable
//! addresses with `srcset`, `sizes`, `width` and `height`.
//!
//! Decoding and encoding take seconds, so what is made of an image is kept
//! in the data folder ([`MediaCache`], `data/media-cache/`), keyed by a hash
//! of the source's bytes, of what is made of it and of the file layout: an
//! image is made once, and every later start (and every instance sharing
//! the data folder) reads the result back. Only the encoded files are kept
//! in memory, never a decoded picture.

use crate::assets::{Asset, Assets};
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageReader};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

/// Widths made of each image (never wider than the original).
const WIDTHS: [u32; 3] = [480, 960, 1440];
/// Originals wider than this are scaled down to it.
const MAX_WIDTH: u32 = 1600;
const JPEG_QUALITY: u8 = 80;
/// Files larger than this are refused rather than decoded.
const MAX_FILE: usize = 30 * 1024 * 1024;
/// Changes whenever what is made of an image changes (the constants above,
/// the encoders' settings, the cache file's layout), so that no start uses
/// a file made another way.
const FORMAT: u32 = 1;

/// Decodes an image and turns it as its EXIF orientation says.
pub fn decode(bytes: &[u8]) -> anyhow::Result<DynamicImage> {
    let mut decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()?
        .into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok(img)
}

pub fn encode_png(img: &DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))?;
    Ok(out)
}

fn encode_jpeg(img: &DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let rgb = img.to_rgb8();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).write_image(
        rgb.as_raw(),
        rgb.width(),
        rgb.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

fn encode_webp(img: &DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let rgba = img.to_rgba8();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out).write_image(
        rgba.as_raw(),
        rgba.width(),
        rgba.height(),
        image::ExtendedColorType::Rgba8,
    )?;
    Ok(out)
}

/// One width of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub width: u32,
    pub height: u32,
    /// JPEG, or PNG when the image has transparent parts.
    pub fallback: String,
    pub webp: Option<String>,
}

/// An image of the media folder, ready to be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The file's name in `media/`.
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// Narrowest first.
    pub variants: Vec<Variant>,
}

impl Image {
    /// `<picture>` markup. `sizes` tells the browser how wide the image is
    /// shown; `eager` for the one image above the fold (it is also fetched
    /// first), lazy loading for the rest. `alt` is escaped here.
    pub fn html(&self, alt: &str, sizes: &str, eager: bool) -> String {
        let srcset = |pick: &dyn Fn(&Variant) -> Option<&String>| {
            self.variants
                .iter()
                .filter_map(|v| Some(format!("{} {}w", pick(v)?, v.width)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let webp = self.variants.iter().all(|v| v.webp.is_some());
        let fallback = srcset(&|v| Some(&v.fallback));
        // The middle width for browsers that read neither srcset nor sizes.
        let src = &self.variants[self.variants.len() / 2].fallback;
        let loading = if eager {
            r#" fetchpriority="high""#
        } else {
            r#" loading="lazy" decoding="async""#
        };
        let mut out = String::from("<picture>");
        if webp {
            out.push_str(&format!(
                r#"<source type="image/webp" srcset="{}" sizes="{sizes}">"#,
                srcset(&|v| v.webp.as_ref())
            ));
        }
        out.push_str(&format!(
            r#"<img src="{src}" srcset="{fallback}" sizes="{sizes}" width="{}" height="{}" alt="{}"{loading}></picture>"#,
            self.width,
            self.height,
            escape_attr(alt)
        ));
        out
    }
}

fn escape_attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Every image of the media folder, and the files made from them.
#[derive(Debug, Clone, Default)]
pub struct Media {
    images: HashMap<String, Arc<Image>>,
    pub assets: Assets,
    /// What this build used, so that the in-process memo keeps it.
    sources: Vec<Processed>,
    stats: MediaStats,
}

/// Where each image of a build came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Decoded and encoded now.
    pub made: usize,
    /// Read back from the cache in the data folder.
    pub from_cache: usize,
    /// Already made in this process (a reload, or another app in tests).
    pub from_memory: usize,
}

type Processed = Arc<(Image, Vec<Asset>)>;

/// Images already processed in this process, by a hash of name and what is
/// made of the bytes. Entries no live [`Media`] holds are dropped after each
/// build, so a reload with changed images does not keep the old ones.
static DONE: LazyLock<Mutex<HashMap<[u8; 32], Processed>>> = LazyLock::new(Default::default);

/// One image ready: its files, where they came from, and its cache key.
type Ready = (Processed, Origin, [u8; 32]);

/// Where an image's variants came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Made,
    Cache,
    Memory,
}

impl Media {
    /// Processes `files` (name, bytes), two at a time, in memory only. The
    /// error names the file that could not be read as an image.
    pub fn build(files: Vec<(String, Vec<u8>)>) -> Result<Media, (String, String)> {
        Self::build_with(files, None)
    }

    /// [`Media::build`], reading what was made before from `cache` and
    /// keeping there what is made now.
    pub fn build_with(
        files: Vec<(String, Vec<u8>)>,
        cache: Option<&MediaCache>,
    ) -> Result<Media, (String, String)> {
        // What is known already (in memory or in the cache) is cheap: read
        // here. Only images to be made now are worth a second thread (every
        // thread that allocates also keeps some memory of its own).
        let mut results: Vec<Result<Ready, (String, String)>> = Vec::new();
        let mut to_make = Vec::new();
        for (name, bytes) in &files {
            match known(name, bytes, cache) {
                Ok(Ok(ready)) => results.push(Ok(ready)),
                Ok(Err(keys)) => to_make.push((name, bytes, keys)),
                Err(e) => results.push(Err((name.clone(), format!("{e:#}")))),
            }
        }
        let work = |part: Vec<&ToMake>| {
            part.into_iter()
                .map(|(name, bytes, keys)| {
                    make_now(name, bytes, keys, cache)
                        .map_err(|e| ((*name).clone(), format!("{e:#}")))
                })
                .collect::<Vec<_>>()
        };
        if to_make.len() > 1 {
            let (mut a, mut b): (Vec<&ToMake>, Vec<&ToMake>) = (Vec::new(), Vec::new());
            for (i, m) in to_make.iter().enumerate() {
                if i % 2 == 0 { a.push(m) } else { b.push(m) }
            }
            std::thread::scope(|s| {
                let other = s.spawn(move || work(b));
                results.extend(work(a));
                results.extend(other.join().expect("image processing does not panic"));
            });
        } else {
            results.extend(work(to_make.iter().collect()));
        }
        let mut media = Media::default();
        let mut keys = HashSet::new();
        for result in results {
            let (done, origin, key) = result?;
            keys.insert(key);
            match origin {
                Origin::Made => media.stats.made += 1,
                Origin::Cache => media.stats.from_cache += 1,
                Origin::Memory => media.stats.from_memory += 1,
            }
            for asset in &done.1 {
                media.assets.add(asset.clone());
            }
            media
                .images
                .insert(done.0.name.clone(), Arc::new(done.0.clone()));
            media.sources.push(done);
        }
        DONE.lock()
            .expect("media memo")
            .retain(|_, p| Arc::strong_count(p) > 1);
        if let Some(cache) = cache {
            cache.forget_unused(&keys);
        }
        Ok(media)
    }

    /// The image a reference names: `media/room.jpg` or `/media/room.jpg`.
    pub fn get(&self, reference: &str) -> Option<&Arc<Image>> {
        let name = reference.trim_start_matches('/').strip_prefix("media/")?;
        self.images.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.images.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Where this build's images came from.
    pub fn stats(&self) -> MediaStats {
        self.stats
    }
}

/// The key of what is made of `bytes`: the source and every setting that
/// changes the result.
fn key_of(bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"activepath media variants\0");
    hasher.update(FORMAT.to_le_bytes());
    for w in WIDTHS {
        hasher.update(w.to_le_bytes());
    }
    hasher.update(MAX_WIDTH.to_le_bytes());
    hasher.update([JPEG_QUALITY]);
    hasher.update(bytes);
    hasher.finalize().into()
}

/// The cache key of what is made of an image, and the in-process memo's
/// key (which adds the name).
type Keys = ([u8; 32], [u8; 32]);

/// An image to make now: its name, its bytes and its keys.
type ToMake<'a> = (&'a String, &'a Vec<u8>, Keys);

/// The image ready from the memo or the cache, or the keys to make it with.
fn known(
    name: &str,
    bytes: &[u8],
    cache: Option<&MediaCache>,
) -> anyhow::Result<Result<Ready, Keys>> {
    if bytes.len() > MAX_FILE {
        anyhow::bail!("the file is larger than {} MB", MAX_FILE / 1024 / 1024);
    }
    let key = key_of(bytes);
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update(key);
    let memo_key: [u8; 32] = hasher.finalize().into();
    if let Some(done) = DONE.lock().expect("media memo").get(&memo_key) {
        return Ok(Ok((done.clone(), Origin::Memory, key)));
    }
    Ok(match cache.and_then(|c| c.read(&key)) {
        Some(made) => Ok((remember(name, made, memo_key), Origin::Cache, key)),
        None => Err((key, memo_key)),
    })
}

/// Makes the image now (keeping the result in `cache`).
fn make_now(
    name: &str,
    bytes: &[u8],
    (key, memo_key): &Keys,
    cache: Option<&MediaCache>,
) -> anyhow::Result<Ready> {
    let made = make_and_keep(bytes, key, cache)?;
    Ok((remember(name, made, *memo_key), Origin::Made, *key))
}

fn remember(name: &str, made: Made, memo_key: [u8; 32]) -> Processed {
    let done = Arc::new(named(name, made));
    DONE.lock()
        .expect("media memo")
        .insert(memo_key, done.clone());
    done
}

/// What is made of `bytes` (whose key is `key`): read from `cache` when it
/// has it, else made now and kept there.
#[cfg(test)]
fn made_through(
    bytes: &[u8],
    key: &[u8; 32],
    cache: Option<&MediaCache>,
) -> anyhow::Result<(Made, Origin)> {
    if let Some(made) = cache.and_then(|c| c.read(key)) {
        return Ok((made, Origin::Cache));
    }
    Ok((make_and_keep(bytes, key, cache)?, Origin::Made))
}

/// Makes what `bytes` give and keeps it in `cache`. Failing to keep it
/// costs the next start time, not this one: logged, not an error.
fn make_and_keep(bytes: &[u8], key: &[u8; 32], cache: Option<&MediaCache>) -> anyhow::Result<Made> {
    let made = make(bytes)?;
    if let Some(cache) = cache
        && let Err(e) = cache.write(key, &made)
    {
        tracing::warn!(
            "keeping an image's variants in {} failed, they will be made again at the next start: {e}",
            cache.dir.display()
        );
    }
    Ok(made)
}

/// Resizes and re-encodes one image, in memory only.
pub fn process(name: &str, bytes: &[u8]) -> anyhow::Result<(Image, Vec<Asset>)> {
    if bytes.len() > MAX_FILE {
        anyhow::bail!("the file is larger than {} MB", MAX_FILE / 1024 / 1024);
    }
    Ok(named(name, make(bytes)?))
}

/// What is made of one source image, whatever its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Made {
    width: u32,
    height: u32,
    /// Narrowest first.
    variants: Vec<MadeVariant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MadeVariant {
    width: u32,
    height: u32,
    /// PNG when the image has transparent parts, else JPEG.
    png: bool,
    fallback: Vec<u8>,
    webp: Option<Vec<u8>>,
}

/// Decodes, resizes and encodes. The decoded picture and each resized copy
/// are dropped as soon as their files are made.
fn make(bytes: &[u8]) -> anyhow::Result<Made> {
    let img = decode(bytes).map_err(|e| anyhow::anyhow!("not a JPEG, PNG or WebP image ({e})"))?;
    let img = if img.width() > MAX_WIDTH {
        img.resize(MAX_WIDTH, u32::MAX, image::imageops::FilterType::CatmullRom)
    } else {
        img
    };
    let transparent = img.color().has_alpha() && img.to_rgba8().pixels().any(|p| p.0[3] < 255);
    let mut widths: Vec<u32> = WIDTHS
        .iter()
        .copied()
        .filter(|w| *w < img.width())
        .collect();
    widths.push(img.width());
    let mut variants = Vec::new();
    // Lossless WebP beats JPEG on drawings and flat colour, and loses badly
    // on photographs: it is tried on the narrowest width, and made for the
    // others only if it won there.
    let mut try_webp = true;
    for width in widths {
        let resized;
        let scaled = if width == img.width() {
            &img
        } else {
            resized = img.resize(width, u32::MAX, image::imageops::FilterType::CatmullRom);
            &resized
        };
        let fallback = if transparent {
            encode_png(scaled)?
        } else {
            encode_jpeg(scaled)?
        };
        // Offered only where it is smaller.
        let webp = if try_webp {
            Some(encode_webp(scaled)?).filter(|w| w.len() < fallback.len())
        } else {
            None
        };
        try_webp = webp.is_some();
        variants.push(MadeVariant {
            width: scaled.width(),
            height: scaled.height(),
            png: transparent,
            fallback,
            webp,
        });
    }
    Ok(Made {
        width: img.width(),
        height: img.height(),
        variants,
    })
}

/// The image and its files under `name`'s addresses.
fn named(name: &str, made: Made) -> (Image, Vec<Asset>) {
    let stem: String = name
        .rsplit_once('.')
        .map_or(name, |(s, _)| s)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut assets = Vec::new();
    let mut variants = Vec::new();
    for v in made.variants {
        let stem = format!("{stem}-{}", v.width);
        let fallback = if v.png {
            Asset::hashed("/media", &stem, "png", v.fallback, "image/png")
        } else {
            Asset::hashed("/media", &stem, "jpg", v.fallback, "image/jpeg")
        };
        let webp = v
            .webp
            .map(|w| Asset::hashed("/media", &stem, "webp", w, "image/webp"));
        variants.push(Variant {
            width: v.width,
            height: v.height,
            fallback: fallback.path.clone(),
            webp: webp.as_ref().map(|w| w.path.clone()),
        });
        assets.push(fallback);
        assets.extend(webp);
    }
    (
        Image {
            name: name.to_string(),
            width: made.width,
            height: made.height,
            variants,
        },
        assets,
    )
}

/// The folder where what is made of each image is kept between starts:
/// one file per source image, `<key>.media`, written whole under another
/// name and then renamed, so a reader sees a complete file or none. A file
/// that does not check out (damaged, cut short, made another way) is made
/// again and replaced, never served.
#[derive(Debug, Clone)]
pub struct MediaCache {
    dir: PathBuf,
}

const MAGIC: &[u8; 8] = b"APMEDIA\0";
/// A file not used by the current content is removed once it is this old
/// (another instance on the same data folder may still use it until then).
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// A half-written file left by a process that stopped while writing.
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);

impl MediaCache {
    /// The cache of the data folder `data_dir`: `data_dir/media-cache/`.
    pub fn in_data_dir(data_dir: &Path) -> MediaCache {
        MediaCache {
            dir: data_dir.join("media-cache"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.media", hex(key)))
    }

    /// What was made of the source with `key`, if its file is there and
    /// checks out.
    fn read(&self, key: &[u8; 32]) -> Option<Made> {
        let path = self.path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("reading {} failed, making it again: {e}", path.display());
                return None;
            }
        };
        let made = decode_file(bytes, key);
        if made.is_none() {
            tracing::warn!(
                "{} is damaged or was made another way: making it again",
                path.display()
            );
        }
        made
    }

    fn write(&self, key: &[u8; 32], made: &Made) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(key);
        let tmp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            hex(key),
            std::process::id(),
            crate::crypto::random_id()
        ));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&encode_file(made, key))?;
            file.sync_data()?;
            std::fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Removes files that `keys` do not name once they are old enough, and
    /// half-written files that were abandoned.
    fn forget_unused(&self, keys: &HashSet<[u8; 32]>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let used: HashSet<String> = keys.iter().map(|k| format!("{}.media", hex(k))).collect();
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            let stale = if name.ends_with(".tmp") {
                age > ABANDONED_AFTER
            } else {
                name.ends_with(".media") && !used.contains(&name) && age > UNUSED_FOR
            };
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file: magic, format, key, the image's size and variant count, per
/// variant its size, fallback kind and the lengths of its files, then the
/// files, then a SHA-256 of everything before it.
fn encode_file(made: &Made, key: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(MAGIC);
    out.extend(FORMAT.to_le_bytes());
    out.extend(key);
    out.extend(made.width.to_le_bytes());
    out.extend(made.height.to_le_bytes());
    out.extend((made.variants.len() as u32).to_le_bytes());
    for v in &made.variants {
        out.extend(v.width.to_le_bytes());
        out.extend(v.height.to_le_bytes());
        out.push(u8::from(v.png));
        out.extend((v.fallback.len() as u64).to_le_bytes());
        out.extend((v.webp.as_ref().map_or(0, Vec::len) as u64).to_le_bytes());
    }
    for v in &made.variants {
        out.extend(&v.fallback);
        if let Some(w) = &v.webp {
            out.extend(w);
        }
    }
    let sum = Sha256::digest(&out);
    out.extend(sum);
    out
}

/// Reads a file written by [`encode_file`] for `key`; `None` unless every
/// part checks out.
fn decode_file(mut bytes: Vec<u8>, key: &[u8; 32]) -> Option<Made> {
    let body_len = bytes.len().checked_sub(32)?;
    if Sha256::digest(&bytes[..body_len])[..] != bytes[body_len..] {
        return None;
    }
    bytes.truncate(body_len);
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let end = at.checked_add(n)?;
        let part = bytes.get(at..end)?;
        at = end;
        Some(part)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("four bytes"));
    if take(MAGIC.len())? != MAGIC || u32_at(take(4)?) != FORMAT || take(32)? != key {
        return None;
    }
    let (width, height, count) = (u32_at(take(4)?), u32_at(take(4)?), u32_at(take(4)?));
    if count == 0 || count as usize > WIDTHS.len() + 1 {
        return None;
    }
    let mut heads = Vec::new();
    for _ in 0..count {
        let (w, h) = (u32_at(take(4)?), u32_at(take(4)?));
        let png = match take(1)?[0] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let fallback = usize::try_from(u64::from_le_bytes(take(8)?.try_into().ok()?)).ok()?;
        let webp = usize::try_from(u64::from_le_bytes(take(8)?.try_into().ok()?)).ok()?;
        heads.push((w, h, png, fallback, webp));
    }
    let mut variants = Vec::new();
    for (w, h, png, fallback, webp) in heads {
        let fallback = take(fallback)?.to_vec();
        let webp = if webp == 0 {
            None
        } else {
            Some(take(webp)?.to_vec())
        };
        variants.push(MadeVariant {
            width: w,
            height: h,
            png,
            fallback,
            webp,
        });
    }
    if at != bytes.len() {
        return None;
    }
    Some(Made {
        width,
        height,
        variants,
    })
}

/// The error for a reference to an image that is not in the media folder.
pub fn missing(reference: &str, media: &Media) -> String {
    if !reference.trim_start_matches('/').starts_with("media/") {
        return format!(
            "{reference:?}: images come from the media folder, as media/name.jpg \
             (the site loads nothing from other servers)"
        );
    }
    let names = media.names();
    if names.is_empty() {
        format!("{reference:?}: the media folder has no such image (it holds no images)")
    } else {
        format!(
            "{reference:?}: the media folder has no such image (it holds {})",
            names.join(", ")
        )
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A PNG of `w` x `h` with some detail (a gradient).
    pub fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        });
        encode_png(&DynamicImage::ImageRgb8(img)).unwrap()
    }

    /// A JPEG of `w` x `h` carrying EXIF: an orientation and a made-up GPS note.
    fn jpeg_with_exif(w: u32, h: u32, orientation: u16) -> Vec<u8> {
        let img =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([200, 80, 40])));
        let jpeg = encode_jpeg(&img).unwrap();
        let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        tiff.extend(orientation.to_le_bytes());
        tiff.extend([0, 0, 0, 0, 0, 0]);
        tiff.extend(b"GPS 40.7128N 74.0060W secret");
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend([0xff, 0xe1]);
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend(&jpeg[2..]);
        out
    }

    #[test]
    fn an_image_is_made_in_a_few_widths_never_wider_than_the_original() {
        let (img, assets) = process("Treatment Room.png", &png(1000, 500)).unwrap();
        assert_eq!((img.width, img.height), (1000, 500));
        let widths: Vec<(u32, u32)> = img.variants.iter().map(|v| (v.width, v.height)).collect();
        assert_eq!(widths, [(480, 240), (960, 480), (1000, 500)]);
        for v in &img.variants {
            assert!(
                v.fallback.starts_with("/media/treatment-room-"),
                "{}",
                v.fallback
            );
            assert!(
                v.fallback.ends_with(".jpg"),
                "an opaque image falls back to JPEG"
            );
        }
        // Every named file exists, with a name that changes with its bytes.
        for v in &img.variants {
            let a = assets.iter().find(|a| a.path == v.fallback).unwrap();
            assert_eq!(&a.body[..2], &[0xff, 0xd8]);
            if let Some(w) = &v.webp {
                let a = assets.iter().find(|a| &a.path == w).unwrap();
                assert_eq!(&a.body[8..12], b"WEBP");
                let jpeg = assets.iter().find(|a| a.path == v.fallback).unwrap();
                assert!(a.body.len() < jpeg.body.len(), "WebP only when smaller");
            }
        }
        let (other, _) = process("Treatment Room.png", &png(1000, 501)).unwrap();
        assert_ne!(other.variants[0].fallback, img.variants[0].fallback);

        // Very wide originals are scaled down.
        let (big, _) = process("wide.png", &png(2400, 600)).unwrap();
        assert_eq!((big.width, big.height), (1600, 400));
        assert_eq!(big.variants.last().unwrap().width, 1600);
    }

    #[test]
    fn metadata_is_stripped_and_the_picture_turned_upright() {
        let source = jpeg_with_exif(64, 32, 6);
        assert!(source.windows(6).any(|w| w == b"secret"));
        let (img, assets) = process("phone.jpg", &source).unwrap();
        // Orientation 6: the camera was turned, so the picture is shown 32 x 64.
        assert_eq!((img.width, img.height), (32, 64));
        for a in &assets {
            assert!(!a.body.windows(6).any(|w| w == b"secret"), "{}", a.path);
            assert!(!a.body.windows(4).any(|w| w == b"Exif"), "{}", a.path);
        }
    }

    #[test]
    fn transparent_images_fall_back_to_png_and_broken_files_are_refused() {
        let img = image::RgbaImage::from_fn(40, 40, |x, _| {
            image::Rgba([0, 0, 0, if x < 20 { 0 } else { 255 }])
        });
        let bytes = encode_png(&DynamicImage::ImageRgba8(img)).unwrap();
        let (img, _) = process("mark.png", &bytes).unwrap();
        assert!(img.variants[0].fallback.ends_with(".png"));

        let e = Media::build(vec![("notes.jpg".into(), b"not an image".to_vec())]).unwrap_err();
        assert_eq!(e.0, "notes.jpg");
        assert!(e.1.contains("not a JPEG, PNG or WebP"), "{}", e.1);
    }

    fn modified(path: &Path) -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn what_is_made_is_kept_and_read_back_and_a_changed_source_is_made_anew() {
        let dir = tempfile::tempdir().unwrap();
        let cache = MediaCache::in_data_dir(dir.path());
        let source = png(700, 300);
        let key = key_of(&source);
        let (first, origin) = made_through(&source, &key, Some(&cache)).unwrap();
        assert_eq!(origin, Origin::Made);
        let file = cache.path(&key);
        let written = modified(&file);
        // A second start: read back, the same files, nothing written.
        let (again, origin) = made_through(&source, &key, Some(&cache)).unwrap();
        assert_eq!(origin, Origin::Cache);
        assert_eq!(again, first);
        assert_eq!(modified(&file), written);
        assert_eq!(
            std::fs::read_dir(cache.dir()).unwrap().count(),
            1,
            "one file, no temporary left"
        );
        // The same picture under another name shares the file, not the addresses.
        let (a, _) = named("room.png", again.clone());
        let (b, _) = named("hall.png", again);
        assert!(a.variants[0].fallback.starts_with("/media/room-480."));
        assert!(b.variants[0].fallback.starts_with("/media/hall-480."));
        // A changed source has another key, and is made.
        let changed = png(700, 301);
        let other = key_of(&changed);
        assert_ne!(other, key);
        let (made, origin) = made_through(&changed, &other, Some(&cache)).unwrap();
        assert_eq!(origin, Origin::Made);
        assert_eq!((made.width, made.height), (700, 301));
        assert!(cache.path(&other).exists());
        assert_eq!(modified(&file), written, "the first one untouched");
    }

    #[test]
    fn a_damaged_or_foreign_cache_file_is_made_again_never_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = MediaCache::in_data_dir(dir.path());
        let source = png(500, 200);
        let key = key_of(&source);
        let (good, _) = made_through(&source, &key, Some(&cache)).unwrap();
        let file = cache.path(&key);
        let whole = std::fs::read(&file).unwrap();
        let other_source = png(520, 200);
        let other_key = key_of(&other_source);
        made_through(&other_source, &other_key, Some(&cache)).unwrap();
        let foreign = std::fs::read(cache.path(&other_key)).unwrap();
        let mut flipped = whole.clone();
        flipped[whole.len() / 2] ^= 1;
        let mut old_format = whole.clone();
        old_format[MAGIC.len()] ^= 1;
        for broken in [
            Vec::new(),
            whole[..whole.len() / 2].to_vec(),
            whole[..whole.len() - 1].to_vec(),
            flipped,
            old_format,
            // A whole, valid file for another source, under this one's name.
            foreign,
        ] {
            std::fs::write(&file, &broken).unwrap();
            let (made, origin) = made_through(&source, &key, Some(&cache)).unwrap();
            assert_eq!(origin, Origin::Made, "{} bytes", broken.len());
            assert_eq!(made, good);
            assert_eq!(std::fs::read(&file).unwrap(), whole, "replaced whole");
        }
        assert_eq!(decode_file(whole, &key), Some(good));
    }

    #[test]
    fn a_build_counts_what_it_made_and_what_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = MediaCache::in_data_dir(dir.path());
        // Bytes no other test uses, so the in-process memo has not seen them.
        let source = png(333, 111);
        let media =
            Media::build_with(vec![("a.png".into(), source.clone())], Some(&cache)).unwrap();
        assert_eq!(
            media.stats(),
            MediaStats {
                made: 1,
                ..Default::default()
            }
        );
        // In the same process the memo answers; the file stays as written.
        let written = modified(&cache.path(&key_of(&source)));
        let again =
            Media::build_with(vec![("a.png".into(), source.clone())], Some(&cache)).unwrap();
        assert_eq!(again.stats().made, 0);
        assert_eq!(modified(&cache.path(&key_of(&source))), written);
        assert_eq!(again.names(), ["a.png"]);
    }
}
