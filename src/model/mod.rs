//! The segmentation networks (BiaPy's U-Net family), built in later commits; for now the 2D/3D
//! leaf layers ([`layers`]) and the 3D max-pooling burn lacks ([`max_pool3d`]).

pub mod layers;
pub mod pool3d;

pub use layers::{NameList, n_trainable_params};
pub use pool3d::max_pool3d;
