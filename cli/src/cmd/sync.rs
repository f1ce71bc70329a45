//! `carnet login|sync|status|revert`: the link with the server, over the
//! core's one session driver (`carnet_core::sync::driver`).

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Result};
use carnet_core::sync::driver::{self, Event, Options};
use carnet_core::text::Label;
use carnet_core::Device;

use crate::out::{print_json, Out};
use crate::{doc_id, open, Cli};

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn login(cli: &Cli, out: Out, url: &str, email: &str, device_name: &str) -> Result<()> {
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']);
    if Device::exists(&cli.store) {
        bail!("{} {}", cli.store.display(), out.t(Label::StoreHere));
    }
    let d = runtime()?.block_on(Device::login(&cli.store, url, email, password, device_name))?;
    let id = d.identity();
    println!(
        "{} {} {} ({} {}) — {url}",
        out.t(Label::LoggedIn),
        out.t(Label::AsUser),
        id.user,
        out.t(Label::ThisDevice),
        id.device
    );
    println!("{}", out.t(Label::FirstSyncHint));
    Ok(())
}

pub fn sync(cli: &Cli, out: Out, watch: bool, timeout: u64) -> Result<()> {
    let mut d = open(cli)?;
    let opts = Options {
        watch,
        timeout: Duration::from_secs(timeout),
    };
    let mut changed = BTreeSet::new();
    let result = runtime()?.block_on(driver::run(&mut d, &opts, None, |event| match event {
        Event::Changed(docs) if watch => {
            let mut stdout = std::io::stdout().lock();
            for doc in docs {
                let _ = writeln!(stdout, "changed {doc}");
            }
            let _ = stdout.flush();
        }
        Event::Changed(docs) => changed.extend(docs.iter().copied()),
        Event::Failed(e) => eprintln!(
            "carnet: {}",
            carnet_core::text::with_detail(Label::SyncInterrupted, e, out.lang)
        ),
        _ => {}
    }));
    result?;
    let st = d.sync_status()?;
    if !st.rejected.is_empty() {
        for (doc, reason) in &st.rejected {
            let what = format!("{doc} {}", out.t(Label::RefusedByServer));
            eprintln!(
                "carnet: {}",
                carnet_core::text::with_detail_of(&what, reason, out.lang)
            );
        }
        bail!("{} {}", st.rejected.len(), out.t(Label::DocsRefused));
    }
    if !watch {
        let detail = format!(
            "{} {}, {} {}",
            changed.len(),
            out.t(Label::FilesReceived),
            st.pending.len(),
            out.t(Label::FilesPending)
        );
        println!(
            "{}",
            carnet_core::text::with_detail(Label::SyncedUpToDate, detail, out.lang)
        );
    }
    Ok(())
}

pub fn status(cli: &Cli, out: Out, json: bool) -> Result<()> {
    let d = open(cli)?;
    let st = d.sync_status()?;
    if json {
        return print_json(&st);
    }
    println!(
        "{}: {}",
        out.t(Label::Server),
        st.server.as_deref().unwrap_or(out.t(Label::OfflineOnly))
    );
    println!("{}: {}", out.t(Label::Pending), st.pending.len());
    let when = st
        .last_ack
        .map(|s| out.date_time(s))
        .unwrap_or_else(|| "—".into());
    println!("{}: {when}", out.t(Label::LastAck));
    for (doc, reason) in &st.rejected {
        println!("{} {doc}: {reason}", out.t(Label::Refused));
    }
    Ok(())
}

pub fn revert(cli: &Cli, out: Out, doc: &str) -> Result<()> {
    let mut d = open(cli)?;
    let id = doc_id(doc)?;
    if !d.revert(id)? {
        bail!("{doc} {}", out.t(Label::NothingToRevert));
    }
    println!("{doc}: {}", out.t(Label::Reverted));
    Ok(())
}
