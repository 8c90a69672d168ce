//! Importers end to end on fixture data the tests write: photos with real EXIF GPS, an
//! equirectangular panorama, a GPano-tagged one, CSV rows in every layout, and every kind of bad
//! input. The packs they write are loaded back with the game's own pack loader.

mod map_common;

use geoagent::game::integrity;
use geoagent::game::pack::{self, PackManifest, PackWriter};
use geoagent::game::Imagery;
use geoagent::import::csv::{import_csv, Layout};
use geoagent::import::photos::import_photos;
use geoagent::import::{ImportReport, Importer};
use map_common::*;
use std::path::Path;

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

/// Zermatt, Nairobi, Sydney (south + east), Quito-ish (south + west).
const ZERMATT: (f64, f64) = (46.0207, 7.7491);
const NAIROBI: (f64, f64) = (-1.2921, 36.8219);
const SYDNEY: (f64, f64) = (-33.8688, 151.2093);

fn photo_folder(dir: &Path) {
    write(
        &dir.join("zermatt.jpg"),
        &with_gps(&jpeg(&scene(320, 240, 1)), ZERMATT.0, ZERMATT.1),
    );
    write(
        &dir.join("trip/nairobi_pano.jpg"),
        &with_gps(&jpeg(&scene(512, 256, 2)), NAIROBI.0, NAIROBI.1),
    );
    // Not 2:1, but GPano says it is a 360° panorama.
    write(
        &dir.join("sydney.JPG"),
        &with_gpano(&with_gps(&jpeg(&scene(500, 300, 3)), SYDNEY.0, SYDNEY.1)),
    );
    write(&dir.join("no_gps.jpg"), &jpeg(&scene(64, 48, 4)));
    write(
        &dir.join("broken.jpg"),
        &corrupt(&with_gps(&jpeg(&scene(64, 48, 5)), 1.0, 1.0)),
    );
    write(
        &dir.join("bomb.jpg"),
        &bomb(&with_gps(&jpeg(&scene(64, 48, 6)), 2.0, 2.0), 60_000),
    );
    let zero = vec![exif::Rational::from((1, 0)); 3];
    write(
        &dir.join("nan.jpg"),
        &with_tiff(
            &jpeg(&scene(64, 48, 7)),
            &gps_tiff_raw(zero.clone(), "N", zero, "E"),
        ),
    );
    write(&dir.join("notes.txt"), b"not an image");
}

#[test]
fn photos_with_gps_become_a_pack_and_bad_ones_are_named() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("photos");
    photo_folder(&src);
    // The decoder really cannot read the corrupt fixture.
    assert!(integrity::load_clean(&src.join("broken.jpg")).is_err());
    let out = t.path().join("maps/trip");
    let r = import_photos(&src, importer(&out)).unwrap();
    assert_eq!(r.imported.len(), 3, "{r}");
    assert_eq!(r.photos, 1, "{r}");
    assert!(
        problem(&r, "no_gps.jpg").contains("no readable EXIF"),
        "{r}"
    );
    assert!(problem(&r, "broken.jpg").contains("broken.jpg"), "{r}");
    assert!(problem(&r, "broken.jpg").contains("not a readable"), "{r}");
    assert!(problem(&r, "bomb.jpg").contains("60000×60000"), "{r}");
    assert!(problem(&r, "nan.jpg").contains("not a number"), "{r}");
    assert_eq!(r.problems.len(), 4, "{r}");

    let map = pack::load_pack(&out).unwrap();
    assert_eq!(map.id, "trip");
    let loc = |id: &str| {
        map.location(id)
            .unwrap_or_else(|| panic!("{id} in {map:?}"))
    };
    let z = loc("zermatt");
    assert!((z.pos.lat - ZERMATT.0).abs() < 1e-4 && (z.pos.lon - ZERMATT.1).abs() < 1e-4);
    assert_eq!(z.country.as_deref(), Some("CH"));
    assert!(matches!(z.imagery, Imagery::Photo { .. }));
    let n = loc("trip_nairobi_pano");
    assert!(n.pos.lat < 0.0 && matches!(n.imagery, Imagery::File { .. }));
    assert_eq!(n.country.as_deref(), Some("KE"));
    let s = loc("sydney");
    assert!(s.pos.lat < -33.0 && s.pos.lon > 151.0, "{:?}", s.pos);
    assert!(
        matches!(s.imagery, Imagery::File { .. }),
        "GPano makes it a panorama"
    );

    // The pack's images are pixels only: no EXIF, no XMP, no GPS, no tell-tale names.
    for l in &map.locations {
        let path = l.imagery.path().unwrap();
        let bytes = std::fs::read(path).unwrap();
        assert!(integrity::jpeg_metadata(&bytes).is_empty(), "{path:?}");
        assert_eq!(exif_gps(&bytes), None);
        assert!(!bytes.windows(11).any(|w| w == b"Secretville"));
        assert!(!bytes.windows(10).any(|w| w == b"GeoTestCam"));
    }
    // The source really had them (so the checks above can fail).
    let orig = std::fs::read(src.join("sydney.JPG")).unwrap();
    assert!(exif_gps(&orig).is_some() && !integrity::jpeg_metadata(&orig).is_empty());
}

