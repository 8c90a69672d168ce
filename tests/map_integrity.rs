//! Integrity end to end: photos imported with GPS EXIF and XMP, played on the real local game
//! server, fetched over HTTP: what the browser (and so the model) receives carries no metadata,
//! no GPS, and its URL says nothing about the place. Also the `map` command's `info`, `ls` and
//! `validate` on packs with duplicates, exclusions and broken images (the real binary).

mod map_common;

use geoagent::game::integrity;
use geoagent::game::pack::{self, PackManifest, PackWriter};
use geoagent::import::photos::import_photos;
use geoagent::import::Importer;
use geoagent::server::{start_local, AppState};
use map_common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn import(src: &Path, out: &Path) {
    let id = out.file_name().unwrap().to_str().unwrap();
    let w = PackWriter::open(out, PackManifest::new(id, "Integrity", None)).unwrap();
    let r = import_photos(src, Importer::new(w)).unwrap();
    assert!(r.problems.is_empty(), "{r}");
}

async fn served_image(server_url: &str, map: &str) -> (String, Value, Vec<u8>) {
    let http = reqwest::Client::new();
    let g: Value = http
        .post(format!("{server_url}/api/games"))
        .json(&json!({"map": map, "seed": 1, "rounds": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let game: Value = http
        .get(format!(
            "{server_url}/api/games/{}",
            g["game_id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = game["pano"].as_str().unwrap().to_string();
    let resp = http.get(format!("{server_url}{url}")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    (url, game, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_images_carry_no_metadata_and_opaque_urls() {
    let t = tempfile::tempdir().unwrap();
    // A phone photo in Reykjavik (EXIF GPS, XMP city) and a GPano panorama in Cape Town.
    let photos = t.path().join("photos");
    write(
        &photos.join("reykjavik_harbour.jpg"),
        &with_xmp_city(&with_gps(&jpeg(&scene(400, 300, 41)), 64.1466, -21.9426)),
    );
    let panos = t.path().join("panos");
    write(
        &panos.join("cape_town.jpg"),
        &with_gpano(&with_gps(&jpeg(&scene(512, 256, 42)), -33.9249, 18.4241)),
    );
    let (photo_pack, pano_pack) = (
        t.path().join("maps/pack-one"),
        t.path().join("maps/pack-two"),
    );
    import(&photos, &photo_pack);
    import(&panos, &pano_pack);

    // Plant metadata in the pack file itself, as a hand-made pack could have: the server must
    // strip it too, not rely on the importer.
    let map = pack::load_pack(&pano_pack).unwrap();
    let file = map.locations[0].imagery.path().unwrap().to_path_buf();
    let clean = std::fs::read(&file).unwrap();
    std::fs::write(&file, with_gpano(&with_gps(&clean, -33.9249, 18.4241))).unwrap();
    assert!(exif_gps(&std::fs::read(&file).unwrap()).is_some());

    let maps = vec![
        Arc::new(pack::load_pack(&photo_pack).unwrap()),
        Arc::new(map),
    ];
    let server = start_local(AppState::new(maps)).await.unwrap();
    for (map_id, kind, words) in [
        // Map ids are public; the words are what must stay hidden.
        ("pack-one", "photo", ["reykjavik", "harbour", "64.14"]),
        ("pack-two", "panorama", ["cape", "town", "-33.92"]),
    ] {
        let (url, game, bytes) = served_image(&server.url(), map_id).await;
        assert_eq!(game["imagery"], kind);
        assert!(
            integrity::jpeg_metadata(&bytes).is_empty(),
            "{map_id}: {:?}",
            integrity::jpeg_metadata(&bytes)
        );
        assert_eq!(exif_gps(&bytes), None, "{map_id}: GPS survived");
        for needle in [b"Secretville".as_slice(), b"GeoTestCam", b"GPano", b"Exif"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{map_id}: {needle:?} leaked"
            );
        }
        // The image still decodes to the picture.
        assert!(image::load_from_memory(&bytes).is_ok());
        // Opaque URL: /pano/<random hex>.jpg, nothing from the id, file name or position.
        let token = url
            .strip_prefix("/pano/")
            .and_then(|u| u.strip_suffix(".jpg"))
            .unwrap();
        assert!(
            token.len() >= 16 && token.chars().all(|c| c.is_ascii_hexdigit()),
            "{url}"
        );
        let lower = url.to_lowercase();
        for w in words {
            assert!(!lower.contains(w), "{url} contains {w}");
        }
        let text = game.to_string().to_lowercase();
        for w in words {
            assert!(!text.contains(w), "game state leaks {w}: {text}");
        }
    }
    server.shutdown().await.unwrap();
}

fn geoagent(args: &[&str], cwd: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn map_command_imports_lists_describes_and_validates() {
    let t = tempfile::tempdir().unwrap();
    let photos = t.path().join("photos");
    // Two copies of the same scene at different sizes (a duplicate), one distinct photo.
    let same = scene(300, 200, 51);
    write(
        &photos.join("a.jpg"),
        &with_gps(&jpeg(&same), 35.6762, 139.6503),
    );
    let smaller = image::imageops::resize(&same, 150, 100, image::imageops::FilterType::Triangle);
    write(
        &photos.join("b.jpg"),
        &with_gps(&jpeg(&smaller), 34.6937, 135.5023),
    );
    write(
        &photos.join("c.jpg"),
        &with_gps(&jpeg(&scene(300, 200, 57)), -22.9068, -43.1729),
    );
    write(&photos.join("d.jpg"), &jpeg(&scene(30, 20, 58)));

    let (code, out) = geoagent(
        &["map", "import", "photos", "photos", "-o", "maps/trip"],
        t.path(),
    );
    assert_eq!(code, 2, "partial import exits 2: {out}");
    assert!(out.contains("imported 3") && out.contains("d.jpg"), "{out}");

    let (code, out) = geoagent(&["map", "info", "trip"], t.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 playable") && out.contains("JP 2") && out.contains("BR 1"),
        "{out}"
    );
    assert!(
        out.contains("continents: 2") && out.contains("Asia") && out.contains("South America"),
        "{out}"
    );
    let size = pack::load_pack(&t.path().join("maps/trip"))
        .unwrap()
        .size_km;
    assert!(out.contains(&format!("{size:.1} km")), "{out}");

    let (code, out) = geoagent(&["map", "validate", "trip"], t.path());
    assert_eq!(code, 0, "duplicates are warnings: {out}");
    assert!(out.contains("duplicate: 'a' and 'b'"), "{out}");
    assert!(!out.contains("'c'"), "{out}");

    // The author excludes b; validate lists it; it is no longer played.
    let csv = t.path().join("maps/trip/locations.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("b,") {
                l.replacen(",photo,,", ",photo,same view as a,", 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&csv, text + "\n").unwrap();
    let (code, out) = geoagent(&["map", "validate", "trip"], t.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("excluded: 'b': same view as a"), "{out}");
    assert_eq!(
        pack::load_pack(&t.path().join("maps/trip"))
            .unwrap()
            .locations
            .len(),
        2
    );

    let (code, out) = geoagent(&["map", "ls"], t.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("world") && out.contains("trip") && out.contains("(1 excluded)"),
        "{out}"
    );

    // A broken image makes validate fail and name the row and file.
    std::fs::write(t.path().join("maps/trip/img/c.jpg"), b"\xFF\xD8garbage").unwrap();
    let (code, out) = geoagent(&["map", "validate"], t.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error: locations.csv row 4 ('c')") && out.contains("c.jpg"),
        "{out}"
    );

    let (code, out) = geoagent(&["map", "info", "nope"], t.path());
    assert_eq!(code, 1);
    assert!(out.contains("map 'nope' not found"), "{out}");
}
