//! QR codes for MFA enrolment: unicode half blocks on the terminal, or a PNG
//! file as AWS's `--bootstrap-method QRCodePNG` writes.

use crate::error::CliError;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use std::io::Write;
use std::path::Path;

fn encode(data: &str) -> Result<QrCode, CliError> {
    QrCode::new(data.as_bytes())
        .map_err(|e| CliError::new("ServiceFailure", format!("cannot encode the QR code: {e}")))
}

/// The QR code as text: two modules per character cell, dark on light with a
/// quiet zone, so phone cameras read it from any terminal theme.
pub fn terminal(data: &str) -> Result<String, CliError> {
    Ok(encode(data)?
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// Write the QR code as a PNG ([`png_to`]), created 0600 since it holds
/// the seed.
pub fn write_png(data: &str, path: &Path) -> Result<(), CliError> {
    let file = create_private(path)?;
    png_to(data, std::io::BufWriter::new(file)).map_err(|e| {
        CliError::new(
            "ServiceFailure",
            format!("cannot write {}: {}", path.display(), e.message),
        )
    })
}

/// The QR code as PNG bytes (AWS's API returns them in `QRCodePNG`).
pub fn png(data: &str) -> Result<Vec<u8>, CliError> {
    let mut out = Vec::new();
    png_to(data, &mut out)?;
    Ok(out)
}

/// A black-on-white 8-bit grayscale PNG (8 px per module, 4-module quiet
/// zone).
fn png_to(data: &str, out: impl std::io::Write) -> Result<(), CliError> {
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let code = encode(data)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
            for y in my * SCALE..(my + 1) * SCALE {
                pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
            }
        }
    }
    let side32 =
        u32::try_from(side).map_err(|_| CliError::new("ServiceFailure", "QR code too large"))?;
    let mut enc = png::Encoder::new(out, side32, side32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let fail = |e: png::EncodingError| CliError::new("ServiceFailure", e.to_string());
    let mut w = enc.write_header().map_err(fail)?;
    w.write_image_data(&pixels).map_err(fail)?;
    w.finish().map_err(fail)
}

/// Write a secret-bearing file (seed or QR): new file, 0600, no symlink follow.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut f = create_private(path)?;
    f.write_all(bytes)
        .and_then(|()| f.flush())
        .map_err(|e| CliError::invalid_input(format!("cannot write {}: {e}", path.display())))
}

fn create_private(path: &Path) -> Result<std::fs::File, CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::setuid::as_invoker(|| {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    })
    .map_err(|e| CliError::invalid_input(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_qr_uses_half_blocks() {
        let s = terminal("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(s.contains('▀') || s.contains('▄'));
    }

    #[test]
    fn png_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("qr.png");
        write_png("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", &p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
}
