//! A linear pre-scan that rejects JSON nested deeper than a limit before any parser builds a
//! tree of it: a 10 MB body of `[[[[…` must cost a scan, not a stack overflow on drop.

/// Checks that arrays and objects in `bytes` nest at most `limit` deep; on failure returns
/// the offset where the limit was passed. Brackets inside strings do not count.
pub(crate) fn check_nesting(bytes: &[u8], limit: usize) -> Result<(), usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(offset);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_nesting;

    #[test]
    fn counts_brackets_outside_strings_only() {
        assert!(check_nesting(br#"{"a":[1,{"b":[]}]}"#, 4).is_ok());
        assert_eq!(check_nesting(br#"{"a":[1,{"b":[]}]}"#, 3), Err(13));
        assert!(check_nesting(br#"{"a":"[[[[[[\"[[[["}"#, 1).is_ok());
        assert_eq!(check_nesting(&[b'['; 100_000], 64), Err(64));
    }
}
