// The offline page in every release package (open.html): opens a compartment in the browser,
// with no network and no server. The page inlines this bundle; its CSP pins it by hash.
// `globalThis.batonOpen` carries the pure parts, for the tests that run the vectors in Chromium.
import { Decrypter, armor, generateIdentity } from "age-encryption";
import { combineAny, combineMnemonics, decodeShare } from "./shared/slip39.js";
import { fingerprint, parseFingerprint } from "./open/package.js";
import { listZip, readMember } from "./open/zip.js";
import { start } from "./open/page.js";

globalThis.batonOpen = { Decrypter, armor, generateIdentity, combineAny, combineMnemonics, decodeShare, fingerprint,
  parseFingerprint, listZip, readMember };

if (document.getElementById("texts")) start();
