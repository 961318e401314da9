// HydraCore console: small enhancements only. Every page works without this script
// (forms post and the server answers); with it, keys copy to the clipboard, scope
// presets tick their boxes as they are chosen, and the tenant switcher submits itself.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copy + "-status");
  if (!source) return;
  const text = (source.value !== undefined ? source.value : source.textContent).trim();
  try {
    await navigator.clipboard.writeText(text);
    if (status) status.textContent = "Copied to the clipboard";
  } catch (_) {
    // No clipboard (an insecure origin, or permission refused): select the text so
    // the person can copy it by hand.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (status) status.textContent = "Selected: press Ctrl+C (or ⌘C) to copy";
  }
});

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.matches("select[data-preset]")) {
    const option = target.selectedOptions[0];
    if (!option || option.dataset.scopes === undefined) return;
    const wanted = new Set(option.dataset.scopes.split(" ").filter(Boolean));
    for (const box of target.form.querySelectorAll('input[type="checkbox"][name="scopes"]')) {
      if (!box.disabled) box.checked = wanted.has(box.value);
    }
    return;
  }
  if (target.matches('input[type="checkbox"][name="scopes"]')) {
    const preset = target.form.querySelector("select[data-preset]");
    if (preset) preset.value = "custom";
    return;
  }
  if (target.matches("[data-autosubmit]") && target.form) {
    target.form.requestSubmit();
  }
});
