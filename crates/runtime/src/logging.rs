//! Log output as Flux writes it (zap through controller-runtime): `--log-encoding=json` prints one
//! object per line with zap's keys `level`, `ts`, `logger`, `msg` followed by the structured
//! fields (`controller`, `controllerGroup`, `controllerKind`, `name`, `namespace`, `reconcileID`…)
//! so Flux's Loki dashboard (`| json | level=~"$level"`) and log tooling read ours unchanged.
//! `--log-encoding=console` is for humans. `--log-level` maps zap's levels onto tracing's.

use std::io::Write;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::flags::{LogEncoding, LogLevel};

/// Span or event field that names the logger (zap's `logger` key), e.g. `logger = "setup"`.
pub const LOGGER_FIELD: &str = "logger";

/// Installing the global subscriber failed (one was installed already).
#[derive(Debug, thiserror::Error)]
#[error("installing the log subscriber failed")]
pub struct LoggingError(#[source] tracing_subscriber::util::TryInitError);

/// The tracing filter for a zap level; zap's `info` also admits warnings.
pub fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Error => LevelFilter::ERROR,
    }
}

/// Installs the process-wide subscriber for `--log-level` and `--log-encoding`.
pub fn init(level: LogLevel, encoding: LogEncoding) -> Result<(), LoggingError> {
    let filter = level_filter(level);
    match encoding {
        LogEncoding::Json => tracing_subscriber::registry()
            .with(ZapJsonLayer::new(std::io::stderr).with_filter(filter))
            .try_init(),
        LogEncoding::Console => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
    }
    .map_err(LoggingError)
}

/// A layer that writes zap-shaped JSON lines to `writer`.
pub struct ZapJsonLayer<W> {
    writer: W,
}

impl<W> ZapJsonLayer<W> {
    /// Writes to `writer` (stderr in production, a buffer in tests).
    pub fn new(writer: W) -> Self {
        Self { writer }
    }
}

/// Fields recorded on a span, kept in the span's extensions.
struct SpanFields(Vec<(String, Value)>);

#[derive(Default)]
struct Collect(Vec<(String, Value)>);

impl Collect {
    fn put(&mut self, key: &str, value: Value) {
        put(&mut self.0, key, value);
    }
}

fn put(fields: &mut Vec<(String, Value)>, key: &str, value: Value) {
    match fields.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => fields.push((key.to_owned(), value)),
    }
}

