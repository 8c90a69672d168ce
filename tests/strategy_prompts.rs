//! The shipped prompts of each strategy, rendered for a fixed round (insta snapshots), so a
//! change to any template shows up in review. The shipped files must also load from disk.

use geoagent::agent::prompt::{PromptSource, PromptVars, TemplateKind, ViewInfo};
use geoagent::agent::strategy::coarse_to_fine::{describe_ranking, parse_ranking};
use geoagent::agent::strategy::rag::describe_neighbours;
use geoagent::geo::LatLon;
use geoagent::index::Neighbour;
use std::path::PathBuf;

fn vars(hints: &[&str]) -> PromptVars {
    PromptVars {
        round: 3,
        rounds: 5,
        map_name: "Synthetic World".into(),
        views: vec![
            ViewInfo {
                heading: 0.0,
                heading_ref: geoagent::environment::HeadingRef::Compass,
                pitch: 0.0,
                fov: 90.0,
            },
            ViewInfo {
                heading: 180.0,
                heading_ref: geoagent::environment::HeadingRef::Compass,
                pitch: 0.0,
                fov: 90.0,
            },
        ],
        hints: hints.iter().map(|h| h.to_string()).collect(),
    }
}

fn show(name: &str, kind: TemplateKind, v: &PromptVars, extra: &[(&str, &str)]) -> String {
    let t = PromptSource::Builtin.template(name, kind).expect("builtin");
    let disk = PromptSource::Dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agent_prompts"))
        .template(name, kind)
        .expect("shipped file loads");
    let r = t.render(v, extra);
    assert_eq!(r, disk.render(v, extra), "{name}: builtin and file differ");
    let all = format!(
        "=== system ===\n{}\n=== user ===\n{}",
        r.system.unwrap_or_default(),
        r.user
    );
    assert!(!all.contains("{{"), "{name}: unfilled placeholder\n{all}");
    all
}

#[test]
fn coarse_to_fine_prompts() {
    insta::assert_snapshot!(
        "coarse",
        show("coarse", TemplateKind::Answer, &vars(&[]), &[])
    );
    let ranking = parse_ranking(
        r#"{"candidates": [{"continent": "Europe", "country": "PT", "probability": 0.6}, {"continent": "Europe", "country": "ES", "probability": 0.3}]}"#,
    );
    let listed = describe_ranking(&ranking);
    insta::assert_snapshot!(
        "fine",
        show(
            "fine",
            TemplateKind::Refine,
            &vars(&[]),
            &[("country", "PT"), ("country_candidates", &listed)]
        )
    );
}

#[test]
fn rag_prompt() {
    let n = |row, lat, lon, similarity| Neighbour {
        row,
        pos: LatLon::new(lat, lon).expect("valid"),
        similarity,
    };
    let near = describe_neighbours(&[n(4, 38.72, -9.14, 0.93), n(9, 41.15, -8.61, 0.91)]);
    let far = describe_neighbours(&[n(2, 64.13, -21.9, 0.12)]);
    insta::assert_snapshot!(
        "rag",
        show(
            "rag",
            TemplateKind::Retrieval,
            &vars(&[]),
            &[("near_references", &near), ("far_references", &far)]
        )
    );
}

#[test]
fn interactive_revise_prompt() {
    insta::assert_snapshot!(
        "revise",
        show(
            "revise",
            TemplateKind::Revise,
            &vars(&["The signs are in Portuguese"]),
            &[("previous_guess", "40.4168, -3.7038 in ES")]
        )
    );
}

#[test]
fn direct_and_ensemble_cot_prompts() {
    // `ensemble` samples the `cot` prompt; `direct` is the one-shot question.
    insta::assert_snapshot!(
        "direct",
        show("direct", TemplateKind::Answer, &vars(&[]), &[])
    );
    insta::assert_snapshot!("cot", show("cot", TemplateKind::Answer, &vars(&[]), &[]));
}

#[test]
fn photos_without_direction_say_so() {
    let mut v = vars(&[]);
    v.views[0].heading = f64::NAN;
    v.views[0].fov = f64::NAN;
    let r = show("direct", TemplateKind::Answer, &v, &[]);
    assert!(
        r.contains("View 1: direction unknown\nView 2: heading 180° (south), fov 90°"),
        "{r}"
    );
}
