//! A whole SOT batch in memory: integrity checks, validation and canonical order.
//!
//! Canonical order: alerts by `alert_id`, features by `address`, clusters by `cluster_id`, money flows by
//! (from, to, then the remaining values) over a sorted address dictionary, labels by `address` (then the
//! remaining fields). Both [`Batch::load`] and [`Batch::from_tables`] produce it, so every consumer is
//! independent of the row order of the source files.

use std::cmp::Ordering;
use std::path::Path;

use crate::error::{BatchError, BatchWarning};
use crate::meta::Meta;
use crate::read::{FlowColumns, LoadedFeatures};
use crate::tables::{AddressFeatures, AddressLabels, Alerts, Clusters, MoneyFlows};

/// File names of a batch directory.
pub mod files {
    /// Batch metadata.
    pub const META: &str = "META.json";
    /// Alerts table.
    pub const ALERTS: &str = "alerts.parquet";
    /// Address features table.
    pub const FEATURES: &str = "features.parquet";
    /// Alert clusters table.
    pub const CLUSTERS: &str = "clusters.parquet";
    /// Money flows table.
    pub const MONEY_FLOWS: &str = "money_flows.parquet";
    /// Optional ground-truth labels.
    pub const ADDRESS_LABELS: &str = "address_labels.parquet";
    /// The files every batch must have.
    pub const REQUIRED: [&str; 4] = [ALERTS, FEATURES, CLUSTERS, MONEY_FLOWS];
}

/// One validated batch in canonical order.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Parsed META.json.
    pub meta: Meta,
    /// Alerts, sorted by alert_id.
    pub alerts: Alerts,
    /// Address features, sorted by address.
    pub features: AddressFeatures,
    /// Clusters, sorted by cluster_id.
    pub clusters: Clusters,
    /// Money flows, interned and sorted.
    pub money_flows: MoneyFlows,
    /// Ground-truth labels (history batches only), sorted by address.
    pub labels: Option<AddressLabels>,
}

/// Non-fatal findings of loading a batch (unlisted files, dangling references), in a deterministic order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchReport {
    /// The findings.
    pub warnings: Vec<BatchWarning>,
}

impl Batch {
    /// Loads and validates a batch directory.
    ///
    /// META.json is parsed first (its `processing_date` must be a `YYYY-MM-DD` date and its
    /// `n_alerts` not 0: an empty batch is refused, never scored); then every
    /// file it lists is checked to be a regular file of the batch and to have the listed sha256 (all
    /// four required tables must be listed, and `address_labels.parquet` too when present). No
    /// Parquet byte of a file is decoded before that file's hash matched, and a batch with any
    /// mismatch is refused with the hash error (the first mismatching file in META order) whatever
    /// its other files hold. The money flows are hashed while the other, already verified, tables
    /// are decoded. Files META.json does not list are never read; each is reported as a warning.
    pub fn load(dir: &Path) -> Result<(Batch, BatchReport), BatchError> {
        Batch::load_with(dir, FlowColumns::All)
    }

    /// [`Batch::load`], decoding only `flow_columns` of `money_flows.parquet` (every contract
    /// column is still required with its contract type). Scoring uses
    /// [`FlowColumns::Scoring`]: the features need four of the twelve flow columns.
    pub fn load_with(
        dir: &Path,
        flow_columns: FlowColumns,
    ) -> Result<(Batch, BatchReport), BatchError> {
        let meta = crate::read::read_meta(dir)?;
        if meta.n_alerts == 0 {
            // The alerts table must then be empty too (counts are checked below): nothing to score.
            return Err(BatchError::NoAlerts {
                file: files::ALERTS.to_string(),
            });
        }
        let ((alerts, features, clusters, money_flows, labels), mut warnings) =
            crate::read::load_tables(dir, &meta, flow_columns)?;
        let (batch, report) =
            Batch::from_loaded(meta, alerts, features, clusters, money_flows, labels)?;
        warnings.extend(report.warnings);
        Ok((batch, BatchReport { warnings }))
    }

