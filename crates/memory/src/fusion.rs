//! Merging the keyword and vector rankings into one: standardised scores weighted per query by
//! how far each side's best results are corroborated by the other (the default), or by each
//! side's confidence, reciprocal-rank fusion, or fixed-weight sums of standardised or min-max
//! normalised scores; plus the optional recency weighting of daily logs. Hybrid search applies
//! the chosen fusion per file (`crate::file_fusion`).
//!
//! The default standardises each ranking's scores (z-scores) over the candidates of both, then
//! weighs each side 1 + the number of its ten best that the other side found too. Nothing is
//! fitted: when the vectors' best results also match keywords while the keywords' best are
//! nowhere among the vectors' candidates, the vectors count more, and the other way round; with
//! no corroboration either way both count the same. A lone keyword match (a CJK word no English
//! model understands) still stands out furthest and leads. Rank fusion ignores how far ahead a
//! strong match is; fixed equal weights stayed just under vectors alone on MED, where the vectors
//! are far ahead of the keywords.
//!
//! Chosen among eleven un-fitted fusions (`bench/smart/fusion_table.py`, cached runs of each
//! collection) by the rule "hybrid ≥ both single modes on every collection, then the best mean",
//! decided on Cranfield, CISI and MED, then confirmed on two held-out collections, CACM and ADI,
//! where it also beats both modes. The top candidates are within 0.001 of each other in mean and
//! every per-collection difference between them is within what the queries can tell apart;
//! figures, paired statistics and the methods that did not make it are in `BENCHMARKS.md`.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

/// How many of each side's best candidates [`Fusion::Agreement`] looks for in the other side.
pub const AGREEMENT_TOP: usize = 10;

/// Reciprocal-rank-fusion constant (the usual 60).
pub const RRF_K: f32 = 60.0;

/// How hybrid search merges its two rankings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Fusion {
    /// Each ranking adds `1 / (k + rank)`; scores themselves are ignored.
    ReciprocalRank {
        /// The damping constant; 60 is the usual choice.
        k: f32,
    },
    /// Scores of each ranking scaled to 0..1 (min-max), then `vector_weight · vector +
    /// (1 − vector_weight) · keyword`; an item missing from a ranking gets 0 there.
    MinMax {
        /// Weight of the vector score, 0..1.
        vector_weight: f32,
    },
    /// Scores of each ranking standardised (minus their mean, over their standard deviation),
    /// over the candidates of both, then `vector_weight · vector + (1 − vector_weight) · keyword`.
    /// An item missing from the keyword ranking matched no term, so it counts as a keyword score
    /// of 0; one missing from the vector ranking gets that ranking's lowest score.
    ZScore {
        /// Weight of the vector score, 0..1.
        vector_weight: f32,
    },
    /// Scores standardised as for [`Fusion::ZScore`], then weighted per query by how sure each
    /// side is: its confidence is the z-score of its best candidate (how many standard deviations
    /// it stands above the candidates), and the vector weight is `vector confidence / (keyword
    /// confidence + vector confidence)`. A side whose best match stands out clearly gets more say;
    /// one that ranks everything alike gets little. Nothing is fitted.
    Confidence,
    /// Scores standardised as for [`Fusion::ZScore`], then weighted per query by corroboration:
    /// each side weighs 1 + the number of its best [`AGREEMENT_TOP`] candidates that the other
    /// side found too (anywhere among its candidates), so the side whose best results the other
    /// confirms counts more, and a side whose top the other never found counts less. With no
    /// corroboration either way both weigh the same. Nothing is fitted. The default.
    #[default]
    Agreement,
}

