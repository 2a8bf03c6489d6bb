//! A minimal ZIP writer (stored entries, no compression): enough for exports, which are
//! mostly already-compressed photos and small JSON files. Any unzip tool reads it.

/// One file of the archive.
pub(crate) struct Entry {
    pub name: String,
    pub data: Vec<u8>,
}

/// The archive of `entries`, in order. Names are used as given (callers build them; none
/// comes from a user).
pub(crate) fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    // 1980-01-01 00:00: ZIP's MS-DOS time cannot say "unknown"; exports are dated by the
    // manifest inside, not by entry times.
    let (time, date): (u16, u16) = (0, (1 << 5) | 1);
    for e in entries {
        let crc = crc32fast::hash(&e.data);
        let size = e.data.len() as u32;
        let offset = out.len() as u32;
        let name = e.name.as_bytes();
        let common = |v: &mut Vec<u8>| {
            v.extend(20u16.to_le_bytes()); // version needed
            v.extend(0x0800u16.to_le_bytes()); // flags: UTF-8 names
            v.extend(0u16.to_le_bytes()); // stored
            v.extend(time.to_le_bytes());
            v.extend(date.to_le_bytes());
            v.extend(crc.to_le_bytes());
            v.extend(size.to_le_bytes());
            v.extend(size.to_le_bytes());
            v.extend((name.len() as u16).to_le_bytes());
            v.extend(0u16.to_le_bytes()); // extra
        };
        out.extend(0x04034b50u32.to_le_bytes());
        common(&mut out);
        out.extend(name);
        out.extend(&e.data);
        central.extend(0x02014b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend([0u8; 6]); // comment length, disk, internal attributes
        central.extend(0u32.to_le_bytes()); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name);
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend(central);
    out.extend(0x06054b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend(cd_size.to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes()); // comment length
    out
}

/// The entries of an archive made by [`write`] (for the unit test): names and contents,
/// each checked against its CRC-32.
#[cfg(test)]
fn read(zip: &[u8]) -> Result<Vec<Entry>, String> {
    let mut at = 0;
    let mut entries = Vec::new();
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes([zip[i], zip[i + 1], zip[i + 2], zip[i + 3]]);
    while at + 30 <= zip.len() && u32_at(at) == 0x04034b50 {
        let crc = u32_at(at + 14);
        let size = u32_at(at + 18) as usize;
        let name_len = u16_at(at + 26);
        let extra = u16_at(at + 28);
        let name_start = at + 30;
        let data_start = name_start + name_len + extra;
        let data = zip.get(data_start..data_start + size).ok_or("an entry is cut short")?;
        if crc32fast::hash(data) != crc {
            return Err("an entry's CRC-32 does not match".into());
        }
        let name = String::from_utf8_lossy(&zip[name_start..name_start + name_len]).into_owned();
        entries.push(Entry { name, data: data.to_vec() });
        at = data_start + size;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let entries = vec![
            Entry { name: "record.json".into(), data: b"{}".to_vec() },
            Entry { name: "photos/a.png".into(), data: vec![0, 1, 2, 255] },
        ];
        let z = write(&entries);
        assert_eq!(&z[..4], b"PK\x03\x04");
        // End of central directory: 2 entries.
        let eocd = &z[z.len() - 22..];
        assert_eq!(&eocd[..4], b"PK\x05\x06");
        assert_eq!(u16::from_le_bytes([eocd[10], eocd[11]]), 2);
        let back = read(&z).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            (back[1].name.as_str(), back[1].data.as_slice()),
            ("photos/a.png", &[0u8, 1, 2, 255][..])
        );
        let mut bad = z.clone();
        bad[30 + "record.json".len()] ^= 1;
        assert!(read(&bad).is_err(), "a changed byte fails its CRC");
    }
}
