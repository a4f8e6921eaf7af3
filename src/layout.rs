//! The results tree of one run (D12, BiaPy's documented layout), as paths only:
//!
//! ```text
//! <result_dir>/<name>/
//! ├── config_files/<name>_<run_id>.yaml        the resolved config
//! ├── checkpoints/<name>_<run_id>-checkpoint-best.safetensors (+ -checkpoint-<epoch>…)
//! └── results/<name>_<run_id>/{aug, charts, train_logs, tensorboard, prob_map, per_image, …}
//! ```
//!
//! Pure path arithmetic: creating folders is up to the stage that writes into them, so only the
//! folders a run produced exist.

use std::path::{Path, PathBuf};

/// Where one run writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLayout {
    pub job_dir: PathBuf,
    /// `<name>_<run_id>`.
    pub job_id: String,
}

impl RunLayout {
    /// The layout of run `run_id` of job `name` under `result_dir`.
    pub fn new(result_dir: &Path, name: &str, run_id: u64) -> Self {
        Self { job_dir: result_dir.join(name), job_id: format!("{name}_{run_id}") }
    }

    pub fn config_file(&self) -> PathBuf {
        self.job_dir.join("config_files").join(format!("{}.yaml", self.job_id))
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.job_dir.join("checkpoints")
    }

    /// `results/<name>_<run_id>/`.
    pub fn results(&self) -> PathBuf {
        self.job_dir.join("results").join(&self.job_id)
    }

    /// A sub-folder of the run's results (`aug`, `charts`, `train_logs`, `per_image`, …).
    pub fn result(&self, folder: &str) -> PathBuf {
        self.results().join(folder)
    }
}

/// Checks a job name the way BiaPy does: it becomes a folder and part of file names.
pub fn check_job_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the job name is empty".into());
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(format!("the job name `{name}` cannot contain `/` or be `.`/`..`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn biapy_tree() {
        let layout = RunLayout::new(Path::new("/r"), "mito", 3);
        assert_eq!(layout.config_file(), Path::new("/r/mito/config_files/mito_3.yaml"));
        assert_eq!(layout.checkpoints(), Path::new("/r/mito/checkpoints"));
        assert_eq!(layout.result("charts"), Path::new("/r/mito/results/mito_3/charts"));
        assert!(check_job_name("a/b").is_err());
        assert!(check_job_name("mito-ov0.5").is_ok());
    }
}
