// The page's own behaviour, on top of what Gradio draws. Everything is event
// delegation on the document, so it works whatever Gradio has rendered so far
// and for elements it draws later (each new answer, each compare table).
(() => {
  "use strict";
  let tip = null;

  function tipBox() {
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "ra-tip";
      tip.setAttribute("role", "tooltip");
      tip.hidden = true;
      document.body.appendChild(tip);
    }
    return tip;
  }

  // The chat's [n] links carry their tooltip in `title`; it is moved to a
  // property so the browser's own tooltip does not show it a second time.
  function tipText(link) {
    if (link.title) {
      link._raTip = link.title;
      link.removeAttribute("title");
      link.setAttribute("aria-describedby", "ra-tip");
    }
    return link._raTip || "";
  }

  function showTip(link) {
    const text = tipText(link);
    if (!text) return;
    const box = tipBox();
    box.textContent = text;
    box.hidden = false;
    const r = link.getBoundingClientRect();
    const w = Math.min(360, window.innerWidth - 16);
    box.style.maxWidth = w + "px";
    const left = Math.max(8, Math.min(r.left, window.innerWidth - w - 8));
    box.style.left = left + "px";
    const below = r.bottom + 6;
    box.style.top = below + "px";
    const h = box.getBoundingClientRect().height;
    if (below + h > window.innerHeight - 8 && r.top - h - 6 > 8) {
      box.style.top = (r.top - h - 6) + "px";
    }
  }

  function hideTip() {
    if (tip) tip.hidden = true;
  }

  function openSource(id) {
    const card = document.getElementById(id);
    if (!card) return false;
    // An answer's passages not quoted in it sit in a folded group.
    const group = card.parentElement && card.parentElement.closest("details");
    if (group) group.open = true;
    card.open = true;
    card.scrollIntoView({ behavior: "smooth", block: "start" });
    const summary = card.querySelector("summary");
    if (summary) summary.focus({ preventScroll: true });
    card.classList.add("ra-flash");
    setTimeout(() => card.classList.remove("ra-flash"), 1600);
    return true;
  }

  // Wait (without a fixed delay) for the sources of another answer to be drawn.
  function openWhenShown(id, deadline) {
    if (openSource(id)) return;
    if (Date.now() > deadline) return;
    requestAnimationFrame(() => setTimeout(() => openWhenShown(id, deadline), 50));
  }

  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("a.ra-cite-link");
    if (!link) return;
    e.preventDefault();
    hideTip();
    const id = decodeURIComponent((link.getAttribute("href") || "").slice(1));
    if (document.getElementById(id)) {
      // This answer's sources are already shown: no need to select it again.
      e.stopPropagation();
      openSource(id);
    } else {
      // The click also reaches the chat message, which selects that answer and
      // draws its sources; the card opens once it is there.
      openWhenShown(id, Date.now() + 15000);
    }
  }, true);

  for (const [on, off] of [["mouseover", "mouseout"], ["focusin", "focusout"]]) {
    document.addEventListener(on, (e) => {
      const link = e.target.closest && e.target.closest("a.ra-cite-link");
      if (link) showTip(link);
    });
    document.addEventListener(off, (e) => {
      const link = e.target.closest && e.target.closest("a.ra-cite-link");
      if (link) hideTip();
    });
  }
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hideTip(); });
  window.addEventListener("scroll", hideTip, true);
})();
