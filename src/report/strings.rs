//! Each distinct string once, by a small id: the HAR writer's page-grouping
//! keys and the HTML page's string table.

use std::collections::HashMap;

/// Strings by id, in the order they were first seen (std's hasher: the
/// strings come from the capture).
#[derive(Default)]
pub struct StringTable {
    ids: HashMap<String, u32>,
}

impl StringTable {
    /// `s`'s id, the next one for a string not seen before; `None` once
    /// the ids run out (four billion distinct strings).
    pub fn id(&mut self, s: &str) -> Option<u32> {
        if let Some(&id) = self.ids.get(s) {
            return Some(id);
        }
        let id = u32::try_from(self.ids.len()).ok()?;
        self.ids.insert(s.to_string(), id);
        Some(id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Every string, at its id.
    pub fn by_id(&self) -> Vec<&str> {
        let mut all = vec![""; self.ids.len()];
        for (s, &id) in &self.ids {
            all[id as usize] = s;
        }
        all
    }

    /// Every string, at its id, moved out.
    pub fn into_list(self) -> Vec<String> {
        let mut all = vec![String::new(); self.ids.len()];
        for (s, id) in self.ids {
            all[id as usize] = s;
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_an_id_and_ids_give_them_back() {
        let mut t = StringTable::default();
        let ids: Vec<u32> = ["a", "bé", "a", "", "bé"]
            .iter()
            .map(|s| t.id(s).unwrap())
            .collect();
        assert_eq!(ids, [0, 1, 0, 2, 1]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.by_id(), ["a", "bé", ""]);
        assert_eq!(t.into_list(), ["a", "bé", ""]);
    }
}