impl Fusion {
    /// Fuses a keyword and a vector ranking (each best first, `(chunk id, score)`), best first.
    pub fn fuse(&self, keyword: &[(i64, f32)], vector: &[(i64, f32)]) -> Vec<(i64, f32)> {
        match *self {
            Self::ReciprocalRank { k } => reciprocal_rank_fusion_with(&[keyword, vector], k),
            Self::MinMax { vector_weight } => min_max_fusion(keyword, vector, vector_weight),
            Self::ZScore { vector_weight } => z_score_fusion(keyword, vector, vector_weight),
            Self::Confidence => confidence_fusion(keyword, vector),
            Self::Agreement => agreement_fusion(keyword, vector),
        }
    }
}

/// Reciprocal-rank fusion with k = 60: each ranking adds `1 / (60 + rank)` for the items it holds.
pub fn reciprocal_rank_fusion(rankings: &[&[(i64, f32)]]) -> Vec<(i64, f32)> {
    reciprocal_rank_fusion_with(rankings, RRF_K)
}

/// Reciprocal-rank fusion with damping constant `k`.
pub fn reciprocal_rank_fusion_with(rankings: &[&[(i64, f32)]], k: f32) -> Vec<(i64, f32)> {
    let mut fused: HashMap<i64, f32> = HashMap::new();
    for ranking in rankings {
        for (rank, (id, _)) in ranking.iter().enumerate() {
            *fused.entry(*id).or_default() += 1.0 / (k.max(0.0) + rank as f32 + 1.0);
        }
    }
    sorted(fused)
}

