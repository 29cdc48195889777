// MathJax 3 configuration for pymdownx.arithmatex (generic mode): typeset only the
// math that arithmatex marked; MathJax typesets the first page by itself, and this
// typesets again after each page that Material loads without a reload (instant
// navigation). Re-typesetting the first page while MathJax starts up leaves the
// glyphs without their CSS (invisible math), hence the skipped first emission.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

if (typeof document$ !== "undefined") {
  let firstPage = true;
  document$.subscribe(() => {
    if (firstPage) {
      firstPage = false;
      return;
    }
    if (window.MathJax && MathJax.typesetPromise) {
      MathJax.startup.output.clearCache();
      MathJax.typesetClear();
      MathJax.texReset();
      MathJax.typesetPromise();
    }
  });
}
