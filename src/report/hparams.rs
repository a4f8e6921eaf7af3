//! TensorBoard's HParams view of a sweep: `sweep/tensorboard/` holds the experiment (the grid's
//! axes, `run_id` aside, as hyper-parameters with their values; the run metrics as metrics) and
//! one run per sweep run, `<cell>_<run_id>/`, with its session start (its cell's values, the
//! cell as its session group, so TensorBoard folds the run_ids of a cell into one row), its
//! metrics as scalars and its session end (success or failure). `tensorboard --logdir
//! <result_dir>/<name>` then shows the grid in the HParams tab beside the trainings' own curves.
//!
//! The messages are the HParams plugin's (`plugin_data.proto`, `api.proto`) and protobuf's
//! `Value`, with the field numbers TensorBoard reads; each summary value carries them in its
//! metadata under the plugin name `hparams`, as `torch.utils.tensorboard` writes them.
//!
//! Owns: those messages and the files' layout. Must not: compute metrics or decide the grid.

use std::path::Path;

use prost::Message;

use super::tables::RunRow;
use crate::train::tensorboard::{Event, PluginData, Summary, SummaryMetadata, SummaryValue, event_file, scalar};

/// `HParamsPluginData`.
#[derive(Clone, PartialEq, Message)]
struct HParamsPluginData {
    #[prost(int32, tag = "1")]
    version: i32,
    #[prost(message, optional, tag = "2")]
    experiment: Option<Experiment>,
    #[prost(message, optional, tag = "3")]
    session_start_info: Option<SessionStartInfo>,
    #[prost(message, optional, tag = "4")]
    session_end_info: Option<SessionEndInfo>,
}

/// `Experiment`.
#[derive(Clone, PartialEq, Message)]
struct Experiment {
    #[prost(string, tag = "1")]
    description: String,
    #[prost(message, repeated, tag = "4")]
    hparam_infos: Vec<HParamInfo>,
    #[prost(message, repeated, tag = "5")]
    metric_infos: Vec<MetricInfo>,
}

/// `HParamInfo`.
#[derive(Clone, PartialEq, Message)]
struct HParamInfo {
    #[prost(string, tag = "1")]
    name: String,
    /// `DataType`: 1 string, 2 bool, 3 float64.
    #[prost(int32, tag = "4")]
    r#type: i32,
    #[prost(message, optional, tag = "5")]
    domain_discrete: Option<ListValue>,
}

/// `MetricInfo`.
#[derive(Clone, PartialEq, Message)]
struct MetricInfo {
    #[prost(message, optional, tag = "1")]
    name: Option<MetricName>,
}

/// `MetricName`.
#[derive(Clone, PartialEq, Message)]
struct MetricName {
    #[prost(string, tag = "1")]
    group: String,
    #[prost(string, tag = "2")]
    tag: String,
}

/// `SessionStartInfo`.
#[derive(Clone, PartialEq, Message)]
struct SessionStartInfo {
    #[prost(map = "string, message", tag = "1")]
    hparams: std::collections::HashMap<String, Value>,
    #[prost(string, tag = "4")]
    group_name: String,
    #[prost(double, tag = "5")]
    start_time_secs: f64,
}

/// `SessionEndInfo`.
#[derive(Clone, PartialEq, Message)]
struct SessionEndInfo {
    /// `Status`: 1 success, 2 failure.
    #[prost(int32, tag = "1")]
    status: i32,
    #[prost(double, tag = "2")]
    end_time_secs: f64,
}

