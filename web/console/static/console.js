// Patron console: progressive enhancement only (every page works without JavaScript).
//  - "Select all" ticks every review checkbox of the inbox form.
//  - j / k move the focus to the next / previous card; Enter in a card focuses its first control.
//  - a bulk action without any selection asks for one instead of posting.

const byName = (form, name) => [...form.querySelectorAll(`input[type=checkbox][name="${name}"]`)];

for (const all of document.querySelectorAll("[data-select-all]")) {
  all.addEventListener("change", () => {
    for (const box of byName(all.form, all.dataset.selectAll)) box.checked = all.checked;
  });
}

const inbox = document.getElementById("inbox");
if (inbox) {
  inbox.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (button && button.name === "bulk" && !byName(inbox, "ids").some((b) => b.checked)) {
      event.preventDefault();
      const all = document.getElementById("select-all");
      all.setCustomValidity(document.documentElement.lang === "ko" ? "리뷰를 하나 이상 선택하세요." : "Select at least one review.");
      all.reportValidity();
      all.addEventListener("change", () => all.setCustomValidity(""), { once: true });
    }
  });
}

const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || typing(document.activeElement)) return;
  const cards = [...document.querySelectorAll("[data-card]")];
  if (!cards.length) return;
  const current = cards.indexOf(document.activeElement.closest ? document.activeElement.closest("[data-card]") : null);
  if (event.key === "j" || event.key === "k") {
    const next = event.key === "j" ? Math.min(current + 1, cards.length - 1) : Math.max(current - 1, 0);
    cards[current === -1 ? 0 : next].focus();
    event.preventDefault();
  } else if (event.key === "Enter" && document.activeElement.matches("[data-card]")) {
    const control = document.activeElement.querySelector("input, select, textarea, button");
    if (control) { control.focus(); event.preventDefault(); }
  }
});
