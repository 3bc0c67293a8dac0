//! The persistent world: addresses, their behavioural profiles and the illicit communities.
//!
//! Everything here is a pure function of the seed and an address's *pool position*, never of
//! the day, so consecutive daily batches see the same addresses behaving the same way. Days
//! differ only through which positions are active: the first `hubs` positions (exchanges,
//! services, mixers) are always active, the rest form a window that slides forward by `drift`
//! positions per day, retiring the oldest addresses and admitting new ones. Illicit communities
//! live inside fixed blocks of positions, so they are born when their block enters the window
//! and die when it leaves, and they can go quiet on single days.

use super::rng::{below, lognormal, normal, pareto, rng_for, stream, unit};
use super::SynthConfig;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Positions per community block.
pub(crate) const BLOCK: u64 = 128;
/// Fraction of the non-hub population that turns over per day.
const DRIFT_PER_DAY: f64 = 0.01;
/// Probability that an illicit member is caught by at least one typology rule.
pub(crate) const DETECTION_RATE: f64 = 0.75;
/// Probability that a live community transacts on a given day.
const COMMUNITY_DAILY_ACTIVITY: f64 = 0.85;
/// Mean alerts per alerted address (used to size the illicit population).
const ALERTS_PER_ADDRESS: f64 = 1.3;
/// Target share of illicit alerts.
const ILLICIT_ALERT_SHARE: f64 = 0.10;

/// What an address is, independent of the truth label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    /// Custodial exchange hub.
    Exchange,
    /// Mixing service hub.
    Mixer,
    /// DeFi / payment service (medium hub).
    Service,
    /// Automated trader: regular timing, fixed amounts, night activity (benign look-alike of structuring).
    Bot,
    /// Receives from many payers (benign look-alike of fan-in).
    Merchant,
    /// Pays many recipients (benign look-alike of fan-out).
    Distributor,
    /// Moves funds quickly and reciprocally (benign look-alike of cycles / layering).
    Arbitrageur,
    /// Ordinary wallet.
    Regular,
}

impl Role {
    pub(crate) fn is_hub(self) -> bool {
        matches!(self, Role::Exchange | Role::Mixer | Role::Service)
    }
    pub(crate) fn address_type(self) -> &'static str {
        match self {
            Role::Exchange => "exchange",
            Role::Mixer => "mixer",
            Role::Service => "defi",
            Role::Bot => "bot",
            Role::Merchant => "merchant",
            Role::Distributor => "payroll",
            Role::Arbitrageur => "trader",
            Role::Regular => "wallet",
        }
    }
}

/// Laundering pattern of an illicit community.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Typology {
    Layering,
    FanIn,
    FanOut,
    Cycle,
    PeelChain,
}

impl Typology {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Typology::Layering => "layering",
            Typology::FanIn => "fan_in",
            Typology::FanOut => "fan_out",
            Typology::Cycle => "cycle",
            Typology::PeelChain => "peel_chain",
        }
    }
}

/// A planted illicit community (persistent; members are pool positions in pattern order).
#[derive(Clone, Debug)]
pub(crate) struct Community {
    pub block: u64,
    pub typology: Typology,
    pub members: Vec<u64>,
    pub structuring: bool,
    pub uses_mixer: bool,
    /// How strongly members deviate from benign behaviour (0.6..1.4).
    pub strength: f64,
}

/// Persistent behaviour of one address.
#[derive(Clone, Debug)]
pub(crate) struct Profile {
    pub position: u64,
    pub role: Role,
    /// Index into the day's community list when illicit.
    pub community: Option<u32>,
    pub weight_out: f64,
    pub weight_in: f64,
    pub tx_size: f64,
    pub tx_sigma: f64,
    pub tx_per_edge: f64,
    pub peak_hour: f64,
    pub hour_spread: f64,
    pub weekend_pref: f64,
    pub night: f64,
    pub regularity: f64,
    pub burst: f64,
    pub structuring: f64,
    pub velocity: f64,
    pub age_days: f64,
    pub dormant_reactivated: bool,
    pub asset_in: u8,
    pub asset_out: u8,
    pub n_assets: u32,
}

impl Profile {
    pub(crate) fn is_illicit(&self) -> bool {
        self.community.is_some()
    }
}

