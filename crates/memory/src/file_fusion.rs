//! Hybrid fusion per file: the unit a search finds is a file, and one file's chunks can match in
//! different ways — its keywords in one chunk, its meaning in the next. Fusing chunk by chunk
//! counts those as two half-matches that rank below a file matching both ways in one chunk; here
//! each side's score for a file is its best chunk's, the files are fused (with any [`Fusion`]),
//! and each file's chunks follow in the file's place, the best (by chunk-level fusion) first, all
//! carrying the file's fused score. On MED (abstracts of one to three chunks) this lifts the
//! fusions by up to 0.02 nDCG@10 over chunk-by-chunk fusion (`bench/smart/fusion_offline.py
//! --chunks` against file-level runs).

use std::collections::HashMap;

use crate::fusion::Fusion;

/// Where a candidate chunk belongs: its file, or the chunk alone when its file is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Group {
    File(i64),
    Chunk(i64),
}

impl Fusion {
    /// Fuses a keyword and a vector ranking of chunks (each best first, `(chunk id, score)`) per
    /// file, `file_of` giving each chunk's file; best first, each file's chunks together. A chunk
    /// missing from `file_of` stands alone as its own file.
    pub fn fuse_by_file(
        &self,
        keyword: &[(i64, f32)],
        vector: &[(i64, f32)],
        file_of: &HashMap<i64, i64>,
    ) -> Vec<(i64, f32)> {
        let group_of = |chunk: i64| {
            file_of
                .get(&chunk)
                .map_or(Group::Chunk(chunk), |file| Group::File(*file))
        };
        // Number the groups so that the fusions, which rank ids, can rank them.
        let mut groups: Vec<Group> = keyword
            .iter()
            .chain(vector)
            .map(|(chunk, _)| group_of(*chunk))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        let number: HashMap<Group, i64> = groups
            .iter()
            .enumerate()
            .map(|(at, group)| (*group, at as i64))
            .collect();
        let per_group = |ranking: &[(i64, f32)]| -> Vec<(i64, f32)> {
            let mut best: HashMap<i64, f32> = HashMap::new();
            for (chunk, score) in ranking {
                let at = number.get(&group_of(*chunk)).copied().unwrap_or_default();
                // `max` keeps the number when one side of it is NaN; a group with nothing but
                // NaN keeps NaN, which every fusion counts as no score.
                best.entry(at)
                    .and_modify(|kept| *kept = kept.max(*score))
                    .or_insert(*score);
            }
            let mut out: Vec<(i64, f32)> = best.into_iter().collect();
            out.sort_by(|a, b| {
                a.1.is_nan()
                    .cmp(&b.1.is_nan())
                    .then(b.1.total_cmp(&a.1))
                    .then(a.0.cmp(&b.0))
            });
            out
        };
        let files = self.fuse(&per_group(keyword), &per_group(vector));
        let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
        for (chunk, _) in self.fuse(keyword, vector) {
            let at = number.get(&group_of(chunk)).copied().unwrap_or_default();
            members.entry(at).or_default().push(chunk);
        }
        files
            .into_iter()
            .flat_map(|(at, score)| {
                members
                    .remove(&at)
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |chunk| (chunk, score))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(fused: &[(i64, f32)]) -> Vec<i64> {
        fused.iter().map(|(id, _)| *id).collect()
    }

    /// Chunks 1 and 2 are one file (10): 1 holds its keywords, 2 its meaning. Chunk 3 (file 20)
    /// matches moderately both ways; the others are noise.
    type Ranking = Vec<(i64, f32)>;

    fn split_match() -> (Ranking, Ranking, HashMap<i64, i64>) {
        let keyword = vec![(1, 12.0), (3, 9.0), (4, 6.0), (5, 5.5), (6, 5.0), (7, 4.5)];
        let vector = vec![
            (2, 0.80),
            (3, 0.74),
            (6, 0.50),
            (7, 0.48),
            (4, 0.45),
            (5, 0.40),
        ];
        let file_of = HashMap::from([
            (1, 10),
            (2, 10),
            (3, 20),
            (4, 40),
            (5, 50),
            (6, 60),
            (7, 70),
        ]);
        (keyword, vector, file_of)
    }

    #[test]
    fn a_file_matching_both_ways_in_different_chunks_leads() {
        let (keyword, vector, file_of) = split_match();
        for fusion in [
            Fusion::Confidence,
            Fusion::ZScore { vector_weight: 0.5 },
            Fusion::MinMax { vector_weight: 0.5 },
            Fusion::ReciprocalRank { k: 60.0 },
        ] {
            // Chunk by chunk, 3 wins: neither half of file 10 is strong on both sides.
            assert_eq!(fusion.fuse(&keyword, &vector)[0].0, 3, "{fusion:?}");
            let fused = fusion.fuse_by_file(&keyword, &vector, &file_of);
            let order = ids(&fused);
            assert!(
                order[..2] == [1, 2] || order[..2] == [2, 1],
                "{fusion:?}: {fused:?}"
            );
            assert_eq!(order[2], 3, "{fusion:?}: {fused:?}");
            assert_eq!(fused.len(), 7, "{fusion:?}");
            // Every chunk once, scores never rising, a file's chunks sharing its score.
            let mut seen = order.clone();
            seen.sort_unstable();
            assert_eq!(seen, [1, 2, 3, 4, 5, 6, 7]);
            assert!(fused.windows(2).all(|w| w[0].1 >= w[1].1), "{fused:?}");
            assert_eq!(fused[0].1, fused[1].1);
        }
    }

    #[test]
    fn one_chunk_per_file_is_plain_fusion() {
        let keyword = [(1, 9.0), (2, 8.0), (3, 7.0)];
        let vector = [(3, 0.9), (4, 0.8), (1, 0.7)];
        let file_of = HashMap::from([(1, 101), (2, 102), (3, 103), (4, 104)]);
        let fusion = Fusion::Confidence;
        assert_eq!(
            ids(&fusion.fuse_by_file(&keyword, &vector, &file_of)),
            ids(&fusion.fuse(&keyword, &vector))
        );
        // Chunks whose file is unknown stand alone, the same.
        assert_eq!(
            ids(&fusion.fuse_by_file(&keyword, &vector, &HashMap::new())),
            ids(&fusion.fuse(&keyword, &vector))
        );
    }

    #[test]
    fn degenerate_rankings_lose_nothing() {
        let file_of = HashMap::from([(1, 10), (2, 10), (3, 30)]);
        let fusion = Fusion::default();
        assert!(fusion.fuse_by_file(&[], &[], &file_of).is_empty());
        // One side empty: the other's files in its order, a file's chunks together.
        let keyword = [(3, 9.0), (1, 5.0), (2, 4.0)];
        assert_eq!(
            ids(&fusion.fuse_by_file(&keyword, &[], &file_of)),
            [3, 1, 2]
        );
        let vector = [(2, 0.9), (3, 0.5), (1, 0.1)];
        assert_eq!(ids(&fusion.fuse_by_file(&[], &vector, &file_of)), [2, 1, 3]);
        // A single hit.
        assert_eq!(ids(&fusion.fuse_by_file(&[(2, 1.0)], &[], &file_of)), [2]);
        // Equal scores: every chunk once, finite scores.
        let flat = [(1, 2.0), (2, 2.0), (3, 2.0)];
        let fused = fusion.fuse_by_file(&flat, &[(3, 0.5), (1, 0.5)], &file_of);
        assert_eq!(fused.len(), 3);
        assert!(
            fused.iter().all(|(_, score)| score.is_finite()),
            "{fused:?}"
        );
        // NaN: counts as no score, never lifts its file, never comes out.
        let nan = [(1, f32::NAN), (3, 0.4), (2, f32::NAN)];
        let fused = fusion.fuse_by_file(&[(3, 5.0), (1, 1.0)], &nan, &file_of);
        assert_eq!(ids(&fused)[0], 3, "{fused:?}");
        assert_eq!(fused.len(), 3);
        assert!(
            fused.iter().all(|(_, score)| score.is_finite()),
            "{fused:?}"
        );
        let only_nan = fusion.fuse_by_file(&[(1, f32::NAN)], &[(2, f32::NAN)], &file_of);
        assert_eq!(only_nan.len(), 2);
        assert!(only_nan.iter().all(|(_, score)| !score.is_nan()));
    }
}
