//! Which human rounds were played on the same round as an agent round, so win rates compare
//! like with like.

use super::RoundEval;
use crate::geo::LatLon;
use crate::humans::HumanRound;

/// Two truths this close (km) are the same location: well under any real location spacing,
/// well over the rounding of coordinates to 5–6 decimals in exported results.
pub(crate) const TRUTH_MATCH_KM: f64 = 0.1;

/// Whether a human round was played on the same round as an agent round: same challenge and
/// round number and, where both sides know it, the same location id and a truth within
/// [`TRUTH_MATCH_KM`].
pub(crate) fn same_round(
    challenge_id: &str,
    round: usize,
    location_id: Option<&str>,
    truth: Option<LatLon>,
    human: &HumanRound,
) -> bool {
    if human.challenge_id != challenge_id || human.round != round {
        return false;
    }
    if let (Some(a), Some(b)) = (location_id, human.location_id.as_deref()) {
        if a != b {
            return false;
        }
    }
    if let (Some(a), Some(b)) = (truth, human.truth) {
        if a.distance_km(&b) > TRUTH_MATCH_KM {
            return false;
        }
    }
    true
}

/// [`same_round`] for an evaluated agent round.
pub fn matches(agent: &RoundEval, human: &HumanRound) -> bool {
    same_round(
        &agent.challenge_id,
        agent.round,
        agent.location_id.as_deref(),
        Some(agent.truth),
        human,
    )
}

/// Keeps each person's first game of each challenge. Someone who plays a challenge again has seen
/// its places, so only the first game is a fair baseline. Rounds arrive in the order they were
/// recorded; a repeat is a later row for the same player, challenge and round. Returns the rounds
/// kept and one note per (player, challenge) that had repeats, for the report.
pub(crate) fn first_games(humans: Vec<HumanRound>) -> (Vec<HumanRound>, Vec<String>) {
    use std::collections::{BTreeMap, HashSet};
    let mut seen: HashSet<(String, String, usize)> = HashSet::new();
    let mut repeats: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut kept = Vec::with_capacity(humans.len());
    for h in humans {
        let key = (h.player.trim().to_string(), h.challenge_id.clone(), h.round);
        if seen.insert(key) {
            kept.push(h);
        } else {
            *repeats
                .entry((h.player.trim().to_string(), h.challenge_id.clone()))
                .or_default() += 1;
        }
    }
    let notes = repeats
        .into_iter()
        .map(|((player, challenge), n)| {
            format!(
                "{player} played challenge {challenge} again: {n} repeated round(s) left out (only the first game counts)"
            )
        })
        .collect();
    (kept, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(challenge: &str, round: usize) -> HumanRound {
        HumanRound {
            source: "t".into(),
            challenge_id: challenge.into(),
            round,
            location_id: None,
            truth: None,
            player: "ann".into(),
            points: 100,
            distance_km: None,
            time_s: None,
            guess: None,
        }
    }

    #[test]
    fn matching_rules() {
        let p = LatLon::new(10.0, 10.0).unwrap();
        let near = LatLon::new(10.0005, 10.0).unwrap(); // ~56 m
        let far = LatLon::new(10.01, 10.0).unwrap(); // ~1.1 km
        let mut h = human("c", 2);
        assert!(same_round("c", 2, None, None, &h));
        assert!(!same_round("c", 3, None, None, &h));
        assert!(!same_round("d", 2, None, None, &h));
        h.truth = Some(near);
        assert!(same_round("c", 2, None, Some(p), &h));
        h.truth = Some(far);
        assert!(!same_round("c", 2, None, Some(p), &h));
        assert!(same_round("c", 2, None, None, &h));
        h.location_id = Some("a".into());
        assert!(!same_round("c", 2, Some("b"), None, &h));
        assert!(same_round("c", 2, Some("a"), None, &h));
    }

    #[test]
    fn only_a_players_first_game_of_a_challenge_counts() {
        let mut again = human("c", 1);
        again.points = 5000;
        let mut other = human("c", 1);
        other.player = "bob".into();
        let rounds = vec![human("c", 1), human("c", 2), again, human("d", 1), other];
        let (kept, notes) = first_games(rounds);
        assert_eq!(kept.len(), 4);
        assert!(
            kept.iter().all(|h| h.points == 100),
            "the replayed 5000 is dropped"
        );
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("ann played challenge c again: 1 repeated"),
            "{}",
            notes[0]
        );
    }
}
