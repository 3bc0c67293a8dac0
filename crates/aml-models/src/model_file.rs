//! LightGBM text model format (`tree` / `version=v4`), read and write.
//!
//! The format is line oriented: a header of `key=value` lines, one `Tree=N` block
//! per tree (parallel arrays, space separated), `end of trees`, then informational
//! sections (`feature_importances:`, `parameters:` ... `end of parameters`,
//! `pandas_categorical:`). We read everything that decides a prediction: numerical and
//! categorical splits, linear leaves, multiclass ensembles and random-forest averaging,
//! for every built-in objective. Anything we cannot predict exactly (custom or unknown
//! objectives, unknown keys) is refused with the offending line number: a wrong answer is
//! worse than an error. `tests/zoo.rs` lists what loads and what is refused, per model kind.
//!
//! Numbers are written in Rust's shortest round-trip form, so every `f64` we write
//! parses back to the same bits (LightGBM's own 17-significant-digit output parses
//! exactly too). `tree_sizes` holds the byte length of each `Tree=N` block
//! including its two trailing newlines; LightGBM uses it to split the file, so it
//! must be exact.

use std::fmt::Write as _;

use crate::tree::{
    CategoricalSplits, IdentityObjective, LinearLeaves, LogLinkObjective, MissingType,
    ObjectiveKind, Tree, TreeEnsemble,
};

/// Errors reading or writing a LightGBM text model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelFileError {
    /// A line that cannot be parsed.
    #[error("model file line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Valid LightGBM content this crate cannot predict exactly.
    #[error("model file line {line}: unsupported: {message}")]
    Unsupported {
        /// 1-based line number.
        line: usize,
        /// What is not supported.
        message: String,
    },
    /// The text ended before a required part.
    #[error("model file ended early: {0}")]
    UnexpectedEnd(String),
    /// A number of a tree is NaN or infinite: it would turn into a non-finite score or explanation.
    #[error("model file line {line}: Tree={tree}: {field} entry {index} is {value}; model numbers must be finite")]
    NonFinite {
        /// 1-based line number of the field.
        line: usize,
        /// Index of the tree (`Tree=N`).
        tree: usize,
        /// The field (`leaf_value`, `threshold`, ...).
        field: String,
        /// 0-based position within the field.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// The ensemble is not a valid tree ensemble (writing or after reading).
    #[error("invalid ensemble: {0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, ModelFileError>;

fn syntax<T>(line: usize, message: impl Into<String>) -> Result<T> {
    Err(ModelFileError::Syntax {
        line,
        message: message.into(),
    })
}

fn unsupported<T>(line: usize, message: impl Into<String>) -> Result<T> {
    Err(ModelFileError::Unsupported {
        line,
        message: message.into(),
    })
}

/// A parsed model file: the ensemble plus the informational sections LightGBM keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    /// The trees and metadata needed to predict.
    pub ensemble: TreeEnsemble,
    /// Lines between `parameters:` and `end of parameters` (e.g. `[num_leaves: 31]`), blank lines dropped.
    pub parameters: Vec<String>,
    /// The text after `pandas_categorical:` (LightGBM's Python package writes `null`).
    pub pandas_categorical: Option<String>,
}

/// Bit 0 of `decision_type`: categorical split.
const CATEGORICAL_MASK: i32 = 1;
/// Bit 1 of `decision_type`: missing values go left.
const DEFAULT_LEFT_MASK: i32 = 2;

/// Formats an `f64` in the shortest form that parses back to the same bits
/// (`1` rather than `1.0`, exponent form for very large or small values).
pub fn format_f64(x: f64) -> String {
    let s = format!("{x:?}");
    match s.strip_suffix(".0") {
        Some(int) => int.to_string(),
        None => s,
    }
}

fn join_f64(v: &[f64]) -> String {
    let mut out = String::new();
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format_f64(*x));
    }
    out
}

fn join_display<T: std::fmt::Display>(v: &[T]) -> String {
    let mut out = String::new();
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{x}");
    }
    out
}

/// The `objective=` header value for an objective (empty for a custom objective, which
/// LightGBM writes without an `objective=` line).
pub fn objective_string(objective: &ObjectiveKind) -> String {
    match objective {
        ObjectiveKind::Custom => String::new(),
        ObjectiveKind::Sqrt(None) => "regression sqrt".to_string(),
        ObjectiveKind::Sqrt(Some(o)) => format!("{} sqrt", o.name()),
        ObjectiveKind::Binary { sigmoid } => format!("binary sigmoid:{}", format_f64(*sigmoid)),
        ObjectiveKind::LambdaRank => "lambdarank".to_string(),
        ObjectiveKind::Regression => "regression".to_string(),
        ObjectiveKind::CrossEntropy => "cross_entropy".to_string(),
        ObjectiveKind::Identity(o) => o.name().to_string(),
        ObjectiveKind::LogLink(o) => o.name().to_string(),
        ObjectiveKind::CrossEntropyLambda => "cross_entropy_lambda".to_string(),
        ObjectiveKind::Multiclass { num_class } => format!("multiclass num_class:{num_class}"),
        ObjectiveKind::MulticlassOva { num_class, sigmoid } => format!(
            "multiclassova num_class:{num_class} sigmoid:{}",
            format_f64(*sigmoid)
        ),
    }
}

/// The `sigmoid:S` option of an objective (1.0 when absent); it must be finite and positive.
fn parse_sigmoid<'a>(line: usize, tokens: impl Iterator<Item = &'a str>) -> Result<f64> {
    let mut sigmoid = 1.0;
    for tok in tokens {
        if let Some(v) = tok.strip_prefix("sigmoid:") {
            sigmoid = match v.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => s,
                _ => return syntax(line, format!("invalid sigmoid `{v}`")),
            };
        }
    }
    Ok(sigmoid)
}