#[test]
fn reimporting_keeps_what_is_there_and_adds_new_photos() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("photos");
    write(
        &src.join("a.jpg"),
        &with_gps(&jpeg(&scene(100, 80, 1)), 48.85, 2.35),
    );
    let out = t.path().join("paris");
    let first = import_photos(&src, importer(&out)).unwrap();
    assert_eq!(first.imported, vec!["a".to_string()]);
    let csv_before = std::fs::read_to_string(out.join(pack::PACK_LOCATIONS)).unwrap();
    let img_before = std::fs::read(out.join("img/a.jpg")).unwrap();

    write(
        &src.join("b.jpg"),
        &with_gps(&jpeg(&scene(100, 80, 2)), 48.86, 2.29),
    );
    let second = import_photos(&src, importer(&out)).unwrap();
    assert_eq!(second.imported, vec!["b".to_string()], "{second}");
    assert_eq!(second.kept, vec!["a".to_string()]);
    let csv_after = std::fs::read_to_string(out.join(pack::PACK_LOCATIONS)).unwrap();
    assert!(csv_after.starts_with(&csv_before), "rows are only appended");
    assert_eq!(std::fs::read(out.join("img/a.jpg")).unwrap(), img_before);
    assert_eq!(pack::load_pack(&out).unwrap().locations.len(), 2);
}

fn dataset(dir: &Path) {
    write(&dir.join("imgs/ok1.jpg"), &jpeg(&scene(160, 120, 11)));
    write(&dir.join("imgs/ok2.jpg"), &jpeg(&scene(160, 120, 12)));
    write(
        &dir.join("imgs/broken.jpg"),
        &corrupt(&jpeg(&scene(64, 48, 13))),
    );
    write(
        &dir.join("imgs/bomb.jpg"),
        &bomb(&jpeg(&scene(64, 48, 14)), 50_000),
    );
    write(&dir.join("secret.jpg"), &jpeg(&scene(64, 48, 15)));
}

#[test]
fn generic_csv_imports_good_rows_and_names_every_bad_one() {
    let t = tempfile::tempdir().unwrap();
    dataset(t.path());
    let csv = t.path().join("data.csv");
    write(
        &csv,
        b"id,lat,lon,path\n\
          a,51.5007,-0.1246,ok1.jpg\n\
          b,NaN,0,ok2.jpg\n\
          c,95,0,ok2.jpg\n\
          a,1,1,ok2.jpg\n\
          d,1,1,../secret.jpg\n\
          e,1,1,missing.jpg\n\
          f,1,1,broken.jpg\n\
          g,1,1,bomb.jpg\n\
          h,40.4168,-3.7038,ok2.jpg\n\
          i,1,abc,ok2.jpg\n",
    );
    let out = t.path().join("maps/bench");
    let r = import_csv(
        &csv,
        &t.path().join("imgs"),
        Layout::Generic,
        importer(&out),
    )
    .unwrap();
    assert_eq!(r.imported, vec!["a".to_string(), "h".to_string()], "{r}");
    let p = |row: usize| problem(&r, &format!("data.csv row {row}")).to_string();
    assert!(p(3).contains("latitude 'NaN'"), "{}", p(3));
    assert!(p(4).contains("95"), "{}", p(4));
    assert!(p(5).contains("duplicate id 'a'"), "{}", p(5));
    assert!(
        p(6).contains("'../secret.jpg'") && p(6).contains("inside"),
        "{}",
        p(6)
    );
    assert!(
        p(7).contains("missing.jpg") && p(7).contains("not found"),
        "{}",
        p(7)
    );
    assert!(
        p(8).contains("broken.jpg") && p(8).contains("not a readable"),
        "{}",
        p(8)
    );
    assert!(
        p(9).contains("bomb.jpg") && p(9).contains("50000×50000"),
        "{}",
        p(9)
    );
    assert!(p(11).contains("longitude 'abc'"), "{}", p(11));
    assert_eq!(r.problems.len(), 8, "{r}");
    let map = pack::load_pack(&out).unwrap();
    assert_eq!(map.locations.len(), 2);
    assert_eq!(map.location("a").unwrap().country.as_deref(), Some("GB"));
    assert!(matches!(
        map.location("a").unwrap().imagery,
        Imagery::Photo { .. }
    ));
}

