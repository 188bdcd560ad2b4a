// A holder's key in the browser: read from a key file, the text of a key card, or a photo of the
// card's QR code; opening and sealing age files with it. The key stays in this page's memory: nothing
// here sends anything anywhere (the pages' policy allows no connection at all).
import { Decrypter, Encrypter, armor } from "age-encryption";
import jsQR from "jsqr";

const SECRET = /AGE-SECRET-KEY-1[0-9A-Z]{58}/;

export class KeyProblem extends Error {
  // `word` names a translated message of the page (its JSON words), never the key itself.
  constructor(word) {
    super(word);
    this.word = word;
  }
}

// The page's translated texts: JSON data blocks the server rendered in the page's language.
export function words() {
  const said = {};
  for (const block of document.querySelectorAll("script.baton-words")) Object.assign(said, JSON.parse(block.textContent));
  return said;
}

export function identityIn(text) {
  const found = String(text || "").toUpperCase().replace(/\s+/g, "").match(SECRET);
  if (!found) throw new KeyProblem("no_key");
  return found[0];
}

async function qrText(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (e) {
    throw new KeyProblem("no_picture");
  }
  const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const code = jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: "attemptBoth" });
  if (!code) throw new KeyProblem("no_qr");
  return code.data;
}

// The key a `.keyinput` block was given: a key file, pasted card text, or a photo of the QR code.
export async function identityFrom(block) {
  const file = block.querySelector("input[data-key=file]");
  const pasted = block.querySelector("textarea[data-key=text]");
  const photo = block.querySelector("input[data-key=photo]");
  if (file && file.files.length) return identityIn(await file.files[0].text());
  if (pasted && pasted.value.trim()) return identityIn(pasted.value);
  if (photo && photo.files.length) return identityIn(await qrText(photo.files[0]));
  throw new KeyProblem("no_key_given");
}

function ageBytes(sealed) {
  if (typeof sealed === "string") {
    const text = sealed.trim();
    if (text.startsWith("-----BEGIN AGE ENCRYPTED FILE-----")) return armor.decode(text);
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0)); // base64 of the binary file
  }
  return sealed;
}

export async function open(sealed, identity) {
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  try {
    return await decrypter.decrypt(ageBytes(sealed), "text");
  } catch (e) {
    throw new KeyProblem("wrong_key");
  }
}

export async function sealTo(recipient, text) {
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  return armor.encode(await encrypter.encrypt(text));
}

export function save(filename, text, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Shows what happened in a live region (read out by screen readers), as a problem or as news.
export function say(where, text, problem = false) {
  where.textContent = text;
  where.className = problem ? "error" : "notice";
  where.setAttribute("role", problem ? "alert" : "status");
  where.hidden = !text;
}

// Reveals the parts of a page that need this script (hidden for a browser without it).
export function reveal() {
  for (const part of document.querySelectorAll("[data-needs-script]")) part.hidden = false;
  for (const part of document.querySelectorAll("[data-without-script]")) part.hidden = true;
}
