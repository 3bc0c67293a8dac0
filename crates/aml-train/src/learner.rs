//! Leaf-wise (best-first) growth of one regression tree on binned data.
//!
//! The rows of each leaf occupy a contiguous, ascending segment of one index
//! array (LightGBM's `DataPartition`); splitting a leaf stably partitions its
//! segment. Every round the leaf with the largest split gain is split, until
//! `num_leaves` is reached or no leaf has a positive-gain split. Only the
//! smaller child's histogram is built from rows; the larger one is the
//! parent's minus the smaller (the parent buffer is reused in place).
//!
//! The tree is recorded in LightGBM's layout: splitting leaf `l` creates
//! internal node `num_leaves - 1`, the left child keeps leaf id `l` and the
//! right child gets the next leaf id.

use aml_models::{MissingType, Tree};
use rayon::prelude::*;

use crate::binning::BinnedData;
use crate::histogram::{self, BinStats, HistogramLayout, LeafRows};
use crate::split::{
    best_split_for_feature, leaf_output, LeafSums, SplitCandidate, SplitConstraints,
};

/// A split in bin space, to route binned rows through a learned tree.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BinnedSplit {
    feature: usize,
    threshold_bin: usize,
    default_left: bool,
    nan_bin: Option<usize>,
}

/// A freshly grown tree plus what the booster needs to update scores.
#[derive(Debug, Clone)]
pub struct LearnedTree {
    /// The tree with unshrunk outputs (`shrinkage` 1.0).
    pub tree: Tree,
    splits: Vec<BinnedSplit>,
    leaf_begin: Vec<usize>,
    leaf_count: Vec<usize>,
}

impl LearnedTree {
    /// Rows (indices into the training data) of leaf `leaf`, ascending.
    pub fn leaf_rows<'b>(&self, learner: &'b TreeLearner<'_>, leaf: usize) -> &'b [u32] {
        &learner.indices[self.leaf_begin[leaf]..self.leaf_begin[leaf] + self.leaf_count[leaf]]
    }

    /// Leaf reached by training row `row` using its bins (same route as the raw features).
    pub fn leaf_of_binned_row(&self, data: &BinnedData, row: usize) -> usize {
        if self.splits.is_empty() {
            return 0;
        }
        let mut node = 0usize;
        loop {
            let s = &self.splits[node];
            let bin = data.columns[s.feature].get(row);
            let left = if Some(bin) == s.nan_bin {
                s.default_left
            } else {
                bin <= s.threshold_bin
            };
            let child = if left {
                self.tree.left_child[node]
            } else {
                self.tree.right_child[node]
            };
            if child < 0 {
                return (!child) as usize;
            }
            node = child as usize;
        }
    }
}

/// Growth limits of a tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrowthLimits {
    /// Maximum number of leaves.
    pub num_leaves: usize,
    /// Maximum depth; `<= 0` = unlimited.
    pub max_depth: i32,
}

/// Per-leaf state during growth.
struct LeafState {
    sums: LeafSums,
    depth: i32,
    hist: Option<Vec<BinStats>>,
    best: Option<SplitCandidate>,
    /// (internal node, is left child) that points at this leaf; `None` for the root.
    parent: Option<(usize, bool)>,
}

/// Reusable buffers for growing trees on one binned dataset.
pub struct TreeLearner<'a> {
    data: &'a BinnedData,
    layout: HistogramLayout,
    constraints: SplitConstraints,
    limits: GrowthLimits,
    indices: Vec<u32>,
    scratch: Vec<u32>,
    gathered: Vec<[f32; 2]>,
    spare: Vec<Vec<BinStats>>,
}

impl<'a> TreeLearner<'a> {
    /// A learner for `data`.
    pub fn new(data: &'a BinnedData, constraints: SplitConstraints, limits: GrowthLimits) -> Self {
        TreeLearner {
            data,
            layout: HistogramLayout::new(data),
            constraints,
            limits,
            indices: Vec::with_capacity(data.n_rows),
            scratch: Vec::new(),
            gathered: Vec::new(),
            spare: Vec::new(),
        }
    }

