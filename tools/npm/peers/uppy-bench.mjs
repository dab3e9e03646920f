// Uppy's S3 uploader (@uppy/aws-s3, multipart) against ferry-server, for
// the side-by-side upload bench (tests/ui_bench.rs bundles this with
// esbuild and runs it in the signed-in page). Uppy's signing functions are
// answered from Ferry's API: CreateFile starts the multipart upload, each
// part is presigned by POST /api/files/{id}/parts (no checksum: Uppy sends
// none), CompleteUpload joins them.
//
// Defines ferryUppyUpload(file, name, token) → Promise<{ ms }>: the time
// from Uppy's upload() to its end with the file stored as `name`.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

// The part size ferry-server uses: its store writes parts in place.
const PART_SIZE = 16 * 1024 * 1024;

globalThis.ferryUppyUpload = (file, name, token) =>
  new Promise((resolve, reject) => {
    const post = async (path, body) => {
      const answer = await fetch(path, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
      });
      if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
      return answer.json();
    };
    const command = (data) => {
      const id = crypto.randomUUID();
      return post('/api/commands', {
        metadata: {
          EventVersion: 1, EventId: id, CommandId: id, TraceId: id.replaceAll('-', ''),
          OccurredAt: new Date().toISOString(), Producer: 'uppy-bench',
        },
        data,
      });
    };
    // Uppy's upload id → Ferry's file id.
    const files = new Map();
    const uppy = new Uppy({ autoProceed: false });
    uppy.use(AwsS3, {
      shouldUseMultipart: () => true,
      limit: 6,
      getChunkSize: () => PART_SIZE,
      async createMultipartUpload(picked) {
        const created = await command({
          Action: 'CreateFile', Folder: '', Name: picked.name, Size: picked.size,
          ContentType: picked.type || 'application/octet-stream',
        });
        if (created.upload.kind !== 'multipart') throw new Error('Ferry chose a single PUT');
        files.set(created.upload.uploadId, created.file.fileId);
        return { uploadId: created.upload.uploadId, key: created.file.fileId };
      },
      async signPart(_picked, { uploadId, partNumber }) {
        const fileId = files.get(uploadId);
        const signed = await post(`/api/files/${fileId}/parts`, { parts: [{ partNumber }] });
        const request = signed.parts[0].request;
        // The browser sets these itself.
        const headers = Object.fromEntries(Object.entries(request.headers)
          .filter(([name]) => !['host', 'content-length'].includes(name.toLowerCase())));
        return { method: request.method, url: request.url, headers };
      },
      async completeMultipartUpload(_picked, { uploadId, parts }) {
        await command({
          Action: 'CompleteUpload', FileId: files.get(uploadId),
          Parts: parts.map((part) => ({ PartNumber: part.PartNumber, ETag: part.ETag })),
        });
        return {};
      },
      async listParts() {
        return [];
      },
      async abortMultipartUpload(_picked, { uploadId }) {
        await command({ Action: 'AbortUpload', FileId: files.get(uploadId) });
      },
    });
    uppy.on('upload-error', (_picked, error) => reject(error));
    uppy.addFile({ name, type: file.type, data: file });
    const started = performance.now();
    uppy.upload().then((result) => {
      if (result && result.failed && result.failed.length) {
        reject(new Error(String(result.failed[0].error)));
      } else {
        resolve({ ms: performance.now() - started });
      }
    }, reject);
  });
