// The upload page, enhanced: drop or pick many files, a real progress bar per file, live processing status
// through server-sent events (long-polls when those fail), thumbnails without a reload, Retry where it could help;
// the gallery's tiles (gallery.js) follow the same stream. Without JavaScript it is a plain form.
(function () {
  "use strict";
  // The JSON API takes this page's short-lived token of the browser's owner, sent as Bearer; never the cookie.
  const tokenTag = document.querySelector('meta[name="pixline-page-token"]');
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("file-input");
  const list = document.getElementById("uploads");
  const summary = document.getElementById("upload-summary");
  const announcer = document.getElementById("announcer");
  const rowTemplate = document.getElementById("upload-row-template");
  const gallery = window.PixlineGallery;
  // The detail page's sentence per failure code and whether a retry could help (app/web/failures.py).
  const failures = JSON.parse(list.dataset.failures || "{}");
  const ROW_THUMB = 56; // px, square (app.css .upload-thumb)
  // PAGE_UPLOADS=off: no form, only the gallery is enhanced.
  const maxBytes = form ? Number(form.dataset.maxBytes) : 0;
  const types = form ? form.dataset.types.split(",") : [];
  const direct = form ? form.dataset.directUploads === "1" : false;
  const CONCURRENCY = 3;
  const POLL_SECONDS = 25;
  const MAX_STREAM_IDS = 100; // the server's cap on ?ids= of /api/events
  const followed = new Map(); // image id -> its row (null: a gallery tile alone), for what the event stream follows
  let stream = null;
  let streamGeneration = 0; // each openStream call's number: only the latest opens a stream
  let streamUsable = typeof window.EventSource === "function";
  const waiting = [];
  let running = 0;

  document.documentElement.classList.add("js");
  if (form) enhanceDropZone();
  followGallery();

  function apiHeaders(extra) {
    const headers = Object.assign({ Accept: "application/json" }, extra);
    if (tokenTag) headers.Authorization = "Bearer " + tokenTag.content;
    return headers;
  }

  function enhanceDropZone() {
    zone.tabIndex = 0;
    zone.setAttribute("role", "button");
    zone.setAttribute("aria-label", "Choose images to upload, or drop them here");
    zone.setAttribute("aria-describedby", "upload-limits");
    input.tabIndex = -1; // the drop zone is the keyboard stop; the input stays for the picker and the no-JS form
    zone.addEventListener("click", (event) => {
      if (event.target !== input && !event.target.closest("label")) input.click();
    });
    zone.addEventListener("keydown", (event) => {
      if (event.target === zone && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        input.click();
      }
    });
    input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
    ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    }));
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      addFiles(event.dataTransfer.files);
    });
    // A file dropped beside the zone must not make the browser navigate away from the page.
    ["dragover", "drop"].forEach((name) => window.addEventListener(name, (event) => event.preventDefault()));
    form.addEventListener("submit", (event) => event.preventDefault());
  }

  function addFiles(files) {
    for (const file of files) {
      const row = makeRow(file);
      const problem = refusal(file);
      if (problem) {
        setState(row, "failed", problem);
        continue;
      }
      waiting.push({ file, row });
    }
    pump();
  }

  function refusal(file) {
    if (file.size === 0) return "This file is empty.";
    if (file.size > maxBytes) return "This file is " + filesize(file.size) + "; the limit is " + filesize(maxBytes) + ".";
    // Browsers know no MIME type for some formats (HEIC on most systems): the server decides those.
    if (file.type && !types.includes(file.type)) return "This is not a " + form.dataset.typeNames + " image.";
    return null;
  }

  function pump() {
    while (running < CONCURRENCY && waiting.length) {
      const next = waiting.shift();
      running += 1;
      (direct ? uploadDirect : upload)(next.file, next.row).finally(() => { running -= 1; pump(); });
    }
    updateSummary();
  }

  function makeRow(file) {
    const row = rowTemplate.content.firstElementChild.cloneNode(true);
    row.querySelector(".upload-name").textContent = file.name;
    row.querySelector(".upload-name").title = file.name;
    row.querySelector(".upload-size").textContent = filesize(file.size);
    row.querySelector("progress").setAttribute("aria-label", "Upload progress of " + file.name);
    row.dataset.name = file.name;
    if (types.includes(file.type) && file.size <= maxBytes) {
      const thumb = row.querySelector(".thumb");
      thumb.src = URL.createObjectURL(file);
      thumb.hidden = false;
    }
    list.prepend(row);
    return row;
  }

  // The badge says the state; the message says what it means for this file (never the state again).
  function setState(row, state, message, failure) {
    const badge = row.querySelector(".state");
    badge.className = "badge state badge-" + state;
    badge.textContent = state;
    row.querySelector(".upload-message").textContent = message;
    const detail = row.querySelector(".failure-detail");
    detail.hidden = !(failure && failure.detail);
    if (failure && failure.detail) {
      detail.querySelector(".failure-code").textContent = failure.code;
      detail.querySelector(".failure-text").textContent = failure.detail;
    }
    const changed = row.dataset.state !== state;
    row.dataset.state = state;
    if (changed && state !== "uploading") announce(row.dataset.name + ": " + state + (state === "failed" ? ". " + message : ""));
    updateSummary();
  }

  // The row's bar and message follow the bytes sent (real XHR upload progress, not a spinner).
  function showProgress(request, row, bar) {
    setState(row, "uploading", "0% sent");
    request.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      bar.value = Math.round((event.loaded / event.total) * 100);
      row.querySelector(".upload-message").textContent = bar.value + "% sent";
    });
  }

  // The file itself is the body (a raw-body upload: no multipart to build or parse); its name rides in a header.
  function upload(file, row) {
    return new Promise((resolve) => {
      const request = new XMLHttpRequest();
      const bar = row.querySelector("progress");
      request.open("POST", "/api/images");
      request.responseType = "json";
      for (const [name, value] of Object.entries(apiHeaders())) request.setRequestHeader(name, value);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("Content-Type", file.type.startsWith("image/") ? file.type : "application/octet-stream");
      request.setRequestHeader("X-Filename", encodeURIComponent(file.name));
      showProgress(request, row, bar);
      request.addEventListener("load", () => {
        bar.value = 100;
        if (request.status === 202) {
          follow(request.response, row);
        } else {
          refused(row, request.response, request.status);
        }
        resolve();
      });
      request.addEventListener("error", () => {
        setState(row, "failed", "The upload did not reach the server; check your connection.");
        resolve();
      });
      request.send(file);
    });
  }

  // --- direct uploads (DIRECT_UPLOADS=1): presigned POST straight to the bucket, then complete ----------

  async function uploadDirect(file, row) {
    try {
      const start = await postJson("/api/uploads", { filename: file.name, content_type: file.type, bytes: file.size });
      if (start.status === 409) return upload(file, row); // the storage is not a bucket after all: go through the server
      if (start.status !== 201) return refused(row, start.payload, start.status);
      row.dataset.imageId = start.payload.id;
      await sendToBucket(file, row, start.payload.upload);
      const done = await postJson(start.payload.complete_url);
      if (done.status === 202) follow(done.payload, row);
      else refused(row, done.payload, done.status);
    } catch (error) {
      setState(row, "failed", error.message || "The upload did not reach the server; check your connection.");
    }
  }

  function sendToBucket(file, row, target) {
    return new Promise((resolve, reject) => {
      const body = new FormData();
      for (const [name, value] of Object.entries(target.fields)) body.append(name, value);
      body.append("file", file, file.name); // last: the storage ignores fields that follow the file
      const request = new XMLHttpRequest();
      const bar = row.querySelector("progress");
      request.open(target.method, target.url);
      showProgress(request, row, bar);
      request.addEventListener("load", () => {
        if (request.status >= 200 && request.status < 300) { bar.value = 100; resolve(); }
        else reject(new Error("The storage refused this file (HTTP " + request.status + ")."));
      });
      request.addEventListener("error", () => reject(new Error("The file did not reach the storage; check your connection.")));
      request.send(body);
    });
  }

  async function postJson(url, payload) {
    const headers = apiHeaders(payload === undefined ? {} : { "Content-Type": "application/json" });
    const response = await fetch(url, { method: "POST", headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
    return { status: response.status, payload: await response.json().catch(() => null) };
  }

  function errorMessage(payload, status) {
    // A tab open past its page token's day: a reload hands out a fresh one.
    if (status === 401) return "This page has been open too long; reload it and try again.";
    if (payload && payload.error && payload.error.message) return payload.error.message;
    if (status === 413) return "This file is larger than the server accepts.";
    return "The server could not take this file (HTTP " + status + ").";
  }

  // The server refused the file: its sentence for the code (the server's words as the detail), else its words.
  function refused(row, payload, status) {
    const error = payload && payload.error;
    if (status !== 401 && error && failures[error.code]) {
      const failure = describe(error);
      setState(row, "failed", failure.sentence, failure);
    } else {
      setState(row, "failed", errorMessage(payload, status));
    }
  }

  // A failure as a person reads it: the sentence of its code, the recorded message kept as the detail.
  function describe(error) {
    const code = (error && error.code) || "processing_error";
    const text = failures[code] || failures[""] || { sentence: "Processing failed.", retryable: true };
    const message = error && error.message;
    return { code: code, sentence: text.sentence, detail: message && message !== text.sentence ? message : null,
             retryable: text.retryable };
  }

  // Tiles of images still being processed follow their status too, so the gallery never needs a reload.
  function followGallery() {
    if (!tokenTag) return;
    for (const image of gallery.shown()) {
      if (isFinished(image) || followed.size >= MAX_STREAM_IDS) continue;
      if (streamUsable) followed.set(image.id, null);
      else longPoll(image, null);
    }
    openStream();
  }

  // Every row being processed is followed over one EventSource (/api/events?ids=…, reopened when rows come and
  // go); if the browser cannot keep that stream open, each row falls back to the long-poll API.
  function follow(image, row) {
    row.dataset.imageId = image.id;
    show(image, row);
    if (isFinished(image)) return;
    if (!streamUsable || followed.size >= MAX_STREAM_IDS) { longPoll(image, row); return; }
    followed.set(image.id, row);
    openStream();
  }

  function isFinished(image) {
    return image.status === "done" || image.status === "failed";
  }

  async function openStream() {
    const generation = ++streamGeneration;
    if (stream) stream.close();
    stream = null;
    if (!followed.size) return;
    // EventSource sends no headers: a stream token (read-only, minutes long) rides in the URL, never the page token.
    const minted = await postJson("/api/events/token").catch(() => ({ status: 0 }));
    if (generation !== streamGeneration) return; // rows came or went meanwhile: a newer call opens the stream
    if (minted.status !== 200 || !minted.payload) { fallBack(); return; }
    const url = "/api/events?ids=" + encodeURIComponent(Array.from(followed.keys()).join(","));
    const source = new EventSource(url + "&access_token=" + encodeURIComponent(minted.payload.token));
    stream = source;
    let failures = 0;
    let opened = false;
    source.addEventListener("open", () => { failures = 0; opened = true; });
    source.addEventListener("status", (message) => {
      const change = JSON.parse(message.data);
      if (!followed.has(change.image_id)) return;
      show(change.image, followed.get(change.image_id));
      if (isFinished(change.image)) {
        followed.delete(change.image_id);
        if (!followed.size) openStream(); // closes it
      }
    });
    source.addEventListener("error", () => {
      // The browser retries a dropped stream by itself (with Last-Event-ID). An HTTP error ends it: after a stream
      // that worked, its token has most likely expired, so a fresh one opens it again; otherwise, or after a stream
      // that failed twice in a row, each row falls back to long-polls.
      failures += 1;
      if (source !== stream) return;
      if (source.readyState === EventSource.CLOSED && opened) openStream();
      else if (source.readyState === EventSource.CLOSED || failures >= 2) fallBack();
    });
  }

  function fallBack() {
    streamUsable = false;
    if (stream) stream.close();
    stream = null;
    const rows = Array.from(followed.entries());
    followed.clear();
    rows.forEach(([id, row]) => longPoll({ id: id, status: (row ? row.dataset.state : gallery.statusOf(id)) || "queued" }, row));
  }

  async function longPoll(image, row) {
    while (!isFinished(image)) {
      try {
        const url = "/api/images/" + image.id + "?wait=" + POLL_SECONDS + "&status=" + image.status;
        const response = await fetch(url, { headers: apiHeaders() });
        if (response.status === 404) { gone(image.id, row); return; }
        if (response.status === 401) { if (row) setState(row, image.status, errorMessage(null, 401)); return; }
        if (!response.ok) throw new Error("HTTP " + response.status);
        image = await response.json();
        show(image, row);
      } catch (error) {
        // The server restarting or a network blip: try again in a moment rather than give up.
        await new Promise((done) => setTimeout(done, 2000));
      }
    }
  }

  function gone(id, row) {
    gallery.remove(id);
    if (row) setState(row, "failed", "This image was deleted.");
  }

  function show(image, row) {
    if (!row) { gallery.show(image); return; }
    const view = row.querySelector(".view");
    view.href = "/images/" + image.id;
    view.hidden = false;
    view.setAttribute("aria-label", "View " + image.filename);
    const retry = row.querySelector(".retry");
    const failure = image.status === "failed" ? describe(image.error) : null;
    // Only where processing again could succeed: a damaged file fails the same way every time.
    retry.hidden = !(failure && failure.retryable);
    gallery.show(image);
    if (image.status === "done") {
      showThumbnail(image, row);
      const count = Object.keys(image.variants).length;
      setState(row, "done", image.width + " × " + image.height + " px · " + count + (count === 1 ? " size" : " sizes"));
    } else if (failure) {
      setState(row, "failed", failure.sentence, failure);
      retry.onclick = () => retryImage(image, row);
    } else if (image.status === "processing") {
      setState(row, "processing", "Making sizes…");
    } else {
      setState(row, "queued", image.attempts ? "Waiting to try again…" : "Uploaded · waiting for a worker");
    }
  }

  function showThumbnail(image, row) {
    const thumb = image.variants.thumb || Object.values(image.variants)[0];
    if (!thumb) return;
    const img = row.querySelector(".thumb");
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    const sizes = "calc(" + ROW_THUMB + "px * " + gallery.coverFactor(image, 1) + ")";
    window.PixlinePictures.showVariant(img, thumb, image.placeholder, image, sizes);
    img.alt = "Thumbnail of " + image.filename;
    img.hidden = false;
  }

  async function retryImage(image, row) {
    const retry = row.querySelector(".retry");
    retry.disabled = true;
    try {
      const response = await fetch("/api/images/" + image.id + "/retry", { method: "POST", headers: apiHeaders() });
      const payload = await response.json().catch(() => null);
      if (response.status === 202) follow(payload, row);
      else refused(row, payload, response.status);
    } catch (error) {
      setState(row, "failed", "The retry did not reach the server; check your connection.", describe(image.error));
    } finally {
      retry.disabled = false;
    }
  }

  function updateSummary() {
    const rows = Array.from(list.children);
    if (!rows.length) return;
    const count = (state) => rows.filter((row) => row.dataset.state === state).length;
    const parts = [count("done") + " of " + rows.length + " done"];
    const active = count("uploading") + count("waiting");
    const processing = count("queued") + count("processing");
    if (active) parts.push(active + " uploading");
    if (processing) parts.push(processing + " processing");
    if (count("failed")) parts.push(count("failed") + " failed");
    summary.textContent = parts.join(" · ");
    summary.hidden = false;
  }

  function announce(text) {
    announcer.textContent = text;
  }

  // Binary units (1 KiB = 1024 B, as the README states limits), in integer tenths rounded half up: the same text as
  // app/web/sizes.py filesize.
  function filesize(count) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    if (count < 1024) return count + " B";
    const tenths = (unit) => Math.floor((count * 10 + Math.floor(unit / 2)) / unit);
    let exponent = 1;
    while (exponent < units.length - 1 && tenths(1024 ** exponent) >= 10240) exponent += 1;
    const rounded = tenths(1024 ** exponent);
    const whole = Math.floor(rounded / 10), tenth = rounded % 10;
    return (tenth === 0 ? String(whole) : whole + "." + tenth) + " " + units[exponent];
  }
})();