/// Asset vocabulary for dominant_asset columns.
pub(crate) const ASSETS: [&str; 8] = ["TORUS", "USDT", "USDC", "ETH", "BTC", "wTAO", "DAI", "SOL"];

/// The persistent world of one seed.
#[derive(Clone, Debug)]
pub(crate) struct World {
    pub seed: u64,
    pub n_active: u64,
    pub hubs: u64,
    pub drift: u64,
    /// Probability that a block holds a community.
    pub community_rate: f64,
}

impl World {
    pub(crate) fn new(config: &SynthConfig) -> World {
        let n_active = config.n_addresses.max(64) as u64;
        let hubs = (n_active / 2000).max(5);
        let drift = ((n_active - hubs) as f64 * DRIFT_PER_DAY).round() as u64;
        let blocks = (n_active - hubs) as f64 / BLOCK as f64;
        let mean_members = 12.0;
        let illicit_alerted_addresses =
            config.n_alerts as f64 * ILLICIT_ALERT_SHARE / ALERTS_PER_ADDRESS;
        let illicit_needed = illicit_alerted_addresses / DETECTION_RATE;
        let community_rate =
            (illicit_needed / (blocks * mean_members * COMMUNITY_DAILY_ACTIVITY)).clamp(0.0, 1.0);
        World {
            seed: config.seed,
            n_active,
            hubs,
            drift,
            community_rate,
        }
    }

    /// First non-hub pool position active on `day`.
    pub(crate) fn window_start(&self, day: u64) -> u64 {
        self.hubs + day * self.drift
    }

    /// Pool positions active on `day`, in local-index order.
    pub(crate) fn active_positions(&self, day: u64) -> Vec<u64> {
        let start = self.window_start(day);
        (0..self.hubs)
            .chain(start..start + (self.n_active - self.hubs))
            .collect()
    }

    /// Local index of a pool position on `day`, if active.
    pub(crate) fn local_index(&self, day: u64, position: u64) -> Option<usize> {
        if position < self.hubs {
            return Some(position as usize);
        }
        let start = self.window_start(day);
        let end = start + (self.n_active - self.hubs);
        (position >= start && position < end).then(|| (position - start + self.hubs) as usize)
    }

    /// The community planted in a block, if any (persistent).
    pub(crate) fn community(&self, block: u64) -> Option<Community> {
        let mut rng = rng_for(&[self.seed, stream::COMMUNITY, block]);
        if unit(&mut rng) >= self.community_rate {
            return None;
        }
        let typology = match below(&mut rng, 5) {
            0 => Typology::Layering,
            1 => Typology::FanIn,
            2 => Typology::FanOut,
            3 => Typology::Cycle,
            _ => Typology::PeelChain,
        };
        let size = 6 + below(&mut rng, 13) as u64; // 6..=18
        let mut offsets: Vec<u64> = Vec::with_capacity(size as usize);
        while (offsets.len() as u64) < size {
            let o = below(&mut rng, BLOCK as usize) as u64;
            if !offsets.contains(&o) {
                offsets.push(o);
            }
        }
        let first = self.hubs + block * BLOCK;
        Some(Community {
            block,
            typology,
            members: offsets.into_iter().map(|o| first + o).collect(),
            structuring: unit(&mut rng) < 0.35,
            uses_mixer: unit(&mut rng) < 0.4,
            strength: 0.6 + 0.8 * unit(&mut rng),
        })
    }

    /// Whether a community transacts on `day` (communities go quiet some days).
    pub(crate) fn community_active(&self, block: u64, day: u64) -> bool {
        unit(&mut rng_for(&[
            self.seed,
            stream::COMMUNITY_DAY,
            block,
            day,
        ])) < COMMUNITY_DAILY_ACTIVITY
    }

    /// Communities transacting on `day`, members restricted to active positions (>= 3 kept).
    pub(crate) fn communities_on(&self, day: u64) -> Vec<Community> {
        let start = self.window_start(day);
        let end = start + (self.n_active - self.hubs);
        let first_block = (start - self.hubs) / BLOCK;
        let last_block = (end - self.hubs).div_ceil(BLOCK);
        (first_block..last_block)
            .filter(|&b| self.community_active(b, day))
            .filter_map(|b| self.community(b))
            .filter_map(|mut c| {
                c.members.retain(|&p| p >= start && p < end);
                (c.members.len() >= 3).then_some(c)
            })
            .collect()
    }

