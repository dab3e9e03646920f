// Unfinished multipart uploads, kept in IndexedDB so they resume after a
// reload or a crash. Records are JSON of ferry-client's `upload::Unfinished`,
// keyed by `fileId`; beside them, where the browser gave one, the file's
// handle (File System Access API), so the upload can go on without the
// person choosing the file again. Used by src/platform/resume_store.rs.

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

// How many uploads are kept: a cheap look on mount, so the upload machinery
// loads only when there is something to resume.
export async function countRecords() {
  return (await run(RECORDS, 'readonly', (tx) => tx.objectStore(RECORDS).count())) || 0;
}