    fn take_buffer(&mut self) -> Vec<BinStats> {
        self.spare.pop().unwrap_or_else(|| self.layout.new_buffer())
    }

    fn splittable(&self, s: &LeafState, leaves_after: usize) -> bool {
        leaves_after < self.limits.num_leaves
            && s.sums.count >= 2 * self.constraints.min_data_in_leaf.max(1)
            && (self.limits.max_depth <= 0 || s.depth < self.limits.max_depth)
    }

    /// Builds the histogram of the rows in `indices[begin..begin+count]`.
    fn build_histogram(
        &mut self,
        begin: usize,
        count: usize,
        gh: &[[f32; 2]],
        used: &[bool],
        all_rows: bool,
    ) -> Vec<BinStats> {
        let mut buf = self.take_buffer();
        if all_rows {
            histogram::build(
                &self.layout,
                self.data,
                used,
                LeafRows::All { gh },
                &mut buf,
            );
        } else {
            let rows = &self.indices[begin..begin + count];
            self.gathered.clear();
            self.gathered.extend(rows.iter().map(|&r| gh[r as usize]));
            histogram::build(
                &self.layout,
                self.data,
                used,
                LeafRows::Subset {
                    rows,
                    gh: &self.gathered,
                },
                &mut buf,
            );
        }
        buf
    }

