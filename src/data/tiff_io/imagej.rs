//! ImageJ `ImageDescription` parsing and formatting.
//!
//! ImageJ stores hyperstack dimensions as `key=value` lines in the first page's description,
//! starting with `ImageJ=`. Pages are ordered channel fastest, then slice, then frame.

use std::fmt::Write as _;

use super::TiffMeta;

/// The keys of an ImageJ description this crate uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct ImageJInfo {
    pub images: Option<usize>,
    pub channels: Option<usize>,
    pub slices: Option<usize>,
    pub frames: Option<usize>,
    pub spacing: Option<f64>,
    pub unit: Option<String>,
}

/// How pages map onto `(z, c)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PageLayout {
    /// Number of z planes.
    pub z: usize,
    /// Channels spread over pages (1 when channels are samples within a page).
    pub page_channels: usize,
}

/// True when `description` is an ImageJ one.
pub(super) fn is_imagej(description: &str) -> bool {
    description.starts_with("ImageJ=")
}

/// Parses the keys of an ImageJ description; unknown keys are ignored.
pub(super) fn parse(description: &str) -> Result<ImageJInfo, String> {
    let mut info = ImageJInfo::default();
    for line in description.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "images" => info.images = Some(parse_count(key, value)?),
            "channels" => info.channels = Some(parse_count(key, value)?),
            "slices" => info.slices = Some(parse_count(key, value)?),
            "frames" => info.frames = Some(parse_count(key, value)?),
            "spacing" => info.spacing = Some(parse_spacing(value)?),
            "unit" => info.unit = Some(unescape(value)),
            _ => {}
        }
    }
    Ok(info)
}

fn parse_count(key: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{key}={value}` is not a positive count")),
    }
}

fn parse_spacing(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() => Ok(s),
        _ => Err(format!("`spacing={value}` is not a finite number")),
    }
}

/// Works out `(z, c)` for `pages` pages of `samples` samples per pixel.
pub(super) fn layout(info: &ImageJInfo, pages: usize, samples: usize) -> Result<PageLayout, String> {
    if let Some(images) = info.images.filter(|&n| n != pages) {
        return Err(format!("images={images} but the file has {pages} pages"));
    }
    let channels = info.channels.unwrap_or(1);
    if channels > 1 && samples > 1 {
        return Err(format!("channels={channels} with {samples} samples per pixel is not supported"));
    }
    let (slices, frames) = (info.slices.unwrap_or(1), info.frames.unwrap_or(1));
    if slices > 1 && frames > 1 {
        return Err(format!("time series are not supported (slices={slices}, frames={frames})"));
    }
    if !pages.is_multiple_of(channels) {
        return Err(format!("channels={channels} does not divide the {pages} pages"));
    }
    let z = pages / channels;
    let declared = info.slices.is_some() || info.frames.is_some();
    if declared && slices * frames != z {
        return Err(format!("channels={channels} x slices={slices} x frames={frames} does not match {pages} pages"));
    }
    Ok(PageLayout { z, page_channels: channels })
}

/// The ImageJ description for `z` slices of `c` channels (one grey page each).
pub(super) fn describe(
    z: usize,
    c: usize,
    meta: &TiffMeta,
    display_range: Option<(f64, f64)>,
) -> Result<String, String> {
    let mut s = format!("ImageJ=1.11a\nimages={}\n", z * c);
    if c > 1 {
        let _ = writeln!(s, "channels={c}");
    }
    if z > 1 {
        let _ = writeln!(s, "slices={z}");
    }
    if z > 1 || c > 1 {
        s.push_str("hyperstack=true\n");
    }
    s.push_str("mode=grayscale\n");
    if let Some(unit) = &meta.unit {
        let _ = writeln!(s, "unit={}", escape(unit));
    }
    if let Some(spacing) = meta.spacing {
        if !spacing.is_finite() {
            return Err(format!("spacing {spacing} is not finite"));
        }
        let _ = writeln!(s, "spacing={spacing}");
    }
    if let Some((min, max)) = display_range {
        if !min.is_finite() || !max.is_finite() {
            return Err(format!("display range ({min}, {max}) is not finite"));
        }
        let _ = write!(s, "min={min}\nmax={max}\n");
    }
    s.push_str("loop=false\n");
    Ok(s)
}

/// Escapes non-ASCII and control characters as `\uXXXX`, as ImageJ does for `µ`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_ascii() && !ch.is_ascii_control() {
            out.push(ch);
        } else {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04X}");
            }
        }
    }
    out
}

/// Undoes [`escape`]; malformed escapes are kept verbatim.
fn unescape(text: &str) -> String {
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("\\u") {
        units.extend(rest[..pos].encode_utf16());
        let hex = rest.get(pos + 2..pos + 6);
        match hex.and_then(|h| u16::from_str_radix(h, 16).ok()) {
            Some(unit) => {
                units.push(unit);
                rest = &rest[pos + 6..];
            }
            None => {
                units.extend("\\u".encode_utf16());
                rest = &rest[pos + 2..];
            }
        }
    }
    units.extend(rest.encode_utf16());
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips_non_ascii() {
        assert_eq!(escape("µm"), "\\u00B5m");
        assert_eq!(unescape("\\u00B5m"), "µm");
        assert_eq!(unescape(&escape("a\nb😀")), "a\nb😀");
        assert_eq!(unescape("\\uZZ and \\u12"), "\\uZZ and \\u12");
    }

    #[test]
    fn layout_rules() {
        let info = parse("ImageJ=1.53t\nimages=6\nchannels=2\nslices=3\n").unwrap();
        assert_eq!(layout(&info, 6, 1), Ok(PageLayout { z: 3, page_channels: 2 }));
        assert!(layout(&info, 5, 1).unwrap_err().contains("images=6"));
        assert!(layout(&info, 6, 3).is_err());
        let frames = parse("ImageJ=1.53t\nframes=4\n").unwrap();
        assert_eq!(layout(&frames, 4, 1), Ok(PageLayout { z: 4, page_channels: 1 }));
        let both = parse("ImageJ=\nslices=2\nframes=2\n").unwrap();
        assert!(layout(&both, 4, 1).unwrap_err().contains("time series"));
        let plain = parse("ImageJ=1.53t\nimages=4\n").unwrap();
        assert_eq!(layout(&plain, 4, 1), Ok(PageLayout { z: 4, page_channels: 1 }));
        assert!(parse("ImageJ=\nchannels=0\n").is_err());
        assert!(parse("ImageJ=\nspacing=abc\n").is_err());
    }
}
