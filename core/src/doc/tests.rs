//! Merge behaviour of documents: concurrent edits, conflicts, history,
//! text merging, and fields from other schema versions.

use automerge::transaction::Transactable;
use automerge::{ActorId, ObjType, ReadDoc, ROOT};

use super::*;
use crate::ids::DocId;
use crate::model::Account;
use crate::schema::resolve;

fn writer(user: &str, now: i64) -> Writer {
    Writer {
        user: user.to_string(),
        actor: ActorId::random(),
        now,
    }
}

fn set(doc: &mut CrmDoc, w: &Writer, path: &str, raw: &str) {
    let p = resolve(doc.kind(), path).unwrap();
    let v = value::parse(p.spec, raw, &Vocab::default()).unwrap();
    doc.begin(w);
    doc.put_field(&p, &v).unwrap();
    doc.commit(w);
}

/// An account on replica A, copied to replica B.
fn two_replicas() -> (CrmDoc, CrmDoc, Writer, Writer) {
    let a_w = writer("alice@carnet.test", 1_000);
    let b_w = writer("bruno@carnet.test", 1_000);
    let id = DocId::new();
    let mut a = CrmDoc::create(id, DocKind::Account, &a_w).unwrap();
    set(&mut a, &a_w, "account/name", "Boulangerie Martin");
    set(&mut a, &a_w, "account/city", "Lyon");
    let b = CrmDoc::load(id, &a.save()).unwrap();
    (a, b, a_w, b_w)
}

fn sync(a: &mut CrmDoc, b: &mut CrmDoc) {
    let ab = a.save();
    let ba = b.save();
    b.merge_bytes(&ab).unwrap();
    a.merge_bytes(&ba).unwrap();
}

#[test]
fn concurrent_edit_of_a_field_survives_a_later_unrelated_edit() {
    // The blind-reconcile trap: writing a whole hydrated struct back after an
    // unrelated edit would overwrite the conflict with one side's value.
    let (mut a, mut b, aw, bw) = two_replicas();
    set(&mut a, &aw, "account/phone", "01 11 11 11 11");
    set(&mut b, &bw, "account/phone", "02 22 22 22 22");
    sync(&mut a, &mut b);
    assert_eq!(a.conflicts().len(), 1);

    // Later, each side makes an unrelated edit.
    set(&mut a, &aw, "account/city", "Villeurbanne");
    set(&mut b, &bw, "account/website", "martin.fr");
    sync(&mut a, &mut b);

    for doc in [&mut a, &mut b] {
        let conflicts = doc.conflicts();
        assert_eq!(conflicts.len(), 1, "the conflict must still be visible");
        let mut values: Vec<String> = conflicts[0]
            .values
            .iter()
            .map(|v| v.value.clone())
            .collect();
        values.sort();
        assert_eq!(values, vec!["01 11 11 11 11", "02 22 22 22 22"]);
        let acc = Account::read(doc).unwrap();
        assert_eq!(acc.city.as_deref(), Some("Villeurbanne"));
        assert_eq!(acc.website.as_deref(), Some("martin.fr"));
    }
}

#[test]
fn conflict_lists_author_and_time_of_each_value_and_resolves_by_an_edit() {
    let (mut a, mut b, aw, mut bw) = two_replicas();
    bw.now = 2_000;
    set(&mut a, &aw, "account/status", "client");
    set(&mut b, &bw, "account/status", "former");
    sync(&mut a, &mut b);
    let c = &a.conflicts()[0];
    assert_eq!(c.path, "account/status");
    assert_eq!(c.record, "account");
    let mut by_author: Vec<(Option<String>, String, i64)> = c
        .values
        .iter()
        .map(|v| (v.author.clone(), v.value.clone(), v.time))
        .collect();
    by_author.sort();
    assert_eq!(
        by_author,
        vec![
            (Some("alice@carnet.test".into()), "client".into(), 1_000),
            (Some("bruno@carnet.test".into()), "former".into(), 2_000),
        ]
    );
    assert_eq!(c.values.iter().filter(|v| v.shown).count(), 1);

    // Bruno picks "client"; once synced nobody sees a conflict.
    set(&mut b, &bw, "account/status", "client");
    sync(&mut a, &mut b);
    assert!(a.conflicts().is_empty());
    assert!(b.conflicts().is_empty());
    assert_eq!(Account::read(&a).unwrap().status, "client");
}