/// `google.protobuf.Value` (the kinds a grid value can be).
#[derive(Clone, PartialEq, Message)]
struct Value {
    #[prost(oneof = "Kind", tags = "2, 3, 4")]
    kind: Option<Kind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Kind {
    #[prost(double, tag = "2")]
    Number(f64),
    #[prost(string, tag = "3")]
    Text(String),
    #[prost(bool, tag = "4")]
    Bool(bool),
}

/// `google.protobuf.ListValue`.
#[derive(Clone, PartialEq, Message)]
struct ListValue {
    #[prost(message, repeated, tag = "1")]
    values: Vec<Value>,
}

const EXPERIMENT_TAG: &str = "_hparams_/experiment";
const SESSION_START_TAG: &str = "_hparams_/session_start_info";
const SESSION_END_TAG: &str = "_hparams_/session_end_info";

/// A grid value as the plugin's `Value`: numbers and booleans as themselves, anything else
/// (strings, lists such as `[0.5, 0.5]`) as text.
fn value_of(json: &serde_json::Value) -> Value {
    let kind = match json {
        serde_json::Value::Number(n) => n.as_f64().map_or_else(|| Kind::Text(n.to_string()), Kind::Number),
        serde_json::Value::Bool(b) => Kind::Bool(*b),
        serde_json::Value::String(s) => Kind::Text(s.clone()),
        other => Kind::Text(other.to_string()),
    };
    Value { kind: Some(kind) }
}

/// The data type of an axis: float64 when every value is a number, bool when every one is a
/// boolean, else string.
fn data_type(values: &[Value]) -> i32 {
    if values.iter().all(|v| matches!(v.kind, Some(Kind::Number(_)))) {
        3
    } else if values.iter().all(|v| matches!(v.kind, Some(Kind::Bool(_)))) {
        2
    } else {
        1
    }
}

/// One summary value carrying the plugin data `data` under `tag`.
fn plugin_summary(tag: &str, data: HParamsPluginData) -> Summary {
    let metadata = SummaryMetadata {
        plugin_data: Some(PluginData { plugin_name: "hparams".into(), content: data.encode_to_vec() }),
    };
    Summary { value: vec![SummaryValue { tag: tag.into(), simple_value: None, metadata: Some(metadata) }] }
}

fn event(summary: Summary, step: i64) -> Event {
    Event { wall_time: crate::train::tensorboard::wall_time(), step, file_version: None, summary: Some(summary) }
}

/// The grid as TensorBoard's HParams: `axes` (axis → its values, `run_id` not among them) and
/// one session per run row, into `dir` (created). Failed runs are sessions with the failure
/// status.
pub fn write_hparams<'a>(
    dir: &Path,
    axes: impl Iterator<Item = &'a (String, Vec<serde_json::Value>)>,
    runs: &[RunRow],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut metrics: Vec<String> = Vec::new();
    for (name, _) in runs.iter().flat_map(|r| &r.metrics) {
        if !metrics.contains(name) {
            metrics.push(name.clone());
        }
    }
    let hparam_infos = axes
        .map(|(name, values)| {
            let values: Vec<Value> = values.iter().map(value_of).collect();
            HParamInfo { name: name.clone(), r#type: data_type(&values), domain_discrete: Some(ListValue { values }) }
        })
        .collect();
    let experiment = Experiment {
        description: "segsweep sweep: the grid's axes; each run's metrics, the run_ids of a cell in one group".into(),
        hparam_infos,
        metric_infos: metrics
            .iter()
            .map(|m| MetricInfo { name: Some(MetricName { group: String::new(), tag: m.clone() }) })
            .collect(),
    };
    let data = HParamsPluginData { version: 0, experiment: Some(experiment), ..Default::default() };
    crate::atomic::write(
        &dir.join("events.out.tfevents.0.segsweep-hparams"),
        event_file(&[event(plugin_summary(EXPERIMENT_TAG, data), 0)]),
    )?;
    for run in runs {
        let hparams: std::collections::HashMap<String, Value> = run
            .axes
            .iter()
            .map(|(k, v)| {
                (k.clone(), value_of(&serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.clone()))))
            })
            .collect();
        let start = SessionStartInfo {
            hparams,
            group_name: run.cell.clone(),
            start_time_secs: crate::train::tensorboard::wall_time(),
        };
        let mut events = vec![event(
            plugin_summary(
                SESSION_START_TAG,
                HParamsPluginData { session_start_info: Some(start), ..Default::default() },
            ),
            0,
        )];
        for (name, value) in &run.metrics {
            if let Some(value) = value {
                events.push(event(scalar(name, *value), 0));
            }
        }
        let end = SessionEndInfo {
            status: if run.status == "ok" { 1 } else { 2 },
            end_time_secs: crate::train::tensorboard::wall_time(),
        };
        events.push(event(
            plugin_summary(SESSION_END_TAG, HParamsPluginData { session_end_info: Some(end), ..Default::default() }),
            0,
        ));
        let session = dir.join(format!("{}_{}", run.cell, run.run_id));
        std::fs::create_dir_all(&session)?;
        crate::atomic::write(&session.join("events.out.tfevents.0.segsweep-hparams"), event_file(&events))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_values_keep_their_kinds_and_axes_their_types() {
        let number = value_of(&serde_json::json!(0.5));
        let list = value_of(&serde_json::json!([0.5, 0.5]));
        assert_eq!(number.kind, Some(Kind::Number(0.5)));
        assert_eq!(list.kind, Some(Kind::Text("[0.5,0.5]".into())));
        assert_eq!(data_type(&[number.clone(), number.clone()]), 3);
        assert_eq!(data_type(&[number, list]), 1);
        assert_eq!(data_type(&[value_of(&serde_json::json!(true))]), 2);
        // The bytes TensorBoard decodes: field 1 (version), then the experiment in field 2.
        let data = HParamsPluginData { version: 0, experiment: Some(Experiment::default()), ..Default::default() };
        assert_eq!(data.encode_to_vec(), [0x12, 0x00]);
    }
}
