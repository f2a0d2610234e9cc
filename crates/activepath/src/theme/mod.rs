//! The clinic's look: logo, icons, colours and fonts from `[theme]`, made
//! into one generated stylesheet at start. Colours are checked against the
//! backgrounds they are used on (WCAG 2.2 AA): a colour that would make
//! text or a control hard to see is refused, naming the pair and the ratio.

pub mod color;

use crate::assets::{Asset, Assets};
use crate::config::ThemeConfig;
use color::{BLACK, Rgb, WHITE, contrast};
use std::fmt::Write as _;
use std::path::Path;

/// The fixed colours of the stylesheet that theme colours meet.
const INK: Rgb = Rgb(0x1d, 0x24, 0x33);
const PAGE: Rgb = Rgb(0xfb, 0xfa, 0xf7);
const FOOTER: Rgb = Rgb(0xee, 0xf1, 0xf5);

const BASE_CSS: &str = include_str!("../../static/app.css");
const DEMO_LOGO: &[u8] = include_bytes!("../../static/logo.svg");
const DEMO_ICON: &[u8] = include_bytes!("../../static/icon.svg");

/// The colours the stylesheet uses, derived from the two the clinic picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub primary: Rgb,
    pub primary_dark: Rgb,
    pub tint: Rgb,
    pub accent: Rgb,
    pub on_accent: Rgb,
    pub accent_tint: Rgb,
}

impl Palette {
    /// Derives the palette and checks every pair it is used in; the error
    /// lists each pair that fails, with its ratio.
    pub fn new(primary: Rgb, accent: Rgb) -> Result<Palette, String> {
        let on_accent = if contrast(WHITE, accent) >= contrast(INK, accent) {
            WHITE
        } else {
            INK
        };
        let p = Palette {
            primary,
            primary_dark: primary.mix(BLACK, 0.25),
            tint: primary.mix(WHITE, 0.9),
            accent,
            on_accent,
            accent_tint: accent.mix(WHITE, 0.9),
        };
        // (setting, what is drawn, on what, foreground, background, needed)
        let pairs = [
            (
                "primary_color",
                "links and headings",
                "the page background",
                p.primary,
                PAGE,
                4.5,
            ),
            (
                "primary_color",
                "links",
                "the footer",
                p.primary,
                FOOTER,
                4.5,
            ),
            (
                "primary_color",
                "white button text",
                "primary_color",
                WHITE,
                p.primary,
                4.5,
            ),
            (
                "primary_color",
                "the focus ring (primary_color, darkened)",
                "the page background",
                p.primary_dark,
                PAGE,
                3.0,
            ),
            (
                "primary_color",
                "text",
                "a chosen answer (primary_color, lightened)",
                INK,
                p.tint,
                4.5,
            ),
            (
                "accent_color",
                "button text",
                "accent_color",
                p.on_accent,
                p.accent,
                4.5,
            ),
            (
                "accent_color",
                "the current-page marker",
                "the white header",
                p.accent,
                WHITE,
                3.0,
            ),
            (
                "accent_color",
                "text",
                "the home page's band (accent_color, lightened)",
                INK,
                p.accent_tint,
                4.5,
            ),
        ];
        let failures: Vec<String> = pairs
            .iter()
            .filter_map(|&(key, what, on, fg, bg, need)| {
                let ratio = contrast(fg, bg);
                (ratio < need).then(|| {
                    format!(
                        "theme.{key}: {what} ({fg}) on {on} ({bg}) has a contrast of {ratio:.2}:1; \
                         WCAG AA needs at least {need}:1"
                    )
                })
            })
            .collect();
        if failures.is_empty() {
            Ok(p)
        } else {
            Err(failures.join("\n"))
        }
    }
}

/// A logo ready for the header: its address and display size in CSS pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub path: String,
    pub width: u32,
    pub height: u32,
}

/// An icon for the web manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon {
    pub path: String,
    pub sizes: String,
    pub content_type: &'static str,
}

/// Everything the theme adds to every page.
#[derive(Debug, Clone)]
pub struct Theme {
    pub assets: Assets,
    pub css: String,
    pub logo: Logo,
    pub show_name: bool,
    /// The browser tab's icon.
    pub favicon: Icon,
    pub manifest_icons: Vec<Icon>,
    /// A 180 px PNG for phones' home screens, when the icon is a PNG.
    pub apple_touch_icon: Option<String>,
    pub palette: Palette,
}

/// Header logos are shown this tall, in CSS pixels.
const LOGO_HEIGHT: u32 = 44;

