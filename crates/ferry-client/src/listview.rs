//! The file list's keyboard, selection and virtual scrolling, in plain Rust.
//!
//! Rows are identified by a key (a file id or a folder path), so the
//! selection survives re-sorting, filtering and rows arriving from events.
//! Only the rows in view (plus a margin) are rendered, so a folder of 10,000
//! entries scrolls as smoothly as one of ten.

use std::collections::HashSet;
use std::ops::Range;

/// A key the list reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// ↑
    Up,
    /// ↓
    Down,
    /// ← (tiles: the one before)
    Left,
    /// → (tiles: the one after)
    Right,
    /// Home
    Home,
    /// End
    End,
    /// Page Up
    PageUp,
    /// Page Down
    PageDown,
    /// Space: previews the focused file (a folder's row is toggled);
    /// with Shift, toggles the focused row.
    Space,
    /// Enter: opens the focused row.
    Enter,
    /// Delete: deletes the selection.
    Delete,
    /// F2: renames the focused row.
    Rename,
    /// Ctrl+A / ⌘A: selects all.
    SelectAll,
    /// Esc: clears the selection.
    Escape,
}

impl Key {
    /// The key for a `KeyboardEvent.key` value, with Ctrl or ⌘ held or not.
    pub fn from_dom(key: &str, ctrl_or_meta: bool) -> Option<Self> {
        Some(match (key, ctrl_or_meta) {
            ("ArrowUp", _) => Self::Up,
            ("ArrowDown", _) => Self::Down,
            ("ArrowLeft", _) => Self::Left,
            ("ArrowRight", _) => Self::Right,
            ("Home", _) => Self::Home,
            ("End", _) => Self::End,
            ("PageUp", _) => Self::PageUp,
            ("PageDown", _) => Self::PageDown,
            (" ", false) => Self::Space,
            ("Enter", false) => Self::Enter,
            ("Delete", false) => Self::Delete,
            ("F2", false) => Self::Rename,
            ("a" | "A", true) => Self::SelectAll,
            ("Escape", _) => Self::Escape,
            _ => return None,
        })
    }
}

/// What a key asks the app to do besides moving the focus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Nothing more (the focus or selection changed, or nothing did).
    None,
    /// Open this row.
    Open(String),
    /// Preview this row (Space): the view previews a file and toggles a
    /// folder's row, which has no preview.
    Preview(String),
    /// Delete these rows (confirm first).
    Delete(Vec<String>),
    /// Rename this row.
    Rename(String),
}

/// The focus and the selection of a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    selected: HashSet<String>,
    focus: Option<String>,
    anchor: Option<String>,
}

impl Selection {
    /// Whether the row is selected.
    pub fn is_selected(&self, key: &str) -> bool {
        self.selected.contains(key)
    }

    /// The focused row.
    pub fn focus(&self) -> Option<&str> {
        self.focus.as_deref()
    }

    /// The selected rows, in no particular order.
    pub fn selected(&self) -> impl Iterator<Item = &str> {
        self.selected.iter().map(String::as_str)
    }

    /// How many rows are selected.
    pub fn count(&self) -> usize {
        self.selected.len()
    }

    /// Toggles a row (its checkbox was clicked).
    pub fn toggle(&mut self, key: &str) {
        if !self.selected.remove(key) {
            self.selected.insert(key.to_owned());
        }
        self.focus = Some(key.to_owned());
        self.anchor = Some(key.to_owned());
    }

    /// Puts the focus on a row (it was clicked), without changing the
    /// selection.
    pub fn point(&mut self, key: &str) {
        self.focus = Some(key.to_owned());
        self.anchor = Some(key.to_owned());
    }

    /// Selects every row or, when all are selected, none.
    pub fn toggle_all(&mut self, rows: &[String]) {
        if !rows.is_empty() && rows.iter().all(|r| self.selected.contains(r)) {
            self.selected.clear();
        } else {
            self.selected.extend(rows.iter().cloned());
        }
    }

    /// Forgets rows that are no longer listed.
    pub fn retain(&mut self, rows: &[String]) {
        self.selected.retain(|k| rows.contains(k));
        if self.focus.as_ref().is_some_and(|f| !rows.contains(f)) {
            self.focus = None;
        }
    }

    /// Handles a key over `rows` (in display order); `page` is how many rows
    /// a page holds; `shift` extends the selection from the anchor.
    pub fn key(&mut self, key: Key, shift: bool, rows: &[String], page: usize) -> Intent {
        self.key_in_columns(key, shift, rows, page, 1)
    }

