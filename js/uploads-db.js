// Unfinished multipart uploads, kept in IndexedDB so they resume after a
// reload or a crash. Records are JSON from src/upload.rs (`Unfinished`),
// keyed by `fileId`. Used by src/api/unfinished.rs.

const NAME = 'ferry-uploads';
const STORE = 'unfinished';

// One connection for the page, opened on first use.
let opened = null;

function open() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'fileId' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => {
      opened = null;
      reject(request.error);
    };
  });
  return opened;
}

async function run(mode, act) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = act(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export function putRecord(json) {
  return run('readwrite', (store) => store.put(JSON.parse(json)));
}

export function removeRecord(fileId) {
  return run('readwrite', (store) => store.delete(fileId));
}

export async function allRecords() {
  return JSON.stringify((await run('readonly', (store) => store.getAll())) || []);
}