fn parse_objective(line: usize, value: &str) -> Result<ObjectiveKind> {
    let mut tokens = value.split_whitespace();
    let name = tokens.next().unwrap_or("");
    match name {
        "binary" => Ok(ObjectiveKind::Binary {
            sigmoid: parse_sigmoid(line, tokens)?,
        }),
        "lambdarank" => Ok(ObjectiveKind::LambdaRank),
        "regression" | "regression_l2" => Ok(if tokens.any(|t| t == "sqrt") {
            ObjectiveKind::Sqrt(None)
        } else {
            ObjectiveKind::Regression
        }),
        "cross_entropy" => Ok(ObjectiveKind::CrossEntropy),
        "cross_entropy_lambda" => Ok(ObjectiveKind::CrossEntropyLambda),
        // LightGBM reads `custom` as "no objective function": the raw score is the prediction.
        "custom" => Ok(ObjectiveKind::Custom),
        "multiclass" | "multiclassova" => {
            let options: Vec<&str> = tokens.collect();
            let num_class = options
                .iter()
                .find_map(|t| t.strip_prefix("num_class:"))
                .ok_or_else(|| ModelFileError::Syntax {
                    line,
                    message: format!("objective `{name}` has no `num_class:` option"),
                })?;
            let num_class = match num_class.parse::<usize>() {
                Ok(k) if k >= 2 => k,
                _ => return syntax(line, format!("invalid num_class `{}`", clip(num_class))),
            };
            if name == "multiclass" {
                Ok(ObjectiveKind::Multiclass { num_class })
            } else {
                Ok(ObjectiveKind::MulticlassOva {
                    num_class,
                    sigmoid: parse_sigmoid(line, options.into_iter())?,
                })
            }
        }
        "" => syntax(line, "empty objective"),
        other => {
            if let Some(&o) = IdentityObjective::ALL.iter().find(|o| o.name() == other) {
                // LightGBM's `sqrt` option transforms the predictions of the L2 family only.
                let sqrt = tokens.any(|t| t == "sqrt") && o != IdentityObjective::RankXendcg;
                Ok(if sqrt {
                    ObjectiveKind::Sqrt(Some(o))
                } else {
                    ObjectiveKind::Identity(o)
                })
            } else if let Some(&o) = LogLinkObjective::ALL.iter().find(|o| o.name() == other) {
                Ok(ObjectiveKind::LogLink(o))
            } else {
                unsupported(
                line,
                format!(
                    "objective `{other}` (supported: binary, cross_entropy, cross_entropy_lambda, lambdarank, \
                     rank_xendcg, regression, regression_l1, huber, fair, quantile, mape, poisson, \
                     gamma, tweedie, multiclass, multiclassova)"
                ),
            )
            }
        }
    }
}

/// Writes an ensemble as a LightGBM v4 text model with an explicit `parameters:` block.
///
/// `parameters` are written verbatim between `parameters:` and `end of parameters`
/// (LightGBM's style is `[key: value]`). A non-zero `base_score` is folded into the
/// leaves of the first tree (or a constant tree when there are none): LightGBM
/// has no base score, and `(base + leaf0) + leaf1 + ...` equals
/// `base + leaf0 + leaf1 + ...` bit for bit, so predictions do not change.
pub fn write_model(ensemble: &TreeEnsemble, parameters: &[String]) -> Result<String> {
    check_writable(ensemble, parameters)?;
    let trees = trees_with_base_score(ensemble)?;
    let blocks: Vec<String> = trees
        .iter()
        .enumerate()
        .map(|(i, t)| tree_block(i, t))
        .collect();

    let n = ensemble.num_features();
    let mut out = String::new();
    let k = ensemble.num_class();
    let _ = writeln!(
        out,
        "tree\nversion=v4\nnum_class={k}\nnum_tree_per_iteration={k}\nlabel_index=0"
    );
    let _ = writeln!(out, "max_feature_idx={}", n - 1);
    if ensemble.objective != ObjectiveKind::Custom {
        let _ = writeln!(out, "objective={}", objective_string(&ensemble.objective));
    }
    if ensemble.average_output {
        out.push_str("average_output\n");
    }
    let _ = writeln!(out, "feature_names={}", ensemble.feature_names.join(" "));
    let _ = writeln!(out, "feature_infos={}", ensemble.feature_infos.join(" "));
    let sizes: Vec<usize> = blocks.iter().map(String::len).collect();
    let _ = writeln!(out, "tree_sizes={}", join_display(&sizes));
    out.push('\n');
    for b in &blocks {
        out.push_str(b);
    }
    out.push_str("end of trees\n\nfeature_importances:\n");
    let counts = ensemble.split_importance();
    let mut order: Vec<usize> = (0..n).filter(|&f| counts[f] > 0).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    for f in order {
        let _ = writeln!(out, "{}={}", ensemble.feature_names[f], counts[f]);
    }
    out.push_str("\nparameters:\n");
    for p in parameters {
        out.push_str(p);
        out.push('\n');
    }
    out.push_str("end of parameters\n\npandas_categorical:null\n");
    Ok(out)
}

/// Refuses what the text format cannot carry: an invalid ensemble, no features, names or infos
/// that are empty or contain whitespace, parameter lines that would break their block.
fn check_writable(ensemble: &TreeEnsemble, parameters: &[String]) -> Result<()> {
    ensemble.validate().map_err(ModelFileError::Invalid)?;
    if ensemble.feature_names.is_empty() {
        return Err(ModelFileError::Invalid("ensemble has no features".into()));
    }
    for (i, name) in ensemble.feature_names.iter().enumerate() {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(ModelFileError::Invalid(format!(
                "feature name {i} `{name}` is empty or contains whitespace"
            )));
        }
    }
    for (i, info) in ensemble.feature_infos.iter().enumerate() {
        if info.is_empty() || info.chars().any(char::is_whitespace) {
            return Err(ModelFileError::Invalid(format!(
                "feature_infos entry {i} `{info}` is empty or contains whitespace"
            )));
        }
    }
    for (k, p) in parameters.iter().enumerate() {
        if p.contains('\n') || p.trim() == "end of parameters" {
            return Err(ModelFileError::Invalid(format!(
                "parameter line {k} would break the parameters block"
            )));
        }
    }
    Ok(())
}

/// The trees to write: the ensemble's, with a non-zero base score folded into the first
/// iteration's trees (one constant tree per class when there are none).
fn trees_with_base_score(ensemble: &TreeEnsemble) -> Result<Vec<std::borrow::Cow<'_, Tree>>> {
    let mut trees: Vec<std::borrow::Cow<'_, Tree>> = ensemble
        .trees
        .iter()
        .map(std::borrow::Cow::Borrowed)
        .collect();
    if ensemble.base_score != 0.0 {
        // Folding into leaves is exact only for a plain sum of constant leaves.
        if ensemble.average_output || ensemble.trees.iter().any(|t| t.linear.is_some()) {
            return Err(ModelFileError::Invalid(
                "a base score cannot be folded into averaged or linear trees".into(),
            ));
        }
        if trees.is_empty() {
            for _ in 0..ensemble.num_class() {
                trees.push(std::borrow::Cow::Owned(Tree::constant(0.0, 0)));
            }
        }
        for tree in trees.iter_mut().take(ensemble.num_class()) {
            let first = tree.to_mut();
            for v in first.leaf_value.iter_mut() {
                *v += ensemble.base_score;
            }
            for v in first.internal_value.iter_mut() {
                *v += ensemble.base_score;
            }
        }
    }
    Ok(trees)
}

