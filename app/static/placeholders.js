// Placeholders while thumbnails load: the image's average colour and its tiny blurred WebP behind the <img>, set
// through element.style (the pages' CSP allows no inline styles) and from a blob: URL (img-src allows blob:, not
// data:). Each variant is offered in every stored format through <picture>, best first.
(function () {
  "use strict";

  function blobUrl(dataUri) {
    const match = /^data:(image\/[a-z]+);base64,([A-Za-z0-9+/=]+)$/.exec(dataUri || "");
    if (!match) return null;
    const bytes = Uint8Array.from(atob(match[2]), (c) => c.charCodeAt(0));
    return URL.createObjectURL(new Blob([bytes], { type: match[1] }));
  }

  // Show the placeholder behind img until it has loaded its own picture.
  function showPlaceholder(img, color, dataUri) {
    if (!color || (img.complete && img.naturalWidth)) return;
    img.style.backgroundColor = color;
    const url = blobUrl(dataUri);
    if (url) {
      img.style.backgroundImage = 'url("' + url + '")';
      img.style.backgroundSize = "cover";
    }
    img.dataset.placeholder = "shown";
    img.addEventListener("load", () => {
      img.style.backgroundImage = "";
      img.style.backgroundColor = "";
      img.dataset.placeholder = "done";
      if (url) URL.revokeObjectURL(url);
    }, { once: true });
  }

  // Put img inside a <picture> offering each of the variant's formats; img itself gets the most compatible one. A
  // fitted variant is offered at every fitted width (image.srcset, per format) with `sizes`, so the browser picks a
  // sharp one for the screen's density; a cover crop is its own picture and is offered alone.
  function showVariant(img, variant, placeholder, image, sizes) {
    const sources = variant.sources && variant.sources.length ? variant.sources : [{ url: variant.url }];
    const srcset = image && sizes && variant.mode === "fit" ? image.srcset || {} : {};
    let picture = img.parentElement.tagName === "PICTURE" ? img.parentElement : null;
    if (!picture) {
      picture = document.createElement("picture");
      img.replaceWith(picture);
      picture.append(img);
    }
    for (const old of picture.querySelectorAll("source")) old.remove();
    for (const source of sources.slice(0, -1)) {
      const element = document.createElement("source");
      element.type = source.content_type;
      if (srcset[source.format]) element.sizes = sizes;
      element.srcset = srcset[source.format] || source.url;
      picture.insertBefore(element, img);
    }
    if (placeholder) showPlaceholder(img, placeholder.color, placeholder.data_uri);
    const last = sources[sources.length - 1];
    if (srcset[last.format]) {
      img.sizes = sizes;
      img.srcset = srcset[last.format];
    } else {
      img.removeAttribute("srcset");
      img.removeAttribute("sizes");
    }
    img.src = last.url;
  }

  window.PixlinePictures = { showVariant, showPlaceholder };
  for (const img of document.querySelectorAll("img[data-placeholder-color]")) {
    showPlaceholder(img, img.dataset.placeholderColor, img.dataset.placeholderUri);
  }
})();