    /// [`Self::key`] over `rows` laid out `columns` to a line (tiles): ↑
    /// and ↓ move a line, ← and → one; in a list (one column) ← and → do
    /// nothing. `page` is how many rows a page holds.
    pub fn key_in_columns(
        &mut self,
        key: Key,
        shift: bool,
        rows: &[String],
        page: usize,
        columns: usize,
    ) -> Intent {
        if rows.is_empty() {
            return Intent::None;
        }
        let columns = columns.max(1);
        let last = rows.len() - 1;
        let at = self
            .focus
            .as_ref()
            .and_then(|f| rows.iter().position(|r| r == f));
        let target = match key {
            Key::Up => Some(at.map_or(last, |i| i.checked_sub(columns).unwrap_or(i))),
            Key::Down => Some(at.map_or(0, |i| {
                let below = i + columns;
                if below <= last { below } else { i }
            })),
            Key::Left | Key::Right if columns == 1 => return Intent::None,
            Key::Left => Some(at.map_or(last, |i| i.saturating_sub(1))),
            Key::Right => Some(at.map_or(0, |i| (i + 1).min(last))),
            Key::Home => Some(0),
            Key::End => Some(last),
            Key::PageUp => Some(at.map_or(0, |i| i.saturating_sub(page.max(1)))),
            Key::PageDown => Some(at.map_or(0, |i| (i + page.max(1)).min(last))),
            _ => None,
        };
        if let Some(target) = target {
            self.move_to(target, shift, rows);
            return Intent::None;
        }
        let focused = at.map(|i| rows[i].clone());
        match key {
            Key::Space if !shift => focused.map_or(Intent::None, Intent::Preview),
            Key::Space => {
                if let Some(row) = focused {
                    self.toggle(&row);
                }
                Intent::None
            }
            Key::Enter => focused.map_or(Intent::None, Intent::Open),
            Key::Rename => focused.map_or(Intent::None, Intent::Rename),
            Key::Delete => {
                let chosen: Vec<String> = if self.selected.is_empty() {
                    focused.into_iter().collect()
                } else {
                    rows.iter()
                        .filter(|r| self.selected.contains(*r))
                        .cloned()
                        .collect()
                };
                if chosen.is_empty() {
                    Intent::None
                } else {
                    Intent::Delete(chosen)
                }
            }
            Key::SelectAll => {
                self.selected.extend(rows.iter().cloned());
                Intent::None
            }
            Key::Escape => {
                self.selected.clear();
                Intent::None
            }
            _ => Intent::None,
        }
    }

    fn move_to(&mut self, target: usize, shift: bool, rows: &[String]) {
        let key = rows[target].clone();
        if shift {
            let anchor = self
                .anchor
                .as_ref()
                .and_then(|a| rows.iter().position(|r| r == a))
                .unwrap_or(target);
            let (from, to) = (anchor.min(target), anchor.max(target));
            self.selected = rows[from..=to].iter().cloned().collect();
        } else {
            self.anchor = Some(key.clone());
        }
        self.focus = Some(key);
    }
}

