//! `MODEL.BMZ.EXPORT.*` checked before anything is written: every missing or empty field is
//! reported at once, with its key, so one edit of the YAML fixes them all.

use crate::config::BmzExport;

/// The fields a bioimage.io package must have (the RDF requires them and BiaPy's export asks for
/// the same), as `(key, what is wrong)`.
pub fn missing_fields(export: &BmzExport) -> Vec<String> {
    let mut missing = Vec::new();
    let mut need = |ok: bool, key: &str, what: &str| {
        if !ok {
            missing.push(format!("`MODEL.BMZ.EXPORT.{key}` {what}"));
        }
    };
    need(!export.model_name.trim().is_empty(), "MODEL_NAME", "is empty (the package's name)");
    need(!export.description.trim().is_empty(), "DESCRIPTION", "is empty (one sentence on what the model segments)");
    need(!export.authors.is_empty(), "AUTHORS", "is empty (a list of {name, github_user})");
    for (i, author) in export.authors.iter().enumerate() {
        need(!author.name.trim().is_empty(), &format!("AUTHORS[{i}].name"), "is empty");
    }
    need(!export.license.trim().is_empty(), "LICENSE", "is empty (an SPDX identifier such as CC-BY-4.0)");
    for (i, cite) in export.cite.iter().enumerate() {
        need(cite.doi.is_some() || cite.url.is_some(), &format!("CITE[{i}]"), "has neither `doi` nor `url`");
    }
    let dataset = export.dataset_info.first().filter(|d| !d.is_empty());
    if let Some(dataset) = dataset {
        for field in ["name", "doi", "image_modality"] {
            need(dataset.contains_key(field), &format!("DATASET_INFO[0].{field}"), "is missing");
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BmzAuthor, BmzCite};

    #[test]
    fn lists_every_missing_field_at_once() {
        let export = BmzExport { license: String::new(), ..BmzExport::default() };
        let missing = missing_fields(&export);
        let keys: Vec<&str> = missing.iter().map(|m| m.split('`').nth(1).unwrap_or("")).collect();
        assert_eq!(
            keys,
            [
                "MODEL.BMZ.EXPORT.MODEL_NAME",
                "MODEL.BMZ.EXPORT.DESCRIPTION",
                "MODEL.BMZ.EXPORT.AUTHORS",
                "MODEL.BMZ.EXPORT.LICENSE"
            ]
        );
    }

    #[test]
    fn a_complete_export_passes_and_partial_dataset_info_does_not() {
        let mut export = BmzExport {
            model_name: "m".into(),
            description: "d".into(),
            authors: vec![BmzAuthor {
                name: "A".into(),
                github_user: "a".into(),
                affiliation: None,
                email: None,
                orcid: None,
            }],
            cite: vec![BmzCite { text: "t".into(), doi: Some("10.1/x".into()), url: None }],
            ..BmzExport::default()
        };
        assert!(missing_fields(&export).is_empty());
        export.dataset_info = vec![[("name".to_string(), "n".to_string())].into()];
        assert_eq!(missing_fields(&export).len(), 2);
    }
}
