// The gallery: tiles in the server's order (newest first: created_at, then id), live as after a reload; each
// picture offered at every fitted width with the tile's `sizes`; "Load more" without leaving the page.
(function () {
  "use strict";
  const gallery = document.getElementById("gallery-list");
  const template = document.getElementById("tile-template");
  const tokenTag = document.querySelector('meta[name="pixline-page-token"]');
  // The tile's `sizes`, as the server writes them (app/web/pages.py TILE_SIZES), and the tile's shape (app.css).
  const tileSizes = JSON.parse(gallery.dataset.tileSizes || "[]");
  const TILE_ASPECT = 4 / 3;

  enhanceLoadMore();

  function makeTile(image) {
    const tile = template.content.firstElementChild.cloneNode(true);
    tile.dataset.imageId = image.id;
    tile.dataset.createdAt = image.created_at;
    tile.dataset.status = image.status;
    tile.querySelector("a").href = "/images/" + image.id;
    tile.querySelector(".tile-name").textContent = image.filename;
    const badge = tile.querySelector(".badge");
    badge.className = "badge badge-" + image.status;
    badge.textContent = image.status;
    const img = tile.querySelector("img");
    const thumb = image.variants.thumb;
    if (thumb) {
      img.width = thumb.width;
      img.height = thumb.height;
      window.PixlinePictures.showVariant(img, thumb, image.placeholder, image, sizesOfTile(image));
    } else {
      const placeholder = document.createElement("span");
      placeholder.className = "tile-placeholder";
      placeholder.setAttribute("aria-hidden", "true");
      img.replaceWith(placeholder);
    }
    return tile;
  }

  // As app/web/pages.py tile_sizes_of: the tile's width, times how much wider than 4:3 the picture is drawn.
  function sizesOfTile(image) {
    const factor = coverFactor(image, TILE_ASPECT);
    return tileSizes.map(([media, length]) => (media + " calc((" + length + ") * " + factor + ")").trim()).join(", ");
  }

  function coverFactor(image, boxAspect) {
    if (!image.width || !image.height) return 1;
    return Math.round(Math.max(1, image.width / image.height / boxAspect) * 1000) / 1000;
  }

  // A tile for every image the server lists, in the server's order, so the gallery reads the same live as after a
  // reload; a tile already there is replaced in place.
  function show(image) {
    const existing = tileOf(image.id);
    if (existing && existing.dataset.status === image.status) return;
    const tile = makeTile(image);
    if (existing) {
      existing.replaceWith(tile);
    } else {
      const older = Array.from(gallery.children).find((other) => isNewer(image, other.dataset));
      if (older) gallery.insertBefore(tile, older);
      else if (!document.getElementById("load-more")) gallery.append(tile);
      else return; // older than every tile shown, with more to load: "Load more" brings it in its place
    }
    document.getElementById("gallery-empty").hidden = true;
  }

  function isNewer(image, other) {
    if (image.created_at !== other.createdAt) return image.created_at > other.createdAt;
    return image.id > other.imageId;
  }

  function enhanceLoadMore() {
    const more = document.getElementById("load-more");
    if (!more) return;
    more.addEventListener("click", async (event) => {
      event.preventDefault();
      more.setAttribute("aria-disabled", "true");
      more.textContent = "Loading…";
      try {
        const query = "?limit=" + more.dataset.pageSize + "&cursor=" + encodeURIComponent(more.dataset.cursor);
        const headers = { Accept: "application/json" };
        if (tokenTag) headers.Authorization = "Bearer " + tokenTag.content;
        const response = await fetch("/api/images" + query, { headers: headers });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const page = await response.json();
        for (const image of page.items) {
          if (!tileOf(image.id)) gallery.append(makeTile(image));
        }
        document.getElementById("announcer").textContent = page.items.length + " more images loaded";
        if (page.next_cursor) {
          more.dataset.cursor = page.next_cursor;
          more.href = "/?cursor=" + encodeURIComponent(page.next_cursor) + "#gallery";
          more.textContent = "Load more";
          more.removeAttribute("aria-disabled");
        } else {
          more.parentElement.remove();
        }
      } catch (error) {
        more.textContent = "Could not load more; try again";
        more.removeAttribute("aria-disabled");
      }
    });
  }

  function tileOf(id) {
    return gallery.querySelector('[data-image-id="' + id + '"]');
  }

  window.PixlineGallery = {
    show: show,
    remove: (id) => { const tile = tileOf(id); if (tile) tile.remove(); },
    statusOf: (id) => { const tile = tileOf(id); return tile ? tile.dataset.status : null; },
    shown: () => Array.from(gallery.children, (tile) => ({ id: tile.dataset.imageId, status: tile.dataset.status })),
    coverFactor: coverFactor,
  };
})();
