//! Fills a database with clinic-network-sized data, through the same code
//! the site and the portal use (encrypted, indexed and audited as real data
//! is), for `bench/staff.sh`:
//!
//!     DATABASE_URL=… cargo run --release --example seed -- \
//!         --data-dir DIR --results 1000000 --cases 100000 --patients 10000
//!
//! Results are random PHQ-9s; the first `--cases` of them are shared with
//! the clinic (urgent when question 9 is above 0); all but `--open` cases are
//! closed; each patient record is linked to a few cases. With `--courses N`
//! the first N patients each get a TMS course with a baseline PHQ-9 and no
//! motor threshold yet, so every one of them is on the queue's list of
//! courses that need attention.
//!
//! With `--plans` it seeds nothing and prints how the database runs the
//! portal's page queries on the data it holds, marking each step that reads
//! a whole large table.

use activepath::app::Services;
use activepath::assessment::share::{Contact, ContactMethod, ContactTime, share};
use activepath::assessment::{Lookup, Source, lookup, record};
use activepath::config::{Config, Overrides};
use activepath::content::Content;
use activepath::staff::cases::{Action, act};
use activepath::staff::patients::{PatientDetails, create, link_case};
use activepath::staff::{Actor, Role, sign_in};
use activepath::storage::triage::CloseReason;
use activepath::time::Clock;
use clinical::{InstrumentId, Responses};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Writes in flight at once.
const CONCURRENCY: usize = 64;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// A small, fast, seeded generator: the data differ, runs are repeatable.
fn mix(n: u64) -> u64 {
    let mut x = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn answers(n: u64) -> Responses {
    let r = mix(n);
    let mut raw: Vec<Option<i64>> = (0..9).map(|k| Some(((r >> (k * 3)) % 4) as i64)).collect();
    // About one in twelve answers question 9 above 0.
    raw[8] = Some(i64::from(r.is_multiple_of(12)));
    Responses::parse(InstrumentId::Phq9, &raw, Some(((r >> 40) % 4) as i64)).expect("valid answers")
}

/// Runs `work(i)` for i in 0..n, `CONCURRENCY` at a time, printing progress.
async fn run<F, Fut>(label: &str, n: u64, work: F)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (work, next) = (work.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                work(i).await;
                if i > 0 && i % 100_000 == 0 {
                    eprintln!("  … {i}");
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a seeding task");
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{label}: {n} in {secs:.0} s ({:.0}/s)",
        n as f64 / secs.max(0.001)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (results, cases, open, patients, courses) = (
        arg("--results", 1_000_000),
        arg("--cases", 100_000),
        arg("--open", 500),
        arg("--patients", 10_000),
        arg("--courses", 0),
    );
    anyhow::ensure!(
        cases <= results && open <= cases && patients * 5 <= cases && courses <= patients
    );
    let data_dir = std::env::args()
        .skip_while(|a| a != "--data-dir")
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"));
    let mut config = Config::load(
        &PathBuf::from("/nonexistent.toml"),
        &Overrides {
            bind: None,
            data_dir: Some(data_dir),
        },
    )?;
    config.result_ttl_days = 365;
    let s = Arc::new(Services::open(config, Clock::System, Content::default()).await?);
    if std::env::args().any(|a| a == "--plans") {
        return print_plans(&s).await;
    }
    let staff = Actor::command_line();
    let seeder = sign_in::add_account(
        &s,
        &staff,
        "seed@bench.example",
        Role::Clinician,
        "seeding-only-account-quietly".to_string().into(),
    )
    .await?;
    let seeder = Actor {
        user_id: Some(seeder),
        label: "seed@bench.example".into(),
        client_ip: None,
    };

    // Results; the tokens of those to be shared are kept.
    let tokens: Arc<Vec<std::sync::Mutex<String>>> = Arc::new(
        (0..cases)
            .map(|_| std::sync::Mutex::new(String::new()))
            .collect(),
    );
    let (s2, t2) = (s.clone(), tokens.clone());
    run("results", results, move |i| {
        let (s, tokens) = (s2.clone(), t2.clone());
        async move {
            let nonce = format!("seed-{i}");
            let made = record(&s, &answers(i), &nonce, Source::Api)
                .await
                .expect("stored");
            if i < cases {
                *tokens[i as usize].lock().unwrap() = made.token;
            }
        }
    })
    .await;

    // Cases: shared results, all but `open` of them closed.
    let (s2, t2, a2) = (s.clone(), tokens.clone(), seeder.clone());
    run("cases", cases, move |i| {
        let (s, tokens, actor) = (s2.clone(), t2.clone(), a2.clone());
        async move {
            let token = tokens[i as usize].lock().unwrap().clone();
            let Lookup::Found(result) = lookup(&s, &token).await.expect("found") else {
                panic!("a seeded result is missing");
            };
            let person = i % (cases / 5).max(1);
            let contact = Contact {
                name: format!("Person {person} Example"),
                email: Some(format!("person{person}@example.org")),
                phone: None,
                contact_method: ContactMethod::Email,
                contact_time: ContactTime::Any,
                message: None,
                days: Vec::new(),
            };
            share(&s, &result, &contact).await.expect("shared");
            // Case ids follow sharing order closely enough for a benchmark.
            if i >= open {
                let id = (i + 1) as i64;
                if let Some(c) = s.storage.case(id).await.expect("read") {
                    let _ = act(
                        &s,
                        &actor,
                        id,
                        c.version,
                        Action::Close(CloseReason::Contacted),
                    )
                    .await;
                }
            }
        }
    })
    .await;

    // Patients, each linked to five cases.
    let (s2, a2) = (s.clone(), seeder.clone());
    run("patients", patients, move |p| {
        let (s, actor) = (s2.clone(), a2.clone());
        async move {
            let details = PatientDetails {
                name: format!("Person {p} Example"),
                date_of_birth: None,
                email: Some(format!("person{p}@example.org")),
                phone: None,
                referring_provider: None,
            };
            let id = create(&s, &actor, details, None, None)
                .await
                .expect("made")
                .expect("no case");
            for k in 0..5 {
                let case_id = (p * 5 + k + 1) as i64;
                if let Some(c) = s.storage.case(case_id).await.expect("read") {
                    let _ = link_case(&s, &actor, id, case_id, c.version).await;
                }
            }
        }
    })
    .await;

    // TMS courses for the first patients (ids from 1, a fresh database),
    // each with a baseline check-in (question 9 at 0: no urgent cases).
    let today = activepath::time::date_in(Clock::System.now(), s.config.clinic.time_zone.tz());
    let (s2, a2) = (s.clone(), seeder.clone());
    run("courses", courses, move |p| {
        let (s, actor) = (s2.clone(), a2.clone());
        async move {
            let plan = activepath::tms::CoursePlan {
                protocol: Some("10hz".into()),
                planned_sessions: None,
                start_date: Some(today.to_string()),
                target: None,
                localization: None,
            };
            let course = activepath::tms::start_course(&s, &actor, (p + 1) as i64, plan)
                .await
                .expect("stored")
                .expect("a valid plan")
                .expect("the patient");
            let r = mix(p);
            let mut phq9: Vec<Option<i64>> =
                (0..9).map(|k| Some(((r >> (k * 2)) % 4) as i64)).collect();
            phq9[8] = Some(0);
            activepath::tms::check_in(&s, &actor, course, Some("phq9"), &phq9, None, None, false)
                .await
                .expect("stored")
                .expect("valid answers")
                .expect("the course");
        }
    })
    .await;
    // The clinic's notifications of all those shares, delivered nowhere, so
    // that the server does not spend the benchmark sending them. Several
    // workers at once, as several instances would, so commits are shared.
    let (transport, _) = activepath::mail::Transport::memory();
    let worker = activepath::jobs::OutboxWorker {
        storage: s.storage.clone(),
        transport,
        from: s.config.mail.from.clone(),
        cipher: s.cipher.clone(),
    };
    let (now, started) = (Clock::System.now(), Instant::now());
    let mut drains = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let worker = worker.clone();
        drains.spawn(async move { worker.run_once(now).await });
    }
    let mut drained = 0;
    while let Some(done) = drains.join_next().await {
        drained += done??;
    }
    eprintln!(
        "notifications drained: {drained} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    s.storage.close().await;
    Ok(())
}

async fn print_plans(s: &Services) -> anyhow::Result<()> {
    let plans = s.storage.query_plans(false).await?;
    let mut scans = 0;
    for plan in &plans {
        println!("{}:", plan.name);
        for step in &plan.plan {
            let mark = if plan.full_scans.contains(step) {
                "  <- reads the whole table"
            } else {
                ""
            };
            println!("  {step}{mark}");
        }
        scans += plan.full_scans.len();
    }
    // On small tables reading them whole is the right plan; on a
    // clinic-network's data it is a defect.
    println!("full scans of large tables: {scans}");
    s.storage.close().await;
    Ok(())
}
