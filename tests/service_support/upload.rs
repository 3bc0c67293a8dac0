//! A labelless day to upload as `multipart/form-data`, and the multipart body builder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aml_miner::pipeline::ScoreOptions;
use aml_miner::service::server::UPLOAD_FILES;
use aml_synth::{write_batch, SynthConfig};

use super::{fixture, score_day};

/// A labelless day (the upload carries the five batch files) and its `score_batch` submission.
pub fn upload_day() -> &'static (PathBuf, PathBuf) {
    static DAY: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DAY.get_or_init(|| {
        let f = fixture();
        let config = SynthConfig {
            n_alerts: 150,
            n_addresses: 1_500,
            n_flows: 4_000,
            date: "2025-10-01".into(),
            with_labels: false,
            ..SynthConfig::small()
        };
        let day = write_batch(&f.root.path().join("upload-day"), &config, 3).unwrap();
        let out = f.root.path().join("upload-submission");
        score_day(&day, &f.bundle, &out, &ScoreOptions::default());
        (day, out)
    })
}

pub const BOUNDARY: &str = "aml-miner-test-boundary-7MA4YWxkTrZu0gW";

/// A multipart/form-data body with one part per `(name, file name, bytes)`.
pub fn multipart(parts: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub fn day_parts(day: &Path) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    UPLOAD_FILES
        .iter()
        .map(|f| (*f, *f, std::fs::read(day.join(f)).unwrap()))
        .collect()
}
