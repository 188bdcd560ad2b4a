// A release package as the holder picked it: its files, their checksums and signature, and the
// signing key's fingerprint — what `openssl pkeyutl -verify` and `sha256sum -c SHA256SUMS` check
// on the terminal path (vault/package.py is the reference).
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { listZip, readMember } from "./zip.js";

export const FORMAT = "baton-release/1";
const SPKI_PREFIX = hexToBytes("302a300506032b6570032100");

/** A problem with the package; `code` picks the message shown, `detail` fills it in. */
export class PackageError extends Error {
  constructor(code, detail = {}) {
    super(`${code} ${JSON.stringify(detail)}`);
    this.code = code;
    this.detail = detail;
  }
}

function baseName(file) {
  const path = file.webkitRelativePath || file.name;
  return path.split("/").pop();
}

/** The package's files by name, from a picked folder, picked files, or the picked .zip. */
export async function gather(fileList) {
  const files = new Map();
  for (const file of fileList) {
    if (/\.zip$/i.test(file.name) && fileList.length === 1) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      let members;
      try {
        members = listZip(bytes);
      } catch {
        throw new PackageError("not-zip", { name: file.name });
      }
      for (const member of members) {
        if (member.name.endsWith("/")) continue;
        const name = member.name.split("/").pop();
        if (files.has(name)) throw new PackageError("two-packages");
        const data = await readMember(bytes, member);
        files.set(name, new Blob([data]));
      }
    } else {
      const name = baseName(file);
      if (files.has(name)) throw new PackageError("two-packages");
      files.set(name, file);
    }
  }
  if (!files.has("manifest.json")) throw new PackageError("no-manifest");
  return files;
}

async function bytesOf(files, name) {
  const file = files.get(name);
  if (!file) throw new PackageError("missing", { name });
  return new Uint8Array(await file.arrayBuffer());
}

export async function digestHex(blob) {
  const buffer = await blob.arrayBuffer();
  if (globalThis.crypto?.subtle) return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buffer)));
  return bytesToHex(sha256(new Uint8Array(buffer)));
}

export function publicFromPem(text) {
  const body = text.split(/\r?\n/).filter((line) => line && !line.startsWith("-----")).join("");
  let der;
  try {
    der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  } catch {
    throw new PackageError("bad-key");
  }
  if (der.length !== 44 || SPKI_PREFIX.some((b, i) => der[i] !== b)) throw new PackageError("bad-key");
  return der.slice(12);
}

/** The fingerprint Baton's e-mails, key cards and `baton key show` give: SHA-256 of the DER key, in hex. */
export function fingerprint(publicKey) {
  return bytesToHex(sha256(new Uint8Array([...SPKI_PREFIX, ...publicKey])));
}

/** A fingerprint as pasted (spaces, colons, case and the trailing `-` of sha256sum do not matter); null if not one. */
export function parseFingerprint(text) {
  let cleaned = text.trim();
  if (cleaned.endsWith("-")) cleaned = cleaned.slice(0, -1);
  cleaned = cleaned.replace(/[\s:]/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(cleaned) ? cleaned : null;
}

function verifies(publicKey, message, signature) {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Check the signature on SHA256SUMS and every listed file's checksum, as the terminal path does;
 * returns {manifest, publicKey, fingerprint, files}. `progress(done, total)` hears of each file.
 */
export async function verify(files, progress = () => {}) {
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(await bytesOf(files, "manifest.json")));
  } catch (error) {
    if (error instanceof PackageError) throw error;
    throw new PackageError("altered", { name: "manifest.json" });
  }
  if (manifest?.format !== FORMAT) throw new PackageError("format");
  const publicKey = publicFromPem(new TextDecoder().decode(await bytesOf(files, "signing-key.pem")));
  const sums = await bytesOf(files, "SHA256SUMS");
  const signature = await bytesOf(files, "SHA256SUMS.sig");
  if (!verifies(publicKey, sums, signature)) throw new PackageError("signature");
  const listed = new Map();
  for (const line of new TextDecoder().decode(sums).split("\n")) {
    if (!line) continue;
    const at = line.indexOf("  ");
    if (at !== 64) throw new PackageError("altered", { name: "SHA256SUMS" });
    listed.set(line.slice(66), line.slice(0, 64));
  }
  for (const entry of manifest.files ?? []) {
    if (!["SHA256SUMS", "SHA256SUMS.sig"].includes(entry.name) && !listed.has(entry.name)) {
      throw new PackageError("altered", { name: "manifest.json" });
    }
  }
  let done = 0;
  for (const name of listed.keys()) if (!files.has(name)) throw new PackageError("missing", { name });
  for (const [name, digest] of listed) {
    if (await digestHex(files.get(name)) !== digest) throw new PackageError("checksum", { name });
    progress(++done, listed.size);
  }
  if (manifest.signing_key?.ed25519 !== bytesToHex(publicKey)) throw new PackageError("altered", { name: "manifest.json" });
  return { manifest, publicKey, fingerprint: fingerprint(publicKey), files };
}

function statement(old, next, at) {
  return new TextEncoder().encode(`baton-signing-key-rotation/v1\nold: ${old}\nnew: ${next}\nat: ${at}\n`);
}

/**
 * The key changes that lead from the package's key back to the key with fingerprint `expected`
 * (signing-keys.json, each change signed by both keys), newest first; [] when none leads there.
 */
export async function changesSince(files, publicKey, expected) {
  if (!files.has("signing-keys.json")) return [];
  let rotations;
  try {
    rotations = JSON.parse(new TextDecoder().decode(await bytesOf(files, "signing-keys.json"))).rotations;
  } catch {
    throw new PackageError("altered", { name: "signing-keys.json" });
  }
  const byNew = new Map((rotations ?? []).map((r) => [r.new, r]));
  const path = [];
  let current = bytesToHex(publicKey);
  const seen = new Set([current]);
  for (;;) {
    const step = byNew.get(current);
    if (!step || seen.has(step.old)) break;
    const message = statement(step.old, step.new, step.at);
    let holds = false;
    try {
      holds = verifies(hexToBytes(step.old), message, hexToBytes(step.signed_by_old))
        && verifies(hexToBytes(step.new), message, hexToBytes(step.signed_by_new));
    } catch {
      holds = false;
    }
    if (!holds) break;
    path.push({ old: fingerprint(hexToBytes(step.old)), new: fingerprint(hexToBytes(step.new)), at: step.at });
    seen.add(step.old);
    current = step.old;
  }
  const reached = path.findIndex((step) => step.old === expected);
  return reached < 0 ? [] : path.slice(0, reached + 1);
}

/** The one file of `role` the manifest lists. */
export function fileWithRole(manifest, role) {
  const names = (manifest.files ?? []).filter((f) => f.role === role).map((f) => f.name);
  if (names.length !== 1) throw new PackageError("altered", { name: "manifest.json" });
  return names[0];
}