    /// Builds a batch from in-memory tables (service, tests) with the same validation and canonical sort as
    /// [`Batch::load`]. Errors name the table by its file name; rows are the caller's row order.
    ///
    /// Beyond each table's value rules, the batch as a whole is refused when META's
    /// `processing_date` is not a `YYYY-MM-DD` date, an alert row carries another date, or a
    /// table's row count differs from META's `n_alerts`, `n_addresses`, `n_clusters` or
    /// `n_money_flows`: such a batch is never scored or signed. (An in-memory batch may have no
    /// alerts, for feature tests; [`Batch::load`] and the scoring pipeline refuse one.)
    pub fn from_tables(
        meta: Meta,
        alerts: Alerts,
        features: AddressFeatures,
        clusters: Clusters,
        money_flows: MoneyFlows,
        labels: Option<AddressLabels>,
    ) -> Result<(Batch, BatchReport), BatchError> {
        let features = LoadedFeatures {
            features,
            file_rows: None,
        };
        Batch::from_loaded(meta, alerts, features, clusters, money_flows, labels)
    }

    /// [`Batch::from_tables`] with features that may come already sorted by address (with the
    /// file row of each row, so that an error names the file row).
    fn from_loaded(
        meta: Meta,
        alerts: Alerts,
        features: LoadedFeatures,
        clusters: Clusters,
        money_flows: MoneyFlows,
        labels: Option<AddressLabels>,
    ) -> Result<(Batch, BatchReport), BatchError> {
        let LoadedFeatures {
            features,
            file_rows,
        } = features;
        crate::validate::batch_shape(&meta, &alerts, &features, &clusters, &money_flows)?;
        // The tables are validated and sorted in parallel (the money flows dominate); errors are
        // reported in a fixed table order, so the same bad batch always gives the same error.
        let ((alerts, features), (clusters, (money_flows, labels))) = rayon::join(
            || {
                rayon::join(
                    || crate::validate::alerts(&alerts).and_then(|()| sort_alerts(alerts)),
                    || match file_rows {
                        None => crate::validate::features(&features)
                            .and_then(|()| sort_features(features)),
                        Some(file_rows) => sorted_features(features, &file_rows),
                    },
                )
            },
            || {
                rayon::join(
                    || crate::validate::clusters(&clusters).and_then(|()| sort_clusters(clusters)),
                    || {
                        (
                            crate::validate::money_flows(&money_flows)
                                .map(|()| canonical_money_flows(money_flows)),
                            labels
                                .map(|labels| {
                                    crate::validate::labels(&labels).map(|()| sort_labels(labels))
                                })
                                .transpose(),
                        )
                    },
                )
            },
        );
        let batch = Batch {
            meta,
            alerts: alerts?,
            features: features?,
            clusters: clusters?,
            money_flows: money_flows?,
            labels: labels?,
        };
        let report = batch.cross_check();
        Ok((batch, report))
    }

    /// Dangling references, generated in canonical order.
    ///
    /// Each row is looked up on its own (binary searches over 500K addresses on a full-size
    /// day), so the rows are split over the rayon threads; the warnings are collected in row
    /// order, the same on any thread count.
    fn cross_check(&self) -> BatchReport {
        use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
        let alerts = &self.alerts;
        let clusters = &self.clusters;
        let mut warnings: Vec<BatchWarning> = (0..alerts.len())
            .into_par_iter()
            .with_min_len(256)
            .filter(|&row| self.features.row_of(&alerts.address[row]).is_none())
            .map(|row| BatchWarning::AlertWithoutFeatures {
                alert_id: alerts.alert_id[row].clone(),
                address: alerts.address[row].clone(),
            })
            .collect();
        let unknown_cluster_alerts: Vec<Vec<BatchWarning>> = (0..clusters.len())
            .into_par_iter()
            .with_min_len(64)
            .map(|row| {
                let cluster_id = &clusters.cluster_id[row];
                let primary = &clusters.primary_alert_id[row];
                let mentioned = std::iter::once(primary).filter(|id| !id.is_empty());
                let mut unknown: Vec<&String> = mentioned
                    .chain(&clusters.related_alert_ids[row])
                    .filter(|alert_id| alerts.row_of(alert_id).is_none())
                    .collect();
                unknown.sort();
                unknown.dedup();
                unknown
                    .into_iter()
                    .map(|alert_id| BatchWarning::UnknownClusterAlert {
                        cluster_id: cluster_id.clone(),
                        alert_id: alert_id.clone(),
                    })
                    .collect()
            })
            .collect();
        warnings.extend(unknown_cluster_alerts.into_iter().flatten());
        for trap in &self.meta.pattern_traps {
            for alert_id in &trap.alert_ids {
                if alerts.row_of(alert_id).is_none() {
                    warnings.push(BatchWarning::UnknownTrapAlert {
                        trap_id: trap.trap_id.clone(),
                        alert_id: alert_id.clone(),
                    });
                }
            }
        }
        BatchReport { warnings }
    }
}

