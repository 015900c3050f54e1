// Files go straight from the browser to S3 with the presigned POST the REST
// API hands out; the message then names them by id.

import * as api from './api.js';

/** POST `file` to S3 with the presigned form; `onProgress(0..1)` as bytes leave. */
function postForm(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields || {})) form.append(name, value);
    form.append('file', file); // S3 ignores every field after the file
    const xhr = new XMLHttpRequest();
    xhr.open('POST', upload.url);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new Error(`The storage refused the file (HTTP ${xhr.status})`));
    });
    xhr.addEventListener('error', () => reject(new Error('The upload failed: storage unreachable')));
    xhr.addEventListener('abort', () => reject(new Error('Upload cancelled')));
    xhr.send(form);
  });
}

/**
 * Upload one file for a chat. Resolves to the attachment as a draft message
 * shows it ({id, filename, contentType, size, url}, `url` a local preview).
 */
export async function uploadAttachment(chatId, file, onProgress = () => {}) {
  const contentType = file.type || 'application/octet-stream';
  const { attachmentId, upload } = await api.createAttachment(chatId, {
    filename: file.name || 'file',
    contentType,
    size: file.size,
  });
  await postForm(upload, file, onProgress);
  onProgress(1);
  return {
    id: attachmentId,
    filename: file.name || 'file',
    contentType,
    size: file.size,
    url: contentType.startsWith('image/') ? URL.createObjectURL(file) : null,
  };
}
