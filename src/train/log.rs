//! The per-epoch training log (D12): `train_logs/<job_id>_train_log.csv`, one row per epoch
//! (epoch, train loss, train IoU, val loss, val IoU, lr, seconds, and how many of those seconds
//! the model waited for training data and spent validating), rewritten after every epoch
//! under a temporary name and renamed into place, so it is always complete up to the last
//! finished epoch. Also the loss and IoU charts of spec §10.3, drawn from the same rows.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plot::PlotError;
use crate::plot::lines::{Series, line_chart};

/// One epoch's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// 1-based epoch number.
    pub epoch: usize,
    pub train_loss: f64,
    pub train_iou: f64,
    pub val_loss: f64,
    pub val_iou: f64,
    /// Mean learning rate over the epoch's steps.
    pub lr: f64,
    pub seconds: f64,
    /// Training steps (batches) of the epoch.
    #[serde(default)]
    pub steps: usize,
    /// Seconds the training steps waited for a batch (0 when loading keeps ahead of the model).
    #[serde(default)]
    pub data_wait_seconds: f64,
    /// Seconds spent on the validation pass.
    #[serde(default)]
    pub validation_seconds: f64,
}

/// Writes `rows` as CSV to `path` (atomically).
pub fn write_csv(path: &Path, rows: &[EpochRow]) -> std::io::Result<()> {
    let tmp = crate::atomic::temporary_sibling(path);
    let result = (|| {
        let mut writer = csv::Writer::from_path(&tmp)?;
        for row in rows {
            writer.serialize(row)?;
        }
        writer.flush()?;
        Ok::<_, csv::Error>(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(std::io::Error::other(e));
    }
    crate::atomic::commit(&tmp, path)
}

/// Reads a log written by [`write_csv`].
pub fn read_csv(path: &Path) -> Result<Vec<EpochRow>, csv::Error> {
    csv::Reader::from_path(path)?.deserialize().collect()
}

/// Draws `<job_id>_loss.png` and `<job_id>_IoU.png` into `charts`.
pub fn draw_charts(charts: &Path, job_id: &str, rows: &[EpochRow]) -> Result<(), PlotError> {
    let series = |label: &str, f: fn(&EpochRow) -> f64| Series {
        label: label.into(),
        points: rows.iter().map(|r| (r.epoch as f64, f(r))).collect(),
    };
    line_chart(
        &charts.join(format!("{job_id}_loss.png")),
        &format!("Model JOBID={job_id} loss"),
        "Epoch",
        "Loss",
        &[series("Train loss", |r| r.train_loss), series("Val. loss", |r| r.val_loss)],
    )?;
    line_chart(
        &charts.join(format!("{job_id}_IoU.png")),
        &format!("Model JOBID={job_id} IoU"),
        "Epoch",
        "IoU",
        &[series("Train IoU", |r| r.train_iou), series("Val. IoU", |r| r.val_iou)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: usize) -> EpochRow {
        EpochRow {
            epoch,
            train_loss: 0.5,
            train_iou: 0.4,
            val_loss: 0.6,
            val_iou: 0.3,
            lr: 1e-3,
            seconds: 1.5,
            steps: 3,
            data_wait_seconds: 0.1,
            validation_seconds: 0.2,
        }
    }

    #[test]
    fn csv_round_trip_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        write_csv(&path, &[row(1), row(2)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(
                "epoch,train_loss,train_iou,val_loss,val_iou,lr,seconds,steps,data_wait_seconds,validation_seconds\n1,0.5,0.4,0.6,0.3,0.001,1.5,3,0.1,0.2\n"
            )
        );
        assert_eq!(read_csv(&path).unwrap(), vec![row(1), row(2)]);
        draw_charts(dir.path(), "demo_1", &[row(1), row(2)]).unwrap();
        let _ = std::fs::copy(dir.path().join("demo_1_loss.png"), "/tmp/chart_check.png");
        assert!(dir.path().join("demo_1_loss.png").exists() && dir.path().join("demo_1_IoU.png").exists());
    }
}