/// Reorders `values` so that `values[k]` becomes the old `values[order[k]]`; `order` is a permutation.
fn permute<T: Default>(values: &mut Vec<T>, order: &[usize]) {
    pick(values, order.len(), &|k| order[k]);
}

/// Big-endian first eight bytes of `key`, zero-padded: comparing two prefixes agrees with comparing
/// the strings whenever the prefixes differ, so only ties need the full comparison.
pub(crate) fn key_prefix(key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let head = &key[..key.len().min(8)];
    bytes[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(bytes)
}

/// Stable sort order of `keys`, or `None` when they are already strictly increasing (the order is
/// then the identity: files are often written sorted); fails on the first repeated key in sorted
/// order, naming the later file row.
pub(crate) fn unique_key_order(
    keys: &[String],
    file: &str,
    column: &str,
) -> Result<Option<Vec<usize>>, BatchError> {
    use rayon::slice::ParallelSliceMut;
    if keys.windows(2).all(|pair| pair[0] < pair[1]) {
        return Ok(None);
    }
    // (prefix, row) pairs sort in cache; the row breaks ties, so the unstable parallel sort gives
    // exactly the stable order.
    let mut keyed: Vec<(u64, u32)> = keys
        .iter()
        .enumerate()
        .map(|(row, key)| (key_prefix(key.as_bytes()), row as u32))
        .collect();
    keyed.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| keys[a.1 as usize].cmp(&keys[b.1 as usize]))
            .then(a.1.cmp(&b.1))
    });
    let order: Vec<usize> = keyed.iter().map(|&(_, row)| row as usize).collect();
    for pair in order.windows(2) {
        if keys[pair[0]] == keys[pair[1]] {
            return Err(BatchError::DuplicateKey {
                file: file.to_string(),
                column: column.to_string(),
                key: keys[pair[1]].clone(),
                row: pair[1],
            });
        }
    }
    Ok(Some(order))
}

fn sort_alerts(mut alerts: Alerts) -> Result<Alerts, BatchError> {
    let Some(order) = unique_key_order(&alerts.alert_id, files::ALERTS, "alert_id")? else {
        return Ok(alerts);
    };
    permute(&mut alerts.window_days, &order);
    permute(&mut alerts.processing_date, &order);
    permute(&mut alerts.alert_id, &order);
    permute(&mut alerts.address, &order);
    permute(&mut alerts.typology_type, &order);
    permute(&mut alerts.pattern_id, &order);
    permute(&mut alerts.pattern_type, &order);
    permute(&mut alerts.severity, &order);
    permute(&mut alerts.suspected_address_type, &order);
    permute(&mut alerts.suspected_address_subtype, &order);
    permute(&mut alerts.alert_confidence_score, &order);
    permute(&mut alerts.description, &order);
    permute(&mut alerts.volume_usd, &order);
    permute(&mut alerts.evidence_json, &order);
    permute(&mut alerts.risk_indicators, &order);
    Ok(alerts)
}

fn sort_features(mut features: AddressFeatures) -> Result<AddressFeatures, BatchError> {
    let order = unique_key_order(&features.address, files::FEATURES, "address")?;
    if let Some(order) = order {
        permute_features(&mut features, &order);
    }
    crate::validate::order_numeric_columns(&mut features.numeric);
    Ok(features)
}

