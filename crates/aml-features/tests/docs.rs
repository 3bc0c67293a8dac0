//! `docs/features.md` must match the feature declarations; regenerate with
//! `UPDATE_DOCS=1 cargo test -p aml-features --test docs`.

use std::path::PathBuf;

#[test]
fn features_doc_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/features.md");
    let expected = aml_features::features_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/features.md");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/features.md is stale: run `UPDATE_DOCS=1 cargo test -p aml-features --test docs`"
    );
}

#[test]
fn catalog_names_are_unique_and_documented() {
    let (alerts, clusters) = aml_features::feature_catalog();
    for defs in [&alerts, &clusters] {
        let mut names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate feature names");
        assert!(defs
            .iter()
            .all(|d| !d.meaning.is_empty() && !d.meaning.contains('\n')));
    }
}
