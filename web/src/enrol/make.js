// "Make a key for me": an age X25519 key made in the holder's browser. The secret key is saved as a
// file and/or printed on a key card, and only the public key (age1…) goes into the enrolment form.
// The form cannot be sent until the holder confirms they saved the key, which they can only do after
// saving the file or printing the card.
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import qrcode from "qrcode-generator";
import { reveal, save, say, words } from "./keys.js";

function qrImage(text) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  return qr.createDataURL(6, 8);
}

export function start() {
  const make = document.getElementById("make-key");
  if (!make) return;
  reveal();
  const said = words();
  const recipient = document.getElementById("recipient");
  const form = recipient.form;
  const made = document.getElementById("made");
  const saved = document.getElementById("saved");
  const status = document.getElementById("make-status");
  const card = document.getElementById("keycard");
  let secret = null;
  let publicKey = null;

  function savedSomewhere() {
    saved.disabled = false;
    saved.required = true;
    document.getElementById("saved-hint").hidden = true;
  }

  make.addEventListener("click", async () => {
    make.disabled = true;
    try {
      secret = await generateX25519Identity();
      publicKey = await identityToRecipient(secret);
    } catch (e) {
      make.disabled = false;
      say(status, said.make_failed, true);
      return;
    }
    recipient.value = publicKey;
    recipient.readOnly = true;
    document.getElementById("card-secret").textContent = secret;
    document.getElementById("card-public").textContent = publicKey;
    document.getElementById("card-qr").src = qrImage(secret);
    made.hidden = false;
    make.hidden = true;
    say(status, said.made, false);
    document.getElementById("save-key").focus();
  });

  document.getElementById("save-key").addEventListener("click", () => {
    const created = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const text = said.file_comment.split("\n").map((line) => `# ${line}`).join("\n") +
      `\n# created: ${created}\n# public key: ${publicKey}\n${secret}\n`;
    save(card.dataset.file, text);
    savedSomewhere();
    say(status, said.file_saved, false);
  });

  document.getElementById("print-card").addEventListener("click", () => {
    document.body.classList.add("print-card");
    const done = () => document.body.classList.remove("print-card");
    window.addEventListener("afterprint", done, { once: true });
    window.print();
    savedSomewhere();
  });

  form.addEventListener("submit", (event) => {
    if (secret !== null && !saved.checked) {
      event.preventDefault();
      say(status, said.save_first, true);
      saved.focus();
    }
  });
}
