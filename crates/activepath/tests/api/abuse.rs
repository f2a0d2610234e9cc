//! What an attacker tries: slow and numerous connections, floods of forms,
//! forged or proxied origins, input that is not what a form should send.

use crate::helpers::*;
use crate::reliability::{send_hup, start_logged};
use activepath::config::Limit;
use ipnet::IpNet;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens `n` connections that each send half a request line, or nothing.
async fn slow_clients(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            continue;
        };
        if i % 2 == 0 {
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        }
        held.push(s);
    }
    held
}

/// A fresh connection's GET, and how long it took.
async fn timed_get(url: &str) -> (u16, Duration) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let start = Instant::now();
    let status = client
        .get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (status, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_slow_clients_do_not_stop_real_requests() {
    let dir = tempfile::tempdir().unwrap();
    // A process allowed 512 open files: before the connection cap, a few
    // hundred silent connections used them all and nothing was answered.
    let (mut child, base, log) = start_logged(
        &dir.path().join("data"),
        fresh_database_url().await.as_deref(),
        &[
            ("ACTIVEPATH_SERVER__HEADER_READ_TIMEOUT", "3s"),
            ("ACTIVEPATH_SERVER__KEEP_ALIVE_TIMEOUT", "2s"),
        ],
        "ulimit -n 512",
    );
    assert!(
        log.wait_for("serving at most 256 connections", 1, Duration::from_secs(5))
            .await,
        "the cap is lowered to fit the limit: {}",
        log.text()
    );
    let addr = base.trim_start_matches("http://").to_string();
    let held = slow_clients(&addr, 2000).await;
    assert!(held.len() > 1500, "opened only {}", held.len());
    for _ in 0..5 {
        let (status, took) = timed_get(&format!("{base}/healthz")).await;
        assert_eq!(status, 200, "/healthz with 2,000 slow clients connected");
        assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
        let (status, took) = timed_get(&format!("{base}/assessment/phq9")).await;
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(1), "a page took {took:?}");
    }
    drop(held);
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test]
async fn silent_idle_and_slow_connections_are_closed() {
    let app = spawn_app_with(|c| {
        c.server.header_read_timeout = Duration::from_secs(2);
        c.server.keep_alive_timeout = Duration::from_millis(700);
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let closed_within = |mut s: TcpStream, limit: Duration| async move {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(limit + Duration::from_secs(2), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
                Ok(Ok(_)) => continue,
                Err(_) => panic!("the connection was still open after {:?}", start.elapsed()),
            }
        }
    };
    // Sends nothing: closed as idle.
    let silent = TcpStream::connect(&addr).await.unwrap();
    let took = closed_within(silent, Duration::from_millis(700)).await;
    assert!(took >= Duration::from_millis(600), "{took:?}");
    // Sends one header line a second: closed by the header-read timeout.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let start = Instant::now();
    let trickle = tokio::spawn(async move {
        for i in 0..10 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if slow
                .write_all(format!("X-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = closed_within(slow, Duration::from_secs(2)).await;
    });
    trickle.await.unwrap();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "a client trickling its headers was cut after {took:?}"
    );
    // A finished request, then silence: closed after the idle timeout.
    let mut used = TcpStream::connect(&addr).await.unwrap();
    used.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = used.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let took = closed_within(used, Duration::from_millis(700)).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
}

const SHARE: &str =
    "name=Ana+Rivera&email=ana%40example.org&contact_method=email&contact_time=any&consent=yes";

fn small(per_hour: u32, burst: u32) -> Limit {
    Limit { per_hour, burst }
}

#[tokio::test]
async fn shares_over_the_limit_get_a_kind_429_and_store_nothing() {
    let app = spawn_app_with(|c| c.rate_limit.share = small(1, 2)).await;
    let mut paths = Vec::new();
    for _ in 0..3 {
        paths.push(app.submit_phq9([1; 9], 1).await);
    }
    // A form sent back for a correction is not counted.
    for _ in 0..3 {
        let res = app
            .post_form(&format!("{}/share", paths[0]), "name=&consent=yes")
            .await;
        assert_eq!(res.status(), 422);
    }
    for path in &paths[..2] {
        let res = app.post_form(&format!("{path}/share"), SHARE).await;
        assert_eq!(res.status(), 303);
    }
    let res = app.post_form(&format!("{}/share", paths[2]), SHARE).await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&wait), "Retry-After {wait}");
    let html = res.text().await.unwrap();
    assert!(html.contains("Please wait a little"), "{html}");
    assert!(html.contains("60 minutes"));
    assert!(html.contains("call or text 988"));
    assert_crisis_footer(&html);
    let c = app.counts().await;
    assert_eq!((c.triage_cases, c.outbox), (2, 2));
}

