//! Identicons: a 5×5 mirrored pattern and a hue, both taken from the person's key, so the same
//! person looks the same everywhere and two people with one name look different.

use kith_core::AuthorId;

/// An identicon's cells (column, row) on a 5×5 grid, and its hue in degrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identicon {
    /// Filled cells.
    pub cells: Vec<(u8, u8)>,
    /// Hue, 0–359.
    pub hue: u16,
}

/// The identicon of `author`.
pub fn identicon(author: &AuthorId) -> Identicon {
    let h = kith_core::Hash::of(&[b"kith identicon", &author.0]);
    let b = h.0;
    let mut cells = Vec::new();
    for row in 0..5u8 {
        for col in 0..3u8 {
            let bit = usize::from(row) * 3 + usize::from(col);
            if b[bit / 8] >> (bit % 8) & 1 == 1 {
                cells.push((col, row));
                if col < 2 {
                    cells.push((4 - col, row));
                }
            }
        }
    }
    Identicon {
        cells,
        hue: u16::from_le_bytes([b[4], b[5]]) % 360,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn stable_mirrored_and_distinct() {
        let a = identicon(&AuthorId([1; 32]));
        assert_eq!(a, identicon(&AuthorId([1; 32])));
        assert_ne!(a, identicon(&AuthorId([2; 32])));
        for &(c, r) in &a.cells {
            assert!(a.cells.contains(&(4 - c, r)));
        }
    }
}