/// Default `parameters:` block for an ensemble (boosting type and objective).
pub fn default_parameters(ensemble: &TreeEnsemble) -> Vec<String> {
    let mut p = vec!["[boosting: gbdt]".to_string()];
    match &ensemble.objective {
        ObjectiveKind::Binary { sigmoid } => {
            p.push("[objective: binary]".into());
            p.push(format!("[sigmoid: {}]", format_f64(*sigmoid)));
        }
        ObjectiveKind::Custom => p.push("[objective: custom]".into()),
        ObjectiveKind::Sqrt(base) => {
            let name = base.map_or("regression", IdentityObjective::name);
            p.push(format!("[objective: {name}]"));
            p.push("[reg_sqrt: 1]".into());
        }
        ObjectiveKind::Multiclass { num_class } => {
            p.push("[objective: multiclass]".into());
            p.push(format!("[num_class: {num_class}]"));
        }
        ObjectiveKind::MulticlassOva { num_class, sigmoid } => {
            p.push("[objective: multiclassova]".into());
            p.push(format!("[num_class: {num_class}]"));
            p.push(format!("[sigmoid: {}]", format_f64(*sigmoid)));
        }
        other => p.push(format!("[objective: {}]", objective_string(other))),
    }
    if ensemble.average_output {
        p[0] = "[boosting: rf]".to_string();
    }
    p.push(format!("[num_iterations: {}]", ensemble.num_iterations()));
    p
}

fn tree_block(index: usize, t: &Tree) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Tree={index}");
    let _ = writeln!(s, "num_leaves={}", t.num_leaves());
    let num_cat = t
        .categorical
        .as_ref()
        .map_or(0, CategoricalSplits::num_sets);
    let _ = writeln!(s, "num_cat={num_cat}");
    let _ = writeln!(s, "split_feature={}", join_display(&t.split_feature));
    let _ = writeln!(s, "split_gain={}", join_f64(&t.split_gain));
    let _ = writeln!(s, "threshold={}", join_f64(&t.threshold));
    let decision: Vec<i32> = (0..t.num_internal())
        .map(|i| {
            (i32::from(t.missing_type[i].code()) << 2)
                | if t.default_left[i] {
                    DEFAULT_LEFT_MASK
                } else {
                    0
                }
                | if t.is_categorical(i) {
                    CATEGORICAL_MASK
                } else {
                    0
                }
        })
        .collect();
    let _ = writeln!(s, "decision_type={}", join_display(&decision));
    let _ = writeln!(s, "left_child={}", join_display(&t.left_child));
    let _ = writeln!(s, "right_child={}", join_display(&t.right_child));
    let _ = writeln!(s, "leaf_value={}", join_f64(&t.leaf_value));
    let _ = writeln!(s, "leaf_weight={}", join_f64(&t.leaf_weight));
    let _ = writeln!(s, "leaf_count={}", join_display(&t.leaf_count));
    let _ = writeln!(s, "internal_value={}", join_f64(&t.internal_value));
    let _ = writeln!(s, "internal_weight={}", join_f64(&t.internal_weight));
    let _ = writeln!(s, "internal_count={}", join_display(&t.internal_count));
    if let Some(c) = t.categorical.as_ref().filter(|c| c.num_sets() > 0) {
        let _ = writeln!(s, "cat_boundaries={}", join_display(&c.boundaries));
        let _ = writeln!(s, "cat_threshold={}", join_display(&c.bits));
    }
    match &t.linear {
        None => s.push_str("is_linear=0\n"),
        Some(l) => {
            s.push_str("is_linear=1\n");
            let _ = writeln!(s, "leaf_const={}", join_f64(&l.leaf_const));
            let counts: Vec<usize> = l.leaf_features.iter().map(Vec::len).collect();
            let _ = writeln!(s, "num_features={}", join_display(&counts));
            // LightGBM's layout: each leaf's values followed by a space, then one more space.
            s.push_str("leaf_features=");
            for features in &l.leaf_features {
                for f in features {
                    let _ = write!(s, "{f} ");
                }
                s.push(' ');
            }
            s.push_str("\nleaf_coeff=");
            for coeff in &l.leaf_coeff {
                for c in coeff {
                    let _ = write!(s, "{} ", format_f64(*c));
                }
                s.push(' ');
            }
            s.push('\n');
        }
    }
    let _ = writeln!(s, "shrinkage={}", format_f64(t.shrinkage));
    s.push_str("\n\n");
    s
}

/// Numbered lines with a trailing `\r` removed.
struct Lines<'a> {
    inner: std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'a>>>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            inner: text.lines().enumerate().peekable(),
        }
    }
    fn peek(&mut self) -> Option<(usize, &'a str)> {
        self.inner
            .peek()
            .map(|&(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
    }
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        self.inner
            .next()
            .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
    }
    /// The next non-blank line of the header or of a tree block; `None` (nothing consumed) at
    /// the next `Tree=` or `end of trees` line or the end of the text.
    fn next_in_block(&mut self) -> Option<(usize, &'a str)> {
        while let Some((_, l)) = self.peek() {
            if l.starts_with("Tree=") || l.trim() == "end of trees" {
                return None;
            }
            let line = self.next_line();
            if !l.trim().is_empty() {
                return line;
            }
        }
        None
    }
}

fn parse_usize(line: usize, key: &str, v: &str) -> Result<usize> {
    v.trim().parse::<usize>().or_else(|_| {
        syntax(
            line,
            format!("`{key}` is not a non-negative integer: `{v}`"),
        )
    })
}

fn parse_list<T: std::str::FromStr>(line: usize, key: &str, v: &str) -> Result<Vec<T>> {
    v.split_whitespace()
        .map(|tok| {
            tok.parse::<T>()
                .or_else(|_| syntax(line, format!("`{key}` has an invalid value `{tok}`")))
        })
        .collect()
}

/// Parses a LightGBM text model.
pub fn parse_model(text: &str) -> Result<ModelFile> {
    let mut lines = Lines::new(text);
    skip_to_tree_line(&mut lines)?;
    let header = Header::read(&mut lines)?.check()?;
    let trees = parse_trees(&mut lines, header.num_features)?;
    if let Some((n, count)) = header.tree_sizes {
        if count != trees.len() {
            return syntax(
                n,
                format!("tree_sizes lists {count} trees, file has {}", trees.len()),
            );
        }
    }
    let (parameters, pandas_categorical) = parse_tail(&mut lines)?;
    let ensemble = TreeEnsemble {
        trees,
        base_score: 0.0,
        feature_names: header.feature_names,
        feature_infos: header.feature_infos,
        objective: header.objective,
        average_output: header.average_output,
    };
    ensemble.validate().map_err(ModelFileError::Invalid)?;
    Ok(ModelFile {
        ensemble,
        parameters,
        pandas_categorical,
    })
}

