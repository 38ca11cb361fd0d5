import { describe, expect, it } from "vitest";
import { VIEWS } from "../src/ctx";
import { $, $$, fixtures, flush, mount } from "./fake";

/** Opens every screen once, so everything is rendered. */
async function everything() {
  const m = await mount(fixtures({ export_report: () => "/tmp/x.csv" }));
  for (const v of VIEWS) {
    $(`nav button[data-view="${v}"]`).click();
    await flush();
  }
  return m;
}

describe("the window as a whole", () => {
  it("shows one screen at a time, the nav saying which", async () => {
    await mount();
    for (const v of VIEWS) {
      $(`nav button[data-view="${v}"]`).click();
      await flush();
      expect($$("section.view").filter((s) => !s.hidden).map((s) => s.id)).toEqual([`view-${v}`]);
      expect($$("nav button[aria-current=page]").map((b) => b.dataset.view)).toEqual([v]);
    }
  });

  it("gives every control a name", async () => {
    await everything();
    for (const c of $$<HTMLElement>("input, select, textarea, button")) {
      const named =
        (c.id && document.querySelector(`label[for="${c.id}"]`)?.textContent?.trim()) ||
        c.getAttribute("aria-label") ||
        (c.tagName === "BUTTON" && c.textContent?.trim());
      expect(named, c.outerHTML).toBeTruthy();
    }
  });

  it("uses no inline styles or scripts (the CSP forbids them)", async () => {
    await everything();
    expect($$("[style]")).toEqual([]);
    expect($$("style, script")).toEqual([]);
    // Ids are unique, so labels and descriptions point at the right element.
    const ids = $$("[id]").map((e) => e.id);
    expect(ids.length).toBe(new Set(ids).size);
  });
});
