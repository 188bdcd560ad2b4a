// The offline page's steps: pick the package, check it, open the holder's share, gather the
// others' shares, combine them and open the compartment. Every text comes from the page's own
// JSON block (#texts), in the holder's language; nothing here reaches the network.
import { bytesToHex } from "@noble/hashes/utils.js";
import { mnemonicsIn } from "../shared/sharefile.js";
import { KeyError, decrypt, decryptBlob, identitiesIn, qrText } from "./keys.js";
import { PackageError, changesSince, fileWithRole, gather, parseFingerprint, verify } from "./package.js";
import { ShareError, combineAny, decodeShare, isWord, wordsOf } from "../shared/slip39.js";
import { listZip, readMember } from "./zip.js";

const $ = (id) => document.getElementById(id);
let TEXTS = {};
const state = { pkg: null, mine: [], others: [], urls: [] };

export function t(key, vars = {}) {
  const text = TEXTS[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function say(id, text, kind = "info") {
  const box = $(id);
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

// Let the browser paint a status before a long computation holds the page (scrypt, PBKDF2).
const paint = () => new Promise((resolve) => setTimeout(resolve, 50));

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function download(name, bytes, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  state.urls.push(url);
  return el("a", { href: url, download: name, className: "button", textContent: t("save", { name }) });
}

function packageMessage(error) {
  if (error instanceof PackageError) return t(`package.${error.code}`, error.detail);
  return t("package.altered", { name: "?" });
}

function keyMessage(error) {
  if (error instanceof KeyError) return t(`key.${error.code}`, error.detail);
  return t("key.damaged", { what: "" });
}

function shareMessage(error, label) {
  if (error instanceof ShareError) return t(`share.${error.code}`, { ...error.detail, label });
  return t("share.invalid", { label });
}

// -- step 1: the package ----------------------------------------------------------------------

async function pickPackage(event) {
  const list = [...event.target.files];
  if (list.length === 0) return;
  state.pkg = null;
  state.mine = [];
  state.others = [];
  renderShares();
  for (const id of ["step-key", "step-others", "step-open"]) $(id).hidden = true;
  $("facts").hidden = true;
  say("package-status", t("package.checking"));
  try {
    const files = await gather(list);
    const pkg = await verify(files, (done, total) => say("package-status", t("package.progress", { done, total })));
    state.pkg = pkg;
    showFacts(pkg);
    say("package-status", t("package.ok"), "ok");
    for (const id of ["step-key", "step-others", "step-open"]) $(id).hidden = false;
  } catch (error) {
    say("package-status", packageMessage(error), "error");
  }
}

/** A moment from the manifest, as the holder's language writes a date (UTC, as the e-mails give it). */
function when(iso) {
  const date = new Date(iso ?? "");
  if (Number.isNaN(date.getTime())) return iso ?? "";
  try {
    return new Intl.DateTimeFormat(document.documentElement.lang || undefined,
      { dateStyle: "long", timeStyle: "short", timeZone: "UTC" }).format(date) + " UTC";
  } catch {
    return iso;
  }
}

function policyText(manifest) {
  const policy = manifest.policy ?? {};
  const groups = policy.groups ?? [{ threshold: policy.threshold, holders: policy.holders ?? [] }];
  const parts = groups.map((g) => t("policy.group", { need: g.threshold, of: g.holders.length,
    names: g.holders.join(", ") }));
  return groups.length === 1 ? parts[0] : t("policy.groups", { need: policy.group_threshold ?? 1,
    groups: parts.join("; ") });
}

function showFacts(pkg) {
  const m = pkg.manifest;
  $("fact-compartment").textContent = m.compartment;
  $("fact-holder").textContent = m.holder?.display_name ?? m.holder?.name ?? "";
  $("fact-owner").textContent = m.owner;
  $("fact-released").textContent = when(m.released_at);
  $("fact-reason").textContent = m.reason ?? "";
  $("fact-policy").textContent = policyText(m);
  $("fingerprint").textContent = pkg.fingerprint;
  $("drill").hidden = !m.drill;
  $("facts").hidden = false;
  compareFingerprint();
}

async function compareFingerprint() {
  const typed = $("compare-fp").value;
  if (!state.pkg || !typed.trim()) return say("compare-result", "");
  const expected = parseFingerprint(typed);
  if (!expected) return say("compare-result", t("fp.malformed"), "error");
  if (expected === state.pkg.fingerprint) return say("compare-result", t("fp.same"), "ok");
  const changes = await changesSince(state.pkg.files, state.pkg.publicKey, expected).catch(() => []);
  if (changes.length) {
    const last = changes[changes.length - 1];
    return say("compare-result", t("fp.replaced", { at: when(last.at) }), "ok");
  }
  say("compare-result", t("fp.differ"), "error");
}

// -- step 2: the holder's own share -------------------------------------------------------------

async function openMyShare() {
  say("share-status", t("key.opening"));
  $("my-share").hidden = true;
  await paint();
  try {
    const identities = [];
    const keyFile = $("key-file").files[0];
    if (keyFile) identities.push(...identitiesIn(await keyFile.text()));
    if ($("key-text").value.trim()) identities.push(...identitiesIn($("key-text").value));
    const photo = $("key-photo").files[0];
    if (photo) identities.push(...identitiesIn(await qrText(photo)));
    if (identities.length === 0) throw new KeyError("none-given");
    const name = fileWithRole(state.pkg.manifest, "share");
    const sealed = new Uint8Array(await state.pkg.files.get(name).arrayBuffer());
    const body = new TextDecoder().decode(await decrypt(sealed, { identities, what: name }));
    state.mine = mnemonicsIn(body);
    state.mine.forEach((words, i) => decodeShare(words)); // a share that does not decode is said now
    renderMyShare(body);
    renderShares();
    say("share-status", t("key.opened", { count: state.mine.length }), "ok");
  } catch (error) {
    state.mine = [];
    renderShares();
    say("share-status", error instanceof ShareError ? shareMessage(error, t("label.mine", { n: 1 }))
      : keyMessage(error), "error");
  }
}

function renderMyShare(body) {
  const box = $("my-share-words");
  box.replaceChildren(...state.mine.map((words) => el("p", { className: "words", textContent: words })));
  const holder = state.pkg.manifest.holder?.name ?? "holder";
  $("save-my-share").replaceChildren(download(`share-${holder}.txt`, new TextEncoder().encode(body), "text/plain"));
  $("my-share").hidden = false;
}

// -- step 3: the other holders' shares ---------------------------------------------------------

function known() {
  return [...state.mine.map((words, i) => ({ words, label: t("label.mine", { n: i + 1 }) })), ...state.others];
}

function addShare(words, label) {
  const normal = wordsOf(words).join(" ");
  const share = decodeShare(normal);
  const same = known().find((k) => wordsOf(k.words).join(" ") === normal);
  if (same) throw new ShareError("duplicate", { other: same.label });
  const first = known()[0];
  if (first && decodeShare(first.words).identifier !== share.identifier) throw new ShareError("mismatch");
  state.others.push({ words: normal, label });
}

function checkWords() {
  const words = wordsOf($("share-words").value);
  if (words.length === 0) return say("word-check", "");
  const wrong = words.map((w, i) => [w, i + 1]).filter(([w]) => !isWord(w));
  if (wrong.length) {
    return say("word-check", wrong.map(([w, i]) => t("share.word-typed", { position: i, word: w })).join(" "),
      "error");
  }
  say("word-check", t("share.count", { count: words.length }), "info");
}

function addTyped() {
  const text = $("share-words").value;
  const label = t("label.typed", { n: state.others.length + 1 });
  try {
    if (!wordsOf(text).length) throw new ShareError("length", { count: 0 });
    addShare(text, label);
    $("share-words").value = "";
    say("word-check", "");
    say("others-status", t("share.added", { label }), "ok");
  } catch (error) {
    say("others-status", shareMessage(error, label), "error");
  }
  renderShares();
}

async function addFiles(event) {
  const messages = [];
  let kind = "ok";
  for (const file of event.target.files) {
    const lines = mnemonicsIn(await file.text());
    if (lines.length === 0) {
      messages.push(t("share.empty-file", { name: file.name }));
      kind = "error";
    }
    lines.forEach((words, i) => {
      const label = t("label.file", { name: file.name, n: i + 1 });
      try {
        addShare(words, label);
        messages.push(t("share.added", { label }));
      } catch (error) {
        messages.push(shareMessage(error, label));
        kind = "error";
      }
    });
  }
  event.target.value = "";
  say("others-status", messages.join(" "), kind);
  renderShares();
}

function renderShares() {
  const items = known().map((k, i) => {
    const item = el("li", {}, k.label);
    if (i >= state.mine.length) {
      const index = i - state.mine.length;
      item.append(" ", el("button", { type: "button", className: "small", textContent: t("remove"),
        onclick: () => { state.others.splice(index, 1); renderShares(); } }));
    }
    return item;
  });
  $("shares-list").replaceChildren(...items);
  $("shares-count").textContent = t("shares.count", { count: items.length });
}

// -- step 4: combine and open --------------------------------------------------------------------

async function openVault() {
  $("vault").replaceChildren();
  state.urls.forEach((url) => URL.revokeObjectURL(url));
  state.urls = [];
  const all = known();
  if (all.length === 0) return say("vault-status", t("share.too-few", { need: "?", have: 0 }), "error");
  say("vault-status", t("vault.combining"));
  await paint();
  let master;
  try {
    master = combineAny(all.map((k) => k.words)); // no SLIP-39 passphrase: Baton's splits use none
  } catch (error) {
    return say("vault-status", shareMessage(error, ""), "error");
  }
  try {
    const m = state.pkg.manifest;
    say("vault-status", t("vault.release-key"));
    await paint();
    const releaseName = fileWithRole(m, "release-key");
    const releaseBytes = new Uint8Array(await state.pkg.files.get(releaseName).arrayBuffer());
    const releaseKey = new TextDecoder().decode(await decrypt(releaseBytes, { passphrase: bytesToHex(master),
      what: releaseName }));
    const compartmentName = fileWithRole(m, "compartment");
    const blob = state.pkg.files.get(compartmentName);
    const plain = await decryptBlob(blob, { identities: identitiesIn(releaseKey), what: compartmentName,
      progress: (done, total) => say("vault-status", t("vault.progress", { percent: Math.floor(100 * done / total) })) });
    await showCompartment(m.compartment, plain);
    say("vault-status", t("vault.opened", { name: m.compartment }), "ok");
  } catch (error) {
    say("vault-status", error instanceof KeyError && error.code === "wrong-key" ? t("vault.wrong-master")
      : keyMessage(error), "error");
  }
}

function fieldLabel(name) {
  return TEXTS[`field.${name}`] ?? name.replace(/_/g, " ");
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el("textarea", { value: text });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = t("copied");
  setTimeout(() => { button.textContent = t("copy"); }, 2000);
}

async function showCompartment(name, plain) {
  const members = listZip(plain);
  const byName = new Map(members.map((member) => [member.name, member]));
  const doc = JSON.parse(new TextDecoder().decode(await readMember(plain, byName.get("vault.json"))));
  const cards = [];
  for (const entry of doc.entries ?? []) {
    const rows = el("dl");
    for (const [field, value] of Object.entries(entry.fields ?? {})) {
      if (!value || (entry.kind === "file" && field === "filename")) continue;
      const button = el("button", { type: "button", className: "small", textContent: t("copy") });
      button.setAttribute("aria-label", t("copy-field", { field: fieldLabel(field), title: entry.title }));
      button.onclick = () => copy(value, button);
      rows.append(el("dt", { textContent: fieldLabel(field) }),
        el("dd", {}, el(value.includes("\n") ? "pre" : "code", { textContent: value }), " ", button));
    }
    const card = el("article", { className: "card" }, el("h3", { textContent: entry.title }),
      el("p", { className: "kind", textContent: `${TEXTS[`kind.${entry.kind}`] ?? entry.kind} · ${entry.updated_at}` }),
      rows);
    if (entry.kind === "file" && byName.has(entry.file)) {
      card.append(el("p", {}, download(entry.fields.filename, await readMember(plain, byName.get(entry.file)))));
    }
    cards.push(card);
  }
  $("vault").replaceChildren(el("h2", { textContent: t("vault.heading", { name }) }), ...cards,
    el("p", { textContent: t("vault.whole") }), el("p", {}, download(`${name}.zip`, plain, "application/zip")));
  $("vault").hidden = false;
}

export function start() {
  TEXTS = JSON.parse($("texts").textContent);
  $("pick-files").addEventListener("change", pickPackage);
  $("pick-folder").addEventListener("change", pickPackage);
  $("compare-fp").addEventListener("input", compareFingerprint);
  $("open-share").addEventListener("click", openMyShare);
  $("other-files").addEventListener("change", addFiles);
  $("share-words").addEventListener("input", checkWords);
  $("add-share").addEventListener("click", addTyped);
  $("open-vault").addEventListener("click", openVault);
  $("no-script").hidden = true;
  $("steps").hidden = false;
}