/// Reorders every column of `features` so that row `k` is the old row `order[k]`.
fn permute_features(features: &mut AddressFeatures, order: &[usize]) {
    use rayon::iter::{IntoParallelRefMutIterator, ParallelIterator};
    let f = features;
    // Each column is permuted on its own, so the columns go in parallel.
    rayon::join(
        || {
            f.numeric
                .par_iter_mut()
                .for_each(|column| permute(&mut column.values, order))
        },
        || {
            rayon::join(
                || {
                    permute(&mut f.window_days, order);
                    permute(&mut f.processing_date, order);
                    permute(&mut f.address, order);
                    permute(&mut f.dominant_asset_in, order);
                    permute(&mut f.dominant_asset_out, order);
                },
                || {
                    permute(&mut f.hourly_activity, order);
                    permute(&mut f.daily_activity, order);
                },
            )
        },
    );
}

/// Features read already sorted by address ([`crate::read::read_features_for_load`]; sorted row
/// `k` is file row `file_rows[k]`, addresses distinct): validated like [`sort_features`]'s input.
/// The checks pass or fail whatever the row order; on a failure the table is put back in file
/// order and checked again, so the error names the same file row as for a table read in file order.
fn sorted_features(
    mut features: AddressFeatures,
    file_rows: &[u32],
) -> Result<AddressFeatures, BatchError> {
    if let Err(error) = crate::validate::features(&features) {
        let mut sorted_row = vec![0usize; file_rows.len()];
        for (position, &row) in file_rows.iter().enumerate() {
            sorted_row[row as usize] = position;
        }
        permute_features(&mut features, &sorted_row);
        return Err(crate::validate::features(&features).err().unwrap_or(error));
    }
    crate::validate::order_numeric_columns(&mut features.numeric);
    Ok(features)
}

fn sort_clusters(mut clusters: Clusters) -> Result<Clusters, BatchError> {
    let Some(order) = unique_key_order(&clusters.cluster_id, files::CLUSTERS, "cluster_id")? else {
        return Ok(clusters);
    };
    permute(&mut clusters.window_days, &order);
    permute(&mut clusters.processing_date, &order);
    permute(&mut clusters.cluster_id, &order);
    permute(&mut clusters.cluster_type, &order);
    permute(&mut clusters.primary_address, &order);
    permute(&mut clusters.pattern_id, &order);
    permute(&mut clusters.primary_alert_id, &order);
    permute(&mut clusters.related_alert_ids, &order);
    permute(&mut clusters.addresses_involved, &order);
    permute(&mut clusters.total_alerts, &order);
    permute(&mut clusters.total_volume_usd, &order);
    permute(&mut clusters.severity_max, &order);
    permute(&mut clusters.confidence_avg, &order);
    permute(&mut clusters.earliest_alert_timestamp, &order);
    permute(&mut clusters.latest_alert_timestamp, &order);
    Ok(clusters)
}

/// Labels may repeat an address (several sources), so the order uses every field as a tie breaker.
fn sort_labels(mut labels: AddressLabels) -> AddressLabels {
    let l = &labels;
    let mut order: Vec<usize> = (0..l.len()).collect();
    order.sort_by(|&a, &b| {
        l.address[a]
            .cmp(&l.address[b])
            .then_with(|| l.network[a].cmp(&l.network[b]))
            .then_with(|| l.label[a].cmp(&l.label[b]))
            .then_with(|| l.address_type[a].cmp(&l.address_type[b]))
            .then_with(|| l.address_subtype[a].cmp(&l.address_subtype[b]))
            .then_with(|| l.trust_level[a].cmp(&l.trust_level[b]))
            .then_with(|| l.source[a].cmp(&l.source[b]))
            .then_with(|| l.risk_level[a].cmp(&l.risk_level[b]))
            .then_with(|| l.confidence_score[a].total_cmp(&l.confidence_score[b]))
            .then_with(|| l.created_timestamp[a].cmp(&l.created_timestamp[b]))
            .then_with(|| l.updated_timestamp[a].cmp(&l.updated_timestamp[b]))
    });
    permute(&mut labels.network, &order);
    permute(&mut labels.address, &order);
    permute(&mut labels.label, &order);
    permute(&mut labels.address_type, &order);
    permute(&mut labels.address_subtype, &order);
    permute(&mut labels.trust_level, &order);
    permute(&mut labels.source, &order);
    permute(&mut labels.risk_level, &order);
    permute(&mut labels.confidence_score, &order);
    permute(&mut labels.created_timestamp, &order);
    permute(&mut labels.updated_timestamp, &order);
    labels
}

