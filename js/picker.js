// Files with their handles (Chromium's File System Access API): picked in
// the browser's own picker or dropped, so an interrupted upload can go on
// after a reload without the person choosing the file again. Used by
// src/platform/picker.rs.

// The file behind a kept handle, now: asks the person again for permission
// to read it when the browser wants that (a click must have led here).
// Resolves to null when it can't be read (permission refused, file gone).
export async function fileOf(handle) {
  try {
    let state = handle.queryPermission ? await handle.queryPermission({ mode: 'read' }) : 'granted';
    if (state === 'prompt') state = await handle.requestPermission({ mode: 'read' });
    if (state !== 'granted') return null;
    return await handle.getFile();
  } catch (_) {
    return null;
  }
}

// Whether the browser has a file picker that gives handles (Chromium's).
export function canPickHandles() {
  return typeof globalThis.showOpenFilePicker === 'function';
}

// Chromium's file picker: [{ file, handle }, ...], [] when the person
// cancelled, or null when it failed (the page then opens the plain one).
export async function pickFiles() {
  try {
    const handles = await globalThis.showOpenFilePicker({ multiple: true });
    return await Promise.all(handles.map(async (handle) => ({ file: await handle.getFile(), handle })));
  } catch (error) {
    return error && error.name === 'AbortError' ? [] : null;
  }
}

// A dropped item's handle, as a promise (Chromium gives it only while the
// drop event runs; it can be awaited later), or null where the browser has
// none. The promise resolves to null when no handle comes.
export function droppedHandle(item) {
  if (item.kind !== 'file' || typeof item.getAsFileSystemHandle !== 'function') return null;
  return item.getAsFileSystemHandle().catch(() => null);
}

// The file handle at `path` ('photos/2026/a.jpg', starting with the dropped
// item's own name) under a dropped item's handle, or null.
export async function handleAt(handle, path) {
  if (!handle) return null;
  const names = path.split('/').filter((name) => name);
  if (names.shift() !== handle.name) return null;
  try {
    if (handle.kind === 'file') return names.length === 0 ? handle : null;
    let folder = handle;
    while (names.length > 1) folder = await folder.getDirectoryHandle(names.shift());
    return names.length === 1 ? await folder.getFileHandle(names[0]) : null;
  } catch (_) {
    return null;
  }
}
