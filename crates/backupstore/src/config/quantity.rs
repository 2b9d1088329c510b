//! Kubernetes resource quantities (`2097152`, `16Mi`, `2M`, `1.5Gi`), as
//! Longhorn parses `Parameters["backup-block-size"]`.

/// Parses a quantity and returns its value in whole units, rounded up as
/// Kubernetes' `Quantity.Value()` does. `None` when it is not a quantity or
/// does not fit in an `i64`.
pub fn parse_quantity(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut mantissa: u128 = 0;
    let mut frac_digits: i32 = 0;
    let mut digits = 0;
    let mut seen_dot = false;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => {
                if mantissa < 1u128 << 100 {
                    mantissa = mantissa * 10 + u128::from(bytes[i] - b'0');
                    if seen_dot {
                        frac_digits += 1;
                    }
                } else if !seen_dot {
                    return None;
                }
                digits += 1;
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let suffix = &s[i..];
    // (base 2 exponent, base 10 exponent)
    let (pow2, pow10): (u32, i32) = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        exp if exp.starts_with(['e', 'E']) => {
            let e = &exp[1..];
            let body = e.strip_prefix(['+', '-']).unwrap_or(e);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) || body.len() > 3 {
                return None;
            }
            (0, e.parse().ok()?)
        }
        _ => return None,
    };
    let scale = pow10 - frac_digits;
    let mut value = mantissa.checked_mul(1u128 << pow2)?;
    if scale >= 0 {
        let mul = 10u128.checked_pow(u32::try_from(scale).ok()?)?;
        value = value.checked_mul(mul)?;
    } else {
        let div = 10u128.checked_pow(u32::try_from(-scale).ok()?)?;
        value = value.div_ceil(div);
    }
    let value = i64::try_from(value).ok()?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("2097152"), Some(2_097_152));
        assert_eq!(parse_quantity("16Mi"), Some(16 << 20));
        assert_eq!(parse_quantity("2M"), Some(2_000_000));
        assert_eq!(parse_quantity("1.5Gi"), Some(3 << 29));
        assert_eq!(parse_quantity("0"), Some(0));
        assert_eq!(parse_quantity("1e3"), Some(1000));
        assert_eq!(parse_quantity("1500m"), Some(2));
        assert_eq!(parse_quantity("-1"), Some(-1));
        for bad in [
            "",
            "not-a-size",
            "Mi",
            "1 Mi",
            "1MiB",
            "1..2",
            "1e",
            "99999999999999999999Ei",
        ] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }
}