#[test]
fn same_value_written_on_both_sides_is_not_a_conflict() {
    let (mut a, mut b, aw, bw) = two_replicas();
    set(&mut a, &aw, "account/city", "Paris");
    set(&mut b, &bw, "account/city", "Paris");
    sync(&mut a, &mut b);
    assert!(a.conflicts().is_empty());
}

#[test]
fn edits_to_different_fields_merge_silently() {
    let (mut a, mut b, aw, bw) = two_replicas();
    set(&mut a, &aw, "account/phone", "01 11 11 11 11");
    set(&mut b, &bw, "account/email", "contact@martin.fr");
    sync(&mut a, &mut b);
    assert!(a.conflicts().is_empty());
    let acc = Account::read(&b).unwrap();
    assert_eq!(acc.phone.as_deref(), Some("01 11 11 11 11"));
    assert_eq!(acc.email.as_deref(), Some("contact@martin.fr"));
}

#[test]
fn long_text_merges_character_by_character() {
    let (mut a, mut b, aw, bw) = two_replicas();
    set(&mut a, &aw, "account/expectations", "Livraison rapide.");
    sync(&mut a, &mut b);
    set(
        &mut a,
        &aw,
        "account/expectations",
        "Livraison rapide le matin.",
    );
    set(
        &mut b,
        &bw,
        "account/expectations",
        "Livraison rapide. Paiement à 30 jours.",
    );
    sync(&mut a, &mut b);
    let ta = Account::read(&a).unwrap().expectations;
    assert_eq!(ta, Account::read(&b).unwrap().expectations);
    assert_eq!(ta, "Livraison rapide le matin. Paiement à 30 jours.");
    assert!(a.conflicts().is_empty());
}

#[test]
fn tags_added_offline_on_two_devices_both_survive() {
    let (mut a, mut b, aw, bw) = two_replicas();
    set(&mut a, &aw, "account/tags", "pme");
    set(&mut b, &bw, "account/tags", "industrie");
    sync(&mut a, &mut b);
    let mut tags = Account::read(&a).unwrap().tags;
    tags.sort();
    assert_eq!(tags, vec!["industrie", "pme"]);
}

#[test]
fn records_added_offline_on_two_devices_never_collide() {
    let (mut a, mut b, aw, bw) = two_replicas();
    for (doc, w, name) in [(&mut a, &aw, "Anne"), (&mut b, &bw, "Benoît")] {
        doc.begin(w);
        doc.create_record(
            &["contacts"],
            &crate::ids::RecordId::new().to_string(),
            RecordKind::Contact,
            &[("name", FieldValue::Str(name.into()))],
        )
        .unwrap();
        doc.commit(w);
    }
    sync(&mut a, &mut b);
    assert_eq!(a.records(&["contacts"]).len(), 2);
    assert_eq!(b.records(&["contacts"]).len(), 2);
}

#[test]
fn containers_created_concurrently_are_both_read() {
    // Two replicas of an older document that lacked the "notes" container
    // each create it: the records of both copies stay readable.
    let w1 = writer("a@carnet.test", 1);
    let w2 = writer("b@carnet.test", 1);
    let id = DocId::new();
    let mut base = CrmDoc::create(id, DocKind::Account, &w1).unwrap();
    base.begin(&w1);
    base.automerge().delete(ROOT, "notes").unwrap();
    base.commit(&w1);
    let mut a = CrmDoc::load(id, &base.save()).unwrap();
    let mut b = CrmDoc::load(id, &base.save()).unwrap();
    for (doc, w, key) in [(&mut a, &w1, "n1"), (&mut b, &w2, "n2")] {
        doc.begin(w);
        let notes = doc
            .automerge()
            .put_object(ROOT, "notes", ObjType::Map)
            .unwrap();
        doc.automerge()
            .put_object(&notes, key, ObjType::Map)
            .unwrap();
        doc.commit(w);
    }
    sync(&mut a, &mut b);
    let mut keys: Vec<String> = a.records(&["notes"]).into_iter().map(|(k, _)| k).collect();
    keys.sort();
    assert_eq!(keys, vec!["n1", "n2"]);
    // The fast hydrated view merges both copies too.
    let h = a.hydrated();
    let hydrated: Vec<String> = crate::model::Rec(&h)
        .records("notes")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(hydrated, vec!["n1", "n2"]);
}