/// The common case of the canonical row order, done in place: rows already grouped by sender in
/// increasing sender order (exporters write flows so), so only each sender's rows are sorted,
/// by (receiver, the other values by [`MoneyFlows::cmp_rows`], row): the order
/// [`flow_order`] gives. `false`, with nothing changed, when the senders are not so grouped or
/// the rows do not fit in `u32`.
///
/// Each column is permuted within blocks of whole senders, block by block in parallel, through
/// a copy of one block: about 20 MB of row order on a full-size day, where gathering every
/// column into a new one kept about 150 MB of old and new columns alive at the load's peak.
fn sort_within_senders(flows: &mut MoneyFlows) -> bool {
    use rayon::iter::{IntoParallelRefIterator, ParallelIterator};
    let n = flows.len();
    if u32::try_from(n).is_err() || flows.from.windows(2).any(|pair| pair[0] > pair[1]) {
        return false;
    }
    // Blocks of whole senders, about eight per thread.
    let block_rows = n.div_ceil(8 * rayon::current_num_threads()).max(1);
    let mut blocks: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = (start + block_rows).min(n);
        let sender = flows.from[end - 1];
        end += flows.from[end..].partition_point(|&from| from == sender);
        blocks.push(start..end);
        start = end;
    }
    // The source row of each row, sender by sender.
    let flows_ref = &*flows;
    let order: Vec<u32> = blocks
        .par_iter()
        .flat_map_iter(|block| {
            let mut keys: Vec<u64> = Vec::with_capacity(block.len());
            let mut order = Vec::with_capacity(block.len());
            let mut first = block.start;
            for sender in flows_ref.from[block.clone()].chunk_by(|a, b| a == b) {
                keys.clear();
                keys.extend(
                    (first..first + sender.len())
                        .map(|row| (u64::from(flows_ref.to[row]) << 32) | row as u64),
                );
                keys.sort_unstable();
                let row = |entry: u64| entry as u32 as usize;
                for receiver in keys.chunk_by_mut(|a, b| a >> 32 == b >> 32) {
                    if receiver.len() > 1 {
                        receiver.sort_unstable_by(|&a, &b| {
                            flows_ref.cmp_rows(row(a), row(b)).then(a.cmp(&b))
                        });
                    }
                }
                order.extend(keys.iter().map(|&entry| entry as u32));
                first += sender.len();
            }
            order
        })
        .collect();
    permute_in_blocks(&mut flows.to, &order, &blocks);
    for (_, column) in flows.value_columns_mut() {
        use crate::schema::ColumnMut;
        match column {
            ColumnMut::Numbers(values) => permute_in_blocks(values, &order, &blocks),
            ColumnMut::Integers(values) => permute_in_blocks(values, &order, &blocks),
            ColumnMut::Windows(values) => permute_in_blocks(values, &order, &blocks),
            ColumnMut::Flags(values) => permute_in_blocks(values, &order, &blocks),
            ColumnMut::Texts(values) | ColumnMut::Dates(values) => {
                pick(values, n, &|k| order[k] as usize)
            }
            ColumnMut::TextLists(values) => pick(values, n, &|k| order[k] as usize),
            ColumnMut::IntLists(values) => pick(values, n, &|k| order[k] as usize),
        }
    }
    true
}

/// Row `k` of `values` becomes the old row `order[k]`, where every source row lies in the block
/// (of `blocks`, consecutive ranges covering every row) of its target: blocks permuted in
/// parallel, each through a copy of itself. A column that was not loaded (empty) stays empty.
fn permute_in_blocks<T: Copy + Send + Sync>(
    values: &mut [T],
    order: &[u32],
    blocks: &[std::ops::Range<usize>],
) {
    use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
    if values.is_empty() {
        return;
    }
    let mut rest = values;
    let mut slices = Vec::with_capacity(blocks.len());
    for block in blocks {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(block.len());
        slices.push(head);
        rest = tail;
    }
    slices
        .into_par_iter()
        .zip(blocks)
        .for_each_init(Vec::new, |copy, (slice, block)| {
            copy.clear();
            copy.extend_from_slice(slice);
            for (value, &source) in slice.iter_mut().zip(&order[block.clone()]) {
                *value = copy[source as usize - block.start];
            }
        });
}

