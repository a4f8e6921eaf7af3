//! segsweep patch: element-wise kernels over large contiguous slices on rayon's threads.
//!
//! burn-flex 0.22.1 runs its unary, scalar and binary element-wise operations on one thread,
//! so on a 2-core machine every activation, exp and addition of a training step left a core idle
//! (about a fifth of a U-Net step). Each element is computed exactly as before, so the results
//! are the same bits whatever the thread count; only slices of at least `PAR_MIN` elements are
//! split, in chunks of `PAR_CHUNK`.

/// Smaller slices stay on the calling thread (rayon's overhead would dominate).
pub(crate) const PAR_MIN: usize = 1 << 16;
/// Elements per task: 64 KiB of f32, large enough for the SIMD loops, small enough to balance.
const PAR_CHUNK: usize = 1 << 14;

/// `f(chunk)` over `data` in chunks, in parallel when large.
pub(crate) fn for_chunks<E: Send>(data: &mut [E], f: impl Fn(&mut [E]) + Sync + Send) {
    #[cfg(feature = "rayon")]
    if data.len() >= PAR_MIN {
        use rayon::prelude::*;
        data.par_chunks_mut(PAR_CHUNK).for_each(f);
        return;
    }
    f(data)
}

/// `f(dst_chunk, src_chunk)` over aligned chunks of two slices of the same length.
pub(crate) fn for_zipped_chunks<E: Send + Sync>(dst: &mut [E], src: &[E], f: impl Fn(&mut [E], &[E]) + Sync + Send) {
    debug_assert_eq!(dst.len(), src.len());
    #[cfg(feature = "rayon")]
    if dst.len() >= PAR_MIN {
        use rayon::prelude::*;
        dst.par_chunks_mut(PAR_CHUNK).zip(src.par_chunks(PAR_CHUNK)).for_each(|(d, s)| f(d, s));
        return;
    }
    f(dst, src)
}

/// `op` of every element of `src`, into a new vector.
pub(crate) fn map<E: Copy + Send + Sync + Default>(src: &[E], op: impl Fn(E) -> E + Sync + Send) -> alloc::vec::Vec<E> {
    #[cfg(feature = "rayon")]
    if src.len() >= PAR_MIN {
        let mut out = alloc::vec![E::default(); src.len()];
        for_zipped_chunks(&mut out, src, |d, s| {
            for (d, &s) in d.iter_mut().zip(s) {
                *d = op(s);
            }
        });
        return out;
    }
    src.iter().map(|&x| op(x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_slices_give_the_serial_result() {
        let src: alloc::vec::Vec<f32> = (0..PAR_MIN * 3 + 17).map(|i| (i as f32 * 0.37).sin()).collect();
        let serial: alloc::vec::Vec<f32> = src.iter().map(|&x| x.exp() - 1.0).collect();
        assert_eq!(map(&src, |x: f32| x.exp() - 1.0), serial);
        let mut inplace = src.clone();
        for_chunks(&mut inplace, |c| c.iter_mut().for_each(|x| *x = x.exp() - 1.0));
        assert_eq!(inplace, serial);
        let mut sum = src.clone();
        for_zipped_chunks(&mut sum, &serial, |d, s| d.iter_mut().zip(s).for_each(|(d, s)| *d += s));
        let expected: alloc::vec::Vec<f32> = src.iter().zip(&serial).map(|(a, b)| a + b).collect();
        assert_eq!(sum, expected);
    }
}
