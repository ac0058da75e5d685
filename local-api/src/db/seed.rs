//! Generated data for benchmarks and tests (`POST /_control/datasets/{id}/generate`,
//! [`LocalApi::generate_dataset_items`](crate::LocalApi::generate_dataset_items)).

use std::io::Write;

use crate::db::dataset::{Dataset, NewItems};
use crate::db::storage::Storage;
use crate::db::Db;
use crate::error::ApiResult;

/// Appends `count` generated items (about 150 bytes each, plus `pad` bytes of filler) to the
/// dataset with this id or name, creating a dataset of that name when there is none. Returns
/// the dataset's id.
pub fn generate_items(
    db: &Db,
    username: &str,
    id_or_name: &str,
    count: usize,
    pad: usize,
) -> ApiResult<String> {
    let dataset = match db.datasets.resolve(id_or_name, username) {
        Some(d) => d,
        None => db.datasets.get_or_create(Some(id_or_name), Dataset::new)?.0,
    };
    let filler = "x".repeat(pad);
    let first = dataset.item_count();
    let mut items = NewItems::default();
    let mut line = Vec::with_capacity(256 + pad);
    for i in first..first + count {
        line.clear();
        write!(
            line,
            r#"{{"id":{i},"url":"https://example.com/products/{i}","title":"Product {i}","price":{}.{:02},"inStock":{},"tags":["generated","bench"],"#,
            i % 1000,
            i % 100,
            i % 3 != 0
        )
        .expect("writing to a Vec cannot fail");
        write!(line, r#""filler":"{filler}"}}"#).expect("writing to a Vec cannot fail");
        items.push_object(&line);
    }
    dataset.append(items);
    Ok(dataset.meta().id.clone())
}
