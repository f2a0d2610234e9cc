//! The images' variants are made once and kept in the data folder: a
//! second start with the same images makes none and rewrites nothing, a
//! changed image is made anew, and a damaged cache file is made again,
//! never served. Each start is its own process, as in production.

use crate::helpers::{fresh_database_url, write_content};
use crate::reliability::{Log, start_logged};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, SystemTime};

/// A PNG of `w` x `h`, its pixels set by `shade`.
fn picture(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, shade])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The cache's files with their modification times.
fn cache_files(data: &Path) -> BTreeMap<String, SystemTime> {
    std::fs::read_dir(data.join("media-cache"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect()
}

struct Started {
    child: Child,
    base: String,
    log: Log,
}

impl Started {
    /// The "images ready" line: how many were made and read back.
    async fn images(&self) -> String {
        assert!(
            self.log
                .wait_for("images ready", 1, Duration::from_secs(10))
                .await,
            "{}",
            self.log.text()
        );
        let text = self.log.text();
        let line = text.lines().find(|l| l.contains("images ready")).unwrap();
        line[line.find("made=").unwrap()..].to_string()
    }

    /// The first variant of the about page's picture, and its bytes.
    async fn first_variant(&self) -> (String, Vec<u8>) {
        let client = reqwest::Client::new();
        let html = client
            .get(format!("{}/about", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = html.find("/media/room-").expect("the picture is shown");
        let url = html[start..].split([' ', '"']).next().unwrap().to_string();
        let res = client
            .get(format!("{}{url}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{url}");
        (url, res.bytes().await.unwrap().to_vec())
    }

    fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap();
    }
}

#[tokio::test]
async fn images_are_made_once_and_read_back_by_every_later_start() {
    let dir = tempfile::tempdir().unwrap();
    let (content, data) = (dir.path().join("content"), dir.path().join("data"));
    write_content(&content, &[]);
    std::fs::create_dir_all(content.join("media")).unwrap();
    std::fs::write(content.join("media/room.png"), picture(640, 400, 10)).unwrap();
    std::fs::write(content.join("media/hall.png"), picture(600, 300, 20)).unwrap();
    std::fs::write(
        content.join("pages/about.md"),
        "+++\ntitle = \"About us\"\nslug = \"about\"\nsummary = \"About us\"\ndate = 2026-01-01\nhero = { src = \"media/room.png\", alt = \"Our room\" }\n+++\n\nText.\n",
    )
    .unwrap();
    let db = fresh_database_url().await;
    let start = || {
        let (child, base, log) = start_logged(
            &data,
            db.as_deref(),
            &[("ACTIVEPATH_CONTENT_DIR", content.to_str().unwrap())],
            "",
        );
        Started { child, base, log }
    };

    let first = start();
    assert_eq!(first.images().await, "made=2 from_cache=0 from_memory=0");
    let served = first.first_variant().await;
    first.stop();
    let made = cache_files(&data);
    assert_eq!(made.len(), 2, "one file per image: {made:?}");
    assert!(made.keys().all(|f| f.ends_with(".media")), "{made:?}");

    // Same images: nothing decoded or encoded, nothing written.
    let second = start();
    assert_eq!(second.images().await, "made=0 from_cache=2 from_memory=0");
    assert_eq!(second.first_variant().await, served);
    second.stop();
    assert_eq!(cache_files(&data), made, "no file rewritten");

    // One image changed, the other's file damaged: both made again; the
    // damaged file is replaced, never served.
    std::fs::write(content.join("media/hall.png"), picture(600, 300, 99)).unwrap();
    let (room_file, _) = made
        .iter()
        .find(|(name, _)| {
            let bytes = std::fs::read(data.join("media-cache").join(name)).unwrap();
            // The room is the wider picture, 640 pixels: its width is in the header.
            bytes.windows(4).any(|w| w == 640u32.to_le_bytes())
        })
        .expect("the room's file");
    let room_path = data.join("media-cache").join(room_file);
    let whole = std::fs::read(&room_path).unwrap();
    std::fs::write(&room_path, &whole[..whole.len() / 3]).unwrap();
    let third = start();
    assert_eq!(third.images().await, "made=2 from_cache=0 from_memory=0");
    assert_eq!(third.first_variant().await, served, "made again, the same");
    third.stop();
    assert_eq!(std::fs::read(&room_path).unwrap(), whole, "replaced whole");
    let now = cache_files(&data);
    assert_eq!(
        now.len(),
        3,
        "the changed image has a file of its own: {now:?}"
    );
    assert!(!now.keys().any(|f| f.ends_with(".tmp")), "{now:?}");
}
