//! The clinic's images (`content_dir/media/`): each decoded once, turned
//! upright, resized to a few widths and re-encoded, which leaves every bit
//! of metadata (EXIF, GPS, camera) behind. Served under hashed, immutable
//! addresses with `srcset`, `sizes`, `width` and `height`.

use crate::assets::{Asset, Assets};
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageReader};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, LazyLock, Mutex};

/// Widths made of each image (never wider than the original).
const WIDTHS: [u32; 3] = [480, 960, 1440];
/// Originals wider than this are scaled down to it.
const MAX_WIDTH: u32 = 1600;
const JPEG_QUALITY: u8 = 80;
/// Files larger than this are refused rather than decoded.
const MAX_FILE: usize = 30 * 1024 * 1024;

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
}

type Processed = Arc<(Image, Vec<Asset>)>;

/// Images already processed in this process, by a hash of name and bytes:
/// a reload, or another instance in the same test run, does not redo them.
static DONE: LazyLock<Mutex<HashMap<[u8; 32], Processed>>> = LazyLock::new(Default::default);

impl Media {
    /// Processes `files` (name, bytes), two at a time. The error names the
    /// file that could not be read as an image.
    pub fn build(files: Vec<(String, Vec<u8>)>) -> Result<Media, (String, String)> {
        let results: Vec<Result<Processed, (String, String)>> = std::thread::scope(|s| {
            let (a, b): (Vec<_>, Vec<_>) = files.iter().enumerate().partition(|(i, _)| i % 2 == 0);
            let work = |part: Vec<(usize, &(String, Vec<u8>))>| {
                part.into_iter()
                    .map(|(_, (name, bytes))| {
                        process_once(name, bytes).map_err(|e| (name.clone(), format!("{e:#}")))
                    })
                    .collect::<Vec<_>>()
            };
            let other = s.spawn(move || work(b));
            let mut out = work(a);
            out.extend(other.join().expect("image processing does not panic"));
            out
        });
        let mut media = Media::default();
        for result in results {
            let done = result?;
            for asset in &done.1 {
                media.assets.add(asset.clone());
            }
            media
                .images
                .insert(done.0.name.clone(), Arc::new(done.0.clone()));
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
}

fn process_once(name: &str, bytes: &[u8]) -> anyhow::Result<Processed> {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update(bytes);
    let key: [u8; 32] = hasher.finalize().into();
    if let Some(done) = DONE.lock().expect("media memo").get(&key) {
        return Ok(done.clone());
    }
    let done = Arc::new(process(name, bytes)?);
    DONE.lock().expect("media memo").insert(key, done.clone());
    Ok(done)
}

/// Resizes and re-encodes one image.
pub fn process(name: &str, bytes: &[u8]) -> anyhow::Result<(Image, Vec<Asset>)> {
    if bytes.len() > MAX_FILE {
        anyhow::bail!("the file is larger than {} MB", MAX_FILE / 1024 / 1024);
    }
    let img = decode(bytes).map_err(|e| anyhow::anyhow!("not a JPEG, PNG or WebP image ({e})"))?;
    let img = if img.width() > MAX_WIDTH {
        img.resize(MAX_WIDTH, u32::MAX, image::imageops::FilterType::CatmullRom)
    } else {
        img
    };
    let transparent = img.color().has_alpha() && img.to_rgba8().pixels().any(|p| p.0[3] < 255);
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
    let mut widths: Vec<u32> = WIDTHS
        .iter()
        .copied()
        .filter(|w| *w < img.width())
        .collect();
    widths.push(img.width());
    let mut assets = Vec::new();
    let mut variants = Vec::new();
    // Lossless WebP beats JPEG on drawings and flat colour, and loses badly
    // on photographs: it is tried on the narrowest width, and made for the
    // others only if it won there.
    let mut try_webp = true;
    for width in widths {
        let scaled = if width == img.width() {
            img.clone()
        } else {
            img.resize(width, u32::MAX, image::imageops::FilterType::CatmullRom)
        };
        let stem = format!("{stem}-{width}");
        let fallback = if transparent {
            Asset::hashed("/media", &stem, "png", encode_png(&scaled)?, "image/png")
        } else {
            Asset::hashed("/media", &stem, "jpg", encode_jpeg(&scaled)?, "image/jpeg")
        };
        let webp = if try_webp {
            let webp = encode_webp(&scaled)?;
            (webp.len() < fallback.body.len())
                .then(|| Asset::hashed("/media", &stem, "webp", webp, "image/webp"))
        } else {
            None
        };
        // Offered only where it is smaller.
        try_webp = webp.is_some();
        variants.push(Variant {
            width: scaled.width(),
            height: scaled.height(),
            fallback: fallback.path.clone(),
            webp: webp.as_ref().map(|w| w.path.clone()),
        });
        assets.push(fallback);
        assets.extend(webp);
    }
    Ok((
        Image {
            name: name.to_string(),
            width: img.width(),
            height: img.height(),
            variants,
        },
        assets,
    ))
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
}