/// Consumes the lines up to and including the `tree` line that opens a model.
fn skip_to_tree_line(lines: &mut Lines<'_>) -> Result<()> {
    loop {
        match lines.next_line() {
            None => {
                return Err(ModelFileError::UnexpectedEnd(
                    "no `tree` header line".into(),
                ))
            }
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((_, l)) if l.trim() == "tree" => return Ok(()),
            Some((n, l)) => return syntax(n, format!("expected `tree`, found `{}`", clip(l))),
        }
    }
}

/// The header keys of a model file as read, with the line of each.
#[derive(Default)]
struct Header {
    max_feature_idx: Option<(usize, usize)>,
    objective: Option<ObjectiveKind>,
    feature_names: Option<(usize, Vec<String>)>,
    feature_infos: Option<(usize, Vec<String>)>,
    tree_sizes: Option<(usize, usize)>,
    num_class: Option<(usize, usize)>,
    num_tree_per_iteration: Option<(usize, usize)>,
    average_output: bool,
}

/// The header once checked against itself.
struct CheckedHeader {
    num_features: usize,
    objective: ObjectiveKind,
    feature_names: Vec<String>,
    feature_infos: Vec<String>,
    /// Line and length of `tree_sizes`, checked against the trees once they are read.
    tree_sizes: Option<(usize, usize)>,
    average_output: bool,
}

impl Header {
    /// Reads `key=value` lines up to the first `Tree=` (or `end of trees`) line.
    fn read(lines: &mut Lines<'_>) -> Result<Header> {
        let mut h = Header::default();
        while let Some((n, l)) = lines.next_in_block() {
            let l = l.trim();
            match l.split_once('=') {
                Some((key, value)) => h.set(n, key, value)?,
                None if l == "average_output" => h.average_output = true,
                None => return syntax(n, format!("expected `key=value`, found `{}`", clip(l))),
            }
        }
        Ok(h)
    }

    /// Records header key `key` read on line `n`.
    fn set(&mut self, n: usize, key: &str, value: &str) -> Result<()> {
        let words = || value.split_whitespace().map(String::from).collect();
        match key {
            "version" => {
                if !matches!(value, "v2" | "v3" | "v4") {
                    return unsupported(n, format!("model version `{}`", clip(value)));
                }
            }
            "num_class" => self.num_class = Some((n, parse_usize(n, key, value)?)),
            "num_tree_per_iteration" => {
                self.num_tree_per_iteration = Some((n, parse_usize(n, key, value)?))
            }
            "label_index" => {
                parse_usize(n, key, value)?;
            }
            "max_feature_idx" => self.max_feature_idx = Some((n, parse_usize(n, key, value)?)),
            "objective" => self.objective = Some(parse_objective(n, value)?),
            "feature_names" => self.feature_names = Some((n, words())),
            "feature_infos" => self.feature_infos = Some((n, words())),
            "tree_sizes" => self.tree_sizes = Some((n, parse_list::<usize>(n, key, value)?.len())),
            "monotone_constraints" => {}
            other => return unsupported(n, format!("header key `{}`", clip(other))),
        }
        Ok(())
    }

    /// Checks the required keys and that counts agree with `max_feature_idx` and the objective.
    fn check(self) -> Result<CheckedHeader> {
        let (mfi_line, mfi) = self
            .max_feature_idx
            .ok_or_else(|| ModelFileError::UnexpectedEnd("no `max_feature_idx` header".into()))?;
        let num_features = mfi.checked_add(1).ok_or_else(|| ModelFileError::Syntax {
            line: mfi_line,
            message: "max_feature_idx too large".into(),
        })?;
        // LightGBM writes no `objective=` line for a custom objective and predicts the raw score.
        let objective = self.objective.unwrap_or(ObjectiveKind::Custom);
        // The header's class counts must agree with the objective's: the trees are read in
        // iterations of `num_tree_per_iteration`, one per class.
        for (field, value) in [
            ("num_class", self.num_class),
            ("num_tree_per_iteration", self.num_tree_per_iteration),
        ] {
            if let Some((n, k)) = value {
                if k != objective.num_class() {
                    return syntax(
                        n,
                        format!(
                            "{field}={k} but objective `{}` has {} classes",
                            objective_string(&objective),
                            objective.num_class()
                        ),
                    );
                }
            }
        }
        let feature_names = match self.feature_names {
            Some((n, names)) if names.len() != num_features => {
                return syntax(
                    n,
                    format!("{} feature names for max_feature_idx={mfi}", names.len()),
                )
            }
            Some((_, names)) => names,
            None => {
                return Err(ModelFileError::UnexpectedEnd(
                    "no `feature_names` header".into(),
                ))
            }
        };
        let feature_infos = match self.feature_infos {
            Some((n, infos)) if infos.len() != num_features => {
                return syntax(
                    n,
                    format!("{} feature_infos for max_feature_idx={mfi}", infos.len()),
                )
            }
            Some((_, infos)) => infos,
            None => vec!["none".to_string(); num_features],
        };
        Ok(CheckedHeader {
            num_features,
            objective,
            feature_names,
            feature_infos,
            tree_sizes: self.tree_sizes,
            average_output: self.average_output,
        })
    }
}

/// Reads the `Tree=0`, `Tree=1`, ... blocks up to and including `end of trees`.
fn parse_trees(lines: &mut Lines<'_>, num_features: usize) -> Result<Vec<Tree>> {
    let mut trees = Vec::new();
    loop {
        match lines.peek() {
            None => {
                return Err(ModelFileError::UnexpectedEnd(
                    "no `end of trees` line".into(),
                ))
            }
            Some((_, l)) if l.trim() == "end of trees" => {
                lines.next_line();
                return Ok(trees);
            }
            Some((_, l)) if l.trim().is_empty() => {
                lines.next_line();
            }
            Some((n, l)) if l.starts_with("Tree=") => {
                lines.next_line();
                let idx = parse_usize(n, "Tree", &l["Tree=".len()..])?;
                if idx != trees.len() {
                    return syntax(
                        n,
                        format!("expected Tree={}, found Tree={idx}", trees.len()),
                    );
                }
                trees.push(parse_tree(lines, n, idx, num_features)?);
            }
            Some((n, l)) => return syntax(n, format!("unexpected line `{}`", clip(l))),
        }
    }
}