#[test]
fn history_shows_field_old_and_new_values_with_author() {
    let (mut a, mut b, _, mut bw) = two_replicas();
    bw.now = 5_000;
    set(&mut b, &bw, "account/city", "Bron");
    set(&mut b, &bw, "account/expectations", "Du bio.");
    sync(&mut a, &mut b);
    let h = a.history();
    let city = h
        .iter()
        .find(|e| {
            e.changes
                .iter()
                .any(|c| c.path == "account/city" && c.old.is_some())
        })
        .expect("the city change is in the history");
    assert_eq!(city.author.as_deref(), Some("bruno@carnet.test"));
    assert_eq!(city.time, 5_000);
    let c = city
        .changes
        .iter()
        .find(|c| c.path == "account/city")
        .unwrap();
    assert_eq!(c.old.as_deref(), Some("Lyon"));
    assert_eq!(c.new.as_deref(), Some("Bron"));
    let text = h
        .iter()
        .flat_map(|e| e.changes.iter())
        .find(|c| c.path == "account/expectations")
        .unwrap();
    assert_eq!(text.new.as_deref(), Some("Du bio."));
    // The creation is attributed too.
    assert_eq!(h[0].author.as_deref(), Some("alice@carnet.test"));
}

#[test]
fn fields_from_a_newer_schema_survive_our_edits() {
    // A newer app writes a newer schema with fields we do not know.
    let newer_version = crate::schema::SCHEMA_VERSION + 1;
    let w_new = writer("new@carnet.test", 1);
    let id = DocId::new();
    let mut newer = CrmDoc::create(id, DocKind::Account, &w_new).unwrap();
    newer.begin(&w_new);
    {
        let am = newer.automerge();
        am.put(ROOT, "schema", newer_version).unwrap();
        am.put(ROOT, "loyalty", "gold").unwrap();
        let acc = match am.get(ROOT, "account").unwrap() {
            Some((_, id)) => id,
            None => panic!("account map"),
        };
        am.put(&acc, "name", "Garage Dupont").unwrap();
        am.put(&acc, "fleet_size", 12i64).unwrap();
    }
    newer.commit(&w_new);

    // We (an older schema) edit it and send it back.
    let w_old = writer("old@carnet.test", 2);
    let mut ours = CrmDoc::load(id, &newer.save()).unwrap();
    assert_eq!(ours.schema_version(), newer_version);
    set(&mut ours, &w_old, "account/city", "Nantes");
    ours.begin(&w_old);
    ours.stamp_schema().unwrap();
    ours.commit(&w_old);
    let bytes = ours.save();
    newer.merge_bytes(&bytes).unwrap();

    let acc = newer.map_at(&["account"]).unwrap();
    assert_eq!(newer.get_i64(&acc, "fleet_size"), Some(12));
    assert_eq!(newer.get_str(&ROOT, "loyalty").as_deref(), Some("gold"));
    assert_eq!(newer.get_str(&acc, "city").as_deref(), Some("Nantes"));
    assert_eq!(
        newer.schema_version(),
        newer_version,
        "we never lower the schema version"
    );
}

#[test]
fn load_refuses_corrupt_bytes_and_mismatched_ids() {
    let w = writer("a@carnet.test", 1);
    let id = DocId::new();
    let mut d = CrmDoc::create(id, DocKind::Account, &w).unwrap();
    let bytes = d.save();
    assert!(matches!(
        CrmDoc::load(id, &bytes[..bytes.len() / 2]),
        Err(CoreError::CorruptDoc { .. })
    ));
    assert!(matches!(
        CrmDoc::load(id, b"not automerge"),
        Err(CoreError::CorruptDoc { .. })
    ));
    assert!(matches!(
        CrmDoc::load(DocId::new(), &bytes),
        Err(CoreError::CorruptDoc { .. })
    ));
    assert!(d.merge_bytes(b"\x85\x6f\x4a\x83garbage").is_err());
}

