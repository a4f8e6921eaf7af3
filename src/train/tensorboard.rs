//! TensorBoard event files (spec §10.3): `results/<job>/tensorboard/events.out.tfevents.<time>.segsweep`
//! with the scalars `loss/loss` and `opt/lr` per iteration and `perf/val_loss`, `perf/val_iou` per
//! epoch, flushed as they are written so a live `tensorboard --logdir` follows the training.
//!
//! The record format is TensorFlow's: `[u64 length][u32 masked crc32c(length)][Event bytes]
//! [u32 masked crc32c(bytes)]`, little-endian, where `Event` is the protobuf message with
//! `wall_time` (1, double), `step` (2, int64), `file_version` (3, string) and `summary` (5) holding
//! `Summary.value` (1) entries of `tag` (1, string) and `simple_value` (2, float).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use prost::Message;

/// `tensorflow.Event` (the fields segsweep writes).
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(string, optional, tag = "3")]
    pub file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`: a scalar, or a plugin's data in its metadata (the HParams
/// summaries of a sweep, `crate::report::hparams`).
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
}

/// `tensorflow.SummaryMetadata`: which plugin the value is for, and that plugin's data.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

/// `tensorflow.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, Message)]
pub struct PluginData {
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// TensorFlow's masked CRC-32C.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends events to one event file.
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates `dir/events.out.tfevents.<seconds>.segsweep` and writes the file-version record.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let now = wall_time();
        let path = dir.join(format!("events.out.tfevents.{}.segsweep", now as u64));
        let mut writer = Self { out: BufWriter::new(File::create(&path)?), path };
        writer.write_event(&Event {
            wall_time: now,
            step: 0,
            file_version: Some("brain.Event:2".into()),
            summary: None,
        })?;
        Ok(writer)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes scalar `value` under `tag` at `step` and flushes.
    pub fn scalar(&mut self, tag: &str, value: f64, step: i64) -> std::io::Result<()> {
        self.write_event(&Event { wall_time: wall_time(), step, file_version: None, summary: Some(scalar(tag, value)) })
    }

    fn write_event(&mut self, event: &Event) -> std::io::Result<()> {
        self.out.write_all(&record(event))?;
        self.out.flush()
    }
}

/// A summary of one scalar.
pub fn scalar(tag: &str, value: f64) -> Summary {
    Summary { value: vec![SummaryValue { tag: tag.into(), simple_value: Some(value as f32), metadata: None }] }
}

/// The bytes of a whole event file: the file-version record, then `events`.
pub fn event_file(events: &[Event]) -> Vec<u8> {
    let version = Event { wall_time: wall_time(), step: 0, file_version: Some("brain.Event:2".into()), summary: None };
    std::iter::once(&version).chain(events).flat_map(record).collect()
}

/// One record: `[u64 length][u32 masked crc32c(length)][Event bytes][u32 masked crc32c(bytes)]`.
fn record(event: &Event) -> Vec<u8> {
    let data = event.encode_to_vec();
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
    out.extend_from_slice(&data);
    out.extend_from_slice(&masked_crc32c(&data).to_le_bytes());
    out
}

/// Seconds since the Unix epoch.
pub fn wall_time() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Reads every record of an event file, checking each length and data checksum; returns the
/// decoded events (an independent reader for tests and tools).
pub fn read_events(path: &Path) -> Result<Vec<Event>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
            if rest.len() < n {
                return Err("truncated record".into());
            }
            let (head, tail) = rest.split_at(n);
            *rest = tail;
            Ok(head.to_vec())
        };
        let length = take(&mut rest, 8)?;
        let length_crc = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "bad crc")?);
        if length_crc != masked_crc32c(&length) {
            return Err("length checksum mismatch".into());
        }
        let n = u64::from_le_bytes(length.try_into().map_err(|_| "bad length")?) as usize;
        let data = take(&mut rest, n)?;
        let data_crc = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "bad crc")?);
        if data_crc != masked_crc32c(&data) {
            return Err("data checksum mismatch".into());
        }
        events.push(Event::decode(data.as_slice()).map_err(|e| e.to_string())?);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_masked_crc() {
        // crc32c("") = 0 → masked 0xa282ead8; crc32c("123456789") = 0xe3069283 (RFC 3720).
        assert_eq!(masked_crc32c(b""), 0xa282_ead8);
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn written_scalars_read_back_with_checked_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path()).unwrap();
        writer.scalar("loss/loss", 0.5, 3).unwrap();
        writer.scalar("perf/val_iou", 0.25, 1).unwrap();
        let events = read_events(writer.path()).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
        let value = &events[1].summary.as_ref().unwrap().value[0];
        assert_eq!((value.tag.as_str(), value.simple_value, events[1].step), ("loss/loss", Some(0.5), 3));
        let mut bytes = std::fs::read(writer.path()).unwrap();
        let last = bytes.len() - 6;
        bytes[last] ^= 0xff;
        std::fs::write(writer.path(), bytes).unwrap();
        assert!(read_events(writer.path()).unwrap_err().contains("checksum"));
    }
}