#[tokio::test]
async fn questionnaires_and_the_api_are_limited_per_client() {
    let app = spawn_app_with(|c| {
        c.rate_limit.assessment = small(60, 2);
        c.rate_limit.api = small(60, 2);
    })
    .await;
    for _ in 0..2 {
        app.submit_phq9([0; 9], 0).await;
    }
    // Incomplete forms are answered, and not counted.
    assert_eq!(
        app.post_form("/assessment/phq9", "q1=1").await.status(),
        422
    );
    let res = app
        .post_form(
            "/assessment/phq9",
            "q1=0&q2=0&q3=0&q4=0&q5=0&q6=0&q7=0&q8=0&q9=0",
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));

    let body = r#"{"instrument":"gad7","answers":[0,0,0,0,0,0,0]}"#;
    for _ in 0..2 {
        assert_eq!(app.post_json(body).await.status(), 201);
    }
    let res = app.post_json(body).await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    assert_eq!(app.counts().await.results, 4);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = spawn_app_with(|c| {
        c.rate_limit.api = small(1, 1);
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse::<IpNet>().unwrap()];
    })
    .await;
    let post = |xff: &'static str| {
        app.client
            .post(app.url("/api/v1/assessments"))
            .header("content-type", "application/json")
            .header("x-forwarded-for", xff)
            .body(r#"{"instrument":"gad7","answers":[0,0,0,0,0,0,0]}"#)
            .send()
    };
    assert_eq!(post("198.51.100.1").await.unwrap().status(), 201);
    assert_eq!(post("198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(post("198.51.100.2").await.unwrap().status(), 201);
    // A client cannot get a fresh allowance by claiming another address: the
    // proxy appends the real one, and that is what counts.
    assert_eq!(
        post("203.0.113.77, 198.51.100.2").await.unwrap().status(),
        429
    );
}

#[tokio::test]
async fn without_a_trusted_proxy_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(|c| c.rate_limit.api = small(1, 1)).await;
    for (xff, status) in [("198.51.100.1", 201), ("198.51.100.2", 429)] {
        let res = app
            .client
            .post(app.url("/api/v1/assessments"))
            .header("content-type", "application/json")
            .header("x-forwarded-for", xff)
            .body(r#"{"instrument":"gad7","answers":[0,0,0,0,0,0,0]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{xff}");
    }
}

#[tokio::test]
async fn limits_can_be_turned_off_for_load_tests() {
    let app = spawn_app_with(|c| {
        c.rate_limit.api = small(1, 1);
        c.rate_limit.enabled = false;
    })
    .await;
    for _ in 0..10 {
        let res = app
            .post_json(r#"{"instrument":"gad7","answers":[0,0,0,0,0,0,0]}"#)
            .await;
        assert_eq!(res.status(), 201);
    }
}

#[tokio::test]
async fn form_posts_through_a_proxy_that_rewrites_host_are_accepted() {
    let app = spawn_app_with(|c| {
        c.clinic.base_url = activepath::config::BaseUrl::parse("https://clinic.example").unwrap();
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse::<IpNet>().unwrap()];
        c.rate_limit.enabled = false;
    })
    .await;
    let path = app.submit_phq9([1; 9], 1).await;
    // nginx's default `proxy_set_header Host $proxy_host`: Host is the
    // upstream's address; Origin is the real site.
    let post = |origin: &'static str, host: &'static str, fetch_site: &'static str| {
        app.client
            .post(app.url(&format!("{path}/share")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", host)
            .header("origin", origin)
            .header("sec-fetch-site", fetch_site)
            .header("x-forwarded-for", "198.51.100.9")
            .header("x-forwarded-proto", "https")
            .body(SHARE)
            .send()
    };
    for (origin, host, site, want) in [
        (
            "https://clinic.example",
            "127.0.0.1:8080",
            "same-origin",
            303,
        ),
        (
            "http://clinic.example",
            "127.0.0.1:8080",
            "same-origin",
            403,
        ),
        (
            "https://clinic.example:8443",
            "127.0.0.1:8080",
            "same-origin",
            403,
        ),
        ("https://evil.example", "127.0.0.1:8080", "Cross-Site", 403),
        (
            "https://clinic.example",
            "127.0.0.1:8080",
            "CROSS-SITE",
            403,
        ),
        // A proxy that keeps Host, for another name of the site: accepted as
        // the request's own origin, with the scheme the proxy reports.
        (
            "https://www.clinic.example",
            "www.clinic.example",
            "same-origin",
            303,
        ),
    ] {
        let res = post(origin, host, site).await.unwrap();
        assert_eq!(
            res.status(),
            want,
            "Origin {origin}, Host {host}, Sec-Fetch-Site {site}"
        );
        if want == 303 {
            // Shared: the next attempt finds it shared (a redirect, not a new case).
            let again = post(origin, host, site).await.unwrap();
            assert_eq!(again.status(), 303);
        }
    }
    assert_eq!(app.counts().await.triage_cases, 1);
}

#[tokio::test]
async fn an_untrusted_peer_cannot_claim_https() {
    let app = spawn_app().await;
    let path = app.submit_phq9([1; 9], 1).await;
    let res = app
        .client
        .post(app.url(&format!("{path}/share")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "clinic.example")
        .header("origin", "https://clinic.example")
        .header("x-forwarded-proto", "https")
        .body(SHARE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn names_with_control_or_direction_characters_and_odd_addresses_are_refused() {
    let app = spawn_app().await;
    let path = app.submit_phq9([1; 9], 1).await;
    for (field, value, message) in [
        ("name", "Ana%00Rivera", "characters we cannot accept"),
        (
            "name",
            "Ana%0D%0ABcc%3A+x%40evil.example",
            "characters we cannot accept",
        ),
        ("name", "Ana%E2%80%AEgpj.exe", "characters we cannot accept"),
        ("email", "%22%3Cscript%3E%22%40x.org", "e-mail address like"),
        ("email", "ana%40localhost", "e-mail address like"),
    ] {
        let body = SHARE
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k == field => format!("{k}={value}"),
                _ => kv.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&");
        let res = app.post_form(&format!("{path}/share"), &body).await;
        assert_eq!(res.status(), 422, "{field}={value}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{field}={value}");
        assert!(!html.contains("<script>"));
    }
    assert_eq!(app.counts().await.triage_cases, 0);
}

#[tokio::test]
async fn sighup_without_a_content_folder_keeps_the_server_running() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, log) = start_logged(
        &dir.path().join("data"),
        fresh_database_url().await.as_deref(),
        &[],
        "",
    );
    for n in 1..=3 {
        send_hup(&child);
        assert!(
            log.wait_for("SIGHUP: nothing to reload", n, Duration::from_secs(5))
                .await,
            "{}",
            log.text()
        );
    }
    assert!(child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(timed_get(&format!("{base}/healthz")).await.0, 200);
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_load_lose_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    write_content(&content, &[("first", "2026-01-01", false, &[])]);
    let (mut child, base, log) = start_logged(
        &dir.path().join("data"),
        fresh_database_url().await.as_deref(),
        &[("ACTIVEPATH_CONTENT_DIR", content.to_str().unwrap())],
        "",
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (base, stop) = (base.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for path in ["/", "/blog/first", "/blog"] {
                    let res = client.get(format!("{base}{path}")).send().await.unwrap();
                    assert_eq!(res.status(), 200, "{path} during a reload");
                    answered += 1;
                }
            }
            answered
        }));
    }
    for n in 1..=14 {
        send_hup(&child);
        assert!(
            log.wait_for("SIGHUP: content reloaded", n, Duration::from_secs(5))
                .await,
            "reload {n}: {}",
            log.text()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for l in load {
        answered += l.await.unwrap();
    }
    assert!(answered > 100, "only {answered} requests");
    child.kill().ok();
    child.wait().ok();
}
