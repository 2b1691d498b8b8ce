// Progressive enhancement of the upload form: many files, real progress, live status.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("file-input");
  const list = document.getElementById("uploads");
  const maxBytes = Number(form.dataset.maxBytes);
  const types = form.dataset.types.split(",");
  const CONCURRENCY = 3;
  const waiting = [];
  let running = 0;

  document.getElementById("upload-button").hidden = true;
  form.tabIndex = 0;
  form.setAttribute("role", "button");
  form.setAttribute("aria-label", "Choose images to upload, or drop them here");
  form.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target === form) { event.preventDefault(); input.click(); }
  });
  input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((name) => form.addEventListener(name, (event) => { event.preventDefault(); form.classList.add("dragging"); }));
  ["dragleave", "drop"].forEach((name) => form.addEventListener(name, () => form.classList.remove("dragging")));
  form.addEventListener("drop", (event) => { event.preventDefault(); addFiles(event.dataTransfer.files); });
  form.addEventListener("submit", (event) => event.preventDefault());

  function addFiles(files) {
    for (const file of files) {
      const row = makeRow(file);
      const problem = refusal(file);
      if (problem) { setState(row, "failed", problem); continue; }
      waiting.push({ file, row });
    }
    pump();
  }

  function refusal(file) {
    if (file.size === 0) return "The file is empty.";
    if (file.size > maxBytes) return "The file is larger than the " + (maxBytes / 1048576).toFixed(1) + " MB limit.";
    if (file.type && !types.includes(file.type)) return "Only JPEG, PNG, WebP and GIF images are accepted.";
    return null;
  }

  function pump() {
    while (running < CONCURRENCY && waiting.length) {
      const next = waiting.shift();
      running += 1;
      upload(next.file, next.row).finally(() => { running -= 1; pump(); });
    }
  }

  function makeRow(file) {
    const row = document.createElement("li");
    row.className = "upload-row";
    row.innerHTML = '<img class="thumb" alt=""><div><div class="name"></div>' +
      '<progress max="100" value="0"></progress><div class="state" role="status">waiting</div></div><div class="actions-cell"></div>';
    row.querySelector(".name").textContent = file.name;
    row.querySelector("progress").setAttribute("aria-label", "Upload progress of " + file.name);
    list.prepend(row);
    return row;
  }

  function setState(row, state, message) {
    const label = row.querySelector(".state");
    label.className = "state " + state;
    label.textContent = message || state;
    row.dataset.state = state;
  }

  function upload(file, row) {
    return new Promise((resolve) => {
      const body = new FormData();
      body.append("file", file, file.name);
      const request = new XMLHttpRequest();
      request.open("POST", "/api/images");
      request.responseType = "json";
      const bar = row.querySelector("progress");
      setState(row, "uploading", "uploading");
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
      });
      request.addEventListener("load", () => {
        const payload = request.response || {};
        if (request.status === 202) {
          bar.value = 100;
          follow(payload, row);
        } else {
          setState(row, "failed", (payload.error && payload.error.message) || "Upload failed (" + request.status + ").");
        }
        resolve();
      });
      request.addEventListener("error", () => { setState(row, "failed", "Network error: the upload did not reach the server."); resolve(); });
      request.send(body);
    });
  }

  async function follow(image, row) {
    row.dataset.imageId = image.id;
    let status = image.status;
    show(image, row);
    while (status !== "done" && status !== "failed") {
      try {
        const response = await fetch("/api/images/" + image.id + "?wait=25&status=" + status, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(String(response.status));
        image = await response.json();
        status = image.status;
        show(image, row);
      } catch (error) {
        await new Promise((done) => setTimeout(done, 2000));
      }
    }
  }

  function show(image, row) {
    const link = '<a href="/images/' + image.id + '">details</a>';
    const actions = row.querySelector(".actions-cell");
    actions.innerHTML = link;
    if (image.status === "done") {
      const thumb = image.variants.thumb || Object.values(image.variants)[0];
      if (thumb) { const img = row.querySelector(".thumb"); img.src = thumb.url; img.alt = image.filename; }
      setState(row, "done", "done");
    } else if (image.status === "failed") {
      setState(row, "failed", (image.error && image.error.message) || "Processing failed.");
      const retry = document.createElement("button");
      retry.className = "button secondary";
      retry.type = "button";
      retry.textContent = "Retry";
      retry.addEventListener("click", async () => {
        const response = await fetch("/api/images/" + image.id + "/retry", { method: "POST" });
        if (response.status === 202) { retry.remove(); follow(await response.json(), row); }
      });
      actions.prepend(retry);
    } else {
      setState(row, image.status, image.status === "queued" ? "queued for processing" : image.status);
    }
  }
})();
