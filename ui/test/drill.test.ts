import { describe, expect, it } from "vitest";
import type { Runbook } from "../src/ipc";
import { $, $$, T0, drill, fixtures, flush, mount, overview, type, type Handlers } from "./fake";

async function openDrill(over: Handlers = {}) {
  const m = await mount(fixtures(over));
  $('nav button[data-view="drill"]').click();
  await flush();
  return m;
}

describe("drill and runbook screen", () => {
  it("explains drills and lists past ones", async () => {
    const { ipc } = await openDrill({
      drills: () => [
        drill(1, { started_at_ms: T0 - 86_400_000, acked_at_ms: T0 - 86_400_000 + 45_000, ended_at_ms: T0 - 86_400_000 + 45_000 }),
        drill(2, { started_at_ms: T0 - 3600_000, ended_at_ms: T0 - 1800_000 }),
      ],
    });
    expect(ipc.argsOf("drills")).toEqual([{ days: 90 }]);
    expect($("#view-drill .intro").textContent).toContain("practice alarm");
    expect($$<HTMLOptionElement>("#drill-mailbox option").map((o) => o.value)).toEqual(["office", "sales"]);
    const rows = $$("table#drills tbody tr");
    expect(rows.map((r) => r.dataset.id)).toEqual(["2", "1"]); // newest first
    expect(rows[0].textContent).toContain("not acknowledged");
    expect(rows[1].textContent).toContain("after 45 s");
    expect($("#drill-active").hidden).toBe(true);
  });

  it("starts a drill, shows it with the runbook, and acknowledges it", async () => {
    const { ipc } = await openDrill({
      start_drill: ({ mailbox }) => drill(7, { mailbox }),
      ack_drill: ({ id }) => drill(id, { mailbox: "sales", acked_at_ms: T0 + 90_000, ended_at_ms: T0 + 90_000 }),
    });
    $<HTMLSelectElement>("#drill-mailbox").value = "sales";
    $("#drill-mailbox").dispatchEvent(new Event("change"));
    $("#start-drill").click();
    await flush();
    expect(ipc.argsOf("start_drill")).toEqual([{ mailbox: "sales" }]);
    const active = $("#drill-active");
    expect(active.hidden).toBe(false);
    expect(active.textContent).toContain("sales");
    expect(active.textContent).toContain("Ms Tanaka 03-1234-5678"); // what to do, from the runbook
    expect(document.activeElement).toBe($("#ack-drill"));
    expect($("#ack-drill").textContent).toBe("I saw it");
    $("#ack-drill").click();
    await flush();
    expect(ipc.argsOf("ack_drill")).toEqual([{ id: 7 }]);
    expect(active.hidden).toBe(true);
    expect($("#drill-result").textContent).toBe("Drill acknowledged after 2 min. Well done.");
    expect($("table#drills tbody tr").textContent).toContain("after 2 min");
  });

  it("follows drill events from the tray", async () => {
    const { ipc } = await openDrill();
    ipc.emit("drill", drill(3));
    expect($("#drill-active").hidden).toBe(false);
    ipc.emit("drill", drill(3, { ended_at_ms: T0 + 600_000 }));
    expect($("#drill-active").hidden).toBe(true);
    expect($("table#drills tbody tr").textContent).toContain("not acknowledged");
  });

  it("offers no drill without a mailbox", async () => {
    await openDrill({ overview: () => overview({ cards: [] }) });
    expect($<HTMLButtonElement>("#start-drill").disabled).toBe(true);
    expect($("#drill-none").hidden).toBe(false);
  });

  it("loads, edits and saves the runbook", async () => {
    const saved: Runbook[] = [];
    const { ipc } = await openDrill({ save_runbook: ({ runbook }) => (saved.push(runbook), null) });
    const area = (n: string) => $<HTMLTextAreaElement>(`#runbook [name="${n}"]`);
    expect(area("contact").value).toBe("Ms Tanaka 03-1234-5678");
    expect($(`label[for="${area("backup_channel").id}"]`).textContent).toBe("Backup way to reach customers");
    type(area("webmail"), "https://webmail.example.co.jp");
    type(area("notes"), "Line 1\nLine 2");
    $("#save-runbook").click();
    await flush();
    expect(saved).toEqual([{
      contact: "Ms Tanaka 03-1234-5678", provider_support: "", webmail: "https://webmail.example.co.jp",
      backup_channel: "", notes: "Line 1\nLine 2",
    }]);
    expect($("#runbook-saved").textContent).toBe("Saved.");
    // Reopening does not overwrite the text with the app's copy while it is being edited.
    type(area("notes"), "editing");
    expect($("#runbook-saved").textContent).toBe("");
    $('nav button[data-view="status"]').click();
    $('nav button[data-view="drill"]').click();
    await flush();
    expect(area("notes").value).toBe("editing");
    expect(ipc.argsOf("runbook")).toHaveLength(1);
  });
});
