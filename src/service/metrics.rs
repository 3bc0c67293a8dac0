//! Prometheus metrics of the service: request counts per route and status, a latency histogram per route,
//! and the number of alerts scored. Rendered in the Prometheus text exposition format, in a fixed order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Counters shared by every request.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    alerts_scored: AtomicU64,
    clusters_scored: AtomicU64,
}

impl Metrics {
    /// Records one finished request.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner
            .requests
            .entry((method.to_string(), route.to_string(), status))
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
}
