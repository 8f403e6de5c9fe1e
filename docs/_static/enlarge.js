// Click-to-enlarge: every figure on a page links to its largest image file
// (the 2x version where the page offers one), unless it already links
// somewhere. Loaded from the build itself; it fetches nothing.
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll("article img")) {
    if (img.closest("a")) {
      continue;
    }
    let href = img.getAttribute("src");
    const srcset = img.getAttribute("srcset");
    if (srcset) {
      let best = 0;
      for (const candidate of srcset.split(",")) {
        const [url, size] = candidate.trim().split(/\s+/);
        const factor = parseFloat(size || "1");
        if (url && factor > best) {
          best = factor;
          href = url;
        }
      }
    }
    const link = document.createElement("a");
    link.href = href;
    link.className = "reference internal image-reference minuet-enlarge";
    link.title = "Open the image at full size";
    img.replaceWith(link);
    link.appendChild(img);
  }
});
