//! Connected components, Louvain communities and the optional feature groups built on them
//! (plus `urgency_score` and the cluster `confidence_variance`).

mod common;

use aml_features::{
    CommunityParams, FeatureBuilder, FeatureGroups, FeatureSpec, FlowGraph, PreparedBatch,
};
use common::{batch, bits, shuffled, tables, unit_flows as flows, value};
use std::collections::BTreeMap;

/// A builder with every optional group on.
fn all_groups() -> FeatureBuilder {
    FeatureBuilder {
        groups: FeatureGroups::all(),
        ..FeatureBuilder::new()
    }
}

/// Two directed 4-cliques (0-3 and 4-7) joined by the single edge 3 -> 4.
fn clique_pair() -> Vec<(u32, u32)> {
    let mut edges = Vec::new();
    for base in [0u32, 4] {
        for a in base..base + 4 {
            for b in base..base + 4 {
                if a < b {
                    edges.push((a, b));
                }
            }
        }
    }
    edges.push((3, 4));
    edges
}

#[test]
fn components_of_a_hand_built_graph() {
    // {0, 1, 2} (via 2 -> 0 and 1 -> 2), {3, 4}, the isolated-by-self-loop 5, and {6, 7}.
    let g = FlowGraph::build(&flows(&[(1, 2), (2, 0), (4, 3), (5, 5), (7, 6)], 8));
    assert_eq!(g.components(), vec![0, 0, 0, 3, 3, 5, 6, 6]);
    let g = FlowGraph::build(&flows(&clique_pair(), 8));
    assert_eq!(g.components(), vec![0; 8]);
    assert!(FlowGraph::build(&flows(&[], 0)).components().is_empty());
}

#[test]
fn louvain_splits_a_clique_pair_at_the_bridge() {
    let g = FlowGraph::build(&flows(&clique_pair(), 8));
    let params = CommunityParams::default();
    assert_eq!(g.communities(&params), vec![0, 0, 0, 0, 1, 1, 1, 1]);
    // Three cliques in a chain: three communities, numbered by their smallest node.
    let mut edges = clique_pair();
    for a in 8..12u32 {
        for b in a + 1..12 {
            edges.push((b, a));
        }
    }
    edges.push((11, 7));
    let g = FlowGraph::build(&flows(&edges, 13));
    assert_eq!(
        g.communities(&params),
        vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
    );
    // No edges: every node alone.
    let g = FlowGraph::build(&flows(&[], 3));
    assert_eq!(g.communities(&params), vec![0, 1, 2]);
}

/// Labels keyed by address, as a partition (each part = sorted addresses), from a batch.
fn partitions(b: &aml_core::batch::Batch) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let p = PreparedBatch::new(b);
    let part = |labels: Vec<u32>| {
        let mut parts: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for (v, l) in labels.into_iter().enumerate() {
            parts
                .entry(l)
                .or_default()
                .push(b.money_flows.addresses[v].clone());
        }
        let mut parts: Vec<Vec<String>> = parts.into_values().collect();
        for part in &mut parts {
            part.sort();
        }
        parts
    };
    (
        part(p.graph.components()),
        part(p.graph.communities(&CommunityParams::default())),
    )
}

