// Combining SLIP-39 shares in the browser with the slip39 package. The shares a collector receives may
// be more than needed (or copies of one share of a 1-of-N group): SLIP-39 combines exactly a group's
// threshold of members and exactly the group threshold of groups, so the right ones are chosen first
// from each share's header (its third and fourth words: group index, group threshold, group count,
// member index, member threshold, four bits each), as the terminal path (`vault.shares.combine`) does.
import slip39 from "slip39";
import { WORD_LIST } from "slip39/src/slip39_helper.js";

export class ShareProblem extends Error {
  constructor(word, values = {}) {
    super(word);
    this.word = word;
    this.values = values;
  }
}

const INDEX = new Map(WORD_LIST.map((word, i) => [word, i]));

function header(mnemonic) {
  const words = mnemonic.trim().toLowerCase().split(/\s+/);
  if (words.length < 20 || words.some((w) => !INDEX.has(w))) throw new ShareProblem("not_a_share");
  const bits = INDEX.get(words[2]) * 1024 + INDEX.get(words[3]);
  const field = (n) => (bits >> (16 - 4 * n)) & 15;
  return {
    words: words.join(" "),
    id: `${words[0]} ${words[1]}`,
    group: field(0),
    groupThreshold: field(1) + 1,
    groupCount: field(2) + 1,
    member: field(3),
    memberThreshold: field(4) + 1,
  };
}

export function combine(mnemonics) {
  const shares = mnemonics.map(header);
  if (shares.length === 0) throw new ShareProblem("no_shares");
  if (new Set(shares.map((s) => s.id)).size > 1) throw new ShareProblem("mismatched");
  const groups = new Map();
  for (const share of shares) {
    if (!groups.has(share.group)) groups.set(share.group, new Map());
    groups.get(share.group).set(share.member, share); // a copy of the same share counts once
  }
  const first = shares[0];
  const complete = [...groups.entries()].filter(([, members]) => members.size >= [...members.values()][0].memberThreshold)
    .sort(([a], [b]) => a - b);
  if (complete.length < first.groupThreshold) {
    if (first.groupCount === 1) {
      const members = groups.get(first.group);
      throw new ShareProblem("not_enough", { need: first.memberThreshold, have: members.size });
    }
    throw new ShareProblem("not_enough_groups", { need: first.groupThreshold, have: complete.length });
  }
  const chosen = complete.slice(0, first.groupThreshold).flatMap(([, members]) => {
    const list = [...members.values()];
    return list.slice(0, list[0].memberThreshold).map((s) => s.words);
  });
  let secret;
  try {
    secret = slip39.recoverSecret(chosen, "");
  } catch (e) {
    throw new ShareProblem("do_not_combine");
  }
  return Array.from(secret, (b) => b.toString(16).padStart(2, "0")).join("");
}
