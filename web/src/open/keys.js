// Opening age files with what a holder has: an identity file, a key card's text or its QR photo.
import { Decrypter } from "age-encryption";
import jsQR from "jsqr";

/** A key that cannot be used, or a file it cannot open; `code` picks the message shown. */
export class KeyError extends Error {
  constructor(code, detail = {}) {
    super(`${code} ${JSON.stringify(detail)}`);
    this.code = code;
    this.detail = detail;
  }
}

const AGE_SECRET = /AGE-SECRET-KEY-1[02-9ACDEFGHJKLMNPQRSTUVWXYZ]{58}/g;

/** The age identities in a key file or in a key card's text (as typed: case and spaces do not matter). */
export function identitiesIn(text) {
  if (/-----BEGIN (OPENSSH|RSA) PRIVATE KEY-----/.test(text) || /^ssh-(ed25519|rsa) /m.test(text)) {
    throw new KeyError("ssh");
  }
  const upper = text.toUpperCase().split(/\r?\n/).filter((line) => !line.trim().startsWith("#")).join("\n");
  let found = upper.match(AGE_SECRET) ?? upper.replace(/\s+/g, "").match(AGE_SECRET) ?? [];
  found = [...new Set(found)];
  if (found.length === 0) {
    if (/AGE-SECRET-KEY-PQ-1/.test(upper)) return [upper.replace(/\s+/g, "").match(/AGE-SECRET-KEY-PQ-1[0-9A-Z]+/)[0]];
    throw new KeyError(/AGE-SECRET-KEY/.test(upper) ? "damaged-key" : "no-key");
  }
  return found;
}

/** The text of the QR code in a photo (a key card's), or a KeyError. */
export async function qrText(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new KeyError("not-image");
  }
  for (const scale of [1, 0.5, 0.25]) { // large phone photos are found faster, and often better, smaller
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0, width, height);
    const found = jsQR(context.getImageData(0, 0, width, height).data, width, height);
    if (found?.data) return found.data;
  }
  throw new KeyError("no-qr");
}

function ageFailure(error, what) {
  const text = String(error?.message ?? error);
  if (text.includes("no identity matched")) return new KeyError("wrong-key", { what });
  if (text.includes("scrypt work factor is too high")) return new KeyError("work-factor", { what });
  if (text.includes("scrypt recipient is not the only one")) return new KeyError("damaged", { what });
  return new KeyError("damaged", { what });
}

/** Decrypt a small age file with identities (strings) or a passphrase. */
export async function decrypt(bytes, { identities = [], passphrase = null, what = "" } = {}) {
  const decrypter = new Decrypter();
  if (passphrase !== null) decrypter.addPassphrase(passphrase);
  try {
    for (const identity of identities) decrypter.addIdentity(identity);
  } catch {
    throw new KeyError("damaged-key");
  }
  try {
    return await decrypter.decrypt(bytes);
  } catch (error) {
    throw ageFailure(error, what);
  }
}

/** Decrypt a large age file (a Blob) as a stream; `progress(bytesRead, total)` as it goes. */
export async function decryptBlob(blob, { identities = [], what = "", progress = () => {} } = {}) {
  const decrypter = new Decrypter();
  try {
    for (const identity of identities) decrypter.addIdentity(identity);
  } catch {
    throw new KeyError("damaged-key");
  }
  let read = 0;
  const counted = blob.stream().pipeThrough(new TransformStream({
    transform(chunk, controller) {
      read += chunk.length;
      progress(read, blob.size);
      controller.enqueue(chunk);
    },
  }));
  try {
    const plain = await decrypter.decrypt(counted);
    return new Uint8Array(await new Response(plain).arrayBuffer());
  } catch (error) {
    throw ageFailure(error, what);
  }
}
