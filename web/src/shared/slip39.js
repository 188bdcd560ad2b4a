// SLIP-39 decoding and combining (no splitting): what `shamir recover` does, in the browser; the one
// implementation of every page that combines shares (the offline page, the collector's page).
//
// A format, not a primitive: word indices, the RS1024 checksum, Shamir interpolation over
// GF(256) and the 4-round Feistel decryption of SLIP-39, on top of @noble/hashes' PBKDF2 and
// HMAC (SHA-256). The `slip39` npm package passes the vectors in Node but needs Node's `crypto`
// module and `Buffer` at load, so it cannot run in a browser page: this follows
// trezor/python-shamir-mnemonic instead, error for error (`combineMnemonics`).
import { hmac } from "@noble/hashes/hmac.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { WORDS } from "./wordlist.js";

const INDEX = new Map(WORDS.map((word, i) => [word, i]));
const RADIX_BITS = 10;
const ID_EXP_WORDS = 2;
const CHECKSUM_WORDS = 3;
const METADATA_WORDS = ID_EXP_WORDS + 2 + CHECKSUM_WORDS;
const MIN_WORDS = METADATA_WORDS + Math.ceil(128 / RADIX_BITS);
const GEN = [0xe0e040, 0x1c1c080, 0x3838100, 0x7070200, 0xe0e0009, 0x1c0c2412, 0x38086c24, 0x3090fc48, 0x21b1f890,
  0x3f3f120];
const ENCODER = new TextEncoder();

/** A share that cannot be used; `code` says why (for a message in the holder's language). */
export class ShareError extends Error {
  constructor(code, detail = {}) {
    super(`${code} ${JSON.stringify(detail)}`);
    this.code = code;
    this.detail = detail;
  }
}

export function isWord(word) {
  return INDEX.has(word);
}

/** The words of a mnemonic as a person typed or pasted them (case and spacing do not matter). */
export function wordsOf(text) {
  return text.trim().toLowerCase().split(/\s+/).filter(Boolean);
}

function polymod(values) {
  let chk = 1;
  for (const v of values) {
    const b = chk >>> 20;
    chk = ((chk & 0xfffff) << 10) ^ v;
    for (let i = 0; i < 10; i++) if ((b >>> i) & 1) chk ^= GEN[i];
  }
  return chk >>> 0;
}

function fromIndices(indices) {
  let value = 0n;
  for (const i of indices) value = value * 1024n + BigInt(i);
  return value;
}

/** One mnemonic's share: its parameters and value; a `ShareError` (word, length, checksum, padding, threshold). */
export function decodeShare(text) {
  const words = wordsOf(text);
  const data = [];
  words.forEach((word, position) => {
    if (!INDEX.has(word)) throw new ShareError("word", { position: position + 1 });
    data.push(INDEX.get(word));
  });
  if (data.length < MIN_WORDS) throw new ShareError("length", { count: data.length });
  const padding = (RADIX_BITS * (data.length - METADATA_WORDS)) % 16;
  if (padding > 8) throw new ShareError("length", { count: data.length });
  const idExp = Number(fromIndices(data.slice(0, ID_EXP_WORDS)));
  const identifier = idExp >> 5;
  const extendable = Boolean((idExp >> 4) & 1);
  const iterationExponent = idExp & 15;
  const custom = ENCODER.encode(extendable ? "shamir_extendable" : "shamir");
  if (polymod([...custom, ...data]) !== 1) throw new ShareError("checksum");
  const params = Number(fromIndices(data.slice(ID_EXP_WORDS, ID_EXP_WORDS + 2)));
  const [groupIndex, groupThreshold, groupCount, index, memberThreshold] =
    [16, 12, 8, 4, 0].map((shift) => (params >> shift) & 15);
  if (groupCount < groupThreshold) throw new ShareError("threshold");
  const valueWords = data.slice(ID_EXP_WORDS + 2, -CHECKSUM_WORDS);
  const byteCount = Math.ceil((RADIX_BITS * valueWords.length - padding) / 8);
  let value = fromIndices(valueWords);
  if (value >> BigInt(8 * byteCount) !== 0n) throw new ShareError("padding");
  const bytes = new Uint8Array(byteCount);
  for (let i = byteCount - 1; i >= 0; i--) {
    bytes[i] = Number(value & 255n);
    value >>= 8n;
  }
  return {
    identifier, extendable, iterationExponent, groupIndex, groupThreshold: groupThreshold + 1,
    groupCount: groupCount + 1, index, memberThreshold: memberThreshold + 1, value: bytes,
    words: words.join(" "),
  };
}

const EXP = new Uint8Array(255);
const LOG = new Uint8Array(256);
{
  let poly = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = poly;
    LOG[poly] = i;
    poly = (poly << 1) ^ poly;
    if (poly & 0x100) poly ^= 0x11b;
  }
}