/// Row order of `flows` by [`MoneyFlows::cmp_rows`], ties by row: the same order as a stable sort.
/// Each entry is `(receiver << 32) | row`, returned with the sender of each entry (the sorted
/// `from` column); `None` when the rows do not fit in `u32`.
///
/// Exporters write flows grouped by sender, so the rows are first cut in runs of one sender and
/// the runs sorted by (sender, first row) (a few hundred thousand runs instead of millions of
/// rows); then each sender's entries are sorted as plain integers, senders in parallel, which
/// orders them by (receiver, row), and only runs of one receiver (duplicate edges, rare) are
/// sorted again by the remaining values, then row. Rows in no particular order only make the
/// runs shorter.
fn flow_order(flows: &MoneyFlows) -> Option<(Vec<u64>, Vec<u32>)> {
    use rayon::iter::{IntoParallelIterator, ParallelIterator};
    use rayon::slice::ParallelSliceMut;
    let n = u32::try_from(flows.len()).ok()?;
    let mut runs: Vec<(u32, u32, u32)> = Vec::new();
    let mut start = 0;
    for row in 1..=n {
        if row == n || flows.from[row as usize] != flows.from[start as usize] {
            runs.push((flows.from[start as usize], start, row));
            start = row;
        }
    }
    runs.par_sort_unstable();
    // Each run's rows filled in parallel: the runs cut in blocks of about equal rows, each block
    // writing its own slices of `order` and `senders` (zeroed memory, each page written once).
    let mut order = vec![0u64; flows.len()];
    let mut senders = vec![0u32; flows.len()];
    {
        let block_rows = flows
            .len()
            .div_ceil(8 * rayon::current_num_threads())
            .max(1);
        let mut blocks = Vec::new();
        let (mut order_rest, mut senders_rest) = (order.as_mut_slice(), senders.as_mut_slice());
        let (mut first_run, mut rows) = (0, 0);
        for (run, &(_, start, end)) in runs.iter().enumerate() {
            rows += (end - start) as usize;
            if rows >= block_rows || run + 1 == runs.len() {
                let (order_block, rest) = std::mem::take(&mut order_rest).split_at_mut(rows);
                order_rest = rest;
                let (senders_block, rest) = std::mem::take(&mut senders_rest).split_at_mut(rows);
                senders_rest = rest;
                blocks.push((&runs[first_run..=run], order_block, senders_block));
                (first_run, rows) = (run + 1, 0);
            }
        }
        blocks
            .into_par_iter()
            .for_each(|(runs, order_block, senders_block)| {
                let mut slots = order_block.iter_mut().zip(senders_block.iter_mut());
                for &(sender, start, end) in runs {
                    for (row, (entry, slot)) in (start..end).zip(slots.by_ref()) {
                        *entry = (u64::from(flows.to[row as usize]) << 32) | u64::from(row);
                        *slot = sender;
                    }
                }
            });
    }
    drop(runs);
    let row = |entry: u64| entry as u32 as usize;
    order
        .par_chunk_by_mut(|&a, &b| flows.from[row(a)] == flows.from[row(b)])
        .for_each(|sender| {
            sender.sort_unstable();
            for receiver in sender.chunk_by_mut(|a, b| a >> 32 == b >> 32) {
                if receiver.len() > 1 {
                    receiver
                        .sort_unstable_by(|&a, &b| flows.cmp_rows(row(a), row(b)).then(a.cmp(&b)));
                }
            }
        });
    Some((order, senders))
}

/// `values` reordered so that row `k` is the old row `source_row(k)`, for `len` rows
/// (`source_row` is a permutation: each old value is moved, never cloned); a column that was not
/// loaded (empty) stays empty.
fn pick<T: Default>(values: &mut Vec<T>, len: usize, source_row: &impl Fn(usize) -> usize) {
    if values.is_empty() {
        return;
    }
    let mut old = std::mem::take(values);
    *values = (0..len)
        .map(|k| std::mem::take(&mut old[source_row(k)]))
        .collect();
}

