//! Map import and validation against hostile input: a JPEG cut short, a photo folder whose
//! symlinks loop back, a CSV cell of megabytes, file names that are not UTF-8.

mod map_common;

use geoagent::game::integrity;
use geoagent::game::pack::{PackManifest, PackWriter};
use geoagent::import::csv::{import_csv, Layout};
use geoagent::import::photos::import_photos;
use geoagent::import::{ImportReport, Importer};
use map_common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A photo walk of the looping folder must finish well within this (it ran for minutes).
const LOOP_WALK_LIMIT: Duration = Duration::from_secs(20);

fn importer(out: &Path) -> Importer {
    let id = out.file_name().unwrap().to_str().unwrap();
    Importer::new(PackWriter::open(out, PackManifest::new(id, "Test", None)).unwrap())
}

fn problem<'a>(r: &'a ImportReport, source: &str) -> &'a str {
    r.problems
        .iter()
        .find(|p| p.source == source)
        .map(|p| p.message.as_str())
        .unwrap_or_else(|| panic!("no problem for {source}: {r}"))
}

/// A real photo with GPS, cut to `keep` of its bytes (an interrupted copy).
fn truncated_photo(seed: u32, keep: f64) -> Vec<u8> {
    let whole = with_gps(&jpeg(&scene(320, 240, seed)), 46.02, 7.75);
    whole[..(whole.len() as f64 * keep) as usize].to_vec()
}

#[test]
fn a_truncated_jpeg_is_refused_by_import_and_validate() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("photos");
    write(&src.join("cut.jpg"), &truncated_photo(1, 0.6));
    write(
        &src.join("whole.jpg"),
        &with_gps(&jpeg(&scene(320, 240, 2)), 46.5, 8.0),
    );
    let cut = std::fs::read(src.join("cut.jpg")).unwrap();
    assert!(!integrity::jpeg_is_complete(&cut));
    let e = integrity::load_clean(&src.join("cut.jpg"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.jpg") && e.contains("truncated"), "{e}");

    let r = import_photos(&src, importer(&t.path().join("maps/trip"))).unwrap();
    assert_eq!(r.imported, vec!["whole".to_string()], "{r}");
    assert!(problem(&r, "cut.jpg").contains("truncated"), "{r}");

    // A pack whose image was cut after import: `map validate` says so and fails.
    let img = t.path().join("maps/trip/img/whole.jpg");
    let bytes = std::fs::read(&img).unwrap();
    std::fs::write(&img, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args(["map", "validate", "trip"])
        .current_dir(t.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("whole.jpg") && text.contains("truncated"),
        "{text}"
    );
}

#[test]
fn a_complete_jpeg_with_a_trailer_or_an_exif_thumbnail_is_kept() {
    let whole = jpeg(&scene(64, 48, 3));
    assert!(integrity::jpeg_is_complete(&whole));
    // Phones append data after the end marker (motion photos): still a whole image.
    let mut trailer = whole.clone();
    trailer.extend_from_slice(b"MotionPhoto_Data\0\0\0");
    assert!(integrity::decode_clean(Path::new("t.jpg"), &trailer).is_ok());
    // An embedded thumbnail's own end marker before the scan does not count.
    let thumb = jpeg(&scene(8, 8, 4));
    let mut app = b"Exif\0\0".to_vec();
    app.extend_from_slice(&thumb);
    let tagged = with_segment(&whole[..whole.len() / 2], 0xE1, &app);
    assert!(!integrity::jpeg_is_complete(&tagged));
}

#[test]
fn symlinks_looping_back_do_not_explode_the_photo_walk() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("photos");
    write(
        &src.join("a/zermatt.jpg"),
        &with_gps(&jpeg(&scene(64, 48, 5)), 46.02, 7.75),
    );
    // Every folder links back to the top twice: 2^depth paths to walk without loop tracking.
    for d in ["", "a"] {
        for l in ["up1", "up2", "up3"] {
            std::os::unix::fs::symlink(&src, src.join(d).join(l)).unwrap();
        }
    }
    let t0 = Instant::now();
    let r = import_photos(&src, importer(&t.path().join("maps/loop"))).unwrap();
    assert!(t0.elapsed() < LOOP_WALK_LIMIT, "took {:?}", t0.elapsed());
    assert_eq!(r.imported, vec!["a_zermatt".to_string()], "{r}");
    assert!(r.problems.is_empty(), "each photo is found once: {r}");
}

#[test]
fn a_huge_csv_cell_is_not_echoed_whole_and_ids_are_bounded() {
    let t = tempfile::tempdir().unwrap();
    write(&t.path().join("imgs/ok.jpg"), &jpeg(&scene(64, 48, 6)));
    let huge = "9".repeat(5 * 1024 * 1024);
    let long_id = "x".repeat(10_000);
    let csv = t.path().join("data.csv");
    let text = format!(
        "id,lat,lon,path\na,{huge},0,ok.jpg\n{long_id},1,1,ok.jpg\nb,1,1,{huge}.jpg\nc,1,1,ok.jpg\n"
    );
    std::fs::write(&csv, text).unwrap();
    let r = import_csv(
        &csv,
        &t.path().join("imgs"),
        Layout::Generic,
        importer(&t.path().join("maps/big")),
    )
    .unwrap();
    assert_eq!(r.imported, vec!["c".to_string()], "{}", r.problems.len());
    assert_eq!(r.problems.len(), 3);
    for p in &r.problems {
        assert!(
            p.message.len() < 400,
            "{} bytes: {}…",
            p.message.len(),
            &p.message[..200]
        );
    }
    assert!(problem(&r, "data.csv row 2").contains("latitude '999"));
    assert!(problem(&r, "data.csv row 2").contains("bytes)"));
    assert!(problem(&r, "data.csv row 3").contains("10000 bytes"));
    // A header without the needed column lists the columns found, cut.
    std::fs::write(&csv, format!("{huge},lat,lon,path\n")).unwrap();
    let e = import_csv(
        &csv,
        &t.path().join("imgs"),
        Layout::Generic,
        importer(&t.path().join("maps/big2")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.len() < 600 && e.contains("no column 'id'"),
        "{}",
        &e[..200.min(e.len())]
    );
}

#[test]
fn file_names_that_are_not_utf8_do_not_collapse_into_one_id() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("photos");
    std::fs::create_dir_all(&src).unwrap();
    for (i, name) in [&b"caf\xe9.jpg"[..], &b"caf\xe8.jpg"[..]]
        .iter()
        .enumerate()
    {
        let path = src.join(std::ffi::OsStr::from_bytes(name));
        std::fs::write(
            &path,
            with_gps(&jpeg(&scene(64, 48, 10 + i as u32)), 46.0 + i as f64, 7.0),
        )
        .unwrap();
    }
    write(
        &src.join("café.jpg"),
        &with_gps(&jpeg(&scene(64, 48, 20)), 40.0, 3.0),
    );
    let r = import_photos(&src, importer(&t.path().join("maps/names"))).unwrap();
    assert_eq!(r.imported, vec!["café".to_string()], "{r}");
    assert_eq!(r.problems.len(), 2, "{r}");
    let messages: Vec<&str> = r.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages.iter().all(|m| m.contains("not valid UTF-8")),
        "{messages:?}"
    );
    // Each refusal names its own file (the raw bytes, escaped), not one shared lossy name.
    let first = messages[0].to_lowercase();
    assert!(
        first.contains("xe8") || first.contains("xe9"),
        "{messages:?}"
    );
    assert_ne!(messages[0], messages[1]);
}