/// The informational tail after the trees: the `parameters:` block and `pandas_categorical`.
/// Feature importances and anything else informational are recomputed or ignored.
fn parse_tail(lines: &mut Lines<'_>) -> Result<(Vec<String>, Option<String>)> {
    let mut parameters = Vec::new();
    let mut pandas_categorical = None;
    while let Some((n, l)) = lines.next_line() {
        let t = l.trim();
        if t == "parameters:" {
            loop {
                match lines.next_line() {
                    None => {
                        return Err(ModelFileError::UnexpectedEnd(format!(
                            "`parameters:` on line {n} has no `end of parameters`"
                        )))
                    }
                    Some((_, p)) if p.trim() == "end of parameters" => break,
                    Some((_, p)) if p.trim().is_empty() => {}
                    Some((_, p)) => parameters.push(p.trim().to_string()),
                }
            }
        } else if let Some(rest) = t.strip_prefix("pandas_categorical:") {
            pandas_categorical = Some(rest.to_string());
        }
    }
    Ok((parameters, pandas_categorical))
}

fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(MAX).collect();
        c.push_str("...");
        c
    }
}

/// Raw `key=value` fields of one `Tree=N` block with their line numbers.
#[derive(Default)]
struct TreeFields<'a> {
    fields: Vec<(&'a str, usize, &'a str)>,
}

/// The keys a `Tree=N` block may hold.
const TREE_KEYS: [&str; 22] = [
    "num_leaves",
    "num_cat",
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_weight",
    "leaf_count",
    "internal_value",
    "internal_weight",
    "internal_count",
    "is_linear",
    "shrinkage",
    "cat_boundaries",
    "cat_threshold",
    "leaf_const",
    "leaf_coeff",
    "leaf_features",
    "num_features",
];

impl<'a> TreeFields<'a> {
    /// Reads the block's lines up to the next `Tree=` or `end of trees` line; refuses unknown and
    /// duplicate keys.
    fn read(lines: &mut Lines<'a>) -> Result<Self> {
        let mut f = TreeFields::default();
        while let Some((n, l)) = lines.next_in_block() {
            let Some((key, value)) = l.split_once('=') else {
                return syntax(n, format!("expected `key=value`, found `{}`", clip(l)));
            };
            let key = key.trim();
            if !TREE_KEYS.contains(&key) {
                return unsupported(n, format!("tree key `{}`", clip(key)));
            }
            if f.get(key).is_some() {
                return syntax(n, format!("duplicate key `{key}`"));
            }
            f.fields.push((key, n, value));
        }
        Ok(f)
    }

    fn get(&self, key: &str) -> Option<(usize, &'a str)> {
        self.fields
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|&(_, n, v)| (n, v))
    }

    /// The line of `key`, or `tree_line` when the block has none.
    fn line(&self, key: &str, tree_line: usize) -> usize {
        self.get(key).map_or(tree_line, |(n, _)| n)
    }

    /// Reads a per-node array that must have `len` entries; `fill` supplies a default when absent.
    fn array<T: std::str::FromStr + Clone>(
        &self,
        tree_line: usize,
        key: &str,
        len: usize,
        fill: Option<T>,
    ) -> Result<Vec<T>> {
        match self.get(key) {
            Some((n, v)) => {
                let vals = parse_list::<T>(n, key, v)?;
                if vals.len() == len {
                    return Ok(vals);
                }
                match fill {
                    // LightGBM leaves per-leaf statistics empty for single-leaf trees.
                    Some(x) if vals.is_empty() && len == 1 => Ok(vec![x]),
                    _ => syntax(
                        n,
                        format!("`{key}` has {} values, expected {len}", vals.len()),
                    ),
                }
            }
            None => match fill {
                Some(x) => Ok(vec![x; len]),
                None => syntax(tree_line, format!("tree has no `{key}` line")),
            },
        }
    }

    /// `num_leaves` (at least 1), `num_cat` (0 when absent) and `is_linear` (0 or 1).
    fn counts(&self, tree_line: usize) -> Result<(usize, usize, bool)> {
        let (nl_line, nl) = self
            .get("num_leaves")
            .ok_or_else(|| ModelFileError::Syntax {
                line: tree_line,
                message: "tree has no `num_leaves` line".into(),
            })?;
        let num_leaves = parse_usize(nl_line, "num_leaves", nl)?;
        if num_leaves == 0 {
            return syntax(nl_line, "num_leaves must be at least 1");
        }
        let num_cat = match self.get("num_cat") {
            Some((n, v)) => parse_usize(n, "num_cat", v)?,
            None => 0,
        };
        let is_linear = match self.get("is_linear") {
            Some((n, v)) => match parse_usize(n, "is_linear", v)? {
                0 => false,
                1 => true,
                _ => {
                    return syntax(
                        n,
                        format!("`is_linear` must be 0 or 1, found `{}`", clip(v)),
                    )
                }
            },
            None => false,
        };
        Ok((num_leaves, num_cat, is_linear))
    }

    /// `shrinkage` (1.0 when absent).
    fn shrinkage(&self) -> Result<f64> {
        match self.get("shrinkage") {
            Some((n, v)) => v
                .trim()
                .parse::<f64>()
                .or_else(|_| syntax(n, format!("invalid shrinkage `{}`", clip(v)))),
            None => Ok(1.0),
        }
    }
}

/// The bits of each node's `decision_type`: default-left flags, missing types and categorical
/// flags.
fn parse_decision_types(
    decision: &[i32],
    line: usize,
) -> Result<(Vec<bool>, Vec<MissingType>, Vec<bool>)> {
    let mut default_left = Vec::with_capacity(decision.len());
    let mut missing_type = Vec::with_capacity(decision.len());
    let mut is_categorical = Vec::with_capacity(decision.len());
    for (node, &d) in decision.iter().enumerate() {
        if !(0..16).contains(&d) {
            return syntax(line, format!("invalid decision_type {d} at node {node}"));
        }
        default_left.push(d & DEFAULT_LEFT_MASK != 0);
        is_categorical.push(d & CATEGORICAL_MASK != 0);
        match MissingType::from_code(((d >> 2) & 3) as u8) {
            Some(m) => missing_type.push(m),
            None => return syntax(line, format!("invalid missing type in decision_type {d}")),
        }
    }
    Ok((default_left, missing_type, is_categorical))
}

