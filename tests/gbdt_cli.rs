//! End-to-end test of `aml-miner gbdt` (`aml_miner::cli::gbdt`, also `examples/gbdt.rs`),
//! driven in-process (train, then predict with --raw / --contrib), on small
//! generated data files in every text format, and on the LightGBM zoo fixtures of
//! aml-models (one column per class, iteration selection, resave).

use aml_miner::cli::gbdt;
use std::path::{Path, PathBuf};

use aml_train::metric;
use clap::Parser;

/// Runs the CLI with `args` (program name excluded); the error text on failure.
fn cli(args: &[&str]) -> Result<(), String> {
    let parsed = gbdt::Args::try_parse_from(std::iter::once("gbdt").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    gbdt::run(&parsed).map_err(|e| e.to_string())
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// Deterministic pseudo-random value in [0, 1) for (row, column).
fn noise(row: usize, column: usize) -> f64 {
    let mut x = (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (column as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A binary CSV with a header: label depends on x0 + x1, x2 is noise, x3 has missing values.
fn write_binary_csv(path: &Path, rows: std::ops::Range<usize>) -> Vec<f64> {
    let mut text = String::from("label,x0,x1,x2,x3\n");
    let mut labels = Vec::new();
    for r in rows {
        let (x0, x1, x2) = (noise(r, 0), noise(r, 1), noise(r, 2));
        let label = if x0 + x1 + 0.3 * noise(r, 9) > 1.15 {
            1.0
        } else {
            0.0
        };
        let x3 = if r % 7 == 0 {
            String::new()
        } else {
            format!("{:.4}", noise(r, 3))
        };
        text.push_str(&format!("{label},{x0:.6},{x1:.6},{x2:.6},{x3}\n"));
        labels.push(label);
    }
    std::fs::write(path, text).unwrap();
    labels
}

fn read_tsv(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split('\t').map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn binary_train_predict_raw_and_contrib() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    write_binary_csv(&p("train.csv"), 0..600);
    let valid_labels = write_binary_csv(&p("valid.csv"), 600..900);
    let train_args = |out: &str, threads: &str| {
        cli(&[
            "train",
            "--data",
            s(&p("train.csv")),
            "--valid",
            s(&p("valid.csv")),
            "--objective",
            "binary",
            "--num-trees",
            "30",
            "--num-leaves",
            "7",
            "--learning-rate",
            "0.2",
            "--min-data-in-leaf",
            "10",
            "--bagging-fraction",
            "0.8",
            "--bagging-freq",
            "1",
            "--feature-fraction",
            "0.75",
            "--seed",
            "3",
            "--early-stopping",
            "10",
            "--threads",
            threads,
            "--out",
            s(&p(out)),
        ])
    };
    train_args("model.txt", "1").unwrap();
    train_args("model2.txt", "2").unwrap();
    let model_text = std::fs::read(p("model.txt")).unwrap();
    assert_eq!(
        model_text,
        std::fs::read(p("model2.txt")).unwrap(),
        "1 vs 2 threads differ"
    );

    let predict = |extra: &[&str], out: &str| {
        let (model, data) = (p("model.txt"), p("valid.csv"));
        let mut args = vec!["predict", "--model", s(&model), "--data", s(&data), "--out"];
        let out = p(out);
        args.push(s(&out));
        args.extend_from_slice(extra);
        cli(&args).unwrap();
        read_tsv(&out)
    };
    let probs: Vec<f64> = predict(&[], "probs.tsv")
        .into_iter()
        .map(|row| row[0])
        .collect();
    assert_eq!(probs.len(), 300);
    assert!(probs.iter().all(|&q| q > 0.0 && q < 1.0));
    let auc = metric::roc_auc(&valid_labels, &probs);
    assert!(auc > 0.85, "validation AUC {auc}");

    let raw: Vec<f64> = predict(&["--raw"], "raw.tsv")
        .into_iter()
        .map(|row| row[0])
        .collect();
    for (r, q) in raw.iter().zip(&probs) {
        assert!((1.0 / (1.0 + (-r).exp()) - q).abs() < 1e-12);
    }
    let contrib = predict(&["--contrib"], "contrib.tsv");
    assert_eq!(contrib.len(), 300);
    for (row, r) in contrib.iter().zip(&raw) {
        assert_eq!(row.len(), 5, "4 features + expected value");
        assert!(
            (row.iter().sum::<f64>() - r).abs() < 1e-9,
            "contributions must sum to the raw score"
        );
    }
}

#[test]
fn lambdarank_from_libsvm_with_query_file_and_regression_from_tsv() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    let (mut svm, mut queries, mut tsv) = (String::new(), String::new(), String::new());
    for q in 0..20 {
        queries.push_str("15\n");
        for i in 0..15 {
            let r = q * 15 + i;
            let (a, b) = (noise(r, 0), noise(r, 1));
            let relevance = (3.0 * a + 0.5 * noise(r, 5)).floor().min(3.0);
            svm.push_str(&format!("{relevance} 0:{a:.5} 2:{b:.5}\n"));
            tsv.push_str(&format!("{:.6}\t{a:.6}\t{b:.6}\n", 2.0 * a - b));
        }
    }
    std::fs::write(p("rank.svm"), svm).unwrap();
    std::fs::write(p("rank.svm.query"), queries).unwrap();
    std::fs::write(p("reg.tsv"), tsv).unwrap();
    let common = [
        "--num-trees",
        "15",
        "--num-leaves",
        "5",
        "--min-data-in-leaf",
        "5",
    ];
    let rank_data = p("rank.svm");
    let data = aml_train::data_file::read_data_file(&rank_data, &Default::default()).unwrap();
    let groups = data.groups.clone().unwrap();
    // Both ranking objectives, and the LambdaRank flags (a model trained with truncation 1 must
    // differ from the default's, one with sampled deep pairs from truncation 1's, one with
    // another sigmoid and label gains from the default's, or the flag is not wired through).
    let cases: [(&str, &str, &[&str]); 5] = [
        ("lambdarank", "rank.txt", &[]),
        (
            "lambdarank",
            "rank_trunc1.txt",
            &["--lambdarank-truncation-level", "1"],
        ),
        (
            "lambdarank",
            "rank_trunc1_sampled.txt",
            &[
                "--lambdarank-truncation-level",
                "1",
                "--lambdarank-pair-sample",
                "2",
                "--lambdarank-pair-norm",
            ],
        ),
        (
            "lambdarank",
            "rank_sigmoid.txt",
            &["--sigmoid", "2", "--label-gain", "0,1,2,4"],
        ),
        ("rank_xendcg", "xendcg.txt", &[]),
    ];
    for (objective, name, extra) in cases {
        let model = p(name);
        let mut args = vec!["train", "--data", s(&rank_data), "--objective", objective];
        args.extend_from_slice(&["--out", s(&model)]);
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        cli(&args).unwrap();
        let text = std::fs::read_to_string(&model).unwrap();
        assert!(text.contains(&format!("objective={objective}")), "{name}");
        let out = p(&format!("{name}.tsv"));
        cli(&[
            "predict",
            "--model",
            s(&model),
            "--data",
            s(&rank_data),
            "--out",
            s(&out),
        ])
        .unwrap();
        let scores: Vec<f64> = read_tsv(&out).into_iter().map(|row| row[0]).collect();
        let ndcg = metric::mean_ndcg_at_k(&data.labels, &scores, &groups, 5);
        assert!(ndcg > 0.8, "{name}: train NDCG@5 {ndcg}");
    }
    let trees = |name: &str| {
        let text = std::fs::read_to_string(p(name)).unwrap();
        text[text.find("Tree=0").unwrap()..].to_string()
    };
    assert_ne!(trees("rank.txt"), trees("rank_trunc1.txt"));
    assert_ne!(trees("rank_trunc1.txt"), trees("rank_trunc1_sampled.txt"));
    assert_ne!(trees("rank.txt"), trees("rank_sigmoid.txt"));

    let reg_data = p("reg.tsv");
    let mut args = vec![
        "train",
        "--data",
        s(&reg_data),
        "--objective",
        "regression",
        "--out",
    ];
    let reg_model = p("reg.txt");
    args.push(s(&reg_model));
    args.extend_from_slice(&common);
    cli(&args).unwrap();
    let out = p("reg_preds.tsv");
    cli(&[
        "predict",
        "--model",
        s(&reg_model),
        "--data",
        s(&p("reg.tsv")),
        "--out",
        s(&out),
    ])
    .unwrap();
    let preds: Vec<f64> = read_tsv(&out).into_iter().map(|row| row[0]).collect();
    let data = aml_train::data_file::read_data_file(&p("reg.tsv"), &Default::default()).unwrap();
    let variance = metric::l2(
        &data.labels,
        &vec![data.labels.iter().sum::<f64>() / 300.0; 300],
    );
    assert!(metric::l2(&data.labels, &preds) < 0.5 * variance);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    write_binary_csv(&p("train.csv"), 0..100);
    std::fs::write(p("bad.csv"), "label,x0\n1,0.5\n0,oops\n").unwrap();
    let err = cli(&[
        "train",
        "--data",
        s(&p("bad.csv")),
        "--objective",
        "binary",
        "--out",
        s(&p("m.txt")),
    ])
    .unwrap_err();
    assert!(err.contains("bad.csv: line 3, column 2"), "{err}");
    std::fs::write(p("labels.csv"), "label,x0\n2,0.5\n0,0.1\n").unwrap();
    let err = cli(&[
        "train",
        "--data",
        s(&p("labels.csv")),
        "--objective",
        "binary",
        "--out",
        s(&p("m.txt")),
    ]);
    assert!(err.is_err(), "binary label 2 must be rejected");
    let err = cli(&[
        "train",
        "--data",
        s(&p("train.csv")),
        "--objective",
        "lambdarank",
        "--out",
        s(&p("m.txt")),
    ]);
    assert!(err.is_err(), "lambdarank without groups must be rejected");

    cli(&[
        "train",
        "--data",
        s(&p("train.csv")),
        "--objective",
        "binary",
        "--num-trees",
        "3",
        "--out",
        s(&p("m.txt")),
    ])
    .unwrap();
    std::fs::write(p("narrow.csv"), "label,x0\n1,0.5\n").unwrap();
    let err = cli(&[
        "predict",
        "--model",
        s(&p("m.txt")),
        "--data",
        s(&p("narrow.csv")),
        "--out",
        s(&p("o.tsv")),
    ])
    .unwrap_err();
    assert!(
        err.contains('4') && err.contains('1'),
        "feature count mismatch should name both counts: {err}"
    );
    assert!(!p("o.tsv").exists());
    let err = cli(&[
        "predict",
        "--model",
        s(&p("missing.txt")),
        "--data",
        s(&p("train.csv")),
        "--out",
        s(&p("o.tsv")),
    ])
    .unwrap_err();
    assert!(err.contains("missing.txt"), "{err}");
}

/// A LightGBM model (`max_bin` 15, float64 data on a 0.001 grid) predicted from a float64 TSV:
/// its rows hold, for every split threshold `t`, `t`, its float64 and its float32 neighbours, so
/// reading them as `f32` sends some rows the wrong way. Raw scores must equal LightGBM's bit for
/// bit; TreeSHAP contributions must take the same decisions (they sum to the raw score).
#[test]
fn lightgbm_model_predicts_f64_tsv_exactly() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/aml-models/tests/fixtures");
    let case = "f64_binary_max_bin15";
    let model = fixtures.join(format!("{case}.model.txt"));
    let inputs = std::fs::read_to_string(fixtures.join(format!("{case}.inputs.tsv"))).unwrap();
    let want: Vec<f64> = std::fs::read_to_string(fixtures.join(format!("{case}.preds.tsv")))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // A label column first (LightGBM's layout); the fixture's cells are shortest round-trip f64.
    let mut tsv = String::new();
    for (i, line) in inputs.lines().enumerate() {
        tsv.push_str(if i == 0 { "label\t" } else { "0\t" });
        tsv.push_str(line);
        tsv.push('\n');
    }
    let data = dir.path().join("test.tsv");
    std::fs::write(&data, tsv).unwrap();
    // The fixture really has rows that f32 decides differently.
    let f32_raw: Vec<f64> = std::fs::read_to_string(fixtures.join(format!("{case}.preds.tsv")))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(want.iter().zip(&f32_raw).any(|(a, b)| a != b));

    let predict = |extra: &str, out: &str| {
        let out = dir.path().join(out);
        cli(&[
            "predict",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--out",
            s(&out),
            extra,
        ])
        .unwrap();
        read_tsv(&out)
    };
    let raw = predict("--raw", "raw.tsv");
    assert_eq!(raw.len(), want.len());
    for (i, (row, w)) in raw.iter().zip(&want).enumerate() {
        assert_eq!(
            row[0].to_bits(),
            w.to_bits(),
            "row {i}: {} vs LightGBM {w}",
            row[0]
        );
    }
    let contrib = predict("--contrib", "contrib.tsv");
    for (i, (row, w)) in contrib.iter().zip(&want).enumerate() {
        let sum: f64 = row.iter().sum();
        assert!(
            (sum - w).abs() <= 1e-9,
            "row {i}: contributions sum {sum} vs {w}"
        );
    }
}

/// The zoo fixtures of aml-models (LightGBM-trained models, inputs, LightGBM's predictions).
fn zoo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/aml-models/tests/fixtures")
}

/// A `<case>.meta.tsv` value.
fn zoo_meta(case: &str, key: &str) -> usize {
    std::fs::read_to_string(zoo().join(format!("{case}.meta.tsv")))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .unwrap()
        .parse()
        .unwrap()
}

/// LightGBM's predictions of a zoo case: per row, raw (f64), prediction (f64), raw (f32) per class.
fn zoo_preds(case: &str) -> Vec<Vec<f64>> {
    headed_tsv(&zoo().join(format!("{case}.preds.tsv")))
}

/// The rows of a tab-separated file after its header line.
fn headed_tsv(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split('\t').map(|v| v.parse().unwrap()).collect())
        .collect()
}

/// The zoo case's inputs as a TSV data file with a label column first, in `dir`.
fn zoo_data(case: &str, dir: &Path) -> PathBuf {
    let inputs = std::fs::read_to_string(zoo().join(format!("{case}.inputs.tsv"))).unwrap();
    let mut tsv = String::new();
    for (i, line) in inputs.lines().enumerate() {
        tsv.push_str(if i == 0 { "label\t" } else { "0\t" });
        tsv.push_str(line);
        tsv.push('\n');
    }
    let path = dir.join(format!("{case}.tsv"));
    std::fs::write(&path, tsv).unwrap();
    path
}

/// Runs `predict` on `model` and `data` with `extra` flags; the rows written.
fn predict_file(model: &Path, data: &Path, out: &Path, extra: &[&str]) -> Vec<Vec<f64>> {
    let mut args = vec![
        "predict",
        "--model",
        s(model),
        "--data",
        s(data),
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    cli(&args).unwrap();
    read_tsv(out)
}

/// Zoo models beyond single-output trees with numerical splits and constant leaves.
const BEYOND_PLAIN_TREES: [&str; 5] = [
    "zoo_multiclass",
    "zoo_multiclassova",
    "zoo_categorical",
    "zoo_linear_tree",
    "zoo_rf",
];

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

/// Multiclass (softmax and one-vs-all), categorical, linear-tree and random-forest LightGBM
/// models: `predict` writes one column per class; raw scores equal LightGBM's bit for bit and
/// predictions (averaged for the forest, then transformed) within 1e-12.
#[test]
fn zoo_models_predict_every_class_like_lightgbm() {
    let dir = tempfile::tempdir().unwrap();
    for case in BEYOND_PLAIN_TREES {
        let k = zoo_meta(case, "num_class");
        let model = zoo().join(format!("{case}.model.txt"));
        let data = zoo_data(case, dir.path());
        let want = zoo_preds(case);
        let raw = predict_file(&model, &data, &dir.path().join("raw.tsv"), &["--raw"]);
        let pred = predict_file(&model, &data, &dir.path().join("pred.tsv"), &[]);
        assert_eq!((raw.len(), pred.len()), (want.len(), want.len()), "{case}");
        for (i, w) in want.iter().enumerate() {
            assert_eq!(raw[i].len(), k, "{case} row {i}: one column per class");
            assert_eq!(pred[i].len(), k, "{case} row {i}: one column per class");
            for c in 0..k {
                assert_eq!(
                    raw[i][c].to_bits(),
                    w[c].to_bits(),
                    "{case} row {i} class {c}"
                );
                assert!(close(pred[i][c], w[k + c]), "{case} row {i} class {c}");
            }
        }
    }
}

/// `--num-iteration` / `--start-iteration` select iterations as LightGBM does: an early-stopped
/// model predicts with every tree unless told, and with `--num-iteration best_iteration` equals
/// LightGBM's prediction; TreeSHAP explains the same selection.
#[test]
fn iteration_selection_follows_lightgbm() {
    let dir = tempfile::tempdir().unwrap();
    let case = "zoo_early_stopped";
    let best = zoo_meta(case, "best_iteration");
    let model = zoo().join(format!("{case}.model.txt"));
    let data = zoo_data(case, dir.path());
    let want = zoo_preds(case);
    let out = dir.path().join("out.tsv");
    let best_arg = best.to_string();
    let selected = predict_file(
        &model,
        &data,
        &out,
        &["--raw", "--num-iteration", &best_arg],
    );
    for (i, w) in want.iter().enumerate() {
        assert_eq!(selected[i][0].to_bits(), w[0].to_bits(), "row {i}");
    }
    let all = predict_file(&model, &data, &out, &["--raw"]);
    assert_eq!(
        all,
        predict_file(&model, &data, &out, &["--raw", "--num-iteration", "0"])
    );
    assert!(
        all.iter().zip(&want).any(|(a, w)| a[0] != w[0]),
        "all trees differ"
    );

    let text = std::fs::read_to_string(&model).unwrap();
    let ensemble = aml_models::TreeEnsemble::from_model_str(&text).unwrap();
    let inputs = headed_tsv(&zoo().join(format!("{case}.inputs.tsv")));
    let x = ndarray::Array2::from_shape_fn((inputs.len(), inputs[0].len()), |(i, j)| inputs[i][j]);
    let middle = ensemble
        .select_iterations(1, Some(2))
        .predictor()
        .unwrap()
        .predict_raw(x.view())
        .unwrap();
    let got = predict_file(
        &model,
        &data,
        &out,
        &["--raw", "--start-iteration", "1", "--num-iteration", "2"],
    );
    for (i, m) in middle.iter().enumerate() {
        assert_eq!(got[i][0].to_bits(), m.to_bits(), "row {i}");
    }
    let contrib = predict_file(
        &model,
        &data,
        &out,
        &["--contrib", "--num-iteration", &best_arg],
    );
    for (i, (row, w)) in contrib.iter().zip(&want).enumerate() {
        let sum: f64 = row.iter().sum();
        assert!((sum - w[0]).abs() <= 1e-9, "row {i}: {sum} vs {}", w[0]);
    }
}

/// `resave` writes a LightGBM model with our writer: the same ensemble, the same predictions;
/// a missing input is an error naming it and leaves no output.
#[test]
fn resave_keeps_every_lightgbm_model_kind() {
    let dir = tempfile::tempdir().unwrap();
    for case in BEYOND_PLAIN_TREES.iter().chain(&["zoo_huber"]) {
        let model = zoo().join(format!("{case}.model.txt"));
        let resaved = dir.path().join(format!("{case}.ours.txt"));
        cli(&["resave", "--model", s(&model), "--out", s(&resaved)]).unwrap();
        let parse = |p: &Path| {
            aml_models::parse_model(&std::fs::read_to_string(p).unwrap())
                .unwrap()
                .ensemble
        };
        assert_eq!(parse(&resaved), parse(&model), "{case}");
        let data = zoo_data(case, dir.path());
        let out = dir.path().join("out.tsv");
        let ours = predict_file(&resaved, &data, &out, &["--raw"]);
        let theirs = predict_file(&model, &data, &out, &["--raw"]);
        assert_eq!(ours, theirs, "{case}");
    }
    let missing = dir.path().join("missing.txt");
    let out = dir.path().join("never.txt");
    let err = cli(&["resave", "--model", s(&missing), "--out", s(&out)]).unwrap_err();
    assert!(err.contains("missing.txt"), "{err}");
    assert!(!out.exists());
}
