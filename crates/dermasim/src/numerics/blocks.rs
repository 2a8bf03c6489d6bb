//! Splitting a row-major array into disjoint column blocks, so parallel tasks can each own one
//! block's slice of every row without raw pointers.

/// Split `data` into rows of `row_len` values and every row into blocks of `block` columns;
/// entry `c` of the result holds block `c`'s slice of each row, top to bottom. The last block
/// may be narrower.
pub fn column_blocks<T>(data: &mut [T], row_len: usize, block: usize) -> Vec<Vec<&mut [T]>> {
    let rows = data.len().div_ceil(row_len.max(1));
    let mut blocks: Vec<Vec<&mut [T]>> = Vec::new();
    for row in data.chunks_mut(row_len) {
        for (c, part) in row.chunks_mut(block).enumerate() {
            if c == blocks.len() {
                blocks.push(Vec::with_capacity(rows));
            }
            blocks[c].push(part);
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_value_once_in_row_order() {
        let mut data: Vec<usize> = (0..12).collect();
        let blocks = column_blocks(&mut data, 4, 3);
        let seen: Vec<Vec<Vec<usize>>> =
            blocks.iter().map(|b| b.iter().map(|r| r.to_vec()).collect()).collect();
        assert_eq!(
            seen,
            vec![
                vec![vec![0, 1, 2], vec![4, 5, 6], vec![8, 9, 10]],
                vec![vec![3], vec![7], vec![11]],
            ]
        );
    }
}
