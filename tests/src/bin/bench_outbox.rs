//! Outbox benchmark: 1,000 quotes emailed by a rep wait in the demo
//! tenant's outbox; the server's mailer sends them, each with its PDF made
//! on the server, to a real SMTP server on loopback (Debian's aiosmtpd,
//! `tests/smtp/sink.py`), and records each result in its customer file.
//! Prints the time until every message is recorded as sent, the rate, and
//! the process's memory before and after.
//!
//! cargo run --release -p carnet-tests --bin bench-outbox [-- MESSAGES CONCURRENCY]

use std::time::{Duration, Instant};

use carnet_core::doc::Writer;
use carnet_core::model::NewQuoteLine;
use carnet_core::ops::{self, NewEmail};
use carnet_core::text::Lang;
use carnet_core::DocKind;
use carnet_server::mailer::{self, MailConfig, Security};
use carnet_server::tenant::Tenant;
use carnet_tests::harness::Server;
use carnet_tests::smtp::Sink;

const ALICE: &str = "alice@demo.carnet.fr";

fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn count(t: &Tenant, status: &str) -> usize {
    let mut n = 0;
    t.for_each_row(|_, rows| n += rows.emails.iter().filter(|e| e.status == status).count());
    n
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let messages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("server");
    Server::demo(&data);
    let sink = Sink::start(&tmp.path().join("sink"));
    let t = Tenant::open(&data, 2048).expect("open the demo tenant");

    // Alice's files; one new quote emailed per message, round-robin.
    let mut files = Vec::new();
    t.for_each_row(|doc, rows| {
        if rows.account.as_ref().is_some_and(|a| a.owner == ALICE) {
            files.push(doc);
        }
    });
    let queued_at = Instant::now();
    for i in 0..messages {
        let w = Writer {
            user: ALICE.into(),
            actor: automerge::ActorId::random(),
            now: chrono::Utc::now().timestamp(),
        };
        let to = format!("acheteur{i}@client.example");
        t.edit_for(
            &w,
            files[i % files.len()],
            DocKind::Account,
            false,
            |d, ctx| {
                let q = ops::create_quote(d, ctx, "BENCH", &[])?.to_string();
                for n in 0..12 {
                    ops::add_quote_line(
                        d,
                        ctx,
                        &q,
                        &NewQuoteLine {
                            qty: (1 + n % 4).to_string(),
                            product: None,
                            label: Some(format!("Prestation n° {n} — maintenance préventive")),
                            unit_price: Some(format!("{}", 120 + n * 35)),
                            vat_rate: Some(if n % 3 == 0 { "5.5" } else { "20" }.into()),
                            discount: None,
                        },
                    )?;
                }
                ops::queue_email(
                    d,
                    ctx,
                    &NewEmail {
                        to: &to,
                        subject: "",
                        message: "Bonjour,\n\nVeuillez trouver notre proposition ci-jointe.",
                        quote: Some(&q),
                        attachments: &[],
                        lang: Lang::Fr,
                    },
                )
            },
        )
        .await
        .expect("queue a message");
    }
    let queueing = queued_at.elapsed();
    assert_eq!(count(&t, "queued"), messages);
    let rss_before = kib("VmRSS:");

    let mut cfg = MailConfig::new(
        "127.0.0.1",
        sink.port,
        Security::None,
        "Démo Carnet <devis@demo.example>",
    );
    cfg.concurrency = concurrency;
    cfg.retry_secs = 1;
    cfg.save(&data).expect("mail settings");
    let started = Instant::now();
    mailer::spawn(t.clone(), &data).expect("mailer");
    let deadline = started + Duration::from_secs(300);
    let mut peak = rss_before;
    while count(&t, "sent") < messages && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        peak = peak.max(kib("VmRSS:"));
    }
    let took = started.elapsed();
    let sent = count(&t, "sent");
    let stored = sink.messages();
    let bytes: usize = stored.iter().map(|m| m.0.len()).sum();
    println!("| messages | concurrency | queued in | all sent and recorded in | rate | SMTP server received | avg message | RSS before → peak while sending | target |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {messages} | {concurrency} | {:.1} s | {:.1} s | {:.0} msg/s | {} ({} with a PDF) | {:.0} KB | {} → {} MiB | ≤ 30 s |",
        queueing.as_secs_f64(),
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64(),
        stored.len(),
        stored
            .iter()
            .filter(|m| m.0.contains("Content-Type: application/pdf"))
            .count(),
        bytes as f64 / stored.len().max(1) as f64 / 1024.0,
        rss_before / 1024,
        peak / 1024,
    );
    assert_eq!(sent, messages, "not every message was sent");
    assert_eq!(
        stored.len(),
        messages,
        "the SMTP server got {} messages",
        stored.len()
    );
}