/// The rows to render for a scroll position: those in the viewport plus
/// `overscan` on each side.
pub fn window(
    scroll_top: f64,
    viewport: f64,
    row_height: f64,
    rows: usize,
    overscan: usize,
) -> Range<usize> {
    if rows == 0 || row_height <= 0.0 {
        return 0..0;
    }
    let first = (scroll_top.max(0.0) / row_height).floor() as usize;
    let visible = (viewport.max(0.0) / row_height).ceil() as usize + 1;
    let start = first.saturating_sub(overscan).min(rows);
    let end = (first + visible + overscan).min(rows);
    start..end
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rows(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("r{i}")).collect()
    }

    #[test]
    fn arrows_move_the_focus_and_shift_extends_the_selection() {
        let rows = rows(5);
        let mut s = Selection::default();
        s.key(Key::Down, false, &rows, 2);
        assert_eq!(s.focus(), Some("r0"));
        s.key(Key::Down, true, &rows, 2);
        s.key(Key::Down, true, &rows, 2);
        let mut selected: Vec<_> = s.selected().collect();
        selected.sort_unstable();
        assert_eq!(selected, ["r0", "r1", "r2"]);
        s.key(Key::Up, true, &rows, 2);
        assert_eq!(s.count(), 2);
        s.key(Key::End, false, &rows, 2);
        assert_eq!(s.focus(), Some("r4"));
        s.key(Key::PageUp, false, &rows, 2);
        assert_eq!(s.focus(), Some("r2"));
        s.key(Key::Down, false, &rows, 2);
        s.key(Key::Down, false, &rows, 2);
        s.key(Key::Down, false, &rows, 2);
        assert_eq!(s.focus(), Some("r4"), "stays on the last row");
    }

    #[test]
    fn enter_opens_f2_renames_delete_takes_the_selection_or_the_focus() {
        let rows = rows(3);
        let mut s = Selection::default();
        assert_eq!(s.key(Key::Enter, false, &rows, 10), Intent::None);
        s.key(Key::Home, false, &rows, 10);
        assert_eq!(
            s.key(Key::Enter, false, &rows, 10),
            Intent::Open("r0".into())
        );
        assert_eq!(
            s.key(Key::Rename, false, &rows, 10),
            Intent::Rename("r0".into())
        );
        assert_eq!(
            s.key(Key::Delete, false, &rows, 10),
            Intent::Delete(vec!["r0".into()])
        );
        s.toggle("r2");
        s.toggle("r1");
        assert_eq!(
            s.key(Key::Delete, false, &rows, 10),
            Intent::Delete(vec!["r1".into(), "r2".into()])
        );
        s.key(Key::Escape, false, &rows, 10);
        assert_eq!(s.count(), 0);
        s.key(Key::SelectAll, false, &rows, 10);
        assert_eq!(s.count(), 3);
        s.toggle_all(&rows);
        assert_eq!(s.count(), 0);
        assert_eq!(
            s.key(Key::Space, false, &rows, 10),
            Intent::Preview("r1".into()),
            "space previews the focused row"
        );
        assert_eq!(s.count(), 0);
        s.key(Key::Space, true, &rows, 10);
        assert!(s.is_selected("r1"), "shift+space toggles the focused row");
    }

    #[test]
    fn tiles_move_a_line_up_and_down_and_one_left_and_right() {
        let rows: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
        let mut s = Selection::default();
        // Three to a line: t0 t1 t2 / t3 t4 t5 / t6.
        s.key_in_columns(Key::Right, false, &rows, 6, 3);
        assert_eq!(
            s.focus(),
            Some("t0"),
            "the first key focuses the first tile"
        );
        s.key_in_columns(Key::Down, false, &rows, 6, 3);
        assert_eq!(s.focus(), Some("t3"));
        s.key_in_columns(Key::Right, false, &rows, 6, 3);
        assert_eq!(s.focus(), Some("t4"));
        // No tile below t4: it stays.
        s.key_in_columns(Key::Down, false, &rows, 6, 3);
        assert_eq!(s.focus(), Some("t4"));
        s.key_in_columns(Key::Up, false, &rows, 6, 3);
        assert_eq!(s.focus(), Some("t1"));
        s.key_in_columns(Key::Up, false, &rows, 6, 3);
        assert_eq!(s.focus(), Some("t1"), "no line above the first");
        s.key_in_columns(Key::Left, true, &rows, 6, 3);
        assert_eq!(s.focus(), Some("t0"));
        assert_eq!(s.count(), 2, "shift extends the selection");
        // In a list, ← and → leave the focus alone.
        s.key(Key::Right, false, &rows, 6);
        assert_eq!(s.focus(), Some("t0"));
    }

    #[test]
    fn the_selection_survives_reordering_and_forgets_vanished_rows() {
        let mut s = Selection::default();
        s.toggle("b");
        s.toggle("c");
        let reordered = vec!["c".to_owned(), "a".to_owned(), "b".to_owned()];
        assert_eq!(
            s.key(Key::Delete, false, &reordered, 10),
            Intent::Delete(vec!["c".into(), "b".into()])
        );
        s.retain(&["a".to_owned(), "b".to_owned()]);
        assert_eq!(s.selected().collect::<Vec<_>>(), ["b"]);
        assert_eq!(s.focus(), None);
    }

    #[test]
    fn keys_from_the_dom() {
        assert_eq!(Key::from_dom("a", true), Some(Key::SelectAll));
        assert_eq!(Key::from_dom("a", false), None);
        assert_eq!(Key::from_dom("F2", false), Some(Key::Rename));
        assert_eq!(Key::from_dom(" ", false), Some(Key::Space));
    }

    #[test]
    fn only_the_rows_in_view_are_rendered() {
        assert_eq!(window(0.0, 400.0, 40.0, 10_000, 5), 0..16);
        assert_eq!(window(40_000.0, 400.0, 40.0, 10_000, 5), 995..1016);
        assert_eq!(window(399_800.0, 400.0, 40.0, 10_000, 5), 9990..10_000);
        assert_eq!(window(0.0, 400.0, 40.0, 0, 5), 0..0);
        assert_eq!(window(-50.0, 400.0, 40.0, 3, 5), 0..3);
    }
}
