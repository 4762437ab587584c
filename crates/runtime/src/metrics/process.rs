//! `process_*` series from `/proc/self` (what Go's process collector exports and Flux's
//! control-plane dashboard reads: `process_cpu_seconds_total`, `process_resident_memory_bytes`),
//! without the prometheus crate's procfs dependency.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge, Opts};

/// Clock ticks per second and page size as Linux reports them on every platform we ship to.
const CLOCK_TICKS: f64 = 100.0;
const PAGE_SIZE: i64 = 4096;

/// Collects CPU time, memory, open file descriptors and start time of this process.
pub struct ProcessCollector {
    cpu: Counter,
    resident: IntGauge,
    virtual_memory: IntGauge,
    open_fds: IntGauge,
    start_time: Gauge,
    descs: Vec<Desc>,
}

impl ProcessCollector {
    /// A collector for the current process.
    pub fn new() -> Result<Self, prometheus::Error> {
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ))?;
        let resident = IntGauge::with_opts(Opts::new(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        ))?;
        let virtual_memory = IntGauge::with_opts(Opts::new(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        ))?;
        let open_fds = IntGauge::with_opts(Opts::new(
            "process_open_fds",
            "Number of open file descriptors.",
        ))?;
        let start_time = Gauge::with_opts(Opts::new(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        ))?;
        let descs = [
            cpu.desc(),
            resident.desc(),
            virtual_memory.desc(),
            open_fds.desc(),
            start_time.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        Ok(Self {
            cpu,
            resident,
            virtual_memory,
            open_fds,
            start_time,
            descs,
        })
    }

    fn refresh(&self) {
        let Some(stat) = read_stat() else { return };
        // A counter set from an absolute reading, as Go's collector does on every scrape.
        self.cpu.reset();
        self.cpu.inc_by(stat.cpu_ticks as f64 / CLOCK_TICKS);
        self.resident.set(stat.rss_pages.saturating_mul(PAGE_SIZE));
        self.virtual_memory.set(stat.vsize);
        if let Some(boot) = boot_time() {
            self.start_time
                .set(boot + stat.start_ticks as f64 / CLOCK_TICKS);
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds
                .set(i64::try_from(entries.count()).unwrap_or(i64::MAX));
        }
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        [
            self.cpu.collect(),
            self.resident.collect(),
            self.virtual_memory.collect(),
            self.open_fds.collect(),
            self.start_time.collect(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

struct Stat {
    cpu_ticks: u64,
    start_ticks: u64,
    vsize: i64,
    rss_pages: i64,
}

/// Parses `/proc/self/stat`; fields after the parenthesised command name are space separated.
fn read_stat() -> Option<Stat> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // After the command: state is field 3 of stat(5), so field N is fields[N - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
        vsize: i64::try_from(field(23)?).ok()?,
        rss_pages: i64::try_from(field(24)?).ok()?,
    })
}

fn boot_time() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_when_the_command_has_spaces_and_parentheses() {
        let line = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 5000 104857600 2560 18446744073709551615";
        let stat = parse_stat(line).expect("parses");
        assert_eq!(stat.cpu_ticks, 300);
        assert_eq!(stat.start_ticks, 5000);
        assert_eq!(stat.vsize, 104_857_600);
        assert_eq!(stat.rss_pages, 2560);
    }

    #[test]
    fn this_process_reports_cpu_and_memory() {
        let collector = ProcessCollector::new().expect("valid metrics");
        let families = collector.collect();
        let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
        assert!(names.contains(&"process_cpu_seconds_total"), "{names:?}");
        assert!(
            names.contains(&"process_resident_memory_bytes"),
            "{names:?}"
        );
    }
}
