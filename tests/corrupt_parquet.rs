//! Every Parquet reader outside the batch loader (submission files, GBDT data files, the validator's
//! labels file) turns a panic of the parquet crate on a corrupt file into an error naming the file.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

/// A small valid file: a numeric label and a decimal column.
fn valid_file() -> Vec<u8> {
    let rows = 64;
    let schema = Arc::new(Schema::new(vec![
        Field::new("label", DataType::Float64, false),
        Field::new("amount", DataType::Decimal128(38, 18), false),
    ]));
    let amounts =
        Decimal128Array::from_iter_values((0..rows).map(|i| i * 1_000_000_000_000_000_123))
            .with_precision_and_scale(38, 18)
            .unwrap();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|i| (i % 2) as f64),
        )),
        Arc::new(amounts),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    bytes
}

/// Whether the parquet crate itself panics while decoding the file at `path`.
fn raw_decode_panics(path: &Path) -> bool {
    std::panic::catch_unwind(|| {
        let file = std::fs::File::open(path).unwrap();
        if let Ok(reader) = ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()) {
            reader.take_while(Result::is_ok).for_each(drop);
        }
    })
    .is_err()
}

/// The first single-byte corruption of [`valid_file`] that makes the parquet crate panic, written to
/// `path` (searched rather than hard-coded, so it follows the parquet crate's exact layout).
fn write_panicking_file(path: &Path) {
    let valid = valid_file();
    for at in 0..valid.len() {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            if valid[at] == value {
                continue;
            }
            let mut bytes = valid.clone();
            bytes[at] = value;
            std::fs::write(path, &bytes).unwrap();
            if raw_decode_panics(path) {
                return;
            }
        }
    }
    panic!("no single-byte corruption makes the parquet crate panic any more");
}

#[test]
fn corrupt_parquet_is_an_error_in_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.parquet");
    std::panic::set_hook(Box::new(|_| {}));
    write_panicking_file(&path);
    let results = std::panic::catch_unwind(|| {
        [
            aml_core::submission::read_scores(&path)
                .map(drop)
                .map_err(|e| e.to_string()),
            aml_train::data_file::read_data_file(&path, &Default::default())
                .map(drop)
                .map_err(|e| e.to_string()),
            aml_miner::validation::labels::read_labels_file(&path)
                .map(drop)
                .map_err(|e| e.to_string()),
        ]
    });
    let _ = std::panic::take_hook();
    let results = results.expect("a reader panicked on a corrupt Parquet file");
    for (reader, result) in ["submission", "data_file", "labels"].iter().zip(results) {
        let message = result.expect_err(reader);
        assert!(message.contains("corrupt.parquet"), "{reader}: {message}");
        assert!(message.contains("panicked"), "{reader}: {message}");
    }
}
