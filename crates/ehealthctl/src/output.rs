//! What the CLI prints: for people, a table (a list) or one field per line (an object); for
//! scripts (`--output json`), the answer's `data` as JSON.

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The answer's `data` (the whole answer when it has none) in `format`.
pub fn render(answer: &Value, format: Format, columns: &[&str]) -> String {
    let data = answer.get("data").unwrap_or(answer);
    match format {
        Format::Json => serde_json::to_string_pretty(data).unwrap_or_default(),
        Format::Table => match data {
            Value::Array(rows) => table(rows, columns),
            Value::Object(map) => {
                let width = map.keys().map(String::len).max().unwrap_or(0);
                map.iter()
                    .map(|(k, v)| format!("{k:<width$}  {}", cell(v)))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Value::Null => "done".to_owned(),
            other => cell(other),
        },
    }
}

fn table(rows: &[Value], columns: &[&str]) -> String {
    if rows.is_empty() {
        return "(none)".to_owned();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(&r[*c])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<String>| {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(columns.iter().map(|c| c.to_uppercase()).collect())];
    out.extend(cells.into_iter().map(line));
    out.join("\n")
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_are_tables_objects_are_fields_json_is_data() {
        let list =
            json!({"data": [{"id": "a", "name": "One", "n": 1}, {"id": "bb", "name": null}]});
        assert_eq!(
            render(&list, Format::Table, &["id", "name"]),
            "ID  NAME\na   One\nbb  -"
        );
        let one = json!({"data": {"id": "a", "is_blocked": false}});
        assert_eq!(
            render(&one, Format::Table, &[]),
            "id          a\nis_blocked  false"
        );
        assert_eq!(
            render(&one, Format::Json, &[]),
            "{\n  \"id\": \"a\",\n  \"is_blocked\": false\n}"
        );
        assert_eq!(
            render(&json!({"data": []}), Format::Table, &["id"]),
            "(none)"
        );
    }
}
