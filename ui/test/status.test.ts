import { afterEach, describe, expect, it, vi } from "vitest";
import { $, $$, T0, card, fixtures, flush, mount, overview } from "./fake";

afterEach(() => vi.restoreAllMocks());

const cardEl = (name: string) => $(`.card[data-mailbox="${name}"]`);

describe("status screen", () => {
  it("shows one card per mailbox and the overall line", async () => {
    await mount();
    expect($$(".card").map((c) => c.dataset.mailbox)).toEqual(["office", "sales"]);
    expect($("#overall").textContent).toBe("All 2 mailboxes healthy.");
    expect($("#overall").getAttribute("role")).toBe("status");
    const office = cardEl("office");
    expect(office.dataset.state).toBe("ok");
    expect($("h2", office).textContent).toBe("office");
    expect($(".address", office).textContent).toBe("office@example.co.jp");
    expect($(".state", office).textContent).toContain("Healthy");
    expect($(".meta", office).textContent).toMatch(/^Last check .*10:32.* · 2\.1 s · INBOX$/);
    expect($(".action", office).hidden).toBe(true); // no action while healthy
    expect($(".check-now", office).textContent).toBe("Check now");
    expect($(".check-now", office).getAttribute("aria-label")).toContain("office");
    expect(document.documentElement.lang).toBe("en");
    // Only the status screen is visible; the nav marks it.
    expect($$("section.view").filter((s) => !s.hidden).map((s) => s.id)).toEqual(["view-status"]);
    expect($('nav button[data-view="status"]').getAttribute("aria-current")).toBe("page");
  });

  it.each([
    [[card("office")], "The mailbox is healthy."],
    [[card("office"), card("sales", { state: "critical" })], "1 of 2 mailboxes need attention."],
    [[card("office", { state: "waiting", checked_at_ms: null })], "The first check is running…"],
    [[], "No mailboxes yet."],
  ])("overall line for %#", async (cards, text) => {
    await mount(fixtures({ overview: () => overview({ cards }) }));
    expect($("#overall").textContent).toBe(text);
    expect($("#empty").hidden).toBe(cards.length > 0);
  });

  it("offers Add mailbox on the empty state", async () => {
    await mount(fixtures({ overview: () => overview({ cards: [] }) }));
    $("#add-first").click();
    expect($("#view-add").hidden).toBe(false);
    expect($("#view-status").hidden).toBe(true);
    expect($('nav button[data-view="add"]').getAttribute("aria-current")).toBe("page");
  });

  it("updates a card in place and keeps the keyboard focus", async () => {
    const { ipc } = await mount();
    const before = cardEl("office");
    const button = $<HTMLButtonElement>(".check-now", before);
    button.focus();
    ipc.emit("monitor", card("office", {
      state: "critical", category: "send_blocked", summary: "Sending is blocked by the provider.",
      action: "Call the provider.", latency_ms: null, folder: null, checked_at_ms: T0 + 60_000,
    }));
    const after = cardEl("office");
    expect(after).toBe(before);
    expect(document.activeElement).toBe(button);
    expect(after.dataset.state).toBe("critical");
    expect($(".state", after).textContent).toContain("Mail is not flowing");
    expect($(".summary", after).textContent).toBe("Sending is blocked by the provider.");
    expect($(".action", after).hidden).toBe(false);
    expect($(".action", after).textContent).toBe("Call the provider.");
    expect($("#overall").textContent).toBe("1 of 2 mailboxes need attention.");
  });

  it("ignores an update older than the card shown", async () => {
    const { ipc } = await mount();
    ipc.emit("monitor", card("office", { state: "critical", summary: "old news", checked_at_ms: T0 - 60_000 }));
    expect(cardEl("office").dataset.state).toBe("ok");
    expect($(".summary", cardEl("office")).textContent).toBe("Mail is flowing.");
    ipc.emit("cards", [card("office", { state: "critical", checked_at_ms: T0 - 1 }), card("sales")]);
    expect(cardEl("office").dataset.state).toBe("ok");
  });

  it("fills the live step list from stage events, and starts afresh for the next check", async () => {
    const { ipc } = await mount();
    const list = $("ol.stages", cardEl("office"));
    expect(list.getAttribute("aria-live")).toBe("polite");
    ipc.emit("stage", { mailbox: "office", stage: "connect", protocol: "smtp", state: "started", ms: 0 });
    ipc.emit("stage", { mailbox: "office", stage: "connect", protocol: "imap", state: "started", ms: 0 });
    ipc.emit("stage", { mailbox: "sales", stage: "connect", protocol: "smtp", state: "started", ms: 0 });
    let items = $$("li", list);
    expect(items).toHaveLength(2);
    expect(items[0].dataset).toMatchObject({ stage: "connect", protocol: "smtp", state: "started" });
    expect(items[0].textContent).toContain("Connecting to the sending server…");
    ipc.emit("stage", { mailbox: "office", stage: "connect", protocol: "smtp", state: "ok", ms: 40 });
    ipc.emit("stage", { mailbox: "office", stage: "tls", protocol: "smtp", state: "ok", ms: 30 });
    ipc.emit("stage", { mailbox: "office", stage: "auth", protocol: "smtp", state: "failed", ms: 90 });
    ipc.emit("stage", { mailbox: "office", stage: "send", protocol: "smtp", state: "ok", ms: 200 });
    items = $$("li", list);
    expect(items[0].dataset.state).toBe("ok"); // the same line, updated
    expect(items.map((li) => li.dataset.stage)).toEqual(["connect", "connect", "tls", "auth", "send", "receive"]);
    expect(items[2].textContent).toContain("Secure connection (TLS)");
    expect(items[3].textContent).toContain("Login");
    expect(items[3].dataset.state).toBe("failed");
    expect(items[4].textContent).toContain("Sending the canary");
    expect(items[5].textContent).toContain("Waiting for the canary…");
    ipc.emit("monitor", card("office", { checked_at_ms: T0 + 60_000, latency_ms: 2100, folder: "INBOX" }));
    const result = $("li[data-stage='result']", list);
    expect(result.textContent).toContain("Found in INBOX after 2.1 s");
    // A late event of the finished check does not start a new list.
    ipc.emit("stage", { mailbox: "office", stage: "cleanup", protocol: "imap", state: "ok", ms: 10 });
    expect($$("li", list)).toHaveLength(7);
    // The next check's first step does.
    ipc.emit("stage", { mailbox: "office", stage: "dns", protocol: "imap", state: "started", ms: 0 });
    expect($$("li", list).map((li) => li.dataset.stage)).toEqual(["dns"]);
    expect($$("li", $("ol.stages", cardEl("sales")))).toHaveLength(1);
  });

  it("Check now disables the button until the result comes, and gives the focus back", async () => {
    const { ipc } = await mount();
    const button = $<HTMLButtonElement>(".check-now", cardEl("sales"));
    button.focus();
    button.click();
    await flush();
    expect(ipc.argsOf("check_now")).toEqual([{ mailbox: "sales" }]);
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe("Checking…");
    expect(document.activeElement).toBe(cardEl("sales")); // parked on the card, not lost
    ipc.emit("monitor", card("sales", { checked_at_ms: T0 + 1000 }));
    await flush();
    expect(button.disabled).toBe(false);
    expect(button.textContent).toBe("Check now");
    expect(document.activeElement).toBe(button);
  });

  it("shows a refused Check now and re-enables the button", async () => {
    await mount(fixtures({ check_now: () => { throw { kind: "monitor", message: "The monitor is not running." }; } }));
    const button = $<HTMLButtonElement>(".check-now", cardEl("office"));
    button.click();
    await flush();
    expect($("#status-error").hidden).toBe(false);
    expect($("#status-error").textContent).toBe("The monitor is not running.");
    expect(button.disabled).toBe(false);
  });

  it("pauses, shows until when, and resumes", async () => {
    const until = T0 + 3600_000;
    const { ipc } = await mount(fixtures({ overview: () => overview({ paused_until_ms: until }) }));
    expect($("#paused").hidden).toBe(false);
    expect($("#paused").textContent).toMatch(/^Checks paused until 11:32/);
    expect($("#pause").hidden).toBe(true);
    $("#resume").click();
    await flush();
    expect(ipc.argsOf("pause")).toEqual([{ minutes: 0 }]);
    expect($("#paused").hidden).toBe(true);
    $("#pause").click();
    await flush();
    expect(ipc.argsOf("pause")).toEqual([{ minutes: 0 }, { minutes: 60 }]);
    ipc.emit("paused", until);
    expect($("#paused").textContent).toContain("11:32");
    ipc.emit("paused", null);
    expect($("#paused").hidden).toBe(true);
  });

  it("shows why the monitor is not running until it runs again", async () => {
    const { ipc } = await mount(fixtures({ overview: () => overview({ trouble: "No keyring." }) }));
    expect($("#trouble").hidden).toBe(false);
    expect($("#trouble").textContent).toContain("No keyring.");
    ipc.emit("cards", [card("office")]);
    expect($("#trouble").hidden).toBe(true);
    expect($$(".card")).toHaveLength(1);
    ipc.emit("trouble", "The config file is broken.");
    expect($("#trouble").textContent).toContain("The config file is broken.");
  });

  it("removes a mailbox only after confirmation", async () => {
    const { ipc } = await mount(fixtures({ remove_mailbox: () => [card("office")] }));
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    $(".remove", cardEl("sales")).click();
    await flush();
    expect(ipc.argsOf("remove_mailbox")).toEqual([]);
    $(".remove", cardEl("sales")).click();
    await flush();
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(confirm.mock.calls[0][0]).toContain("sales");
    expect(ipc.argsOf("remove_mailbox")).toEqual([{ mailbox: "sales" }]);
    expect($$(".card").map((c) => c.dataset.mailbox)).toEqual(["office"]);
    expect($("#overall").textContent).toBe("The mailbox is healthy.");
  });

  it("shows hostile summaries as text", async () => {
    const { ipc } = await mount();
    ipc.emit("monitor", card("office", { state: "critical", summary: '<img src=x onerror="alert(1)">', checked_at_ms: T0 + 1 }));
    expect($(".summary", cardEl("office")).textContent).toBe('<img src=x onerror="alert(1)">');
    expect(document.querySelector(".card img")).toBeNull();
  });

  it("opens the screen a notification asks for", async () => {
    const { ipc } = await mount();
    ipc.emit("open", { view: "history", mailbox: "sales", at_ms: null });
    await flush();
    expect($("#view-history").hidden).toBe(false);
    expect($<HTMLSelectElement>("#history-mailbox").value).toBe("sales");
    expect(ipc.argsOf("history").at(-1)).toEqual({ mailbox: "sales", days: 7 });
  });

  it("offers one-click sign-in again when an OAuth2 sign-in was refused", async () => {
    const refused = { state: "critical" as const, category: "auth_failed", summary: "The sign-in for this mailbox was revoked or has expired." };
    const { ipc } = await mount(
      fixtures({
        overview: () => overview({ cards: [card("office", { ...refused, oauth: true }), card("sales", refused)] }),
        sign_in_again: () => null,
      }),
    );
    const button = $<HTMLButtonElement>(".sign-in-again", cardEl("office"));
    expect(button.hidden).toBe(false);
    expect(button.getAttribute("aria-label")).toBe("Sign in again: office");
    // A password mailbox has no sign-in to redo.
    expect($(".sign-in-again", cardEl("sales")).hidden).toBe(true);
    button.click();
    await flush();
    expect(ipc.argsOf("sign_in_again")).toEqual([{ mailbox: "office" }]);
    // Healthy again: the button goes.
    ipc.emit("monitor", card("office", { oauth: true, checked_at_ms: Date.now() }));
    await flush();
    expect(button.hidden).toBe(true);
  });
});