/// Refuses a NaN anywhere, and an infinity anywhere but in `threshold`.
///
/// A NaN or infinite leaf or internal value would become a non-finite score (or SHAP value)
/// that gets signed; LightGBM never writes one, so any such number means a damaged or forged
/// file. Thresholds may be infinite: LightGBM 4 writes `inf` for a split that sends every
/// number left and only missing values right (its last bin's upper bound).
fn check_finite(f: &TreeFields<'_>, tree_line: usize, tree_index: usize, t: &Tree) -> Result<()> {
    let numbers: [(&str, &[f64]); 7] = [
        ("leaf_value", &t.leaf_value),
        ("threshold", &t.threshold),
        ("internal_value", &t.internal_value),
        ("split_gain", &t.split_gain),
        ("leaf_weight", &t.leaf_weight),
        ("internal_weight", &t.internal_weight),
        ("shrinkage", std::slice::from_ref(&t.shrinkage)),
    ];
    for (field, values) in numbers {
        let bad = |v: &f64| v.is_nan() || (field != "threshold" && v.is_infinite());
        if let Some(index) = values.iter().position(bad) {
            return Err(ModelFileError::NonFinite {
                line: f.line(field, tree_line),
                tree: tree_index,
                field: field.to_string(),
                index,
                value: values[index],
            });
        }
    }
    Ok(())
}

fn parse_tree(
    lines: &mut Lines<'_>,
    tree_line: usize,
    tree_index: usize,
    num_features: usize,
) -> Result<Tree> {
    let f = TreeFields::read(lines)?;
    let (num_leaves, num_cat, is_linear) = f.counts(tree_line)?;
    let ni = num_leaves - 1;
    // leaf_value is required and parsed first, so num_leaves is bounded by the text
    // before any default-filled array is allocated.
    let leaf_value: Vec<f64> = f.array(tree_line, "leaf_value", num_leaves, None)?;
    let required = if ni > 0 { None } else { Some(0u32) };
    let split_feature: Vec<u32> = f.array(tree_line, "split_feature", ni, required)?;
    let threshold: Vec<f64> = f.array(tree_line, "threshold", ni, required.map(f64::from))?;
    let decision: Vec<i32> = f.array(tree_line, "decision_type", ni, required.map(|_| 0))?;
    let left_child: Vec<i32> = f.array(tree_line, "left_child", ni, required.map(|_| 0))?;
    let right_child: Vec<i32> = f.array(tree_line, "right_child", ni, required.map(|_| 0))?;
    let split_gain: Vec<f64> = f.array(tree_line, "split_gain", ni, Some(0.0))?;
    let internal_value: Vec<f64> = f.array(tree_line, "internal_value", ni, Some(0.0))?;
    let internal_weight: Vec<f64> = f.array(tree_line, "internal_weight", ni, Some(0.0))?;
    let internal_count: Vec<u64> = f.array(tree_line, "internal_count", ni, Some(0))?;
    let leaf_weight: Vec<f64> = f.array(tree_line, "leaf_weight", num_leaves, Some(0.0))?;
    let leaf_count: Vec<u64> = f.array(tree_line, "leaf_count", num_leaves, Some(0))?;
    let shrinkage = f.shrinkage()?;
    let (default_left, missing_type, is_categorical) =
        parse_decision_types(&decision, f.line("decision_type", tree_line))?;
    let mut tree = Tree {
        split_feature,
        split_gain,
        threshold,
        default_left,
        missing_type,
        left_child,
        right_child,
        internal_value,
        internal_weight,
        internal_count,
        leaf_value,
        leaf_weight,
        leaf_count,
        shrinkage,
        categorical: None,
        linear: None,
    };
    check_finite(&f, tree_line, tree_index, &tree)?;
    tree.categorical = parse_categorical(&f, tree_line, num_cat, is_categorical)?;
    tree.linear = if is_linear {
        Some(parse_linear(
            &f,
            tree_line,
            tree_index,
            num_leaves,
            num_features,
        )?)
    } else {
        for key in ["leaf_const", "num_features", "leaf_features", "leaf_coeff"] {
            if let Some((n, _)) = f.get(key) {
                return syntax(n, format!("`{key}` in a tree that is not linear"));
            }
        }
        None
    };
    tree.validate(num_features)
        .or_else(|e| syntax(tree_line, e))?;
    Ok(tree)
}

/// The category sets of a tree: `num_cat` sets in `cat_boundaries` / `cat_threshold`, and which
/// nodes use them; `None` when no node is categorical.
fn parse_categorical(
    f: &TreeFields<'_>,
    tree_line: usize,
    num_cat: usize,
    is_categorical: Vec<bool>,
) -> Result<Option<CategoricalSplits>> {
    let any = is_categorical.iter().any(|&c| c);
    if num_cat == 0 {
        if any {
            let line = f.get("decision_type").map_or(tree_line, |(n, _)| n);
            return syntax(line, "categorical split in a tree with num_cat=0");
        }
        for key in ["cat_boundaries", "cat_threshold"] {
            if let Some((n, _)) = f.get(key) {
                return syntax(n, format!("`{key}` in a tree with num_cat=0"));
            }
        }
        return Ok(None);
    }
    let require = |key: &str| {
        f.get(key).ok_or_else(|| ModelFileError::Syntax {
            line: tree_line,
            message: format!("tree has num_cat={num_cat} and no `{key}` line"),
        })
    };
    let (bn, bv) = require("cat_boundaries")?;
    let (tn, tv) = require("cat_threshold")?;
    let boundaries = parse_list::<u32>(bn, "cat_boundaries", bv)?;
    if boundaries.len() != num_cat + 1 {
        return syntax(
            bn,
            format!(
                "`cat_boundaries` has {} values, expected num_cat + 1 = {}",
                boundaries.len(),
                num_cat + 1
            ),
        );
    }
    let bits = parse_list::<u32>(tn, "cat_threshold", tv)?;
    let splits = CategoricalSplits {
        is_categorical,
        boundaries,
        bits,
    };
    Ok(Some(splits))
}

