// Combining SLIP-39 shares on the collector's page, with the same code as the offline page
// (`shared/slip39.js`, `combineAny`): the shares a collector receives may be more than needed (or copies
// of one share of a 1-of-N group); exactly a threshold is chosen per complete group, as the terminal
// path (`vault.shares.combine`) does. Here its error codes become the words of this page's messages.
import { bytesToHex } from "@noble/hashes/utils.js";
import { ShareError, combineAny } from "../shared/slip39.js";

export class ShareProblem extends Error {
  constructor(word, values = {}) {
    super(word);
    this.word = word;
    this.values = values;
  }
}

// A share that does not decode (a word outside the list, a wrong length, checksum or padding) did not
// open as a Baton share; shares that decode but do not combine (a digest, two values for one member,
// more groups or members than the split asks) were altered.
const WORD = {
  word: "not_a_share", length: "not_a_share", checksum: "not_a_share", padding: "not_a_share",
  threshold: "not_a_share", empty: "no_shares", mismatch: "mismatched", "too-few": "not_enough",
  "too-few-groups": "not_enough_groups",
};

/** The master secret, in hex, from the shares forwarded so far; a `ShareProblem` says why not. */
export function combine(mnemonics) {
  try {
    return bytesToHex(combineAny(mnemonics));
  } catch (e) {
    if (!(e instanceof ShareError)) throw e;
    const { need, have } = e.detail;
    throw new ShareProblem(WORD[e.code] ?? "do_not_combine", need === undefined ? {} : { need, have });
  }
}
