//! Prometheus metrics of the service: request counts per route and status, a latency histogram per route,
//! the number of alerts scored and the scoring admission counters. Rendered in the Prometheus text
//! exposition format, in a fixed order.
//!
//! Label values are bounded whatever clients send: a method outside the standard set is recorded as
//! [`OTHER_METHOD`], and every path that matched no route shares the route label [`UNMATCHED_ROUTE`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Method label of every request whose method is not one of the standard HTTP methods.
pub const OTHER_METHOD: &str = "OTHER";
/// Route label of every request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Methods recorded under their own name; anything else is [`OTHER_METHOD`].
const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// The method label of `method`: itself when standard, else [`OTHER_METHOD`].
pub fn method_label(method: &str) -> &'static str {
    STANDARD_METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or(OTHER_METHOD)
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Counters shared by every request.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    alerts_scored: AtomicU64,
    clusters_scored: AtomicU64,
    scoring_active: AtomicU64,
    scoring_cancelled: AtomicU64,
    scoring_shed: AtomicU64,
}

impl Metrics {
    /// Records one finished request. `route` must be a route pattern of the router (or
    /// [`UNMATCHED_ROUTE`]), never a raw request path; `method` is bounded by [`method_label`].
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner
            .requests
            .entry((method_label(method), route.to_string(), status))
            .or_default() += 1;
        let h = inner.latency.entry(route.to_string()).or_default();
        for (bucket, bound) in h.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Adds scored alerts.
    pub fn add_alerts_scored(&self, n: usize) {
        self.alerts_scored.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds scored clusters.
    pub fn add_clusters_scored(&self, n: usize) {
        self.clusters_scored.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A scoring request holds its body and waits for (or runs) a scoring job.
    pub fn scoring_started(&self) {
        self.scoring_active.fetch_add(1, Ordering::Relaxed);
    }

    /// A scoring request ended; `cancelled` when its client went away or it timed out first.
    pub fn scoring_ended(&self, cancelled: bool) {
        self.scoring_active.fetch_sub(1, Ordering::Relaxed);
        if cancelled {
            self.scoring_cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A scoring request was refused with 503 because the scoring queue was full.
    pub fn add_scoring_shed(&self) {
        self.scoring_shed.fetch_add(1, Ordering::Relaxed);
    }

    /// Scoring requests holding their body right now (waiting for or running a scoring job).
    pub fn scoring_active(&self) -> u64 {
        self.scoring_active.load(Ordering::Relaxed)
    }

    /// Scoring requests abandoned before they finished (client gone or request timeout).
    pub fn scoring_cancelled(&self) -> u64 {
        self.scoring_cancelled.load(Ordering::Relaxed)
    }

    /// Alerts scored so far.
    pub fn alerts_scored(&self) -> u64 {
        self.alerts_scored.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP aml_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE aml_http_requests_total counter\n");
        for ((method, route, status), n) in &inner.requests {
            out.push_str(&format!(
                "aml_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP aml_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE aml_http_request_duration_seconds histogram\n");
        for (route, h) in &inner.latency {
            for (bucket, bound) in h.buckets.iter().zip(LATENCY_BUCKETS) {
                out.push_str(&format!(
                    "aml_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {bucket}\n"
                ));
            }
            out.push_str(&format!(
                "aml_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!(
                "aml_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n",
                h.sum
            ));
            out.push_str(&format!(
                "aml_http_request_duration_seconds_count{{route=\"{route}\"}} {}\n",
                h.count
            ));
        }
        out.push_str("# HELP aml_alerts_scored_total Alerts scored through the API.\n");
        out.push_str("# TYPE aml_alerts_scored_total counter\n");
        out.push_str(&format!(
            "aml_alerts_scored_total {}\n",
            self.alerts_scored()
        ));
        out.push_str("# HELP aml_clusters_scored_total Clusters scored through the API.\n");
        out.push_str("# TYPE aml_clusters_scored_total counter\n");
        out.push_str(&format!(
            "aml_clusters_scored_total {}\n",
            self.clusters_scored.load(Ordering::Relaxed)
        ));
        for (name, help, kind, value) in [
            (
                "aml_scoring_active",
                "Scoring requests waiting for or running a scoring job.",
                "gauge",
                self.scoring_active(),
            ),
            (
                "aml_scoring_cancelled_total",
                "Scoring requests abandoned before they finished (client gone or timeout).",
                "counter",
                self.scoring_cancelled(),
            ),
            (
                "aml_scoring_shed_total",
                "Scoring requests refused with 503 because the scoring queue was full.",
                "counter",
                self.scoring_shed.load(Ordering::Relaxed),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.record("GET", "/health", 200, 0.002);
        m.record("GET", "/health", 200, 0.3);
        m.record("GET", "/health", 404, 20.0);
        let text = m.render();
        assert!(text.contains("route=\"/health\",status=\"200\"} 2\n"));
        assert!(text.contains("route=\"/health\",status=\"404\"} 1\n"));
        assert!(text.contains("{route=\"/health\",le=\"0.0025\"} 1\n"));
        assert!(text.contains("{route=\"/health\",le=\"0.5\"} 2\n"));
        assert!(text.contains("{route=\"/health\",le=\"+Inf\"} 3\n"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let m = Metrics::default();
        m.record("BREW", UNMATCHED_ROUTE, 404, 0.001);
        m.record("X-ATTACK-1", UNMATCHED_ROUTE, 404, 0.001);
        let text = m.render();
        assert!(
            !text.contains("BREW") && !text.contains("X-ATTACK"),
            "{text}"
        );
        assert!(text.contains("method=\"OTHER\",route=\"unmatched\",status=\"404\"} 2\n"));
    }
}