/// (layout, CSV file name, CSV text, expected id, expected position).
type Case<'a> = (Layout, &'a str, &'a [u8], &'a str, (f64, f64));

#[test]
fn benchmark_layouts_read_their_published_columns() {
    let t = tempfile::tempdir().unwrap();
    let imgs = t.path().join("imgs");
    // Im2GPS3k: IMG_ID is the file name, AUTHOR second; extra scene columns are ignored.
    write(&imgs.join("100_abc_19@N00.jpg"), &jpeg(&scene(120, 90, 21)));
    // YFCC4k (Img2Loc list): bare numeric ids, images <id>.jpg.
    write(&imgs.join("25935894.jpg"), &jpeg(&scene(120, 90, 22)));
    // OSV-5M test.csv: id,latitude,longitude,..., images <id>.jpg, creator kept.
    write(
        &imgs.join("3859149887465501.jpg"),
        &jpeg(&scene(128, 96, 23)),
    );

    let cases: [Case; 3] = [
        (
            Layout::Im2gps3k,
            "im2gps3k_places365.csv",
            b"IMG_ID,AUTHOR,LAT,LON,S3_Label,S16_Label,S365_Label,Prob_indoor,Prob_natural,Prob_urban\n\
              100_abc_19@N00.jpg,19@N00,37.7749,-122.4194,1,5,100,0.1,0.2,0.7\n\
              101_missing.jpg,1@N00,95.0,0,1,5,100,0.1,0.2,0.7\n",
            "100_abc_19@N00",
            (37.7749, -122.4194),
        ),
        (
            Layout::Yfcc4k,
            "yfcc4k.csv",
            b"IMG_ID,LAT,LON\n25935894,35.6762,139.6503\n",
            "25935894",
            (35.6762, 139.6503),
        ),
        (
            Layout::Osv5m,
            "test.csv",
            b"id,latitude,longitude,thumb_original_url,country,sequence,captured_at,creator_username,creator_id\n\
              3859149887465501,-43.804769384023,-176.61409250805,,NZ,x,0,roadroid,11133622109171\n",
            "3859149887465501",
            (-43.804769384023, -176.61409250805),
        ),
    ];
    for (layout, name, body, id, (lat, lon)) in cases {
        let csv = t.path().join(name);
        write(&csv, body);
        let out = t.path().join(format!("maps/{layout:?}").to_lowercase());
        let r = import_csv(&csv, &imgs, layout, importer(&out)).unwrap();
        assert_eq!(r.imported, vec![id.to_string()], "{layout:?}: {r}");
        let contents = pack::read_pack(&out).unwrap();
        let row = &contents.rows[0];
        assert!(
            (row.location.pos.lat - lat).abs() < 1e-6 && (row.location.pos.lon - lon).abs() < 1e-6
        );
        if layout == Layout::Osv5m {
            let a = row.attribution.as_deref().unwrap();
            assert!(a.contains("roadroid") && a.contains("CC BY-SA"), "{a}");
        }
        if layout == Layout::Im2gps3k {
            assert!(
                problem(&r, "im2gps3k_places365.csv row 3").contains("95"),
                "{r}"
            );
        }
    }
    // A missing column stops the import with the file, the column and the layout.
    let csv = t.path().join("wrong.csv");
    write(&csv, b"IMG_ID,LAT\nx,1\n");
    let e = import_csv(
        &csv,
        &imgs,
        Layout::Yfcc4k,
        importer(&t.path().join("maps/w")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("wrong.csv") && e.contains("'LON'") && e.contains("yfcc4k"),
        "{e}"
    );
}

#[test]
fn old_packs_load_and_grow_new_columns_without_losing_rows() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("old");
    write(
        &d.join(pack::PACK_MANIFEST),
        br#"{"format_version":1,"id":"old","name":"Old","attribution":"me"}"#,
    );
    write(&d.join("p.jpg"), &jpeg(&scene(256, 128, 31)));
    write(
        &d.join(pack::PACK_LOCATIONS),
        b"id,lat,lon,country,place,image\nx,46,7,CH,Somewhere,p.jpg\ny,47,8,,,\n",
    );
    assert_eq!(pack::load_pack(&d).unwrap().locations.len(), 2);
    let mut w = PackWriter::open(&d, PackManifest::new("ignored", "Ignored", None)).unwrap();
    assert_eq!(w.existing_rows(), 2);
    assert_eq!(w.manifest().name, "Old", "an existing manifest is kept");
    assert!(w.contains("x") && w.contains("y"));
    let rel = w.write_image("z", &jpeg(&scene(64, 48, 32))).unwrap();
    w.append(&pack::PackRecord {
        id: "z".into(),
        pos: geoagent::geo::LatLon::new(1.0, 2.0).unwrap(),
        country: None,
        place: None,
        image: rel,
        photo: true,
        exclude: Some("shows the town's name on a shop".into()),
        attribution: Some("© z".into()),
    })
    .unwrap();
    assert!(w
        .append(&pack::PackRecord {
            id: "x".into(),
            pos: geoagent::geo::LatLon::new(1.0, 2.0).unwrap(),
            country: None,
            place: None,
            image: String::new(),
            photo: false,
            exclude: None,
            attribution: None,
        })
        .unwrap_err()
        .to_string()
        .contains("duplicate id 'x'"));
    let c = pack::read_pack(&d).unwrap();
    assert_eq!(c.rows.len(), 3);
    assert_eq!(c.rows[0].location.place.as_deref(), Some("Somewhere"));
    assert_eq!(
        c.rows[2].exclude.as_deref(),
        Some("shows the town's name on a shop")
    );
    // Excluded rows are not played.
    let map = pack::load_pack(&d).unwrap();
    assert_eq!(
        map.locations
            .iter()
            .map(|l| l.id.as_str())
            .collect::<Vec<_>>(),
        ["x", "y"]
    );
}