/// The leaf linear models of a tree with `is_linear=1`.
fn parse_linear(
    f: &TreeFields<'_>,
    tree_line: usize,
    tree_index: usize,
    num_leaves: usize,
    num_features: usize,
) -> Result<LinearLeaves> {
    let require = |key: &str| {
        f.get(key).ok_or_else(|| ModelFileError::Syntax {
            line: tree_line,
            message: format!("linear tree has no `{key}` line"),
        })
    };
    let (cn, cv) = require("leaf_const")?;
    let leaf_const = parse_list::<f64>(cn, "leaf_const", cv)?;
    let (nn, nv) = require("num_features")?;
    let counts = parse_list::<usize>(nn, "num_features", nv)?;
    for (key, line, len) in [
        ("leaf_const", cn, leaf_const.len()),
        ("num_features", nn, counts.len()),
    ] {
        if len != num_leaves {
            return syntax(
                line,
                format!("`{key}` has {len} values, expected {num_leaves}"),
            );
        }
    }
    let (fln, flv) = require("leaf_features")?;
    let (coln, colv) = require("leaf_coeff")?;
    let features = parse_list::<u32>(fln, "leaf_features", flv)?;
    let coeff = parse_list::<f64>(coln, "leaf_coeff", colv)?;
    // `counts` comes from the text, so its sum is checked against the lists before it is used.
    let total = counts.iter().try_fold(0usize, |a, &c| a.checked_add(c));
    for (key, line, len) in [
        ("leaf_features", fln, features.len()),
        ("leaf_coeff", coln, coeff.len()),
    ] {
        if total != Some(len) {
            return syntax(
                line,
                format!("`{key}` has {len} values, `num_features` adds up to {total:?}"),
            );
        }
    }
    if let Some(&bad) = features.iter().find(|&&x| x as usize >= num_features) {
        return syntax(
            fln,
            format!("`leaf_features` names feature {bad}, the model has {num_features}"),
        );
    }
    for (field, line, values) in [
        ("leaf_const", cn, &leaf_const),
        ("leaf_coeff", coln, &coeff),
    ] {
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(ModelFileError::NonFinite {
                line,
                tree: tree_index,
                field: field.to_string(),
                index,
                value: values[index],
            });
        }
    }
    let (mut leaf_features, mut leaf_coeff) = (Vec::new(), Vec::new());
    let mut at = 0;
    for &c in &counts {
        leaf_features.push(features[at..at + c].to_vec());
        leaf_coeff.push(coeff[at..at + c].to_vec());
        at += c;
    }
    Ok(LinearLeaves {
        leaf_const,
        leaf_features,
        leaf_coeff,
    })
}

impl TreeEnsemble {
    /// Serializes as a LightGBM v4 text model with a minimal `parameters:` block.
    ///
    /// Deterministic: the same ensemble always gives the same bytes.
    pub fn to_model_string(&self) -> Result<String> {
        write_model(self, &default_parameters(self))
    }

