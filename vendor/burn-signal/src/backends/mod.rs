#[cfg(feature = "autodiff")]
mod autodiff;
#[cfg(feature = "cubecl-backend")]
mod cubecl;
#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "fusion")]
mod fusion;
#[cfg(feature = "router")]
pub(crate) mod router;
#[cfg(feature = "tch")]
mod tch;