/// Weighted fusion of min-max normalised scores (see [`Fusion::MinMax`]).
pub fn min_max_fusion(
    keyword: &[(i64, f32)],
    vector: &[(i64, f32)],
    vector_weight: f32,
) -> Vec<(i64, f32)> {
    let vector_weight = if vector_weight.is_finite() {
        vector_weight.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let mut fused: HashMap<i64, f32> = HashMap::new();
    for (ranking, weight) in [(keyword, 1.0 - vector_weight), (vector, vector_weight)] {
        let (low, high) = ranking
            .iter()
            .map(|(_, score)| *score)
            .filter(|score| score.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(low, high), score| {
                (low.min(score), high.max(score))
            });
        for (id, score) in ranking {
            // A ranking whose scores are all equal puts every item at the top; a score that is
            // not a number counts as the bottom.
            let normalised = if !score.is_finite() {
                0.0
            } else if high > low {
                (score - low) / (high - low)
            } else {
                1.0
            };
            *fused.entry(*id).or_default() += weight * normalised;
        }
    }
    sorted(fused)
}

/// Weighted fusion of standardised scores (see [`Fusion::ZScore`]). Both rankings are
/// standardised over the same candidates, the union of the two, so a lone keyword match among
/// many vector candidates stands out as far as it should.
pub fn z_score_fusion(
    keyword: &[(i64, f32)],
    vector: &[(i64, f32)],
    vector_weight: f32,
) -> Vec<(i64, f32)> {
    let vector_weight = if vector_weight.is_finite() {
        vector_weight.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let sides = Standardised::new(keyword, vector);
    sides.combine(vector_weight)
}

/// Standardised scores weighted per query by each side's confidence (see
/// [`Fusion::Confidence`]).
pub fn confidence_fusion(keyword: &[(i64, f32)], vector: &[(i64, f32)]) -> Vec<(i64, f32)> {
    let sides = Standardised::new(keyword, vector);
    // A side's confidence: how many standard deviations its best candidate stands above the
    // candidates' mean (never below 0). A side with nothing to say (empty, or all scores equal)
    // has 0 and leaves the order to the other.
    let confidence = |z: &[f32]| z.iter().copied().fold(0.0_f32, f32::max);
    let (keyword_confidence, vector_confidence) =
        (confidence(&sides.keyword), confidence(&sides.vector));
    let total = keyword_confidence + vector_confidence;
    let vector_weight = if total > f32::EPSILON {
        vector_confidence / total
    } else {
        0.5
    };
    sides.combine(vector_weight)
}

/// Standardised scores weighted per query by how far each side's best results are corroborated
/// by the other (see [`Fusion::Agreement`]). Each ranking is best first.
pub fn agreement_fusion(keyword: &[(i64, f32)], vector: &[(i64, f32)]) -> Vec<(i64, f32)> {
    let sides = Standardised::new(keyword, vector);
    let found =
        |ranking: &[(i64, f32)]| -> HashSet<i64> { ranking.iter().map(|(id, _)| *id).collect() };
    let (in_keyword, in_vector) = (found(keyword), found(vector));
    let corroborated = |ranking: &[(i64, f32)], other: &HashSet<i64>| {
        1.0 + ranking
            .iter()
            .take(AGREEMENT_TOP)
            .filter(|(id, _)| other.contains(id))
            .count() as f32
    };
    let keyword_weight = corroborated(keyword, &in_vector);
    let vector_weight = corroborated(vector, &in_keyword);
    sides.combine(vector_weight / (keyword_weight + vector_weight))
}

/// Both rankings' scores standardised over the union of their candidates (see
/// [`Fusion::ZScore`]); a score that is not a finite number counts as missing.
struct Standardised {
    ids: Vec<i64>,
    keyword: Vec<f32>,
    vector: Vec<f32>,
}

impl Standardised {
    fn new(keyword: &[(i64, f32)], vector: &[(i64, f32)]) -> Self {
        let mut ids: Vec<i64> = keyword.iter().chain(vector).map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let lowest_vector = vector
            .iter()
            .map(|(_, score)| *score)
            .filter(|score| score.is_finite())
            .fold(f32::INFINITY, f32::min);
        // Raw scores over the candidates: no keyword match is 0; below the vector cut-off is its
        // lowest score.
        let keyword_z = standardise(&ids, keyword, 0.0);
        let vector_z = standardise(&ids, vector, lowest_vector);
        Self {
            ids,
            keyword: keyword_z,
            vector: vector_z,
        }
    }

    /// `vector_weight · vector + (1 − vector_weight) · keyword`, best first.
    fn combine(&self, vector_weight: f32) -> Vec<(i64, f32)> {
        let fused: HashMap<i64, f32> = self
            .ids
            .iter()
            .enumerate()
            .map(|(at, id)| {
                (
                    *id,
                    (1.0 - vector_weight) * self.keyword[at] + vector_weight * self.vector[at],
                )
            })
            .collect();
        sorted(fused)
    }
}

/// `ranking`'s scores for `ids` (`absent` where it has none), as z-scores.
fn standardise(ids: &[i64], ranking: &[(i64, f32)], absent: f32) -> Vec<f32> {
    let held: HashMap<i64, f32> = ranking
        .iter()
        .copied()
        .filter(|(_, score)| score.is_finite())
        .collect();
    let absent = if absent.is_finite() { absent } else { 0.0 };
    let raw: Vec<f32> = ids
        .iter()
        .map(|id| held.get(id).copied().unwrap_or(absent))
        .collect();
    let count = raw.len().max(1) as f32;
    let mean = raw.iter().sum::<f32>() / count;
    let spread = (raw.iter().map(|score| (score - mean).powi(2)).sum::<f32>() / count).sqrt();
    let spread = if spread > f32::EPSILON { spread } else { 1.0 };
    raw.iter().map(|score| (score - mean) / spread).collect()
}

fn sorted(fused: HashMap<i64, f32>) -> Vec<(i64, f32)> {
    // Nothing that is not a number may sort first (`total_cmp` puts NaN above infinity).
    let mut out: Vec<(i64, f32)> = fused
        .into_iter()
        .map(|(id, score)| (id, if score.is_nan() { f32::MIN } else { score }))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// The factor a dated daily log (`memory/YYYY-MM-DD.md`) of this age gets: 1 today, ½ after
/// `half_life_days`; every other file gets 1.
pub(crate) fn recency_factor(path: &str, today: jiff::civil::Date, half_life_days: f32) -> f32 {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some(date) = name
        .strip_suffix(".md")
        .and_then(|stem| stem.parse::<jiff::civil::Date>().ok())
    else {
        return 1.0;
    };
    if !path.contains("memory/") {
        return 1.0;
    }
    let age_days = (today - date).get_days().max(0) as f32;
    (-std::f32::consts::LN_2 * age_days / half_life_days.max(0.1)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        let keyword = [(1, 9.0), (2, 8.0), (3, 7.0)];
        let vector = [(3, 0.9), (4, 0.8), (1, 0.7)];
        let fused = reciprocal_rank_fusion(&[&keyword, &vector]);
        assert_eq!(fused[0].0, 1);
        assert_eq!(fused[1].0, 3);
        assert_eq!(
            Fusion::ReciprocalRank { k: RRF_K }.fuse(&keyword, &vector),
            fused
        );
    }

    #[test]
    fn z_score_fusion_keeps_how_far_ahead_a_match_is() {
        // Keyword: 1 far ahead of the rest; vector: 2 barely ahead of 1. Rank fusion ties 1 and
        // 2; standardised scores put the clear keyword winner first.
        let keyword = [(1, 30.0), (2, 5.0), (3, 4.0), (4, 3.0)];
        let vector = [(2, 0.80), (1, 0.79), (3, 0.2), (4, 0.1)];
        let fused = Fusion::ZScore { vector_weight: 0.5 }.fuse(&keyword, &vector);
        assert_eq!(fused[0].0, 1, "{fused:?}");
        assert_eq!(fused.len(), 4);
        // One side empty: the other's order stands; equal scores do not divide by zero.
        let alone = z_score_fusion(&keyword, &[], 0.5);
        let ids: Vec<i64> = alone.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        // A lone keyword match stays ahead of what only the vectors found.
        let lone = z_score_fusion(&[(9, 3.0)], &[(5, 0.9), (6, 0.3), (9, 0.2), (7, 0.1)], 0.5);
        assert_eq!(lone[0].0, 9, "{lone:?}");
        let flat = z_score_fusion(&[(1, 2.0), (2, 2.0)], &[(3, 0.5)], 0.5);
        assert!(flat.iter().all(|(_, score)| score.is_finite()));
        assert_eq!(z_score_fusion(&keyword, &vector, f32::NAN).len(), 4);
    }

    fn ids(fused: &[(i64, f32)]) -> Vec<i64> {
        fused.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn agreement_is_the_default() {
        assert_eq!(Fusion::default(), Fusion::Agreement);
    }

    #[test]
    fn agreement_trusts_the_side_the_other_corroborates() {
        // The vectors' top three (1, 2, 3) all turn up among the keyword candidates (ranked
        // 11th to 13th there); none of the keywords' top ten (7 to 16) is among the vector
        // candidates. Equal weights put keyword-only 7 first; agreement weighs the vectors 4 : 1
        // and puts 1 first.
        let keyword: Vec<(i64, f32)> = std::iter::once((7, 30.0))
            .chain((8..17).map(|i| (i, 20.0 - i as f32)))
            .chain([(1, 3.0), (2, 2.5), (3, 2.0)])
            .collect();
        let vector = [
            (1, 0.80),
            (2, 0.78),
            (3, 0.76),
            (4, 0.40),
            (5, 0.38),
            (6, 0.36),
        ];
        assert_eq!(z_score_fusion(&keyword, &vector, 0.5)[0].0, 7);
        let fused = Fusion::Agreement.fuse(&keyword, &vector);
        assert_eq!(ids(&fused)[..3], [1, 2, 3], "{fused:?}");
        assert_eq!(fused.len(), 16);
        // No overlap at all: equal weights, the same order as the z-score default of old.
        let apart = agreement_fusion(&[(1, 3.0), (2, 1.0)], &[(3, 0.9), (4, 0.1)]);
        assert_eq!(
            ids(&apart),
            ids(&z_score_fusion(
                &[(1, 3.0), (2, 1.0)],
                &[(3, 0.9), (4, 0.1)],
                0.5
            ))
        );
    }

    #[test]
    fn agreement_survives_degenerate_rankings() {
        let keyword = [(1, 9.0), (2, 5.0), (3, 4.0)];
        let vector = [(3, 0.9), (4, 0.5), (1, 0.1)];
        assert_eq!(ids(&agreement_fusion(&keyword, &[])), [1, 2, 3]);
        assert_eq!(ids(&agreement_fusion(&[], &vector)), [3, 4, 1]);
        assert!(agreement_fusion(&[], &[]).is_empty());
        assert_eq!(ids(&agreement_fusion(&[(5, 2.0)], &[])), [5]);
        assert_eq!(ids(&agreement_fusion(&[], &[(6, 0.3)])), [6]);
        let flat = [(1, 2.0), (2, 2.0), (3, 2.0), (4, 2.0)];
        assert_eq!(ids(&agreement_fusion(&flat, &vector)), [3, 4, 1, 2]);
        let both = agreement_fusion(&flat, &[(1, 0.5), (2, 0.5), (3, 0.5), (4, 0.5)]);
        assert_eq!(ids(&both), [1, 2, 3, 4]);
        assert!(both.iter().all(|(_, score)| score.is_finite()));
        // A lone keyword match among a hundred vector candidates still leads.
        let many: Vec<(i64, f32)> = (0..100).map(|i| (i, 0.9 - i as f32 * 0.005)).collect();
        assert_eq!(agreement_fusion(&[(97, 3.0)], &many)[0].0, 97);
    }

    #[test]
    fn confidence_follows_the_side_whose_best_match_stands_out() {
        // The vectors single out 1; the keyword scores are flat (2 ahead of 3, 4, 5, 6 by a hair)
        // and 1 matched only weakly. Equal weights let the flat side's noise bury 1 (3 first,
        // 1 fourth); per-query confidence trusts the side that is sure.
        let keyword = [(2, 10.0), (3, 9.8), (4, 9.6), (5, 9.5), (6, 9.4), (1, 4.0)];
        let vector = [
            (1, 0.90),
            (3, 0.52),
            (4, 0.50),
            (5, 0.49),
            (2, 0.40),
            (6, 0.38),
        ];
        let equal = z_score_fusion(&keyword, &vector, 0.5);
        assert_ne!(equal[0].0, 1, "{equal:?}");
        let confident = Fusion::Confidence.fuse(&keyword, &vector);
        assert_eq!(confident[0].0, 1, "{confident:?}");
        assert_eq!(confident.len(), 6);
        // And the mirror: a keyword match far ahead of the others (rank fusion would bury it
        // under the vectors' evenly spread order) leads.
        let keyword: Vec<(i64, f32)> = std::iter::once((0, 30.0))
            .chain((1..10).map(|i| (i, 3.0 - i as f32 * 0.1)))
            .collect();
        let vector: Vec<(i64, f32)> = (1..10)
            .map(|i| (i, 0.9 - i as f32 * 0.02))
            .chain(std::iter::once((0, 0.70)))
            .collect();
        assert_ne!(reciprocal_rank_fusion(&[&keyword, &vector])[0].0, 0);
        assert_eq!(confidence_fusion(&keyword, &vector)[0].0, 0);
    }

    #[test]
    fn confidence_keeps_a_lone_keyword_match_first() {
        // A CJK word no English model understands: one keyword match among a hundred vector
        // candidates it ranks near the bottom.
        let vector: Vec<(i64, f32)> = (0..100).map(|i| (i, 0.9 - i as f32 * 0.005)).collect();
        let fused = confidence_fusion(&[(97, 3.0)], &vector);
        assert_eq!(fused[0].0, 97, "{:?}", &fused[..3]);
        assert_eq!(fused.len(), 100);
    }

    #[test]
    fn confidence_survives_degenerate_rankings() {
        let keyword = [(1, 9.0), (2, 5.0), (3, 4.0)];
        let vector = [(3, 0.9), (4, 0.5), (1, 0.1)];
        // One side empty: the other's order stands, whichever side it is.
        assert_eq!(ids(&confidence_fusion(&keyword, &[])), [1, 2, 3]);
        assert_eq!(ids(&confidence_fusion(&[], &vector)), [3, 4, 1]);
        assert!(confidence_fusion(&[], &[]).is_empty());
        // A single hit, on either side.
        assert_eq!(ids(&confidence_fusion(&[(5, 2.0)], &[])), [5]);
        assert_eq!(ids(&confidence_fusion(&[], &[(6, 0.3)])), [6]);
        // All scores equal on one side: it has nothing to say, the other decides.
        let flat = [(1, 2.0), (2, 2.0), (3, 2.0), (4, 2.0)];
        assert_eq!(ids(&confidence_fusion(&flat, &vector)), [3, 4, 1, 2]);
        // Both flat: every score finite, ties broken by id, nothing lost.
        let both = confidence_fusion(&flat, &[(1, 0.5), (2, 0.5), (3, 0.5), (4, 0.5)]);
        assert_eq!(ids(&both), [1, 2, 3, 4]);
        assert!(both.iter().all(|(_, score)| score.is_finite()));
    }

    #[test]
    fn scores_that_are_not_numbers_never_rise_to_the_top() {
        let keyword = [(1, f32::NAN), (2, 5.0), (3, 4.0)];
        let vector = [(1, f32::NAN), (3, 0.9), (2, 0.5), (4, f32::INFINITY)];
        for fusion in [
            Fusion::Agreement,
            Fusion::Confidence,
            Fusion::ZScore { vector_weight: 0.5 },
            Fusion::MinMax { vector_weight: 0.5 },
        ] {
            let fused = fusion.fuse(&keyword, &vector);
            assert_eq!(fused.len(), 4, "{fusion:?}");
            assert!(
                fused.iter().all(|(_, score)| score.is_finite()),
                "{fusion:?}: {fused:?}"
            );
            assert!(![1, 4].contains(&fused[0].0), "{fusion:?}: {fused:?}");
        }
        // Nothing but NaN: still every candidate, in id order, no NaN out.
        let fused = confidence_fusion(&[(2, f32::NAN)], &[(1, f32::NAN)]);
        assert_eq!(ids(&fused), [1, 2]);
        assert!(fused.iter().all(|(_, score)| !score.is_nan()));
    }

    #[test]
    fn min_max_fusion_weights_normalised_scores() {
        let keyword = [(1, 20.0), (2, 10.0), (3, 0.0)];
        let vector = [(3, 0.9), (2, 0.5), (4, 0.1)];
        let fused = min_max_fusion(&keyword, &vector, 0.7);
        // 3: 0.7·1 + 0.3·0 = 0.7; 2: 0.7·0.5 + 0.3·0.5 = 0.5; 1: 0.3; 4: 0.
        let ids: Vec<i64> = fused.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [3, 2, 1, 4]);
        assert!((fused[0].1 - 0.7).abs() < 1e-6 && (fused[1].1 - 0.5).abs() < 1e-6);
        assert_eq!(min_max_fusion(&keyword, &[], 1.0)[0].1, 0.0);
        assert_eq!(min_max_fusion(&[(7, 3.0)], &[], 0.0), [(7, 1.0)]);
        assert_eq!(min_max_fusion(&keyword, &vector, f32::NAN).len(), 4);
    }

    #[test]
    fn recency_halves_old_daily_logs_only() {
        let today: jiff::civil::Date = "2026-11-24".parse().unwrap();
        assert!((recency_factor("memory/2026-10-25.md", today, 30.0) - 0.5).abs() < 0.01);
        assert_eq!(recency_factor("MEMORY.md", today, 30.0), 1.0);
        assert_eq!(recency_factor("knowledge/2026-01-01.md", today, 30.0), 1.0);
    }
}
