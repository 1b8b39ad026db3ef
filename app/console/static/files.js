// Files in the console: dropped on or pasted into the composer, uploaded at once
// (POST /api/v1/attachments) and sent with the next reply; images on messages shown inline.
// The server judges each file's type by its bytes and answers 413/415 with a reason.

import { api, savedToken } from "./api.js";

const _ = (s, p) => window._(s, p);

export class ComposerFiles {
  constructor({ zone, list, onError }) {
    this.zone = zone; // the composer form: drop target and paste source
    this.list = list; // <ul> of chips
    this.onError = onError; // (message) => void
    this.files = []; // {id?, name, type, preview, uploading}
    zone.addEventListener("dragover", (e) => {
      if (![...(e.dataTransfer?.types || [])].includes("Files")) return;
      e.preventDefault();
      zone.classList.add("dropping");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dropping"));
    zone.addEventListener("drop", (e) => {
      zone.classList.remove("dropping");
      const files = [...(e.dataTransfer?.files || [])];
      if (!files.length) return;
      e.preventDefault();
      files.forEach((f) => this.add(f));
    });
    zone.addEventListener("paste", (e) => {
      const files = [...(e.clipboardData?.files || [])];
      if (!files.length) return; // plain text pastes as usual
      e.preventDefault();
      files.forEach((f) => this.add(f));
    });
  }

  get busy() {
    return this.files.some((f) => f.uploading);
  }

  ids() {
    return this.files.filter((f) => f.id).map((f) => f.id);
  }

  clear() {
    for (const f of this.files) if (f.preview) URL.revokeObjectURL(f.preview);
    this.files = [];
    this.render();
  }

  async add(file) {
    const item = {
      name: file.name || "file",
      image: file.type.startsWith("image/"),
      preview: file.type.startsWith("image/") ? URL.createObjectURL(file) : null,
      uploading: true,
    };
    this.files.push(item);
    this.render();
    try {
      const up = await upload(file);
      item.id = up.id;
      item.image = up.type === "image";
    } catch (ex) {
      this.files = this.files.filter((f) => f !== item);
      this.onError(_("{name} was not attached: {reason}", { name: item.name, reason: ex.message }));
    }
    item.uploading = false;
    this.render();
  }

  render() {
    this.list.hidden = !this.files.length;
    this.list.replaceChildren(
      ...this.files.map((f) => {
        const li = document.createElement("li");
        li.className = "file-chip";
        li.dataset.state = f.uploading ? "uploading" : "ready";
        if (f.image && f.preview) {
          const img = document.createElement("img");
          img.src = f.preview;
          img.alt = f.name;
          li.append(img);
        }
        const name = document.createElement("span");
        name.textContent = f.uploading ? _("Uploading {name}…", { name: f.name }) : f.name;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "btn btn-ghost";
        remove.textContent = "×";
        remove.setAttribute("aria-label", _("Remove {name}", { name: f.name }));
        remove.addEventListener("click", () => {
          this.files = this.files.filter((x) => x !== f);
          if (f.preview) URL.revokeObjectURL(f.preview);
          this.render();
        });
        li.append(name, remove);
        return li;
      })
    );
  }
}

async function upload(file) {
  const body = new FormData();
  body.append("file", file, file.name || "file");
  let res;
  try {
    res = await fetch("/api/v1/attachments", {
      method: "POST",
      headers: { Authorization: `Bearer ${savedToken()}` },
      body,
    });
  } catch {
    throw new Error(_("Cannot reach the server"));
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message || res.statusText);
  return data;
}

// An image a message carries, shown inline: fetched with the operator's token (an <img>
// cannot send it), then shown from memory.
export function inlineImage(messageId, index, a) {
  const img = document.createElement("img");
  img.className = "att-img";
  img.alt = a.filename || a.file_name || _("Image");
  api
    .attachment(messageId, index)
    .then((res) => res.blob())
    .then((blob) => {
      img.src = URL.createObjectURL(blob);
    })
    .catch(() => img.remove());
  return img;
}
