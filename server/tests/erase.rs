//! Erasing a person whose file was merged: the merge copied her record,
//! id and all, into the file kept, so both files hold her. The erasure
//! rewrites both, and nothing of her stays in the server's files; an edit
//! of the merged file afterwards is still carried over, from the new
//! history.

use automerge::ActorId;
use carnet_core::doc::Writer;
use carnet_core::{ops, DocId, DocKind};
use carnet_server::fuzzing::{Fixture, REP};

fn holds(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

fn raw(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_persons_record_is_erased_from_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::create(dir.path()).await.unwrap();
    let t = f.tenant.clone();
    let rep = Writer {
        user: REP.into(),
        actor: ActorId::random(),
        now: chrono::Utc::now().timestamp(),
    };
    let (winner, loser) = (DocId::new(), DocId::new());
    let mut zoe = String::new();
    for (doc, name) in [(winner, "Garage Martin"), (loser, "GARAGE MARTIN SARL")] {
        let is_loser = doc == loser;
        let mut id = None;
        t.edit_as_user(&rep, doc, DocKind::Account, |d, ctx| {
            ops::init_account(d, ctx, &raw(&[("name", name), ("postcode", "75011")]))?;
            if is_loser {
                id = Some(ops::add_contact(
                    d,
                    ctx,
                    &raw(&[("name", "Zoé Quérard"), ("email", "zoe.querard@exemple.fr")]),
                )?);
            }
            Ok(())
        })
        .await
        .unwrap();
        if let Some(id) = id {
            zoe = id.to_string();
        }
    }
    t.merge_accounts(winner, loser).await.unwrap();
    // The file kept lists her; the merged file keeps her in its document
    // (its rows list nothing: it left every list).
    let holding = |doc: DocId| {
        let t = t.clone();
        let zoe = zoe.clone();
        async move {
            let slot = t.slot(doc).await.unwrap();
            let slot = slot.lock().await;
            slot.doc
                .as_ref()
                .unwrap()
                .record(&["contacts"], &zoe)
                .is_some()
        }
    };
    assert!(t.rows(winner).unwrap().contacts.iter().any(|c| c.id == zoe));
    assert!(
        holding(winner).await && holding(loser).await,
        "the merge copied her"
    );

    let done = t.erase_contact(&zoe).await.unwrap();
    let mut files = done.accounts.clone();
    files.sort();
    let mut want = vec![winner, loser];
    want.sort();
    assert_eq!(files, want);
    assert!(!holding(winner).await && !holding(loser).await);
    for needle in ["Quérard", "querard"] {
        assert_eq!(holds(dir.path(), needle), Vec::<String>::new());
    }

    // The merged file edited afterwards (a late device): carried over, on
    // the new history, without bringing her back.
    t.edit_as_user(&rep, loser, DocKind::Account, |d, ctx| {
        ops::add_note(d, ctx, "Rappeler après les fêtes").map(|_| ())
    })
    .await
    .unwrap();
    let carried = t.forward_merge(loser).await.unwrap();
    assert_eq!(carried, 1, "the new note, and nothing the erasure rewrote");
    assert!(!holding(winner).await);
}