    fn find_best(
        &self,
        hist: &[BinStats],
        sums: LeafSums,
        used: &[bool],
    ) -> Option<SplitCandidate> {
        let data = self.data;
        let c = &self.constraints;
        (0..data.n_features())
            .into_par_iter()
            .filter(|&f| used[f] && !data.mappers[f].is_trivial())
            .map(|f| {
                best_split_for_feature(f, self.layout.feature(hist, f), &data.mappers[f], sums, c)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .fold(None, |best: Option<SplitCandidate>, s| match best {
                Some(b) if !s.better_than(&b) => Some(b),
                _ => Some(s),
            })
    }

    /// Grows one tree on the gradients `gh` (one pair per training row) using
    /// the rows in `bag` (ascending; `None` = all rows) and the features flagged in `used`.
    pub fn grow(&mut self, gh: &[[f32; 2]], bag: Option<&[u32]>, used: &[bool]) -> LearnedTree {
        self.indices.clear();
        match bag {
            Some(rows) => self.indices.extend_from_slice(rows),
            None => self.indices.extend(0..self.data.n_rows as u32),
        }
        let n = self.indices.len();
        let mut root = LeafSums::default();
        for &r in &self.indices {
            let g = gh[r as usize];
            root.grad += f64::from(g[0]);
            root.hess += f64::from(g[1]);
        }
        root.count = n as u64;
        let mut tree = Tree::constant(0.0, n as u64);
        let mut splits = Vec::new();
        let mut leaf_begin = vec![0usize];
        let mut leaf_count = vec![n];
        let mut leaves = vec![LeafState {
            sums: root,
            depth: 0,
            hist: None,
            best: None,
            parent: None,
        }];
        if self.splittable(&leaves[0], 1) {
            let hist = self.build_histogram(0, n, gh, used, bag.is_none());
            leaves[0].best = self.find_best(&hist, root, used);
            leaves[0].hist = Some(hist);
        }
        while leaves.len() < self.limits.num_leaves {
            // Leaf with the largest gain; ties go to the smaller leaf index.
            let Some(leaf) = (0..leaves.len())
                .filter(|&l| leaves[l].best.is_some())
                .fold(None, |acc: Option<usize>, l| match acc {
                    Some(a) if leaves[a].best.unwrap().gain >= leaves[l].best.unwrap().gain => {
                        Some(a)
                    }
                    _ => Some(l),
                })
            else {
                break;
            };
            let split = leaves[leaf].best.take().expect("chosen leaf has a split");
            let mapper = &self.data.mappers[split.feature];
            let node = leaves.len() - 1;
            let right_leaf = leaves.len();
            // Record the internal node.
            let parent_sums = leaves[leaf].sums;
            tree.split_feature.push(split.feature as u32);
            tree.split_gain.push(split.gain);
            tree.threshold.push(mapper.threshold(split.threshold_bin));
            tree.default_left.push(split.default_left);
            tree.missing_type.push(if mapper.nan_bin().is_some() {
                MissingType::NaN
            } else {
                MissingType::None
            });
            tree.left_child.push(!(leaf as i32));
            tree.right_child.push(!(right_leaf as i32));
            tree.internal_value
                .push(leaf_output(parent_sums, &self.constraints));
            tree.internal_weight.push(parent_sums.hess);
            tree.internal_count.push(parent_sums.count);
            if let Some((p, is_left)) = leaves[leaf].parent {
                if is_left {
                    tree.left_child[p] = node as i32;
                } else {
                    tree.right_child[p] = node as i32;
                }
            }
            splits.push(BinnedSplit {
                feature: split.feature,
                threshold_bin: split.threshold_bin,
                default_left: split.default_left,
                nan_bin: mapper.nan_bin(),
            });
            // Partition the leaf's rows.
            let (begin, count) = (leaf_begin[leaf], leaf_count[leaf]);
            let left_count = self.partition(begin, count, splits[node]);
            debug_assert_eq!(left_count as u64, split.left.count);
            leaf_count[leaf] = left_count;
            leaf_begin.push(begin + left_count);
            leaf_count.push(count - left_count);
            let depth = leaves[leaf].depth + 1;
            let parent_hist = leaves[leaf].hist.take();
            leaves[leaf].sums = split.left;
            leaves[leaf].depth = depth;
            leaves[leaf].parent = Some((node, true));
            leaves.push(LeafState {
                sums: split.right,
                depth,
                hist: None,
                best: None,
                parent: Some((node, false)),
            });
            // Histograms and best splits of the children that may still split.
            let after = leaves.len();
            let can = [
                self.splittable(&leaves[leaf], after),
                self.splittable(&leaves[right_leaf], after),
            ];
            let Some(mut parent_hist) = parent_hist else {
                continue;
            };
            if !can[0] && !can[1] {
                self.spare.push(parent_hist);
                continue;
            }
            let (small, large) = if left_count <= count - left_count {
                (leaf, right_leaf)
            } else {
                (right_leaf, leaf)
            };
            let small_hist =
                self.build_histogram(leaf_begin[small], leaf_count[small], gh, used, false);
            let can_large = if large == leaf { can[0] } else { can[1] };
            let can_small = if small == leaf { can[0] } else { can[1] };
            if can_large {
                histogram::subtract(&self.layout, used, &mut parent_hist, &small_hist);
                leaves[large].best = self.find_best(&parent_hist, leaves[large].sums, used);
                leaves[large].hist = Some(parent_hist);
            } else {
                self.spare.push(parent_hist);
            }
            if can_small {
                leaves[small].best = self.find_best(&small_hist, leaves[small].sums, used);
                leaves[small].hist = Some(small_hist);
            } else {
                self.spare.push(small_hist);
            }
        }
        for s in &mut leaves {
            if let Some(h) = s.hist.take() {
                self.spare.push(h);
            }
        }
        tree.leaf_value = leaves
            .iter()
            .map(|s| leaf_output(s.sums, &self.constraints))
            .collect();
        tree.leaf_weight = leaves.iter().map(|s| s.sums.hess).collect();
        tree.leaf_count = leaves.iter().map(|s| s.sums.count).collect();
        LearnedTree {
            tree,
            splits,
            leaf_begin,
            leaf_count,
        }
    }

    /// Stable partition of `indices[begin..begin+count]` by `split`; returns the left count.
    fn partition(&mut self, begin: usize, count: usize, split: BinnedSplit) -> usize {
        let column = &self.data.columns[split.feature];
        let segment = &mut self.indices[begin..begin + count];
        self.scratch.clear();
        let mut write = 0;
        for read in 0..segment.len() {
            let r = segment[read];
            let bin = column.get(r as usize);
            let left = if Some(bin) == split.nan_bin {
                split.default_left
            } else {
                bin <= split.threshold_bin
            };
            if left {
                segment[write] = r;
                write += 1;
            } else {
                self.scratch.push(r);
            }
        }
        segment[write..].copy_from_slice(&self.scratch);
        write
    }
}
