//! `timeseries.parquet`: the timeline with the same columns as `timeseries.csv` (units in the
//! names), one required DOUBLE column each, uncompressed, written with parquet's low-level
//! column writer so the program needs neither arrow nor compression codecs.

use std::sync::Arc;

use dermasim::Summary;
use dermasim_io::timeline_columns;
use parquet::basic::{Repetition, Type as PhysicalType};
use parquet::data_type::DoubleType;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

/// The timeline as a Parquet file. Key-value metadata carry the program, the parameter set
/// and the disclaimer.
pub fn timeseries_parquet(summary: &Summary) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let names = timeline_columns(summary);
    let fields = names
        .iter()
        .map(|n| {
            Type::primitive_type_builder(n, PhysicalType::DOUBLE)
                .with_repetition(Repetition::REQUIRED)
                .build()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let schema = Arc::new(Type::group_type_builder("timeseries").with_fields(fields).build()?);
    let meta = [
        ("program", format!("{} {}", summary.program, summary.version)),
        ("parameter_set", summary.parameter_set.clone()),
        ("units", "t_day in days; *_rel relative to before treatment (1 = unchanged); neutrophils, macrophages, debris, tgf_beta: dermis means in the units of Cooper et al. 2015".into()),
        ("disclaimer", summary.disclaimer.clone()),
    ];
    let props = WriterProperties::builder()
        .set_created_by(format!("dermasim {}", summary.version))
        .set_key_value_metadata(Some(
            meta.into_iter().map(|(k, v)| KeyValue::new(k.into(), v)).collect(),
        ))
        .build();
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, schema, Arc::new(props))?;
    let mut group = writer.next_row_group()?;
    for name in &names {
        let values: Vec<f64> =
            summary.timeline.iter().map(|p| p.get(name).unwrap_or(f64::NAN)).collect();
        let mut column = group.next_column()?.expect("one column writer per schema field");
        column.typed::<DoubleType>().write_batch(&values, None, None)?;
        column.close()?;
    }
    group.close()?;
    writer.close()?;
    Ok(out)
}