impl Theme {
    /// Reads the files `[theme]` names and builds the stylesheet. Errors name
    /// the setting and say what to change.
    pub fn build(cfg: &ThemeConfig) -> anyhow::Result<Theme> {
        let primary = Rgb::parse(&cfg.primary_color)
            .map_err(|e| anyhow::anyhow!("theme.primary_color: {e}"))?;
        let accent = Rgb::parse(&cfg.accent_color)
            .map_err(|e| anyhow::anyhow!("theme.accent_color: {e}"))?;
        let palette = Palette::new(primary, accent).map_err(|e| {
            anyhow::anyhow!(
                "the theme's colours are too hard to read; pick darker or lighter ones:\n{e}"
            )
        })?;
        let mut assets = Assets::default();

        let logo = match &cfg.logo {
            None => svg_logo(&mut assets, DEMO_LOGO.to_vec())?,
            Some(path) => {
                let bytes = read(path, "theme.logo")?;
                if is_svg(path) {
                    svg_logo(&mut assets, bytes).map_err(|e| anyhow::anyhow!("theme.logo: {e}"))?
                } else {
                    png_logo(&mut assets, &bytes).map_err(|e| anyhow::anyhow!("theme.logo: {e}"))?
                }
            }
        };
        let (icon_bytes, icon_svg) = match (&cfg.icon, &cfg.logo) {
            (Some(path), _) => (read(path, "theme.icon")?, is_svg(path)),
            (None, Some(path)) => (read(path, "theme.logo")?, is_svg(path)),
            (None, None) => (DEMO_ICON.to_vec(), true),
        };
        let key = if cfg.icon.is_some() {
            "theme.icon"
        } else {
            "theme.logo"
        };
        let (favicon, manifest_icons, apple_touch_icon) = if icon_svg {
            check_svg(&icon_bytes).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
            let path = assets.add(Asset::hashed(
                "/static",
                "icon",
                "svg",
                icon_bytes,
                "image/svg+xml",
            ));
            let icon = Icon {
                path,
                sizes: "any".into(),
                content_type: "image/svg+xml",
            };
            (icon.clone(), vec![icon], None)
        } else {
            png_icons(&mut assets, &icon_bytes).map_err(|e| anyhow::anyhow!("{key}: {e}"))?
        };

        let mut css = String::with_capacity(BASE_CSS.len() + 1024);
        if !cfg.fonts.is_empty() {
            let Some(family) = cfg.font_family.as_deref().filter(|f| !f.trim().is_empty()) else {
                anyhow::bail!("theme.font_family: name the family the font files belong to");
            };
            if family.contains(['"', '\\', ';', '{', '}', '<']) {
                anyhow::bail!(
                    "theme.font_family: {family:?} may not hold quotes, braces or semicolons"
                );
            }
            for (i, font) in cfg.fonts.iter().enumerate() {
                let bytes = read(&font.file, &format!("theme.fonts[{i}].file"))?;
                if !bytes.starts_with(b"wOF2") {
                    anyhow::bail!(
                        "theme.fonts[{i}].file: {} is not a WOFF2 font file",
                        font.file.display()
                    );
                }
                if !(100..=900).contains(&font.weight) {
                    anyhow::bail!(
                        "theme.fonts[{i}].weight: {} is not between 100 and 900",
                        font.weight
                    );
                }
                let path = assets.add(Asset::hashed(
                    "/static",
                    "font",
                    "woff2",
                    bytes,
                    "font/woff2",
                ));
                let _ = writeln!(
                    css,
                    "@font-face{{font-family:\"{family}\";src:url({path}) format(\"woff2\");font-weight:{};font-style:{};font-display:swap}}",
                    font.weight,
                    if font.italic { "italic" } else { "normal" }
                );
            }
            let _ = writeln!(
                css,
                "body{{font-family:\"{family}\",system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif}}"
            );
        }
        let p = &palette;
        let _ = writeln!(
            css,
            ":root{{--primary:{};--primary-dark:{};--tint:{};--accent:{};--on-accent:{};--accent-tint:{}}}",
            p.primary, p.primary_dark, p.tint, p.accent, p.on_accent, p.accent_tint
        );
        // The base sheet's own :root (neutrals) comes after and does not
        // name the theme's variables.
        let css = format!("{css}{BASE_CSS}");
        let css = assets.add(Asset::hashed(
            "/static",
            "app",
            "css",
            css.into_bytes(),
            "text/css; charset=utf-8",
        ));
        Ok(Theme {
            assets,
            css,
            logo,
            show_name: cfg.show_name,
            favicon,
            manifest_icons,
            apple_touch_icon,
            palette,
        })
    }

    pub fn theme_color(&self) -> String {
        self.palette.primary.to_string()
    }
}

fn read(path: &Path, key: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{key}: cannot read {}: {e}", path.display()))
}

fn is_svg(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
}

