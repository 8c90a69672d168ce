//! `geoagent report` from the command line, with human results on the same challenge: the win
//! rates `stats` computes appear in the report.

use std::path::Path;

const FIXTURE_ID: &str = "20261123T115949Z-40e71c";

#[test]
fn report_command_writes_one_file_with_win_rates_against_people() {
    let tmp = tempfile::tempdir().unwrap();
    let humans = tmp.path().join("humans.csv");
    // The fixture scored 1170 and 1940 on world-7-2: ann wins both rounds, bob loses both.
    std::fs::write(
        &humans,
        "challenge,round,player,points\nworld-7-2,1,ann,3000\nworld-7-2,2,ann,2500\nworld-7-2,1,bob,100\nworld-7-2,2,bob,200\n",
    )
    .unwrap();
    let out = tmp.path().join("r.html");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(tmp.path())
        .args(["report", FIXTURE_ID, "--dir"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replays"))
        .arg("-o")
        .arg(&out)
        .arg("--humans")
        .arg(&humans)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("Report of 1 session(s), 2 round(s)"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("id=\"versus\""));
    // Pooled: 2 wins, 2 losses of 4 pairs = 50%; per game: 1 of 2.
    assert!(
        html.contains("all players (pooled)</td><td>4</td><td>50.0%"),
        "pooled row"
    );
    assert!(html.contains("2W 0T 2L"));
    assert!(!Path::new(&format!("{}.tmp", out.display())).exists());
}

#[test]
fn report_of_an_empty_folder_says_what_to_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(tmp.path())
        .args(["report", "--dir", "."])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nothing to report") && err.contains("--dir"),
        "{err}"
    );
}