#[test]
fn partitions_do_not_depend_on_row_order_or_address_interning() {
    for seed in 0..6u64 {
        let t = tables(seed, 40, 60, 150, 4);
        let (components, communities) = partitions(&batch(t.clone()));
        assert!(communities.len() >= components.len());
        for shuffle_seed in 0..3u64 {
            let again = partitions(&batch(shuffled(&t, 100 + shuffle_seed)));
            assert_eq!(
                again,
                (components.clone(), communities.clone()),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn community_labels_are_the_same_with_one_or_two_threads() {
    let b = batch(tables(5, 80, 300, 1500, 8));
    let spec = all_groups().fit(&[&b]).unwrap();
    assert_eq!(spec.groups, FeatureGroups::all());
    let run = |threads: usize| {
        common::on_threads(threads, || {
            let p = PreparedBatch::new(&b);
            (
                p.graph.components(),
                p.graph.communities(&spec.communities),
                bits(&spec.transform(&b).unwrap()),
                bits(&spec.build_cluster_matrix(&b, None).unwrap().0),
            )
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn component_and_community_features_on_the_clique_pair() {
    // Nodes 8 and 9 form a third component.
    let mut edges = clique_pair();
    edges.push((8, 9));
    let mut t = common::with_flows(tables(8, 3, 10, 0, 0), flows(&edges, 10));
    // Alerts on node 3 (the bridge end, critical), node 5 (low) and node 9.
    t.alerts.address = vec![
        "addr_00003".into(),
        "addr_00005".into(),
        "addr_00009".into(),
    ];
    t.alerts.severity = vec!["critical".into(), "low".into(), "low".into()];
    let b = batch(t);
    let spec = FeatureBuilder::new().fit(&[&b]).unwrap();
    let m = spec.transform(&b).unwrap();
    let (bridge, other, small) = ("alert_00000", "alert_00001", "alert_00002");
    assert_eq!(value(&m, bridge, "comp_size"), 8.0);
    assert_eq!(value(&m, bridge, "comp_alerted_nodes"), 2.0);
    assert_eq!(value(&m, bridge, "comp_alerted_share"), 0.25);
    assert_eq!(value(&m, bridge, "comp_is_largest"), 1.0);
    assert_eq!(value(&m, small, "comp_size"), 2.0);
    assert_eq!(value(&m, small, "comp_alerted_share"), 0.5);
    assert_eq!(value(&m, small, "comp_is_largest"), 0.0);
    assert_eq!(value(&m, bridge, "comm_size"), 4.0);
    assert_eq!(value(&m, bridge, "comm_alerted_share"), 0.25);
    assert_eq!(value(&m, bridge, "comm_high_severity_share"), 0.25);
    assert_eq!(value(&m, other, "comm_high_severity_share"), 0.0);
    // Node 3: counterparties 0, 1, 2 (own community) and 4 (the other one).
    assert_eq!(value(&m, bridge, "comm_internal_share"), 0.75);
    assert_eq!(value(&m, bridge, "comm_counterparty_communities"), 2.0);
    assert_eq!(value(&m, other, "comm_internal_share"), 1.0);
    assert_eq!(value(&m, other, "comm_counterparty_communities"), 1.0);
    assert_eq!(value(&m, small, "comm_size"), 2.0);
}

#[test]
fn an_address_outside_the_flows_gets_nan_partition_features() {
    let mut t = tables(3, 2, 10, 30, 0);
    t.alerts.address[0] = "nowhere".into();
    let b = batch(t);
    let m = common::self_fitted_matrix(&b);
    let id = &b.alerts.alert_id[b
        .alerts
        .address
        .iter()
        .position(|a| a == "nowhere")
        .unwrap()];
    for name in [
        "comp_size",
        "comp_is_largest",
        "comm_size",
        "comm_internal_share",
    ] {
        assert!(value(&m, id, name).is_nan(), "{name}");
    }
}

#[test]
fn urgency_score_follows_its_formula() {
    let mut t = tables(4, 3, 10, 20, 0);
    t.alerts.severity = vec!["low".into(), "critical".into(), "high".into()];
    t.alerts.alert_confidence_score = vec![0.5, 0.25, 1.0];
    t.alerts.volume_usd = vec![100.0, 0.0, 3.0];
    let b = batch(t);
    let m = common::self_fitted_matrix(&b);
    let expected = 0.25 * 0.5 * 101f64.ln();
    assert_eq!(value(&m, "alert_00000", "urgency_score"), expected as f32);
    assert_eq!(value(&m, "alert_00001", "urgency_score"), 0.0);
    let expected = 0.75 * 1.0 * 4f64.ln();
    assert_eq!(value(&m, "alert_00002", "urgency_score"), expected as f32);
}

#[test]
fn confidence_variance_by_hand() {
    let mut t = tables(6, 4, 10, 20, 0);
    t.alerts.alert_confidence_score = vec![0.2, 0.4, 0.9, 0.3];
    let ids = |v: &[usize]| v.iter().map(|i| format!("alert_{i:05}")).collect();
    t = common::with_cluster(t, "c_a", ids(&[0, 1, 2]), 1);
    t = common::with_cluster(t, "c_b", ids(&[3]), 2);
    t = common::with_cluster(t, "c_c", vec!["alert_99999".into()], 3);
    let b = batch(t);
    let spec = all_groups().fit(&[&b]).unwrap();
    let (c, _) = spec.build_cluster_matrix(&b, None).unwrap();
    let mean = (0.2 + 0.4 + 0.9) / 3.0;
    let var: f64 = [0.2f64, 0.4, 0.9]
        .iter()
        .map(|x| (x - mean) * (x - mean))
        .sum::<f64>()
        / 3.0;
    assert_eq!(value(&c, "c_a", "confidence_variance"), var as f32);
    assert_eq!(value(&c, "c_b", "confidence_variance"), 0.0);
    assert!(value(&c, "c_c", "confidence_variance").is_nan());
}

/// A spec as written before the optional groups existed: the JSON without their keys.
fn old_json(spec: &FeatureSpec) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&spec.to_json()).unwrap();
    let map = v.as_object_mut().unwrap();
    map.remove("groups").unwrap();
    map.remove("communities").unwrap();
    v.to_string()
}

#[test]
fn an_old_spec_builds_exactly_the_old_columns() {
    let b = batch(tables(12, 50, 40, 300, 6));
    let new = all_groups().fit(&[&b]).unwrap();
    let old = FeatureSpec::from_json(&old_json(&new)).unwrap();
    assert_eq!(FeatureBuilder::new().groups, FeatureGroups::kept());
    assert!(!FeatureGroups::kept().cluster_confidence_variance);
    assert_eq!(old.groups, FeatureGroups::default());
    let plain = FeatureBuilder {
        groups: FeatureGroups::default(),
        ..FeatureBuilder::new()
    }
    .fit(&[&b])
    .unwrap();
    assert_eq!(old, plain);
    let (m_old, m_new) = (old.transform(&b).unwrap(), new.transform(&b).unwrap());
    let added = [
        "comp_size",
        "comp_alerted_nodes",
        "comp_alerted_share",
        "comp_is_largest",
        "comm_size",
        "comm_alerted_share",
        "comm_high_severity_share",
        "comm_internal_share",
        "comm_counterparty_communities",
        "urgency_score",
        "mem_days_labelled",
        "mem_labelled_share",
        "mem_days_low",
        "mem_days_medium",
        "mem_days_high",
        "mem_days_critical",
        "mem_latest_risk",
        "mem_max_risk",
        "mem_days_since_latest",
        "mem_verified_clean",
    ];
    let kept: Vec<String> = m_new
        .feature_names
        .iter()
        .filter(|n| !added.contains(&n.as_str()))
        .cloned()
        .collect();
    assert_eq!(m_old.feature_names, kept);
    assert_eq!(m_new.n_features(), m_old.n_features() + added.len());
    // The old columns are bit for bit those of the new spec's matrix.
    for (j, name) in m_old.feature_names.iter().enumerate() {
        let k = m_new.column_index(name).unwrap();
        let a: Vec<u32> = m_old.values.column(j).iter().map(|v| v.to_bits()).collect();
        let c: Vec<u32> = m_new.values.column(k).iter().map(|v| v.to_bits()).collect();
        assert_eq!(a, c, "{name}");
    }
    let (c_old, c_new) = (
        old.build_cluster_matrix(&b, None).unwrap().0,
        new.build_cluster_matrix(&b, None).unwrap().0,
    );
    assert!(c_old.column_index("confidence_variance").is_none());
    assert_eq!(c_new.n_features(), c_old.n_features() + 1);
}
