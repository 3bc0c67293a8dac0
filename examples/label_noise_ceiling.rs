//! The AUC a scorer could reach on generated days if it knew the truth. The generator labels
//! addresses with noise (a benign address is sometimes labelled high risk, an illicit one
//! medium), except trap addresses and registry members, so even the truth ranks a day's labelled
//! alerts with an AUC below 1. Ranking by the truth's chance of a high label
//! ([`aml_synth::AlertTruth::bayes_rank`]) is the best any scorer can do on average, as the noise
//! is drawn independently of everything a scorer sees; the illicit flag alone is shown too.
//!
//! ```sh
//! cargo run --release --example label_noise_ceiling -- --out /tmp/ceiling --date 2025-10-01 \
//!     --days 11 --alerts 5000 --addresses 50000 --flows 250000 --seed 42 --labels
//! ```
//!
//! Takes `aml-miner generate`'s flags (`--labels` is needed), writes the days as `generate`
//! does, then prints per day the AUC of the truth against the contract labels (tied pairs count
//! one half, as in scikit-learn), beside which `aml-miner validate --json` puts a
//! submission's AUC on the same labelled alerts.

use aml_core::batch::Batch;
use aml_miner::cli::generate::{self, Args};
use aml_train::metric::roc_auc;
use aml_train::pipeline::data::alert_labels;
use clap::Parser;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if !args.labels {
        return Err("--labels is needed: the ceiling compares the truth with the labels".into());
    }
    let config = args.config();
    let dirs = generate::run(&args)?;
    println!("| day | labelled alerts | labelled illicit | truly illicit | AUC of the illicit flag | AUC of the best order |");
    println!("|---|---|---|---|---|---|");
    for (index, dir) in dirs.iter().enumerate() {
        let (batch, _) = Batch::load(dir)?;
        let truth = aml_synth::alert_truth(&config, index)?;
        let ids: Vec<String> = truth.iter().map(|t| t.alert_id.clone()).collect();
        let (labels, _) = alert_labels(&batch, &ids);
        let (mut y, mut t, mut best) = (Vec::new(), Vec::new(), Vec::new());
        for (label, truth) in labels.iter().zip(&truth) {
            if let Some(label) = label {
                y.push(f64::from(*label));
                t.push(f64::from(u8::from(truth.illicit)));
                best.push(f64::from(truth.bayes_rank()));
            }
        }
        let share = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        println!(
            "| {} | {} | {:.4} | {:.4} | {:.4} | {:.4} |",
            batch.meta.processing_date,
            y.len(),
            share(&y),
            share(&t),
            roc_auc(&y, &t),
            roc_auc(&y, &best)
        );
    }
    Ok(())
}
