//! The server's import stores many new files at once (the group-commit
//! writer flushes them together): every row answered as created is stored
//! whole, as one change with the contacts of the rows after it; a contact
//! for a file already sent to be stored waits for it; a rep's import is
//! judged row by row, as the web form's new file is.

use std::collections::HashMap;

use automerge::ActorId;
use carnet_core::doc::{CrmDoc, Writer};
use carnet_core::import::{Options, Overrides, Report};
use carnet_core::store::Store;
use carnet_core::text::Lang;
use carnet_core::DocId;
use carnet_server::fuzzing::{Fixture, OTHER_REP, REP};
use carnet_server::tenant::import::Importer;
use carnet_server::tenant::Tenant;

fn options() -> Options {
    Options {
        dry_run: false,
        lang: Lang::En,
        verified_on: None,
    }
}

fn writer(user: &str) -> Writer {
    Writer {
        user: user.into(),
        actor: ActorId::random(),
        now: chrono::Utc::now().timestamp(),
    }
}

/// Imports the CSV at `path` as `who`.
async fn import(t: &std::sync::Arc<Tenant>, who: Importer, path: &std::path::Path) -> Report {
    t.import_accounts(who, path.to_path_buf(), Overrides::default(), options())
        .await
        .unwrap()
}

/// Account files of the tenant, by name, with their contacts' names.
fn files(t: &Tenant) -> HashMap<String, (DocId, Vec<String>)> {
    t.log_after(0, 100_000)
        .unwrap()
        .into_iter()
        .filter_map(|(_, doc)| {
            let rows = t.rows(doc)?;
            let account = rows.account?;
            let contacts = rows.contacts.into_iter().map(|c| c.name).collect();
            Some((account.name, (doc, contacts)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_answered_as_created_is_stored_whole_with_its_later_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::create(dir.path()).await.unwrap();
    let t = f.tenant.clone();
    // More files than are stored at once; a second contact for every
    // tenth company on the next row (joined to its file while the import
    // holds it), a third for some on rows at the end (added to a file
    // sent to be stored long before); one row with a bad SIRET.
    let mut csv = String::from("Société;Code postal;Ville;Contact;SIRET\n");
    for i in 0..1000 {
        csv.push_str(&format!("Société {i:04};75011;Paris;Personne {i:04} A;\n"));
        if i % 10 == 0 {
            csv.push_str(&format!("Société {i:04};75011;Paris;Personne {i:04} B;\n"));
        }
    }
    for i in (50..1000).step_by(100) {
        csv.push_str(&format!("Société {i:04};75011;Paris;Personne {i:04} C;\n"));
    }
    csv.push_str("Mauvais SIRET;75011;Paris;;12345678900000\n");
    let path = dir.path().join("clients.csv");
    std::fs::write(&path, &csv).unwrap();

    let report = import(&t, Importer::Admin("admin@fuzz.test".into()), &path).await;
    assert_eq!(
        (report.created, report.updated, report.rejected),
        (1000, 110, 1)
    );
    assert_eq!(report.contacts, 1110);

    let all = files(&t);
    assert_eq!(all.len(), 1000);
    for i in 0..1000 {
        let (doc, contacts) = &all[&format!("Société {i:04}")];
        let mut want = vec![format!("Personne {i:04} A")];
        if i % 10 == 0 {
            want.push(format!("Personne {i:04} B"));
        }
        let later = i % 100 == 50;
        if later {
            want.push(format!("Personne {i:04} C"));
        }
        let mut got = contacts.clone();
        got.sort();
        assert_eq!(got, want, "Société {i:04}");
        // On disk, as the index says; made as one change with the
        // contacts of the rows that followed, the later contact added as
        // a second.
        let stored = t.store.load(*doc).unwrap().expect("stored");
        let mut d = CrmDoc::load(*doc, &stored.bytes).unwrap();
        let changes = d.automerge().get_changes(&[]).len();
        assert_eq!(changes, if later { 2 } else { 1 }, "Société {i:04}");
        // The rows the server keeps (and judged, for a user's import) were
        // read off the tree the file was built from: they are the stored
        // document's.
        let rows = carnet_core::index::DocRows::of(&mut d).unwrap();
        assert_eq!(Some(rows), t.rows(*doc), "Société {i:04}");
    }

    // Again: nothing is created.
    let again = import(&t, Importer::Admin("admin@fuzz.test".into()), &path).await;
    assert_eq!((again.created, again.duplicates), (0, 1110));
    assert_eq!(files(&t).len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_import_creates_only_files_she_may_see() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::create(dir.path()).await.unwrap();
    let t = f.tenant.clone();
    // Files for herself, and files she would make for the other rep in
    // his territory, which she could then not see: refused.
    let mut csv = String::from("Société;Code postal;Ville;Commercial\n");
    for i in 0..300 {
        csv.push_str(&format!("Paris {i:03};75011;Paris;\n"));
        if i % 60 == 0 {
            csv.push_str(&format!("Lyon {i:03};69004;Lyon;{OTHER_REP}\n"));
        }
    }
    let path = dir.path().join("mine.csv");
    std::fs::write(&path, &csv).unwrap();
    let report = import(&t, Importer::User(writer(REP)), &path).await;
    assert_eq!((report.created, report.rejected), (300, 5));
    for note in &report.rows {
        assert!(
            note.reason.contains("not found or not permitted"),
            "{}",
            note.reason
        );
    }
    let all = files(&t);
    assert_eq!(all.len(), 300);
    assert!(all.keys().all(|n| n.starts_with("Paris ")));
    // Nothing of a refused file was stored: the other rep sees no file.
    let theirs = t.with_visible(OTHER_REP, |f| {
        f.docs().filter(|(_, r)| r.account.is_some()).count()
    });
    assert_eq!(theirs, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_made_from_the_web_form_is_one_change_judged_as_an_imported_one() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::create(dir.path()).await.unwrap();
    let t = f.tenant.clone();
    let rep = writer(REP);
    let raw = |name: &str, postcode: &str| {
        vec![
            ("name", name.to_string()),
            ("postcode", postcode.to_string()),
        ]
    };
    let id = t
        .create_account_for(&rep, &raw("Garage du Canal", "75010"))
        .await
        .unwrap();
    let stored = t.store.load(id).unwrap().expect("stored");
    let mut d = CrmDoc::load(id, &stored.bytes).unwrap();
    assert_eq!(d.automerge().get_changes(&[]).len(), 1);
    let judged = carnet_core::index::DocRows::of(&mut d).unwrap();
    assert_eq!(Some(judged), t.rows(id));
    let rows = t.rows(id).expect("indexed");
    assert_eq!(rows.account.unwrap().owner, REP);
    // Owned by her, in the other rep's territory: hers, so allowed; for
    // the other rep, in his territory: a file she could not see.
    let other = t
        .create_account_for(
            &rep,
            &[
                ("name", "Lyon Pièces".to_string()),
                ("postcode", "69004".to_string()),
                ("owner", OTHER_REP.to_string()),
            ],
        )
        .await;
    assert!(
        matches!(other, Err(carnet_server::tenant::EditError::Hidden)),
        "{other:?}"
    );
    let theirs = t.with_visible(OTHER_REP, |f| {
        f.docs().filter(|(_, r)| r.account.is_some()).count()
    });
    assert_eq!(theirs, 0);
}
