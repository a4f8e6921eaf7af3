//! NumPy's `.npy` format (version 1.0) for the package's test tensors: little-endian float32,
//! C order. Pure: values and shape in, bytes out (and back, for reading a package).

/// `values` with `shape` as `.npy` bytes.
pub fn to_bytes(values: &[f32], shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(header.len()).expect("a short header").to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// The float32 values and shape of `.npy` bytes written by [`to_bytes`] (or NumPy, for
/// little-endian float32 C-order arrays); `None` for anything else.
pub fn from_bytes(bytes: &[u8]) -> Option<(Vec<f32>, Vec<usize>)> {
    let rest = bytes.strip_prefix(b"\x93NUMPY")?;
    let (len, offset) = match rest.first()? {
        1 => (usize::from(u16::from_le_bytes([*rest.get(2)?, *rest.get(3)?])), 10),
        _ => (u32::from_le_bytes(rest.get(2..6)?.try_into().ok()?) as usize, 12),
    };
    let header = std::str::from_utf8(bytes.get(offset..offset + len)?).ok()?;
    if !header.contains("'<f4'") || header.contains("'fortran_order': True") {
        return None;
    }
    let inside = header.split("'shape': (").nth(1)?.split(')').next()?;
    let shape: Vec<usize> =
        inside.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect::<Option<_>>()?;
    let data = bytes.get(offset + len..)?;
    let values: Vec<f32> = data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    (values.len() == shape.iter().product::<usize>()).then_some((values, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_padded_to_64_bytes_and_round_trips() {
        let bytes = to_bytes(&[1.0, -2.5, 3.0, 0.0, 5.0, 6.0], &[1, 2, 3]);
        let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes[10 + header_len - 1], b'\n');
        assert!(std::str::from_utf8(&bytes[10..10 + header_len]).unwrap().contains("'shape': (1, 2, 3)"));
        assert_eq!(from_bytes(&bytes), Some((vec![1.0, -2.5, 3.0, 0.0, 5.0, 6.0], vec![1, 2, 3])));
    }

    #[test]
    fn a_vector_shape_has_a_trailing_comma_and_wrong_data_is_refused() {
        let bytes = to_bytes(&[1.0, 2.0], &[2]);
        assert!(String::from_utf8_lossy(&bytes).contains("'shape': (2,)"));
        assert_eq!(from_bytes(&bytes[..bytes.len() - 4]), None);
        assert_eq!(from_bytes(b"not npy"), None);
    }
}
