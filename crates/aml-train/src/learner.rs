//! Leaf-wise (best-first) growth of one regression tree on binned data.
//!
//! The rows of each leaf occupy a contiguous, ascending segment of one index
//! array (LightGBM's `DataPartition`); splitting a leaf stably partitions its
//! segment. Every round the leaf with the largest split gain is split, until
//! `num_leaves` is reached or no leaf has a positive-gain split. Only the
//! smaller child's histogram is built from rows; the larger one is the
//! parent's minus the smaller (the parent buffer is reused in place).
//!
//! The tree is recorded with [`Tree::split_leaf`] (LightGBM's layout: splitting
//! leaf `l` creates internal node `num_leaves - 1`, the left child keeps leaf id
//! `l` and the right child gets the next leaf id).
//!
//! Rows are routed with the tree's own decision: when a node is created, every
//! bin of its feature is decided once by [`Tree::goes_left`] on a value of the
//! bin (its upper bound, the threshold the tree would write for it; NaN for the
//! missing-value bin), and the partition and [`LearnedTree::leaf_of_binned_row`]
//! look the row's bin up in that table, walking with [`Tree::leaf_by`].

use aml_models::{LeafStats, MissingType, NodeSplit, Tree};
use rayon::prelude::*;

use crate::binning::{BinMapper, BinnedData};
use crate::histogram::{self, BinStats, HistogramLayout, LeafRows};
use crate::split::{
    best_split_for_feature, leaf_output, LeafSums, SplitCandidate, SplitConstraints,
};

/// How one internal node routes binned rows: its feature and, per bin, whether the bin goes left.
#[derive(Debug, Clone, PartialEq)]
struct BinRoute {
    feature: usize,
    left: Vec<bool>,
}

impl BinRoute {
    /// Decides every bin of `mapper` with the tree's rule at `node` (see the module docs).
    fn new(tree: &Tree, node: usize, mapper: &BinMapper) -> Self {
        let left = (0..mapper.num_bins())
            .map(|bin| {
                let value = if Some(bin) == mapper.nan_bin() {
                    f64::NAN
                } else {
                    mapper.threshold(bin)
                };
                tree.goes_left(node, value)
            })
            .collect();
        BinRoute {
            feature: tree.split_feature[node] as usize,
            left,
        }
    }
}

/// A freshly grown tree plus what the booster needs to update scores.
#[derive(Debug, Clone)]
pub struct LearnedTree {
    /// The tree with unshrunk outputs (`shrinkage` 1.0).
    pub tree: Tree,
    routes: Vec<BinRoute>,
    leaf_begin: Vec<usize>,
    leaf_count: Vec<usize>,
}

impl LearnedTree {
    /// Rows (indices into the training data) of leaf `leaf`, ascending.
    pub fn leaf_rows<'b>(&self, learner: &'b TreeLearner<'_>, leaf: usize) -> &'b [u32] {
        &learner.indices[self.leaf_begin[leaf]..self.leaf_begin[leaf] + self.leaf_count[leaf]]
    }

    /// Leaf reached by training row `row` using its bins (the tree's walk, each bin decided
    /// like its values).
    pub fn leaf_of_binned_row(&self, data: &BinnedData, row: usize) -> usize {
        self.tree.leaf_by(|node| {
            let route = &self.routes[node];
            route.left[data.columns[route.feature].get(row)]
        })
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
}

/// The tree being grown, with the row segment and search state of each leaf.
struct Growth {
    tree: Tree,
    routes: Vec<BinRoute>,
    leaf_begin: Vec<usize>,
    leaf_count: Vec<usize>,
    leaves: Vec<LeafState>,
}

impl Growth {
    /// The leaf with the largest split gain; ties go to the smaller leaf index.
    fn best_leaf(&self) -> Option<usize> {
        let gain = |l: usize| self.leaves[l].best.map(|b| b.gain);
        (0..self.leaves.len())
            .filter(|&l| gain(l).is_some())
            .fold(None, |acc: Option<usize>, l| match acc {
                Some(a) if gain(a) >= gain(l) => Some(a),
                _ => Some(l),
            })
    }
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
        let mut g = self.start(gh, bag, used);
        while g.leaves.len() < self.limits.num_leaves {
            let Some(leaf) = g.best_leaf() else {
                break;
            };
            let (right_leaf, parent_hist) = self.split(&mut g, leaf);
            if let Some(parent_hist) = parent_hist {
                self.find_child_splits(&mut g, [leaf, right_leaf], parent_hist, gh, used);
            }
        }
        for s in &mut g.leaves {
            if let Some(h) = s.hist.take() {
                self.spare.push(h);
            }
        }
        LearnedTree {
            tree: g.tree,
            routes: g.routes,
            leaf_begin: g.leaf_begin,
            leaf_count: g.leaf_count,
        }
    }