impl Visit for Collect {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field.name(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field.name(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field.name(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field.name(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field.name(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // zap prints an error's message, not its Debug form.
        self.put(field.name(), Value::String(value.to_string()));
    }
}

/// zap's level names.
fn zap_level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// zap's ISO8601 time encoder with millisecond precision, in UTC.
fn zap_timestamp(now: Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Renders one log line: zap's fixed keys first, then span fields (outermost first), then the
/// event's own fields; a later field of the same name replaces an earlier one.
fn render(level: &Level, ts: String, spans: Vec<(String, Value)>, event: Collect) -> String {
    let mut fields = spans;
    for (k, v) in event.0 {
        put(&mut fields, &k, v);
    }
    let message = fields
        .iter()
        .position(|(k, _)| k == "message")
        .map(|i| fields.remove(i).1);
    let logger = fields
        .iter()
        .position(|(k, _)| k == LOGGER_FIELD)
        .map(|i| fields.remove(i).1);
    let mut head: Vec<(String, Value)> = vec![
        ("level".into(), Value::from(zap_level(level))),
        ("ts".into(), Value::from(ts)),
    ];
    if let Some(logger) = logger {
        head.push(("logger".into(), logger));
    }
    head.push(("msg".into(), message.unwrap_or_else(|| Value::from(""))));
    head.extend(fields);
    let body: Vec<String> = head
        .into_iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k), v))
        .collect();
    format!("{{{}}}\n", body.join(","))
}

impl<S, W> Layer<S> for ZapJsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut collect = Collect::default();
        attrs.record(&mut collect);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(collect.0));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            let mut collect = Collect(std::mem::take(&mut fields.0));
            values.record(&mut collect);
            fields.0 = collect.0;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        put(&mut spans, k, v.clone());
                    }
                }
            }
        }
        let mut collect = Collect::default();
        event.record(&mut collect);
        let line = render(
            event.metadata().level(),
            zap_timestamp(Timestamp::now()),
            spans,
            collect,
        );
        // A log line that cannot be written has nowhere else to go.
        let _ = self.writer.make_writer().write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn lines(buffer: &Buffer) -> Vec<Value> {
        let bytes = buffer.0.lock().expect("buffer lock").clone();
        String::from_utf8(bytes)
            .expect("utf-8 logs")
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .collect()
    }

    #[test]
    fn json_lines_carry_zaps_keys_and_the_reconcile_fields_of_the_enclosing_span() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry()
            .with(ZapJsonLayer::new(buffer.clone()).with_filter(level_filter(LogLevel::Info)));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "reconcile",
                controller = "gitrepository",
                controllerGroup = "source.toolkit.fluxcd.io",
                controllerKind = "GitRepository",
                name = "podinfo",
                namespace = "default",
                reconcileID = "0b0f7a3e",
            );
            let _entered = span.enter();
            tracing::info!(
                revision = "main@sha1:abc",
                "stored artifact for commit 'abc'"
            );
            tracing::debug!("filtered out at info");
        });
        let got = lines(&buffer);
        assert_eq!(got.len(), 1, "{got:?}");
        let line = &got[0];
        assert_eq!(line["level"], "info");
        assert_eq!(line["msg"], "stored artifact for commit 'abc'");
        assert_eq!(line["controller"], "gitrepository");
        assert_eq!(line["controllerGroup"], "source.toolkit.fluxcd.io");
        assert_eq!(line["controllerKind"], "GitRepository");
        assert_eq!(line["name"], "podinfo");
        assert_eq!(line["namespace"], "default");
        assert_eq!(line["reconcileID"], "0b0f7a3e");
        assert_eq!(line["revision"], "main@sha1:abc");
        assert!(
            line.get("logger").is_none(),
            "unnamed loggers print no logger key"
        );
        let ts = line["ts"].as_str().expect("ts is a string");
        assert!(ts.parse::<Timestamp>().is_ok(), "{ts}");
    }

    #[test]
    fn the_key_order_starts_with_level_ts_logger_msg() {
        let text = render(
            &Level::ERROR,
            "2026-01-02T03:04:05.678Z".into(),
            vec![("logger".into(), Value::from("setup"))],
            Collect(vec![
                ("message".into(), Value::from("unable to start manager")),
                ("error".into(), Value::from("boom")),
            ]),
        );
        assert_eq!(
            text,
            "{\"level\":\"error\",\"ts\":\"2026-01-02T03:04:05.678Z\",\"logger\":\"setup\",\
             \"msg\":\"unable to start manager\",\"error\":\"boom\"}\n"
        );
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let ts = Timestamp::from_millisecond(1_767_323_045_678).expect("in range");
        assert_eq!(zap_timestamp(ts), "2026-01-02T03:04:05.678Z");
        let whole = Timestamp::from_second(1_767_323_045).expect("in range");
        assert_eq!(zap_timestamp(whole), "2026-01-02T03:04:05.000Z");
    }

    #[test]
    fn zap_levels_map_onto_tracing_levels() {
        assert_eq!(level_filter(LogLevel::Trace), LevelFilter::TRACE);
        assert_eq!(level_filter(LogLevel::Debug), LevelFilter::DEBUG);
        assert_eq!(level_filter(LogLevel::Info), LevelFilter::INFO);
        assert_eq!(level_filter(LogLevel::Error), LevelFilter::ERROR);
    }
}
