//! Property tests: model-file round trips, parser robustness, parallel == sequential.

mod common;

use aml_models::{parse_model, TreeEnsemble};
use common::{random_ensemble, random_rows, to_array, Rng};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// save -> load gives the identical ensemble and identical text.
    #[test]
    fn round_trip_identical(seed in any::<u64>()) {
        let e = random_ensemble(seed, false);
        let text = e.to_model_string().unwrap();
        let back = TreeEnsemble::from_model_str(&text).unwrap();
        prop_assert_eq!(&back, &e);
        prop_assert_eq!(back.to_model_string().unwrap(), text);
    }

    /// save -> load predicts the same bits, also with a base score folded into the first tree;
    /// the compact predictor agrees with the reference traversal for f64 and f32 input.
    #[test]
    fn round_trip_same_predictions(seed in any::<u64>()) {
        let e = random_ensemble(seed, true);
        let back = TreeEnsemble::from_model_str(&e.to_model_string().unwrap()).unwrap();
        let mut rng = Rng(seed ^ 0xABCD);
        let rows = random_rows(&mut rng, &e, 40);
        let p = e.predictor().unwrap();
        let q = back.predictor().unwrap();
        for r in &rows {
            let want = e.predict_raw_reference(r);
            prop_assert_eq!(p.predict_raw_row(r).unwrap().to_bits(), want.to_bits());
            prop_assert_eq!(q.predict_raw_row(r).unwrap().to_bits(), want.to_bits());
            let r32: Vec<f32> = r.iter().map(|&v| v as f32).collect();
            let r32_as_64: Vec<f64> = r32.iter().map(|&v| f64::from(v)).collect();
            prop_assert_eq!(
                p.predict_raw_row(&r32).unwrap().to_bits(),
                e.predict_raw_reference(&r32_as_64).to_bits()
            );
        }
    }

    /// Batch prediction is bit-identical on 1 thread, 2 threads and row by row.
    #[test]
    fn parallel_equals_sequential(seed in any::<u64>(), n in 0usize..300) {
        let e = random_ensemble(seed, true);
        let mut rng = Rng(seed.rotate_left(17));
        let rows = random_rows(&mut rng, &e, n);
        let x = to_array(&rows, e.num_features());
        let p = e.predictor().unwrap();
        let seq = p.predict_raw_sequential(x.view()).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let par = pool.install(|| p.predict_raw(x.view())).unwrap();
        prop_assert_eq!(seq.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), par.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        for (i, r) in rows.iter().enumerate() {
            prop_assert_eq!(p.predict_raw_row(r).unwrap().to_bits(), seq[i].to_bits());
        }
        // f32 batches take the f32 kernel: same bits as the row path on the same f32 values.
        let x32 = x.mapv(|v| v as f32);
        let seq32 = p.predict_raw_sequential(x32.view()).unwrap();
        let par32 = pool.install(|| p.predict_raw(x32.view())).unwrap();
        for (i, r) in x32.rows().into_iter().enumerate() {
            let want = p.predict_raw_row(r.as_slice().unwrap()).unwrap().to_bits();
            prop_assert_eq!(seq32[i].to_bits(), want);
            prop_assert_eq!(par32[i].to_bits(), want);
        }
    }

    /// Arbitrary bytes never panic the parser.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_model(&text);
        let with_header = format!("tree\nversion=v4\n{text}");
        let _ = parse_model(&with_header);
    }

    /// Mutated valid model files either fail cleanly or give a model that predicts without panicking.
    #[test]
    fn mutated_models_never_panic(seed in any::<u64>(), mutations in proptest::collection::vec((any::<u32>(), any::<u32>(), 0u8..8), 1..6)) {
        let e = random_ensemble(seed, false);
        let text = e.to_model_string().unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        const GARBAGE: [&str; 10] = ["-1", "0", "1e308", "nan", "", "18446744073709551616", "-2147483649", "3 4 5", "x", "="];
        for (a, b, kind) in mutations {
            if lines.is_empty() {
                break;
            }
            let i = a as usize % lines.len();
            match kind {
                0 => { lines.remove(i); }
                1 => { let l = lines[i].clone(); lines.insert(i, l); }
                2 => { let j = b as usize % lines.len(); lines.swap(i, j); }
                3 | 4 => {
                    // Replace one space-separated token of a value with garbage.
                    let line = lines[i].clone();
                    if let Some((k, v)) = line.split_once('=') {
                        let mut toks: Vec<&str> = v.split(' ').collect();
                        let t = b as usize % toks.len();
                        toks[t] = GARBAGE[(b as usize / 7) % GARBAGE.len()];
                        lines[i] = format!("{k}={}", toks.join(" "));
                    }
                }
                5 => { let cut = b as usize % (lines[i].len() + 1); if lines[i].is_char_boundary(cut) { lines[i].truncate(cut); } }
                6 => { lines.truncate(i); }
                _ => {
                    // Change one integer token (children, features, counts) by a small amount.
                    let line = lines[i].clone();
                    if let Some((k, v)) = line.split_once('=') {
                        let toks: Vec<String> = v.split(' ').enumerate().map(|(j, t)| match t.parse::<i64>() {
                            Ok(n) if j == b as usize % 4 => (n + i64::from(b % 5) - 2).to_string(),
                            _ => t.to_string(),
                        }).collect();
                        lines[i] = format!("{k}={}", toks.join(" "));
                    }
                }
            }
        }
        let mutated = lines.join("\n");
        if let Ok(file) = parse_model(&mutated) {
            let p = file.ensemble.predictor().unwrap();
            let mut rng = Rng(seed);
            for r in random_rows(&mut rng, &file.ensemble, 5) {
                let _ = p.predict_raw_row(&r).unwrap();
            }
        }
    }
}