    /// Persistent profile of a pool position; `illicit` carries its community when it is a member.
    pub(crate) fn profile(&self, position: u64, illicit: Option<(u32, &Community)>) -> Profile {
        let mut rng = rng_for(&[self.seed, stream::PROFILE, position]);
        let role = self.role(&mut rng, position);
        let base_out = pareto(&mut rng, 1.7);
        let base_in = pareto(&mut rng, 1.7);
        let (w_out, w_in, tx_size, tx_sigma, tx_per_edge) =
            self.volume_shape(role, position, base_out, base_in);
        let mut p = Profile {
            position,
            role,
            community: None,
            weight_out: w_out,
            weight_in: w_in,
            tx_size: lognormal(&mut rng, tx_size, 0.5),
            tx_sigma,
            tx_per_edge,
            peak_hour: (14.0 + 3.0 * normal(&mut rng)).rem_euclid(24.0),
            hour_spread: 3.0 + 2.0 * unit(&mut rng),
            weekend_pref: 0.2 + 0.25 * unit(&mut rng),
            night: normal(&mut rng),
            regularity: normal(&mut rng),
            burst: normal(&mut rng),
            structuring: normal(&mut rng),
            velocity: normal(&mut rng) - 0.3,
            age_days: lognormal(&mut rng, 300.0, 1.2),
            dormant_reactivated: unit(&mut rng) < 0.03,
            asset_in: 0,
            asset_out: 0,
            n_assets: 1 + (pareto(&mut rng, 2.0) as u32).min(7),
        };
        draw_assets(&mut p, &mut rng);
        adjust_for_role(&mut p, &mut rng);
        if let Some((index, community)) = illicit {
            adjust_for_community(&mut p, &mut rng, index, community);
        }
        p
    }

    /// Role of a pool position: hubs are mixers, exchanges and services; the rest mostly regular.
    fn role(&self, rng: &mut ChaCha8Rng, position: u64) -> Role {
        if position < self.hubs {
            match position {
                1 | 2 => Role::Mixer,
                _ if unit(rng) < 0.75 => Role::Exchange,
                _ => Role::Service,
            }
        } else {
            let u = unit(rng);
            match u {
                _ if u < 0.04 => Role::Bot,
                _ if u < 0.08 => Role::Merchant,
                _ if u < 0.11 => Role::Distributor,
                _ if u < 0.14 => Role::Arbitrageur,
                _ if u < 0.155 => Role::Service,
                _ => Role::Regular,
            }
        }
    }

    /// Out and in weights, typical transaction size, its log-spread and transactions per edge of
    /// a role (hub roles scale with the active population).
    fn volume_shape(
        &self,
        role: Role,
        position: u64,
        base_out: f64,
        base_in: f64,
    ) -> (f64, f64, f64, f64, f64) {
        let hub_scale = (self.n_active as f64 / self.hubs as f64) * 0.12;
        match role {
            Role::Exchange => (hub_scale * base_out, hub_scale * base_in, 2000.0, 1.3, 6.0),
            Role::Mixer => (hub_scale * 0.3, hub_scale * 0.3, 3000.0, 0.8, 2.0),
            Role::Service if position < self.hubs => (
                hub_scale * 0.4 * base_out,
                hub_scale * 0.4 * base_in,
                1500.0,
                1.2,
                4.0,
            ),
            Role::Service => (6.0 * base_out, 6.0 * base_in, 1500.0, 1.2, 4.0),
            Role::Bot => (2.0 * base_out, 1.5 * base_in, 150.0, 0.35, 12.0),
            Role::Merchant => (0.6 * base_out, 7.0 * base_in, 80.0, 0.9, 1.5),
            Role::Distributor => (7.0 * base_out, 0.6 * base_in, 500.0, 0.5, 1.2),
            Role::Arbitrageur => (2.5 * base_out, 2.5 * base_in, 5000.0, 1.0, 5.0),
            Role::Regular => (base_out, base_in, 300.0, 1.2, 1.5),
        }
    }

    /// SS58-looking address string of a pool position (48 base58 characters, starts with '5').
    pub(crate) fn address(&self, position: u64) -> String {
        const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        let mut out = String::with_capacity(48);
        out.push('5');
        let mut rng = rng_for(&[self.seed, stream::ADDRESS, position]);
        for _ in 0..47 {
            out.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
        }
        out
    }
}

