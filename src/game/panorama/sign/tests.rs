use super::*;
use crate::game::builtin::{world, SITES};
use crate::geo::gazetteer::PLACES;
use crate::geo::LatLon;

fn loc(id: &str) -> Location {
    world().location(id).cloned().expect("built-in id")
}

/// The script a country's bilingual signs use for their local line.
fn expected_local_script(country: &str) -> Option<&'static str> {
    Some(match country {
        "RU" | "KZ" | "MN" => "cyrillic",
        "GR" => "greek",
        "MA" | "TN" | "EG" | "AE" => "arabic",
        "TH" => "thai",
        "NP" => "devanagari",
        "LK" => "sinhala",
        "JP" => "kanji",
        "KR" => "hangul",
        "IE" => "latin",
        "IN" => "indic",
        _ => return None,
    })
}

fn in_script(text: &str, script: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic() || !c.is_ascii());
    let mut any = false;
    for c in letters {
        let u = u32::from(c);
        let ok = match script {
            "cyrillic" => (0x0400..=0x052F).contains(&u),
            "greek" => (0x0370..=0x03FF).contains(&u),
            "arabic" => (0x0600..=0x06FF).contains(&u),
            "thai" => (0x0E00..=0x0E7F).contains(&u),
            "devanagari" => (0x0900..=0x097F).contains(&u),
            "sinhala" => (0x0D80..=0x0DFF).contains(&u),
            "kanji" => (0x4E00..=0x9FFF).contains(&u),
            "hangul" => (0xAC00..=0xD7AF).contains(&u),
            "latin" => u < 0x0250,
            // Rajasthan signs in Hindi, Karnataka in Kannada, Kerala in Malayalam.
            "indic" => (0x0900..=0x0D7F).contains(&u),
            _ => false,
        };
        if !ok && !c.is_whitespace() {
            return false;
        }
        any = true;
    }
    any
}

#[test]
fn every_sign_name_renders_with_bundled_fonts() {
    for p in PLACES {
        assert!(renders(p.name), "{} cannot be set", p.name);
        if let Some(l) = p.local {
            assert!(renders(l), "{} ({}) cannot be set", l, p.name);
        }
    }
    for digits in ["0123456789", "25km", "1290"] {
        assert!(renders(digits));
    }
    // A character outside every bundled font is refused, never drawn as a box.
    assert!(
        !renders("東京"),
        "the CJK subset holds only the gazetteer's characters"
    );
}

#[test]
fn local_names_are_in_the_script_their_country_signs_in() {
    for p in PLACES {
        match (expected_local_script(p.country), p.local) {
            (Some(script), Some(l)) => {
                assert!(in_script(l, script), "{} ({}) is not {script}", l, p.name)
            }
            (Some(script), None) => {
                panic!("{} ({}) lacks its {script} name", p.name, p.country)
            }
            (None, Some(l)) => panic!(
                "{} has a local name {l} but {} signs are Latin",
                p.name, p.country
            ),
            (None, None) => {}
        }
    }
    assert_eq!(
        script_of("Иркутск"),
        Script::Latin,
        "Cyrillic shares the Latin font"
    );
    assert_eq!(script_of("مراكش"), Script::Arabic);
    assert_eq!(script_of("काठमाडौं"), Script::Devanagari);
    assert_eq!(script_of("속초"), Script::Cjk);
    assert_eq!(script_of("ಹೊಸಪೇಟೆ"), Script::Kannada);
}

#[test]
fn every_site_gets_a_two_destination_sign_with_true_distances() {
    for s in SITES {
        let l = s.location();
        let c = SignContent::for_location(&l).unwrap_or_else(|| panic!("{} has no sign", s.id));
        assert_eq!(c.destinations.len(), MAX_DESTINATIONS, "{}", s.id);
        for d in &c.destinations {
            let place = PLACES
                .iter()
                .find(|p| p.name == d.name)
                .expect("gazetteer place");
            let km = l.pos.distance_km(&place.pos());
            assert!((d.km - km).abs() < 1e-9);
            let shown = match c.unit {
                DistanceUnit::Kilometres => km,
                DistanceUnit::Miles => km / 1.609_344,
            };
            assert!(
                (f64::from(d.distance) - shown).abs() <= 0.5,
                "{}: {d:?}",
                s.id
            );
            assert_eq!(d.local, place.local);
        }
        assert!(
            c.destinations[0].km <= c.destinations[1].km,
            "{}: nearest first",
            s.id
        );
    }
    let moab = SignContent::for_location(&loc("us-moab")).unwrap();
    assert_eq!(moab.unit, DistanceUnit::Miles);
    assert_eq!(moab.texts(), ["Monticello", "50", "Grand Junction", "64"]);
    let ouarzazate = SignContent::for_location(&loc("ma-ouarzazate")).unwrap();
    assert_eq!(
        ouarzazate.texts(),
        ["زاكورة", "Zagora", "125", "مراكش", "Marrakech", "128"]
    );
    let furano = SignContent::for_location(&loc("jp-furano")).unwrap();
    assert_eq!(
        furano.texts(),
        ["芦別", "Ashibetsu", "25km", "旭川", "Asahikawa", "48km"]
    );
    assert_eq!(furano.style, BLUE);
    assert_eq!(
        SignContent::for_location(&loc("de-titisee")).unwrap().style,
        YELLOW
    );
    assert_eq!(
        SignContent::for_location(&loc("au-bright")).unwrap().style,
        GREEN
    );
}