/// An SVG must be a plain drawing: it is served from this site, so nothing
/// in it may run or load anything.
fn check_svg(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the SVG is not UTF-8 text".to_string())?;
    let lower = text.to_ascii_lowercase();
    if !lower.contains("<svg") {
        return Err("the file is not an SVG drawing".into());
    }
    for bad in [
        "<script",
        "javascript:",
        "<foreignobject",
        "<iframe",
        "<!entity",
    ] {
        if lower.contains(bad) {
            return Err(format!(
                "the SVG holds {bad:?}; a logo may only draw (no scripts, no outside files)"
            ));
        }
    }
    // Attributes may be separated by any white space, and a reference may
    // only point inside the drawing (`#id`): no other file, no data.
    let bytes = lower.as_bytes();
    for (i, _) in lower.match_indices("on") {
        let after = &lower[i + 2..];
        let name_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let attribute = i > 0 && bytes[i - 1].is_ascii_whitespace();
        if attribute && name_len > 0 && after[name_len..].trim_start().starts_with('=') {
            return Err("the SVG has an event handler (on…=); a logo may only draw".into());
        }
    }
    for (i, _) in lower.match_indices("href") {
        let Some(value) = lower[i + 4..].trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value
            .trim_start()
            .trim_start_matches(['"', '\''])
            .trim_start();
        if !value.starts_with('#') {
            return Err(
                "the SVG refers to something outside itself (href); a logo may only draw".into(),
            );
        }
    }
    for (i, _) in lower.match_indices("url(") {
        let value = lower[i + 4..].trim_start().trim_start_matches(['"', '\'']);
        if !value.starts_with('#') {
            return Err(
                "the SVG refers to something outside itself (url()); a logo may only draw".into(),
            );
        }
    }
    Ok(())
}

/// The drawing's aspect from its `viewBox` (or `width`/`height`).
fn svg_size(text: &str) -> Option<(f64, f64)> {
    let tag_start = text.find("<svg")?;
    let tag = &text[tag_start..tag_start + text[tag_start..].find('>')?];
    let attr = |name: &str| -> Option<&str> {
        let i = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(&tag[i..i + tag[i..].find('"')?])
    };
    if let Some(vb) = attr("viewBox") {
        let n: Vec<f64> = vb
            .split([' ', ','])
            .filter_map(|v| v.parse().ok())
            .collect();
        if let [_, _, w, h] = n[..] {
            return (w > 0.0 && h > 0.0).then_some((w, h));
        }
    }
    let num = |v: &str| v.trim_end_matches("px").parse::<f64>().ok();
    Some((num(attr("width")?)?, num(attr("height")?)?))
}

fn svg_logo(assets: &mut Assets, bytes: Vec<u8>) -> anyhow::Result<Logo> {
    check_svg(&bytes).map_err(|e| anyhow::anyhow!(e))?;
    let text = String::from_utf8_lossy(&bytes);
    let (w, h) = svg_size(&text).ok_or_else(|| {
        anyhow::anyhow!(
            "the SVG needs a viewBox (or width and height) so the page can reserve its space"
        )
    })?;
    let width = ((w / h) * f64::from(LOGO_HEIGHT)).round().clamp(1.0, 400.0) as u32;
    let path = assets.add(Asset::hashed(
        "/static",
        "logo",
        "svg",
        bytes,
        "image/svg+xml",
    ));
    Ok(Logo {
        path,
        width,
        height: LOGO_HEIGHT,
    })
}

fn png_logo(assets: &mut Assets, bytes: &[u8]) -> anyhow::Result<Logo> {
    let img = crate::content::media::decode(bytes)?;
    // Twice the display height, for sharp edges on high-density screens.
    let img = if img.height() > LOGO_HEIGHT * 2 {
        img.resize(
            u32::MAX,
            LOGO_HEIGHT * 2,
            image::imageops::FilterType::Lanczos3,
        )
    } else {
        img
    };
    let width = (f64::from(img.width()) * f64::from(LOGO_HEIGHT) / f64::from(img.height()))
        .round()
        .clamp(1.0, 400.0) as u32;
    let png = crate::content::media::encode_png(&img)?;
    let path = assets.add(Asset::hashed("/static", "logo", "png", png, "image/png"));
    Ok(Logo {
        path,
        width,
        height: LOGO_HEIGHT,
    })
}

/// Square PNG icons, the picture centred on a transparent square.
fn png_icons(
    assets: &mut Assets,
    bytes: &[u8],
) -> anyhow::Result<(Icon, Vec<Icon>, Option<String>)> {
    let img = crate::content::media::decode(bytes)?;
    let mut make = |size: u32| -> anyhow::Result<Icon> {
        let fitted = img.resize(size, size, image::imageops::FilterType::Lanczos3);
        let mut square = image::RgbaImage::new(size, size);
        image::imageops::overlay(
            &mut square,
            &fitted.to_rgba8(),
            i64::from((size - fitted.width()) / 2),
            i64::from((size - fitted.height()) / 2),
        );
        let png = crate::content::media::encode_png(&image::DynamicImage::ImageRgba8(square))?;
        let path = assets.add(Asset::hashed(
            "/static",
            &format!("icon-{size}"),
            "png",
            png,
            "image/png",
        ));
        Ok(Icon {
            path,
            sizes: format!("{size}x{size}"),
            content_type: "image/png",
        })
    };
    let favicon = make(32)?;
    let apple = make(180)?;
    let manifest = vec![make(192)?, make(512)?];
    Ok((favicon, manifest, Some(apple.path)))
}

#[cfg(test)]
mod tests;
