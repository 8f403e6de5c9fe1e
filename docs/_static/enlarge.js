// Click-to-enlarge: every figure on a page links to its largest image file
// (the 2x version where the page offers one), unless it already links
// somewhere. Figures are the images of figure directives and the recipes'
// plots; the gallery's thumbnails keep their own links. Loaded from the
// build itself; it fetches nothing.
const FIGURES = "article figure img, article img.sphx-glr-single-img, article img.sphx-glr-multi-img";
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll(FIGURES)) {
    if (img.closest("a") || img.closest(".sphx-glr-thumbcontainer")) {
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
    link.className = "minuet-enlarge";
    link.title = "Open the image at full size";
    img.replaceWith(link);
    link.appendChild(img);
  }
});
