//! The replay format as other builds and tools see it: a session recorded by an earlier build
//! (the committed fixture, written by `geoagent play --rounds 2 --headings 2` of the first
//! release) still loads and rescores unchanged; a write/read round trip is lossless; a torn last
//! line is skipped with a warning; a manifest from a future format version is refused with a
//! message naming the versions.

mod common;

use common::fixture::{copy_session as copy_fixture, replays as fixtures, FIXTURE_ID};
use geoagent::game::score;
use geoagent::replay::{
    self, catalog, rescore, Replay, ReplayWriter, FORMAT_VERSION, MANIFEST_FILE, ROUNDS_FILE,
};

#[test]
fn a_session_recorded_by_an_earlier_build_loads_completely() {
    let dir = catalog::resolve(&fixtures(), "20261123T1159").unwrap();
    let r = Replay::open(&dir).unwrap();
    assert_eq!(r.manifest.format_version, 1);
    assert_eq!(r.manifest.challenge.id, "world-7-2");
    assert_eq!(r.rounds.len(), 2);
    assert!(r.skipped.is_empty());
    for round in &r.rounds {
        assert_eq!(round.views.len(), 2);
        for v in &round.views {
            let bytes = r.view_bytes(v).unwrap();
            assert_eq!(bytes.len(), v.bytes);
            assert_eq!(&bytes[..2], &[0xFF, 0xD8], "a JPEG");
        }
        assert_eq!(
            round.result.points,
            score(round.result.distance_km, r.manifest.map.size_km.unwrap())
        );
    }
    // Today's scoring agrees with the earlier build's.
    let rs = rescore::rescore(&r).unwrap();
    assert!(rs.rounds.iter().all(|x| !x.changed()), "{}", rs.render());
}

#[test]
fn write_then_read_is_lossless() {
    let src = Replay::open(&fixtures().join(FIXTURE_ID)).unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut m = src.manifest.clone();
    m.session_id = "copy".into();
    let mut w = ReplayWriter::create(root.path(), &m).unwrap();
    let mut written = Vec::new();
    for r in &src.rounds {
        let views: Vec<geoagent::environment::View> = r
            .views
            .iter()
            .map(|v| geoagent::environment::View {
                heading: v.heading,
                heading_ref: v.heading_ref,
                pitch: v.pitch,
                fov: v.fov,
                width: v.width,
                height: v.height,
                jpeg: src.view_bytes(v).unwrap(),
            })
            .collect();
        let mut rec = r.clone();
        rec.views = w.save_views(r.round, &views).unwrap();
        w.append(&rec).unwrap();
        written.push(rec);
    }
    let back = Replay::open(&root.path().join("copy")).unwrap();
    assert_eq!(back.manifest, m);
    assert_eq!(back.rounds, written);
    assert_eq!(
        back.rounds, src.rounds,
        "same relative view paths and values"
    );
}

#[test]
fn a_torn_last_line_is_skipped_with_a_warning() {
    let root = tempfile::tempdir().unwrap();
    let dir = copy_fixture(root.path());
    let path = dir.join(ROUNDS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    // Cut the second line in the middle, as a killed process leaves it.
    let first_end = text.find('\n').unwrap() + 1;
    let cut = first_end + (text.len() - first_end) / 2;
    std::fs::write(&path, &text[..cut]).unwrap();
    let r = Replay::open(&dir).unwrap();
    assert_eq!(r.rounds.len(), 1);
    assert_eq!(r.skipped.len(), 1);
    assert!(r.skipped[0].contains("line 2") && r.skipped[0].contains("torn"));
    // The listing still shows the session, with its one finished round.
    let rows = catalog::list(root.path()).unwrap();
    assert_eq!(
        (rows[0].rounds, rows[0].planned_rounds, rows[0].skipped),
        (1, 2, 1)
    );
    assert!(
        geoagent::cli::replay::tables::render_list(&rows, root.path()).contains("torn last line")
    );
}

#[test]
fn an_unknown_future_version_is_refused_naming_both_versions() {
    let root = tempfile::tempdir().unwrap();
    let dir = copy_fixture(root.path());
    let mpath = dir.join(MANIFEST_FILE);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    v["format_version"] = (FORMAT_VERSION + 1).into();
    v["some_future_field"] = "x".into();
    std::fs::write(&mpath, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = Replay::open(&dir).unwrap_err().to_string();
    assert!(
        e.contains(&format!("format_version {}", FORMAT_VERSION + 1))
            && e.contains(&format!("({FORMAT_VERSION})"))
            && e.contains("upgrade geoagent"),
        "{e}"
    );
    assert!(matches!(
        Replay::open(&dir),
        Err(replay::ReplayError::FutureVersion { .. })
    ));
}

#[test]
fn a_missing_version_is_reported_not_guessed() {
    let root = tempfile::tempdir().unwrap();
    let dir = copy_fixture(root.path());
    let mpath = dir.join(MANIFEST_FILE);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("format_version");
    std::fs::write(&mpath, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = Replay::open(&dir).unwrap_err().to_string();
    assert!(
        e.contains("format_version is missing") && e.contains(MANIFEST_FILE),
        "{e}"
    );
}

/// Rounds recorded before hints existed read as unassisted; a round with a person's hints (who,
/// when, the guess before and after) survives a write and a read, and an unassisted round's line
/// does not mention them (older readers see nothing new).
#[test]
fn hints_are_optional_and_round_trip() {
    let src = Replay::open(&fixtures().join(FIXTURE_ID)).unwrap();
    assert!(src.rounds.iter().all(|r| !r.guess.assisted()));
    let root = tempfile::tempdir().unwrap();
    let mut m = src.manifest.clone();
    m.session_id = "hinted".into();
    let mut w = ReplayWriter::create(root.path(), &m).unwrap();
    let mut plain = src.rounds[0].clone();
    plain.views.clear();
    let mut hinted = src.rounds[1].clone();
    hinted.views.clear();
    let first = hinted.guess.pos;
    let revised = geoagent::geo::LatLon::new(55.75, 37.62).unwrap();
    hinted.guess.revisions = vec![geoagent::agent::Revision {
        hints: vec![geoagent::agent::Hint::new("the signs are Cyrillic <b>", "Ana").unwrap()],
        before: Some(first),
        after: Some(revised),
        country: Some("RU".into()),
    }];
    hinted.guess.pos = revised;
    w.append(&plain).unwrap();
    w.append(&hinted).unwrap();
    let dir = root.path().join("hinted");
    let text = std::fs::read_to_string(dir.join(ROUNDS_FILE)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines[0].contains("revisions"), "{}", lines[0]);
    assert!(
        lines[1].contains(
            r#""revisions":[{"hints":[{"text":"the signs are Cyrillic <b>","by":"Ana","at":"#
        ),
        "{}",
        lines[1]
    );
    let back = Replay::open(&dir).unwrap();
    assert_eq!(back.rounds, vec![plain, hinted.clone()]);
    assert!(back.rounds[1].guess.assisted());
    assert_eq!(back.rounds[1].guess.unassisted_pos(), Some(first));
}