function interpolate(shares, x) {
  const xs = new Set(shares.map((s) => s.x));
  if (xs.size !== shares.length) throw new ShareError("invalid");
  const lengths = new Set(shares.map((s) => s.data.length));
  if (lengths.size !== 1) throw new ShareError("invalid");
  const found = shares.find((s) => s.x === x);
  if (found) return found.data;
  let logProd = 0;
  for (const s of shares) logProd += LOG[s.x ^ x];
  const result = new Uint8Array(shares[0].data.length);
  for (const s of shares) {
    let basis = logProd - LOG[s.x ^ x];
    for (const other of shares) basis -= LOG[s.x ^ other.x];
    basis = ((basis % 255) + 255) % 255;
    s.data.forEach((v, i) => {
      if (v !== 0) result[i] ^= EXP[(LOG[v] + basis) % 255];
    });
  }
  return result;
}

function recoverSecret(threshold, shares) {
  if (threshold === 1) return shares[0].data;
  const secret = interpolate(shares, 255);
  const digestShare = interpolate(shares, 254);
  const digest = digestShare.slice(0, 4);
  const mac = hmac(sha256, digestShare.slice(4), secret).slice(0, 4);
  if (mac.some((b, i) => b !== digest[i])) throw new ShareError("digest");
  return secret;
}

function feistelDecrypt(ems, passphrase, exponent, identifier, extendable) {
  const half = ems.length / 2;
  let l = ems.slice(0, half);
  let r = ems.slice(half);
  const salt = extendable ? new Uint8Array(0) : new Uint8Array([...ENCODER.encode("shamir"), identifier >> 8,
    identifier & 255]);
  const pass = ENCODER.encode(passphrase);
  for (let i = 3; i >= 0; i--) {
    const f = pbkdf2(sha256, new Uint8Array([i, ...pass]), new Uint8Array([...salt, ...r]),
      { c: (10000 << exponent) / 4, dkLen: r.length });
    [l, r] = [r, l.map((b, j) => b ^ f[j])];
  }
  return new Uint8Array([...r, ...l]);
}

const COMMON = ["identifier", "extendable", "iterationExponent", "groupThreshold", "groupCount"];

/** The shares by group index, then by `key`; a `mismatch` if they are not of one split. */
function groupsOf(shares, key) {
  const first = shares[0];
  if (shares.some((s) => COMMON.some((k) => s[k] !== first[k]))) throw new ShareError("mismatch");
  const groups = new Map();
  for (const share of shares) {
    const group = groups.get(share.groupIndex) ?? new Map();
    const other = group.values().next().value;
    if (other && other.memberThreshold !== share.memberThreshold) throw new ShareError("mismatch");
    group.set(key(share), share);
    groups.set(share.groupIndex, group);
  }
  return groups;
}

/** The master secret from exactly a threshold of mnemonics, as `shamir_mnemonic.combine_mnemonics`. */
export function combineMnemonics(mnemonics, passphrase = "") {
  if (mnemonics.length === 0) throw new ShareError("empty");
  return combineShares(mnemonics.map(decodeShare), passphrase);
}

function combineShares(shares, passphrase) {
  const first = shares[0];
  const groups = groupsOf(shares, (share) => `${share.index}:${share.words}`); // the same share twice is one
  if (groups.size < first.groupThreshold) {
    throw new ShareError("too-few-groups", { need: first.groupThreshold, have: groups.size });
  }
  if (groups.size !== first.groupThreshold) throw new ShareError("too-many-groups");
  const groupShares = [];
  for (const [index, group] of groups) {
    const members = [...group.values()];
    if (members.length !== members[0].memberThreshold) {
      throw new ShareError(members.length < members[0].memberThreshold ? "too-few" : "too-many",
        { need: members[0].memberThreshold, have: members.length });
    }
    groupShares.push({ x: index, data: recoverSecret(members[0].memberThreshold,
      members.map((m) => ({ x: m.index, data: m.value }))) });
  }
  const ems = recoverSecret(first.groupThreshold, groupShares);
  return feistelDecrypt(ems, passphrase, first.iterationExponent, first.identifier, first.extendable);
}

/**
 * The friendly combination Baton's recovery does: any number of shares, duplicates counted once,
 * exactly a threshold chosen per complete group. `ShareError` codes: `mismatch` (another split),
 * `too-few` ({need, have}) for one group, `too-few-groups` ({need, have, short: [[index, have, need]]}).
 */
export function combineAny(mnemonics, passphrase = "") {
  const shares = mnemonics.map(decodeShare);
  if (shares.length === 0) throw new ShareError("empty");
  const first = shares[0];
  const groups = groupsOf(shares, (share) => share.index);
  const complete = [...groups].filter(([, g]) => g.size >= g.values().next().value.memberThreshold);
  if (complete.length < first.groupThreshold) {
    if (first.groupCount === 1) {
      const members = groups.get(0) ?? new Map();
      throw new ShareError("too-few", { need: first.memberThreshold, have: members.size });
    }
    const short = [...groups].filter(([i]) => !complete.some(([c]) => c === i))
      .map(([i, g]) => [i, g.size, g.values().next().value.memberThreshold]);
    throw new ShareError("too-few-groups", { need: first.groupThreshold, have: complete.length, short });
  }
  const chosen = complete.slice(0, first.groupThreshold)
    .flatMap(([, g]) => [...g.values()].slice(0, g.values().next().value.memberThreshold));
  return combineShares(chosen, passphrase);
}
