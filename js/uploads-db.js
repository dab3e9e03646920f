// Unfinished multipart uploads, kept in IndexedDB so they resume after a
// reload or a crash. Records are JSON from src/upload.rs (`Unfinished`),
// keyed by `fileId`; beside them, where the browser gave one, the file's
// handle (File System Access API), so the upload can go on without the
// person choosing the file again. Used by src/api/unfinished.rs.

const NAME = 'ferry-uploads';
const RECORDS = 'unfinished';
const HANDLES = 'handles';

// One connection for the page, opened on first use.
let opened = null;

function open() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, 2);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(RECORDS)) db.createObjectStore(RECORDS, { keyPath: 'fileId' });
      if (!db.objectStoreNames.contains(HANDLES)) db.createObjectStore(HANDLES, { keyPath: 'fileId' });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => {
      opened = null;
      reject(request.error);
    };
  });
  return opened;
}

async function run(stores, mode, act) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores, mode);
    const request = act(tx);
    tx.oncomplete = () => resolve(request && request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export function putRecord(json) {
  return run(RECORDS, 'readwrite', (tx) => tx.objectStore(RECORDS).put(JSON.parse(json)));
}

export function putHandle(fileId, handle) {
  return run(HANDLES, 'readwrite', (tx) => tx.objectStore(HANDLES).put({ fileId, handle }));
}

export function removeRecord(fileId) {
  return run([RECORDS, HANDLES], 'readwrite', (tx) => {
    tx.objectStore(HANDLES).delete(fileId);
    return tx.objectStore(RECORDS).delete(fileId);
  });
}

export async function allRecords() {
  return JSON.stringify((await run(RECORDS, 'readonly', (tx) => tx.objectStore(RECORDS).getAll())) || []);
}

// [{ fileId, handle }, ...]
export async function allHandles() {
  return (await run(HANDLES, 'readonly', (tx) => tx.objectStore(HANDLES).getAll())) || [];
}

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
