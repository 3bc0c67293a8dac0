//! Per-alert cluster member unions (`cl_high_share`, `cl_count`): equal to a plain set-union
//! reference, and computed with work linear in the memberships when large clusters overlap.

mod common;

use aml_core::batch::Batch;
use aml_core::tables::Severity;
use aml_features::columns::to_matrix_value;
use aml_features::{FeatureBuilder, FeatureMatrix, MemberUnions, PreparedBatch, LARGE_CLUSTER};
use common::{batch, tables, with_cluster, Rng};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Per alert (in alert_id order): the distinct known member alerts of all clusters containing
/// it, as (count, high/critical count), by plain set unions over the raw cluster rows.
fn reference_unions(b: &Batch) -> Vec<(usize, usize)> {
    let alerts = &b.alerts;
    let known: BTreeSet<&str> = alerts.alert_id.iter().map(String::as_str).collect();
    let c = &b.clusters;
    let members: Vec<BTreeSet<&str>> = (0..c.len())
        .map(|r| {
            c.related_alert_ids[r]
                .iter()
                .chain(std::iter::once(&c.primary_alert_id[r]))
                .map(String::as_str)
                .filter(|id| known.contains(id))
                .collect()
        })
        .collect();
    let high: BTreeSet<&str> = (0..alerts.len())
        .filter(|&r| Severity::parse(&alerts.severity[r]).ordinal() >= Severity::High.ordinal())
        .map(|r| alerts.alert_id[r].as_str())
        .collect();
    known
        .iter()
        .map(|id| {
            let union: BTreeSet<&str> = members
                .iter()
                .filter(|m| m.contains(id))
                .flatten()
                .copied()
                .collect();
            (union.len(), union.intersection(&high).count())
        })
        .collect()
}

fn column_bits(m: &FeatureMatrix, name: &str) -> Vec<u32> {
    m.column(name)
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// Checks the prepared unions and the matrix's `cl_high_share` against the reference.
fn assert_matches_reference(b: &Batch) {
    let reference = reference_unions(b);
    let unions = PreparedBatch::new(b).member_unions();
    let got: Vec<(usize, usize)> = unions.size.into_iter().zip(unions.high).collect();
    assert_eq!(got, reference);
    let spec = FeatureBuilder::new().fit(&[b]).unwrap();
    let m = spec.transform(b).unwrap();
    let expected: Vec<u32> = reference
        .iter()
        .map(|&(size, high)| {
            let share = if size == 0 {
                f64::NAN
            } else {
                high as f64 / size as f64
            };
            to_matrix_value(share).to_bits()
        })
        .collect();
    assert_eq!(column_bits(&m, "cl_high_share"), expected);
}

/// Ids of the alerts of `t` kept with probability `1 / every`.
fn some_alerts(t: &common::Tables, every: usize, rng: &mut Rng) -> Vec<String> {
    t.alerts
        .alert_id
        .iter()
        .filter(|_| rng.below(every) == 0)
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Small random batches: overlapping small clusters, ghost and duplicate members, alerts in
    /// no cluster, plus up to four random large clusters (a giant one among them).
    #[test]
    fn unions_equal_a_plain_set_union(
        seed in 0u64..1000, n_alerts in 0usize..300, n_clusters in 0usize..40,
        large in proptest::collection::vec(1usize..4, 0..4),
    ) {
        let mut t = tables(seed, n_alerts, 30, 60, n_clusters);
        let mut rng = Rng::new(seed);
        for (k, every) in large.iter().enumerate() {
            let related = some_alerts(&t, *every, &mut rng);
            t = with_cluster(t, &format!("large_{k}"), related, seed + k as u64);
        }
        assert_matches_reference(&batch(t));
    }
}

#[test]
fn unions_with_one_giant_cluster_equal_the_reference() {
    let t = tables(5, 400, 50, 100, 60);
    let every_alert = t.alerts.alert_id.clone();
    assert_matches_reference(&batch(with_cluster(t, "giant", every_alert, 9)));
}

/// The unions of `p`, after checking that every alert's union is the whole batch and that
/// computing them read at most twice the memberships (distinct known members summed over
/// clusters).
fn whole_batch_unions_read_linearly(p: &PreparedBatch<'_>) -> MemberUnions {
    let unions = p.member_unions();
    assert!(unions.size.iter().all(|&s| s == p.n_alerts()));
    let memberships: usize = p.cluster_members.iter().map(Vec::len).sum();
    assert!(
        unions.member_visits <= 2 * memberships,
        "{} member visits for {memberships} memberships",
        unions.member_visits
    );
    unions
}

#[test]
fn one_giant_cluster_is_read_once_not_once_per_alert() {
    let n = 20_000;
    let t = tables(3, n, 2_000, 2_000, n / 10);
    let every_alert = t.alerts.alert_id.clone();
    let b = batch(with_cluster(t, "giant", every_alert, 4));
    let p = PreparedBatch::new(&b);
    // Each membership once, plus the small clusters of the alerts also in them (a union per
    // alert, as before, reads n * n = 400,000,000 entries).
    let unions = whole_batch_unions_read_linearly(&p);
    let all_high = (0..n as u32).filter(|&i| p.is_high(i)).count();
    assert!(unions.high.iter().all(|&h| h == all_high));
    let spec = FeatureBuilder::new().fit(&[&b]).unwrap();
    let (m, _) = spec.transform_prepared(&p).unwrap();
    let share = to_matrix_value(all_high as f64 / n as f64).to_bits();
    assert!(column_bits(&m, "cl_high_share").iter().all(|&v| v == share));
}

#[test]
fn overlapping_large_clusters_are_united_once_per_combination() {
    let n = 20_000;
    let t = tables(8, n, 2_000, 2_000, n / 10);
    let every_alert = t.alerts.alert_id.clone();
    let every_other: Vec<String> = every_alert.iter().step_by(2).cloned().collect();
    let t = with_cluster(t, "giant", every_alert, 1);
    let b = batch(with_cluster(t, "half", every_other, 2));
    let p = PreparedBatch::new(&b);
    assert!(p
        .cluster_members
        .iter()
        .any(|m| m.len() == n / 2 && n / 2 > LARGE_CLUSTER));
    // Taking the largest cluster as the base alone would read the half cluster once per alert
    // that is also in a small cluster (about n * n / 16 entries).
    whole_batch_unions_read_linearly(&p);
}