/// Dominant assets in and out (mostly the same asset).
fn draw_assets(p: &mut Profile, rng: &mut ChaCha8Rng) {
    let asset = |rng: &mut ChaCha8Rng| -> u8 {
        let u = unit(rng);
        match u {
            _ if u < 0.55 => 0,
            _ if u < 0.75 => 1,
            _ if u < 0.85 => 2,
            _ => (3 + below(rng, 5)) as u8,
        }
    };
    p.asset_in = asset(rng);
    p.asset_out = if unit(rng) < 0.8 {
        p.asset_in
    } else {
        asset(rng)
    };
}

/// Behaviour shifts that come with the role.
fn adjust_for_role(p: &mut Profile, rng: &mut ChaCha8Rng) {
    match p.role {
        Role::Exchange | Role::Service => {
            p.regularity += 1.0;
            p.velocity += 1.5;
            p.age_days = 800.0 + 400.0 * unit(rng);
            p.n_assets = 3 + below(rng, 5) as u32;
            p.hour_spread = 7.0;
        }
        Role::Mixer => {
            p.velocity += 2.0;
            p.night += 0.8;
            p.age_days = 400.0 + 200.0 * unit(rng);
        }
        Role::Bot => {
            p.regularity += 2.0;
            p.night += 1.5;
            p.structuring += 1.2;
            p.hour_spread = 8.0;
        }
        Role::Merchant => p.regularity += 0.5,
        Role::Distributor => {
            p.structuring += 0.6;
            p.regularity += 1.0;
        }
        Role::Arbitrageur => {
            p.velocity += 1.6;
            p.burst += 1.0;
            p.night += 0.5;
        }
        Role::Regular => {}
    }
}

/// Behaviour of an illicit community member: smaller weights, bigger amounts, night, bursts,
/// structuring and velocity growing with the community's strength, young addresses.
fn adjust_for_community(p: &mut Profile, rng: &mut ChaCha8Rng, index: u32, community: &Community) {
    let s = community.strength;
    p.community = Some(index);
    p.weight_out *= 0.5;
    p.weight_in *= 0.5;
    p.tx_size = lognormal(rng, 4000.0, 0.7);
    p.tx_sigma = 0.8;
    p.tx_per_edge = 3.0;
    p.night += 0.9 * s;
    p.regularity -= 0.7 * s;
    p.burst += 1.1 * s;
    p.structuring += if community.structuring {
        1.6 * s
    } else {
        0.4 * s
    };
    p.velocity += match community.typology {
        Typology::Layering | Typology::PeelChain | Typology::Cycle => 1.6 * s,
        Typology::FanIn | Typology::FanOut => 0.9 * s,
    };
    p.age_days = if unit(rng) < 0.5 * s {
        7.0 * unit(rng)
    } else {
        lognormal(rng, 60.0, 1.0)
    };
    p.dormant_reactivated = unit(rng) < 0.15 * s;
    p.peak_hour = (2.0 + 4.0 * normal(rng)).rem_euclid(24.0);
    if unit(rng) < 0.5 {
        p.asset_out = [1u8, 5][below(rng, 2)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide_and_keep_hubs() {
        let world = World::new(&SynthConfig::small());
        let d0 = world.active_positions(0);
        let d1 = world.active_positions(1);
        assert_eq!(d0.len() as u64, world.n_active);
        assert_eq!(d1.len() as u64, world.n_active);
        assert_eq!(d0[..world.hubs as usize], d1[..world.hubs as usize]);
        for (i, &p) in d1.iter().enumerate() {
            assert_eq!(world.local_index(1, p), Some(i));
        }
        let shared = d1
            .iter()
            .filter(|p| world.local_index(0, **p).is_some())
            .count();
        assert!(shared as f64 > 0.95 * d1.len() as f64);
    }

    #[test]
    fn communities_and_profiles_are_persistent() {
        let world = World::new(&SynthConfig::small());
        let a = world.communities_on(0);
        assert!(!a.is_empty());
        let b = world.community(a[0].block).unwrap();
        assert!(b.members.len() >= a[0].members.len());
        let p1 = world.profile(500, None);
        let p2 = world.profile(500, None);
        assert_eq!(p1.tx_size, p2.tx_size);
        assert_eq!(world.address(500), world.address(500));
        assert_ne!(world.address(500), world.address(501));
    }
}