#[test]
fn exclude_column_values() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("ex");
    write(
        &d.join(pack::PACK_MANIFEST),
        br#"{"format_version":1,"id":"ex","name":"Ex"}"#,
    );
    write(
        &d.join(pack::PACK_LOCATIONS),
        b"id,lat,lon,exclude,kind\na,1,1,,\nb,2,2,no,\nc,3,3,true,\nd,4,4,sign names the city,\ne,5,5,0,\n",
    );
    let c = pack::read_pack(&d).unwrap();
    let ex: Vec<_> = c.rows.iter().map(|r| r.exclude.clone()).collect();
    assert_eq!(
        ex,
        [
            None,
            None,
            Some("flagged by the author".into()),
            Some("sign names the city".into()),
            None
        ]
    );
    write(
        &d.join(pack::PACK_LOCATIONS),
        b"id,lat,lon,image,kind\na,1,1,,photo\nb,2,2,,cube\n",
    );
    let e = pack::load_pack(&d).unwrap_err().to_string();
    assert!(e.contains("row 2: kind 'photo' needs an image"), "{e}");
    assert!(e.contains("row 3: kind 'cube'"), "{e}");
    write(
        &d.join(pack::PACK_LOCATIONS),
        b"id,lat,lon,exclude\na,1,1,yes\n",
    );
    assert!(pack::load_pack(&d)
        .unwrap_err()
        .to_string()
        .contains("every row is excluded"));
}