    /// Parses a LightGBM text model (see [`parse_model`] for what is accepted).
    pub fn from_model_str(text: &str) -> Result<TreeEnsemble> {
        parse_model(text).map(|m| m.ensemble)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> TreeEnsemble {
        TreeEnsemble {
            trees: vec![Tree {
                split_feature: vec![1],
                split_gain: vec![2.5],
                threshold: vec![0.1],
                default_left: vec![true],
                missing_type: vec![MissingType::NaN],
                left_child: vec![-1],
                right_child: vec![-2],
                internal_value: vec![0.0],
                internal_weight: vec![3.0],
                internal_count: vec![10],
                leaf_value: vec![-0.25, 0.5],
                leaf_weight: vec![1.5, 1.5],
                leaf_count: vec![5, 5],
                shrinkage: 0.1,
                categorical: None,
                linear: None,
            }],
            base_score: 0.0,
            feature_names: vec!["a".into(), "b".into()],
            feature_infos: vec!["none".into(), "[-1:1]".into()],
            objective: ObjectiveKind::Binary { sigmoid: 1.0 },
            average_output: false,
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let e = stump();
        let s = e.to_model_string().unwrap();
        assert!(s.contains("decision_type=10\n"));
        assert!(s.contains("objective=binary sigmoid:1\n"));
        assert_eq!(TreeEnsemble::from_model_str(&s).unwrap(), e);
        assert_eq!(e.to_model_string().unwrap(), s);
    }

    #[test]
    fn tree_sizes_match_blocks() {
        let s = stump().to_model_string().unwrap();
        let start = s.find("Tree=0").unwrap();
        let end = s.find("end of trees").unwrap();
        assert!(s.contains(&format!("tree_sizes={}\n", end - start)));
    }

    #[test]
    fn base_score_folds_into_first_tree() {
        let mut e = stump();
        e.base_score = 0.75;
        let back = TreeEnsemble::from_model_str(&e.to_model_string().unwrap()).unwrap();
        assert_eq!(back.base_score, 0.0);
        assert_eq!(back.trees[0].leaf_value, vec![-0.25 + 0.75, 0.5 + 0.75]);
        let row = [0.0, 0.3];
        assert_eq!(
            back.predict_raw_reference(&row),
            e.predict_raw_reference(&row)
        );
    }

    /// The line of the first `key=` line of `text`.
    fn line_of(text: &str, key: &str) -> usize {
        text.lines().position(|l| l.starts_with(key)).unwrap() + 1
    }

    #[test]
    fn inconsistent_categorical_linear_and_class_content_names_the_line() {
        let s = stump().to_model_string().unwrap();
        let syntax_line = |text: &str| match TreeEnsemble::from_model_str(text) {
            Err(ModelFileError::Syntax { line, .. }) => line,
            other => panic!("expected a syntax error, got {other:?}"),
        };
        // A categorical node needs category sets.
        let cat = s.replace("decision_type=10", "decision_type=11");
        assert_eq!(syntax_line(&cat), line_of(&cat, "decision_type"));
        // A set index past the sets, and boundaries that do not cover the words.
        let cat = cat
            .replace("num_cat=0", "num_cat=1")
            .replace("\nthreshold=0.1", "\nthreshold=0")
            .replace(
                "is_linear=0",
                "cat_boundaries=0 1\ncat_threshold=6\nis_linear=0",
            );
        let e = TreeEnsemble::from_model_str(&cat).unwrap();
        // Categories 1 and 2 (bits of 6) go left; 0, 3, negative, NaN and unseen ones go right.
        let tree = &e.trees[0];
        let lefts: Vec<bool> = [1.0, 2.9, 0.0, 3.0, -1.0, f64::NAN, 33.0]
            .iter()
            .map(|&x| tree.goes_left(0, x))
            .collect();
        assert_eq!(lefts, [true, true, false, false, false, false, false]);
        assert_eq!(
            TreeEnsemble::from_model_str(&e.to_model_string().unwrap()).unwrap(),
            e
        );
        let bad_set = cat.replace("\nthreshold=0", "\nthreshold=1");
        assert!(TreeEnsemble::from_model_str(&bad_set).is_err());
        let bad_bounds = cat.replace("cat_boundaries=0 1", "cat_boundaries=0 2");
        assert!(TreeEnsemble::from_model_str(&bad_bounds).is_err());
        let short = cat.replace("cat_boundaries=0 1", "cat_boundaries=0");
        assert_eq!(syntax_line(&short), line_of(&short, "cat_boundaries"));
        // The header's class count must match the objective's.
        let multi = s.replace("num_class=1", "num_class=3");
        assert_eq!(syntax_line(&multi), 3);
        let obj = s.replace(
            "objective=binary sigmoid:1",
            "objective=multiclass num_class:3",
        );
        assert_eq!(syntax_line(&obj), 3);
        // A linear tree needs its leaf models, with as many values as `num_features` says.
        let linear = s.replace("is_linear=0", "is_linear=1");
        assert!(matches!(
            TreeEnsemble::from_model_str(&linear),
            Err(ModelFileError::Syntax { .. })
        ));
        let linear = linear.replace(
            "is_linear=1",
            "is_linear=1\nleaf_const=0.5 -1\nnum_features=1 0\nleaf_features=1  \nleaf_coeff=0.25  ",
        );
        let e = TreeEnsemble::from_model_str(&linear).unwrap();
        assert_eq!(
            e.trees[0].linear.as_ref().unwrap().leaf_coeff,
            [vec![0.25], vec![]]
        );
        assert_eq!(
            TreeEnsemble::from_model_str(&e.to_model_string().unwrap()).unwrap(),
            e
        );
        let long = linear.replace("num_features=1 0", "num_features=9 0");
        assert_eq!(syntax_line(&long), line_of(&long, "leaf_features"));
        let huge = linear.replace("num_features=1 0", "num_features=18446744073709551615 1");
        assert_eq!(syntax_line(&huge), line_of(&huge, "leaf_features"));
        let far = linear.replace("leaf_features=1  ", "leaf_features=7  ");
        assert_eq!(syntax_line(&far), line_of(&far, "leaf_features"));
        let nan = linear.replace("leaf_coeff=0.25", "leaf_coeff=nan");
        assert!(matches!(
            TreeEnsemble::from_model_str(&nan),
            Err(ModelFileError::NonFinite { .. })
        ));
    }

    #[test]
    fn sqrt_regression_and_custom_objectives_load_like_lightgbm() {
        let s = stump().to_model_string().unwrap();
        for (line, objective) in [
            ("objective=regression sqrt", ObjectiveKind::Sqrt(None)),
            (
                "objective=huber sqrt",
                ObjectiveKind::Sqrt(Some(IdentityObjective::Huber)),
            ),
        ] {
            let text = s.replace("objective=binary sigmoid:1", line);
            let e = TreeEnsemble::from_model_str(&text).unwrap();
            assert_eq!(e.objective, objective);
            assert_eq!(e.transform(-3.0), -9.0);
            assert_eq!(e.transform(0.5), 0.25);
            let again = e.to_model_string().unwrap();
            assert!(again.contains(&format!("{line}\n")), "{again}");
        }
        // No objective line: a custom objective, predicted as the raw score and written back
        // without an objective line.
        let custom = s.replace("objective=binary sigmoid:1\n", "");
        let named = s.replace("objective=binary sigmoid:1", "objective=custom");
        assert_eq!(
            TreeEnsemble::from_model_str(&named).unwrap().objective,
            ObjectiveKind::Custom
        );
        let e = TreeEnsemble::from_model_str(&custom).unwrap();
        assert_eq!(e.objective, ObjectiveKind::Custom);
        assert_eq!(e.transform(-3.0), -3.0);
        let again = e.to_model_string().unwrap();
        assert!(!again.contains("objective="), "{again}");
        assert_eq!(TreeEnsemble::from_model_str(&again).unwrap(), e);
    }

    #[test]
    fn other_objectives_round_trip_or_are_refused_by_name() {
        let s = stump().to_model_string().unwrap();
        let mut names: Vec<&str> = IdentityObjective::ALL.iter().map(|o| o.name()).collect();
        names.extend(LogLinkObjective::ALL.iter().map(|o| o.name()));
        names.extend(["cross_entropy", "cross_entropy_lambda"]);
        for name in names {
            let text = s.replace("objective=binary sigmoid:1", &format!("objective={name}"));
            let e = TreeEnsemble::from_model_str(&text).unwrap();
            assert_eq!(objective_string(&e.objective), name);
            let again = e.to_model_string().unwrap();
            assert!(again.contains(&format!("objective={name}\n")), "{name}");
            assert_eq!(TreeEnsemble::from_model_str(&again).unwrap(), e);
        }
        for name in ["my_objective", "multiclass_custom"] {
            let text = s.replace("objective=binary sigmoid:1", &format!("objective={name}"));
            match TreeEnsemble::from_model_str(&text) {
                Err(ModelFileError::Unsupported { line: 7, message }) => {
                    assert!(message.contains(&format!("`{name}`")), "{message}")
                }
                other => panic!("{name}: expected unsupported on line 7, got {other:?}"),
            }
        }
    }

    #[test]
    fn select_iterations_clips_like_lightgbm() {
        let mut e = stump();
        let mut t1 = e.trees[0].clone();
        t1.leaf_value = vec![1.0, 2.0];
        e.trees.push(t1);
        e.trees.push(Tree::constant(4.0, 1));
        assert_eq!(e.select_iterations(0, None), e);
        assert_eq!(e.select_iterations(0, Some(2)).trees, e.trees[..2]);
        assert_eq!(e.select_iterations(1, Some(1)).trees, e.trees[1..2]);
        assert_eq!(e.select_iterations(1, Some(usize::MAX)).trees, e.trees[1..]);
        assert!(e.select_iterations(5, None).trees.is_empty());
        assert_eq!(
            e.select_iterations(0, Some(2)).feature_names,
            e.feature_names
        );
    }

    #[test]
    fn objective_extra_tokens_are_tolerated() {
        let s = stump().to_model_string().unwrap().replace(
            "objective=binary sigmoid:1",
            "objective=binary sigmoid:2 extra:3",
        );
        let e = TreeEnsemble::from_model_str(&s).unwrap();
        assert_eq!(e.objective, ObjectiveKind::Binary { sigmoid: 2.0 });
    }

    #[test]
    fn format_f64_is_shortest_round_trip() {
        for x in [
            1.0,
            0.1,
            -2.5e-300,
            1e300,
            0.07951359611134574,
            f64::MIN_POSITIVE,
            3.0e-36,
        ] {
            assert_eq!(format_f64(x).parse::<f64>().unwrap().to_bits(), x.to_bits());
        }
        assert_eq!(format_f64(1.0), "1");
        assert_eq!(format_f64(-3.0), "-3");
    }
}
