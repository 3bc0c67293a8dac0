//! The data owner's registry of verified-clean entities: known answers that never change.
//!
//! A real source of truth keeps a table of addresses it has verified as clean (its own customers,
//! audited services). The registry here is a pure function of the world seed: a fixed share of the
//! world's founding population (the positions active on day 0, hubs included) that is old
//! (`age_days` above [`MIN_AGE_DAYS`]), not a mixer, and not a member of any community, so no
//! registry address is illicit on any day. Every day's `address_labels.parquet` lists every member
//! once with the same row (risk `low`, label `verified_entity`, trust `verified`, source
//! `sot_registry`), whether or not the address is active or alerted that day. Benign pattern traps
//! are drawn from the members active that day; members can also be alerted as ordinary false
//! positives.
//!
//! The registry is fixed, and the active window slides by 1% per day, so members retire with their
//! positions: about 10% are inactive after 10 days, and none are active after about 100 days. Retired
//! members stay listed, as a labels table keeps its entries.

use super::alerts::LabelRow;
use super::rng::{rng_for, stream, unit};
use super::world::{Role, World, BLOCK};
use rayon::prelude::*;

/// Share of eligible founding addresses drawn into the registry. About 63% of addresses are old
/// enough, so the registry holds about 3% of a day's addresses (1,539 of 50,000 for seed 42), and
/// the normal alerting puts 2-3% of a day's alerts on registry addresses (benign traps add 15 more).
const REGISTRY_RATE: f64 = 0.05;
/// Minimum address age of a registry member, in days.
const MIN_AGE_DAYS: f64 = 200.0;
const DAY_MS: u64 = 86_400_000;

/// One verified-clean entity.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    /// Pool position in the world.
    pub position: u64,
    /// Its address string.
    pub address: String,
    /// Its role (day-independent, as it is never a community member).
    pub role: Role,
}

/// The world's registry, members in position order.
#[derive(Clone, Debug)]
pub(crate) struct Registry {
    pub members: Vec<Member>,
}

impl Registry {
    /// The registry of `world` (the same whatever day or number of days is generated).
    pub(crate) fn of(world: &World) -> Registry {
        let members = (0..world.n_active)
            .into_par_iter()
            .filter_map(|position| member(world, position))
            .collect();
        Registry { members }
    }

    /// A flag per local node of `day`: whether that node is a registry member.
    pub(crate) fn on_day(&self, world: &World, day: u64, n_nodes: usize) -> Vec<bool> {
        let mut flags = vec![false; n_nodes];
        for m in &self.members {
            if let Some(local) = world.local_index(day, m.position) {
                flags[local] = true;
            }
        }
        flags
    }

    /// One label row per member, identical on every day: created and updated before
    /// `epoch_ms` (the first millisecond of day 0's window), deterministic per address.
    pub(crate) fn label_rows(&self, world: &World, network: &str, epoch_ms: u64) -> Vec<LabelRow> {
        self.members
            .iter()
            .map(|m| {
                let mut rng = rng_for(&[world.seed, stream::REGISTRY, m.position, 1]);
                let created =
                    epoch_ms.saturating_sub((30.0 + 700.0 * unit(&mut rng)) as u64 * DAY_MS);
                let span = epoch_ms.saturating_sub(DAY_MS).saturating_sub(created);
                let updated = created + (span as f64 * unit(&mut rng)) as u64;
                LabelRow {
                    network: network.to_string(),
                    address: m.address.clone(),
                    label: "verified_entity".to_string(),
                    address_type: m.role.address_type().to_string(),
                    address_subtype: String::new(),
                    trust_level: "verified".to_string(),
                    source: "sot_registry".to_string(),
                    risk_level: "low".to_string(),
                    confidence_score: (0.9 + 0.1 * unit(&mut rng)) as f32,
                    created_timestamp: created,
                    updated_timestamp: updated,
                }
            })
            .collect()
    }
}

/// The member at `position`, when the position is drawn, old enough, not a mixer and never illicit.
fn member(world: &World, position: u64) -> Option<Member> {
    if unit(&mut rng_for(&[world.seed, stream::REGISTRY, position])) >= REGISTRY_RATE {
        return None;
    }
    if ever_illicit(world, position) {
        return None;
    }
    let profile = world.profile(position, None);
    (profile.role != Role::Mixer && profile.age_days > MIN_AGE_DAYS).then(|| Member {
        position,
        address: world.address(position),
        role: profile.role,
    })
}

/// Whether `position` belongs to its block's community (illicit on every day the community
/// transacts); hubs never do.
fn ever_illicit(world: &World, position: u64) -> bool {
    position >= world.hubs
        && world
            .community((position - world.hubs) / BLOCK)
            .is_some_and(|c| c.members.contains(&position))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SynthConfig;

    #[test]
    fn no_registry_member_belongs_to_a_community_on_any_day() {
        let world = World::new(&SynthConfig::small());
        let registry = Registry::of(&world);
        let positions: Vec<u64> = registry.members.iter().map(|m| m.position).collect();
        assert!(positions.len() > 100, "{}", positions.len());
        let mut checked = 0;
        for day in 0..60 {
            for c in world.communities_on(day) {
                for p in &c.members {
                    assert!(
                        !positions.contains(p),
                        "registry position {p} is illicit on day {day}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000, "{checked}");
        for m in &registry.members {
            let profile = world.profile(m.position, None);
            assert!(profile.age_days > MIN_AGE_DAYS && profile.role != Role::Mixer);
        }
    }
}