#[test]
fn every_change_carries_the_writers_author() {
    let (mut a, _, aw, _) = two_replicas();
    set(&mut a, &aw, "account/city", "Lille");
    let changes = a.automerge().get_changes(&[]);
    assert!(changes.len() >= 3);
    for change in changes {
        assert_eq!(
            a.author_of(change.actor_id()).as_deref(),
            Some("alice@carnet.test")
        );
    }
}

#[test]
fn an_app_of_schema_1_keeps_a_file_with_an_outbox() {
    // What a version-1 app sees of a file this version wrote: its root
    // holds `emails`, unknown to version 1, and says schema 2, so the shape
    // check (which refuses unknown root keys of its own version or older)
    // lets it through.
    let w = writer("rep@carnet.test", 1);
    let mut d = CrmDoc::create(DocId::new(), DocKind::Account, &w).unwrap();
    assert_eq!(d.schema_version(), 2);
    d.begin(&w);
    d.automerge()
        .put_object(ROOT, "emails", automerge::ObjType::Map)
        .unwrap();
    d.commit(&w);
    assert_eq!(d.check_shape(), Ok(()));
    // The same file stamped 1 (as a version-1 app would have written it)
    // would be refused for that key: hence the version bump.
    d.begin(&w);
    d.automerge().put(ROOT, "schema", 1u64).unwrap();
    d.automerge().put(ROOT, "made_up", "x").unwrap();
    d.commit(&w);
    assert!(d.check_shape().is_err());
}

/// A new document built as one tree (`create_open`) is the document the
/// same fields written one by one make, and the tree it returns is what
/// hydrating it gives: the index rows of a new file are read from that tree.
#[test]
fn a_document_built_as_one_tree_equals_one_written_field_by_field() {
    let w = writer("alice@carnet.test", 1_000);
    let first = vec![
        ("name", FieldValue::Str("Garage Martin".into())),
        (
            "expectations",
            FieldValue::Text("Un pont élévateur\navant mars".into()),
        ),
        (
            "tags",
            FieldValue::Tags(vec!["vip".into(), "garage".into()]),
        ),
        ("returned_mail", FieldValue::Bool(true)),
        ("created_at", FieldValue::Int(1_000)),
        ("city", FieldValue::Clear),
    ];
    let contact = vec![
        ("name", FieldValue::Str("Jean Martin".into())),
        ("notes", FieldValue::Text("Préfère le matin".into())),
        ("consent_email", FieldValue::Bool(false)),
    ];
    let records = [NewRecord {
        container: "contacts",
        id: "c1".into(),
        kind: RecordKind::Contact,
        fields: contact.clone(),
    }];
    let id = DocId::new();
    let (mut built, tree) =
        CrmDoc::create_open(id, DocKind::Account, &w, &first, &records).unwrap();
    built.commit(&w);
    assert_eq!(tree, built.hydrated());
    assert_eq!(built.automerge().get_changes(&[]).len(), 1);

    let mut by_field = CrmDoc::create(id, DocKind::Account, &w).unwrap();
    by_field.begin(&w);
    for (k, v) in &first {
        let p = resolve(DocKind::Account, &format!("account/{k}")).unwrap();
        by_field.put_field(&p, v).unwrap();
    }
    by_field
        .create_record(&["contacts"], "c1", RecordKind::Contact, &contact)
        .unwrap();
    by_field.commit(&w);
    assert_eq!(built.hydrated(), by_field.hydrated());

    // A record missing a required field, or in a container of another
    // kind, is refused before anything is written.
    let nameless = [NewRecord {
        container: "contacts",
        id: "c2".into(),
        kind: RecordKind::Contact,
        fields: vec![("role", FieldValue::Str("Gérant".into()))],
    }];
    assert!(CrmDoc::create_open(id, DocKind::Account, &w, &first, &nameless).is_err());
    let misplaced = [NewRecord {
        container: "deals",
        id: "c3".into(),
        kind: RecordKind::Contact,
        fields: contact,
    }];
    assert!(CrmDoc::create_open(id, DocKind::Account, &w, &first, &misplaced).is_err());
}
