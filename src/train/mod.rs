//! Training (spec §8; D8–D11): losses, learning-rate schedules, optimisers, the sample pipeline
//! (windows, augmentation, batches on worker threads), the epoch loop, checkpoints and resume,
//! logs and charts. Reads the resolved config and the data folders; writes only inside the run's
//! results tree (`checkpoints/`, `results/<job>/{aug,charts,train_logs}`).

pub mod aug_samples;
pub mod checkpoint;
pub mod contrast;
pub mod cycled;
pub mod error;
pub mod freeze;
pub mod gen_check;
pub mod interop;
pub mod job;
pub mod loader;
pub mod log;
pub mod loss;
pub mod optim;
pub mod pickle;
mod pool;
pub mod pred_samples;
pub mod prob_maps;
pub mod progress;
pub mod pth;
pub mod pth_patch;
pub mod pth_write;
mod resolution_norm;
pub mod run;
pub mod samples;
pub mod schedule;
pub mod seed;
pub mod setup;
pub mod step;
pub mod tensorboard;
pub mod weights;

pub use error::TrainError;
pub use job::train_job;
pub use run::TrainOutcome;
