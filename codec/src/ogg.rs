//! Ogg pages (RFC 3533), written with absolute sequence numbers and granule positions so that
//! any page of a stream can be made on its own. Packets never span pages.

/// The CRC-32 of Ogg: polynomial 0x04c11db7, not reflected, initial value 0, no final xor.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            k += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
};

fn crc(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[((crc >> 24) as u8 ^ b) as usize]
    })
}

/// Header type flags.
pub const BOS: u8 = 0x02;
pub const EOS: u8 = 0x04;

/// Lacing values a packet of `len` bytes takes: one per 255 bytes, plus the one under 255.
pub fn lacing_len(len: usize) -> usize {
    len / 255 + 1
}

/// The size of a page holding packets of these sizes.
pub fn page_len(packet_lens: impl IntoIterator<Item = usize>) -> usize {
    27 + packet_lens
        .into_iter()
        .map(|l| lacing_len(l) + l)
        .sum::<usize>()
}

/// Appends one page holding `packets` (each whole) to `out`.
pub fn write_page(
    out: &mut Vec<u8>,
    flags: u8,
    granule: u64,
    serial: u32,
    sequence: u32,
    packets: &[&[u8]],
) {
    let start = out.len();
    out.extend_from_slice(b"OggS");
    out.push(0);
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let lacing: usize = packets.iter().map(|p| lacing_len(p.len())).sum();
    debug_assert!(lacing <= 255, "a page holds at most 255 lacing values");
    out.push(lacing as u8);
    for p in packets {
        out.extend(std::iter::repeat_n(255u8, p.len() / 255));
        out.push((p.len() % 255) as u8);
    }
    for p in packets {
        out.extend_from_slice(p);
    }
    let sum = crc(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&sum.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_ogg_s() {
        // CRC-32/POSIX (cksum) of "123456789" is 0x765E7680 after its final inversion; Ogg's
        // CRC is the same without that inversion.
        assert_eq!(crc(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn page_len_counts_header_lacing_and_data() {
        let a = vec![1u8; 255];
        let b = vec![2u8; 10];
        let mut out = Vec::new();
        write_page(&mut out, BOS, 7, 1, 0, &[&a, &b]);
        assert_eq!(out.len(), page_len([255, 10]));
        assert_eq!(out[26], 3);
        assert_eq!(&out[27..30], &[255, 0, 10]);
    }
}
