//! Writing an extract's rows: CSV (header = the column names) or JSON Lines
//! (one object per row, the same keys). Parquet is not offered.

use super::extract::{Row, COLUMNS};
use std::io::Write;

/// An output format of `confide research-extract`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

/// Writes the rows to `out` in `format`.
pub fn write<W: Write>(out: W, format: Format, rows: &[std::sync::Arc<Row>]) -> anyhow::Result<()> {
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS)?;
            for r in rows {
                w.write_record([
                    r.pseudonym.as_str(),
                    &r.department,
                    &r.year_of_study,
                    &r.service,
                    &r.labels,
                    &r.status,
                    &r.month_opened,
                    r.month_closed.as_deref().unwrap_or(""),
                    r.duration_band.as_deref().unwrap_or(""),
                    r.risk_level.as_deref().unwrap_or(""),
                ])?;
            }
            w.flush()?;
        }
        Format::Jsonl => {
            let mut w = std::io::BufWriter::new(out);
            for r in rows {
                serde_json::to_writer(&mut w, r.as_ref())?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn row() -> Arc<Row> {
        Arc::new(Row {
            pseudonym: "0123456789abcdef".into(),
            department: "history".into(),
            year_of_study: "1-2".into(),
            service: "counselling".into(),
            labels: "MENTAL_HEALTH;SELF_HARM".into(),
            status: "closed".into(),
            month_opened: "2026-01".into(),
            month_closed: Some("2026-03".into()),
            duration_band: Some("MONTHS_1_TO_3".into()),
            risk_level: None,
        })
    }

    #[test]
    fn csv_and_json_lines_have_the_same_columns() {
        let mut csv_out = Vec::new();
        write(&mut csv_out, Format::Csv, &[row()]).unwrap();
        let text = String::from_utf8(csv_out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
        assert_eq!(
            lines.next().unwrap(),
            "0123456789abcdef,history,1-2,counselling,MENTAL_HEALTH;SELF_HARM,closed,2026-01,2026-03,MONTHS_1_TO_3,"
        );
        let mut jsonl = Vec::new();
        write(&mut jsonl, Format::Jsonl, &[row(), row()]).unwrap();
        let text = String::from_utf8(jsonl).unwrap();
        assert_eq!(text.lines().count(), 2);
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = COLUMNS.to_vec();
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
    }
}