/// [`pick`] for plain values, rows gathered in parallel.
fn gather<T: Copy + Send + Sync + 'static>(
    values: &mut Vec<T>,
    len: usize,
    source_row: &(impl Fn(usize) -> usize + Sync),
) {
    use rayon::iter::{IntoParallelIterator, ParallelIterator};
    if values.is_empty() {
        return;
    }
    let old = std::mem::take(values);
    *values = (0..len)
        .into_par_iter()
        .map(|k| old[source_row(k)])
        .collect();
    crate::read::drop_in_background(old);
}

/// Reorders every value column of `flows` (not `from`/`to`) so that row `k` is the old row
/// `source_row(k)`.
fn reorder_value_columns(flows: &mut MoneyFlows, source_row: impl Fn(usize) -> usize + Sync) {
    use crate::schema::ColumnMut;
    let len = flows.len();
    for (_, column) in flows.value_columns_mut() {
        match column {
            ColumnMut::Texts(values) | ColumnMut::Dates(values) => pick(values, len, &source_row),
            ColumnMut::Numbers(values) => gather(values, len, &source_row),
            ColumnMut::Integers(values) => gather(values, len, &source_row),
            ColumnMut::Windows(values) => gather(values, len, &source_row),
            ColumnMut::TextLists(values) => pick(values, len, &source_row),
            ColumnMut::IntLists(values) => pick(values, len, &source_row),
            ColumnMut::Flags(values) => gather(values, len, &source_row),
        }
    }
}

/// Re-interns the address dictionary (sorted, distinct, only addresses used by some edge) and sorts the rows.
/// Validation has already checked that every id indexes the dictionary.
pub(crate) fn canonical_money_flows(mut flows: MoneyFlows) -> MoneyFlows {
    use rayon::iter::{IntoParallelRefIterator, ParallelIterator};
    let mut used = vec![false; flows.addresses.len()];
    for &id in flows.from.iter().chain(&flows.to) {
        used[id as usize] = true;
    }
    let dictionary_is_canonical =
        used.iter().all(|&u| u) && flows.addresses.windows(2).all(|pair| pair[0] < pair[1]);
    if !dictionary_is_canonical {
        let mut old_ids: Vec<usize> = (0..flows.addresses.len()).filter(|&id| used[id]).collect();
        old_ids.sort_by(|&a, &b| flows.addresses[a].cmp(&flows.addresses[b]));
        let mut remap = vec![u32::MAX; flows.addresses.len()];
        let mut addresses: Vec<String> = Vec::with_capacity(old_ids.len());
        for old in old_ids {
            if addresses.last() != Some(&flows.addresses[old]) {
                addresses.push(std::mem::take(&mut flows.addresses[old]));
            }
            remap[old] = (addresses.len() - 1) as u32;
        }
        flows
            .from
            .iter_mut()
            .for_each(|id| *id = remap[*id as usize]);
        flows.to.iter_mut().for_each(|id| *id = remap[*id as usize]);
        flows.addresses = addresses;
    }
    let already_sorted =
        (1..flows.len()).all(|row| flows.cmp_rows(row - 1, row) != Ordering::Greater);
    if already_sorted {
        return flows;
    }
    if sort_within_senders(&mut flows) {
        return flows;
    }
    let Some((order, senders)) = flow_order(&flows) else {
        return canonical_money_flows_wide(flows);
    };
    // The sorted `from` and `to` come with the order: no gather.
    let old_from = std::mem::replace(&mut flows.from, senders);
    let to = order
        .par_iter()
        .map(|&entry| (entry >> 32) as u32)
        .collect();
    let old_to = std::mem::replace(&mut flows.to, to);
    reorder_value_columns(&mut flows, |k| order[k] as u32 as usize);
    // Freeing the replaced columns (tens of MB on a full day) is left to another thread.
    crate::read::drop_in_background((old_from, old_to, order));
    flows
}

/// The row order of more than `u32::MAX` flows: a plain stable sort by [`MoneyFlows::cmp_rows`].
fn canonical_money_flows_wide(mut flows: MoneyFlows) -> MoneyFlows {
    let mut order: Vec<usize> = (0..flows.len()).collect();
    order.sort_by(|&a, &b| flows.cmp_rows(a, b));
    let len = flows.len();
    pick(&mut flows.from, len, &|k| order[k]);
    pick(&mut flows.to, len, &|k| order[k]);
    reorder_value_columns(&mut flows, |k| order[k]);
    flows
}
