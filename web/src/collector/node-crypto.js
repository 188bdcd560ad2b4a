// The three calls of Node's `crypto` the slip39 package makes (PBKDF2-SHA256 for its Feistel rounds,
// HMAC-SHA256 for its digest, random bytes for splitting), done by @noble/hashes and the browser's
// random source, so the package runs in a browser unchanged. It also wraps arrays with `Buffer.from`,
// which a browser lacks: a Uint8Array does what it needs.
import { hmac } from "@noble/hashes/hmac.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";

if (typeof globalThis.Buffer === "undefined") {
  globalThis.Buffer = { from: (data) => Uint8Array.from(data) };
}

function onlySha256(digest) {
  if (digest !== "sha256") throw new Error(`only sha256 is provided here, not ${digest}`);
}

export function pbkdf2Sync(password, salt, iterations, length, digest) {
  onlySha256(digest);
  return pbkdf2(sha256, Uint8Array.from(password), Uint8Array.from(salt), { c: iterations, dkLen: length });
}

export function createHmac(digest, key) {
  onlySha256(digest);
  const mac = hmac.create(sha256, Uint8Array.from(key));
  return {
    update(data) {
      mac.update(Uint8Array.from(data));
      return this;
    },
    digest() {
      return mac.digest();
    },
  };
}

export function randomBytes(length) {
  return crypto.getRandomValues(new Uint8Array(length));
}
