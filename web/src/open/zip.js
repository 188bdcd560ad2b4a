// Reading zips in the browser: a release package picked as its .zip, and an opened compartment.
//
// Only what Baton's zips use: stored and deflated members, found through the central directory
// (Python's zipfile writes data descriptors when it streams, so local headers may hold no sizes).
// Deflate goes through the browser's own DecompressionStream("deflate-raw").

export class ZipError extends Error {}

function u16(view, at) {
  return view.getUint16(at, true);
}

function u32(view, at) {
  return view.getUint32(at, true);
}

/** The members of a zip: [{name, method, size, compressedSize, offset}] (offset: of the local header). */
export function listZip(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (u32(view, i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new ZipError("not a zip (no end of central directory)");
  let count = u16(view, end + 10);
  let at = u32(view, end + 16);
  if (at === 0xffffffff || count === 0xffff) { // zip64: the locator sits just before the end record
    const locator = end - 20;
    if (locator < 0 || u32(view, locator) !== 0x07064b50) throw new ZipError("damaged zip64 directory");
    const record = Number(view.getBigUint64(locator + 8, true));
    count = Number(view.getBigUint64(record + 32, true));
    at = Number(view.getBigUint64(record + 48, true));
  }
  const decoder = new TextDecoder();
  const members = [];
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || u32(view, at) !== 0x02014b50) throw new ZipError("damaged central directory");
    const nameLength = u16(view, at + 28);
    const extraLength = u16(view, at + 30);
    const commentLength = u16(view, at + 32);
    let compressedSize = u32(view, at + 20);
    let size = u32(view, at + 24);
    let offset = u32(view, at + 42);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) { // zip64 extended information: the fields that overflowed, in order
      const id = u16(view, extra);
      const length = u16(view, extra + 2);
      if (id === 1) {
        let field = extra + 4;
        if (size === 0xffffffff) { size = Number(view.getBigUint64(field, true)); field += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = Number(view.getBigUint64(field, true)); field += 8; }
        if (offset === 0xffffffff) { offset = Number(view.getBigUint64(field, true)); }
      }
      extra += 4 + length;
    }
    members.push({ name, method: u16(view, at + 10), size, compressedSize, offset });
    at = extraEnd + commentLength;
  }
  return members;
}

/** A member's bytes (a view into `bytes` when stored). */
export async function readMember(bytes, member) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (member.offset + 30 > bytes.length || u32(view, member.offset) !== 0x04034b50) {
    throw new ZipError(`damaged member ${member.name}`);
  }
  const start = member.offset + 30 + u16(view, member.offset + 26) + u16(view, member.offset + 28);
  const data = bytes.subarray(start, start + member.compressedSize);
  if (data.length !== member.compressedSize) throw new ZipError(`truncated member ${member.name}`);
  if (member.method === 0) return data;
  if (member.method !== 8) throw new ZipError(`member ${member.name}: unknown compression ${member.method}`);
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const out = new Uint8Array(await new Response(stream).arrayBuffer());
  if (out.length !== member.size) throw new ZipError(`member ${member.name}: wrong size after inflating`);
  return out;
}