    /// The output, hessian sum and count a leaf with sums `s` records in the tree.
    fn leaf_stats(&self, s: LeafSums) -> LeafStats {
        LeafStats {
            value: leaf_output(s, &self.constraints),
            weight: s.hess,
            count: s.count,
        }
    }

    /// A single-leaf tree over the bagged rows, with the root's best split.
    fn start(&mut self, gh: &[[f32; 2]], bag: Option<&[u32]>, used: &[bool]) -> Growth {
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
        tree.set_leaf(0, self.leaf_stats(root));
        let mut leaf = LeafState {
            sums: root,
            depth: 0,
            hist: None,
            best: None,
        };
        if self.splittable(&leaf, 1) {
            let hist = self.build_histogram(0, n, gh, used, bag.is_none());
            leaf.best = self.find_best(&hist, root, used);
            leaf.hist = Some(hist);
        }
        Growth {
            tree,
            routes: Vec::new(),
            leaf_begin: vec![0],
            leaf_count: vec![n],
            leaves: vec![leaf],
        }
    }

    /// Splits `leaf` at its best split: records the node, partitions the leaf's rows and adds the
    /// right child's state. Returns the right leaf and the parent's histogram.
    fn split(&mut self, g: &mut Growth, leaf: usize) -> (usize, Option<Vec<BinStats>>) {
        let split = g.leaves[leaf].best.take().expect("chosen leaf has a split");
        let data = self.data;
        let mapper = &data.mappers[split.feature];
        let node_split = NodeSplit {
            feature: split.feature as u32,
            threshold: mapper.threshold(split.threshold_bin),
            default_left: split.default_left,
            missing_type: if mapper.nan_bin().is_some() {
                MissingType::NaN
            } else {
                MissingType::None
            },
            gain: split.gain,
        };
        let node = g.tree.num_internal();
        let (left, right) = (self.leaf_stats(split.left), self.leaf_stats(split.right));
        let (_, right_leaf) = g.tree.split_leaf(leaf, node_split, left, right);
        let route = BinRoute::new(&g.tree, node, mapper);
        let (begin, count) = (g.leaf_begin[leaf], g.leaf_count[leaf]);
        let left_count = self.partition(begin, count, &route);
        debug_assert_eq!(left_count as u64, split.left.count);
        g.routes.push(route);
        g.leaf_count[leaf] = left_count;
        g.leaf_begin.push(begin + left_count);
        g.leaf_count.push(count - left_count);
        let depth = g.leaves[leaf].depth + 1;
        let parent_hist = g.leaves[leaf].hist.take();
        g.leaves[leaf].sums = split.left;
        g.leaves[leaf].depth = depth;
        g.leaves.push(LeafState {
            sums: split.right,
            depth,
            hist: None,
            best: None,
        });
        (right_leaf, parent_hist)
    }

    /// Histograms and best splits of the two children of a split that may still split: the
    /// smaller child's histogram from its rows, the larger one's by subtraction from the parent's.
    fn find_child_splits(
        &mut self,
        g: &mut Growth,
        children: [usize; 2],
        mut parent_hist: Vec<BinStats>,
        gh: &[[f32; 2]],
        used: &[bool],
    ) {
        let after = g.leaves.len();
        let can = children.map(|l| self.splittable(&g.leaves[l], after));
        if !can[0] && !can[1] {
            self.spare.push(parent_hist);
            return;
        }
        let [left, right] = children;
        // (small, can_small, large, can_large); ties make the left child the small one.
        let (small, can_small, large, can_large) = if g.leaf_count[left] <= g.leaf_count[right] {
            (left, can[0], right, can[1])
        } else {
            (right, can[1], left, can[0])
        };
        let small_hist =
            self.build_histogram(g.leaf_begin[small], g.leaf_count[small], gh, used, false);
        if can_large {
            histogram::subtract(&self.layout, used, &mut parent_hist, &small_hist);
            g.leaves[large].best = self.find_best(&parent_hist, g.leaves[large].sums, used);
            g.leaves[large].hist = Some(parent_hist);
        } else {
            self.spare.push(parent_hist);
        }
        if can_small {
            g.leaves[small].best = self.find_best(&small_hist, g.leaves[small].sums, used);
            g.leaves[small].hist = Some(small_hist);
        } else {
            self.spare.push(small_hist);
        }
    }

    /// Stable partition of `indices[begin..begin+count]` by `route`; returns the left count.
    fn partition(&mut self, begin: usize, count: usize, route: &BinRoute) -> usize {
        let column = &self.data.columns[route.feature];
        let segment = &mut self.indices[begin..begin + count];
        self.scratch.clear();
        let mut write = 0;
        for read in 0..segment.len() {
            let r = segment[read];
            if route.left[column.get(r as usize)] {
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