#[test]
fn arrows_follow_the_real_bearing() {
    assert_eq!(Arrow::for_bearing(10.0), Arrow::Ahead);
    assert_eq!(Arrow::for_bearing(350.0), Arrow::Ahead);
    assert_eq!(Arrow::for_bearing(90.0), Arrow::Right);
    assert_eq!(Arrow::for_bearing(170.0), Arrow::Right);
    assert_eq!(Arrow::for_bearing(200.0), Arrow::Left);
    assert_eq!(Arrow::for_bearing(-60.0), Arrow::Left);
    // Bayeux: Caen lies east, Saint-Lô south-west.
    let c = SignContent::for_location(&loc("fr-bayeux")).unwrap();
    assert_eq!(c.destinations[0].name, "Caen");
    assert_eq!(c.destinations[0].arrow, Arrow::Right);
    assert_eq!(c.destinations[1].arrow, Arrow::Left);
}

/// Fairness: the sign (the panorama's only text) never names the answer's own town.
#[test]
fn sign_never_names_the_answer() {
    for s in SITES {
        let l = s.location();
        let town = answer_town(&l);
        assert!(!town.is_empty());
        let c = SignContent::for_location(&l).expect("sign");
        for t in c.texts() {
            let t = t.to_lowercase();
            assert!(
                !t.contains(&town) && !town.contains(&t),
                "{}: sign says {t}",
                s.id
            );
            assert!(
                !t.contains(&format!("{:.2}", s.lat)),
                "{}: coordinates",
                s.id
            );
        }
    }
    // A location standing in a gazetteer town (a map pack's) does not get it on its sign,
    // even a few kilometres out and in any spelling the table knows.
    let mut at_caen = loc("fr-bayeux");
    at_caen.id = "pack-caen".into();
    at_caen.pos = LatLon::new(49.20, -0.30).unwrap();
    at_caen.place = Some("Caen, Calvados, France".into());
    let c = SignContent::for_location(&at_caen).expect("sign");
    assert!(c.destinations.iter().all(|d| d.name != "Caen"), "{c:?}");
    let mut at_killarney = loc("ie-dingle");
    at_killarney.pos = LatLon::new(52.10, -9.60).unwrap();
    at_killarney.place = Some("Cill Airne, Kerry".into());
    let c = SignContent::for_location(&at_killarney).expect("sign");
    assert!(
        c.destinations.iter().all(|d| d.name != "Killarney"),
        "{c:?}"
    );
    // No country: no sign rather than a guess.
    at_caen.country = None;
    assert!(SignContent::for_location(&at_caen).is_none());
}

#[test]
fn face_has_readable_ink_in_the_text_colour() {
    let c = SignContent::for_location(&loc("gr-kalambaka")).unwrap();
    let face = render(&c).expect("renders");
    assert!(
        face.width_m > 1.5 && face.width_m <= MAX_WIDTH_M + 0.01,
        "{}",
        face.width_m
    );
    // Two destinations with a Greek and a Latin line each.
    let want_h = PAD_M * 2.0 + 4.0 * LINE_M + ROW_GAP_M;
    assert!((face.height_m - want_h).abs() < 0.02, "{}", face.height_m);
    let fg = c.style.text.map(f32::from);
    let bg = c.style.background.map(f32::from);
    let near = |a: [f32; 3], b: [f32; 3]| (0..3).all(|k| (a[k] - b[k]).abs() < 8.0);
    let (ink, paper) = face.texels.iter().fold((0, 0), |(i, p), t| {
        (i + usize::from(near(*t, fg)), p + usize::from(near(*t, bg)))
    });
    let n = face.texels.len();
    // Text, arrows and border are a real share of the face, and most of it is background.
    assert!(
        ink * 12 > n && paper * 2 > n,
        "ink {ink}, paper {paper} of {n}"
    );
    // The text column (right of the arrows) carries ink on every line.
    let line_t = (LINE_M * TEXELS_PER_M) as usize;
    let x0 = ((PAD_M * 2.0 + ARROW_M) * TEXELS_PER_M) as usize;
    let pad_t = (PAD_M * TEXELS_PER_M) as usize;
    for line in 0..2 {
        let y0 = pad_t + line * line_t;
        let inked = (y0..y0 + line_t)
            .flat_map(|y| (x0..face.w / 2).map(move |x| (x, y)))
            .filter(|&(x, y)| near(face.texels[y * face.w + x], fg))
            .count();
        assert!(inked > 200, "line {line}: {inked} ink texels");
    }
}

#[test]
fn long_names_shrink_to_fit() {
    let mut c = SignContent::for_location(&loc("ar-san-antonio-de-areco")).unwrap();
    c.destinations[0].name = "Capitán Sarmiento de los Andes del Sur y del Norte";
    let face = render(&c).expect("renders");
    assert!(face.width_m <= MAX_WIDTH_M + 0.01, "{}", face.width_m);
}
