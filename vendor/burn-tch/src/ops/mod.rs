mod activation;
mod base;
mod batch_norm;
mod bool_tensor;
mod conv_backward;
mod int_tensor;
mod module;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
