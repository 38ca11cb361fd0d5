// The status window: one card per mailbox. The first look comes from the `status` command;
// after that the engine pushes `monitor` events. Nothing here reads the database or polls.

interface Card {
  mailbox: string;
  address: string;
  state: "ok" | "warning" | "critical" | "unknown" | "waiting";
  category: string;
  summary: string;
  action: string;
  latency_ms: number | null;
  folder: string | null;
  checked_at_ms: number | null;
}

interface IpcError {
  kind: string;
  message: string;
}

interface TauriGlobal {
  core: { invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T> };
  event: { listen<T>(name: string, handler: (e: { payload: T }) => void): Promise<() => void> };
}

const tauri = (window as unknown as { __TAURI__: TauriGlobal }).__TAURI__;
const ja = navigator.language.toLowerCase().startsWith("ja");

const words: Record<Card["state"], [string, string]> = {
  ok: ["Healthy", "正常"],
  warning: ["Needs attention", "要注意"],
  critical: ["Mail is not flowing", "メールが届いていません"],
  unknown: ["Cannot tell", "判定できません"],
  waiting: ["First check running…", "最初の確認中…"],
};

const cards = new Map<string, Card>();
/** Mailboxes whose "Check now" was pressed and whose result has not come yet. */
const checking = new Set<string>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  e.textContent = text; // never innerHTML: summaries quote server replies
  return e;
}

function render(): void {
  const main = document.getElementById("cards")!;
  main.replaceChildren(
    ...[...cards.values()].map((c) => {
      const box = document.createElement("section");
      box.className = "card";
      box.dataset.state = c.state;
      box.dataset.mailbox = c.mailbox;
      box.append(el("h2", "name", c.mailbox), el("p", "address", c.address));
      box.append(el("p", "state", words[c.state][ja ? 1 : 0]));
      const button = el("button", "check-now", checking.has(c.mailbox)
        ? (ja ? "確認中…" : "Checking…")
        : (ja ? "今すぐ確認" : "Check now"));
      button.disabled = checking.has(c.mailbox);
      button.setAttribute("aria-label", `${ja ? "今すぐ確認" : "Check now"}: ${c.mailbox}`);
      button.addEventListener("click", () => void checkNow(c.mailbox));
      box.append(button);
      if (c.summary) box.append(el("p", "summary", c.summary));
      if (c.action && c.state !== "ok") box.append(el("p", "action", c.action));
      if (c.checked_at_ms !== null) {
        const when = new Date(c.checked_at_ms).toLocaleTimeString();
        const rtt = c.latency_ms !== null ? ` · ${(c.latency_ms / 1000).toFixed(2)} s` : "";
        const where = c.folder ? ` · ${c.folder}` : "";
        box.append(el("p", "meta", `${ja ? "最終確認" : "Last check"} ${when}${rtt}${where}`));
      }
      return box;
    }),
  );
  // A mailbox still waiting for its first check needs no attention yet.
  const bad = [...cards.values()].filter((c) => c.state !== "ok" && c.state !== "waiting").length;
  const n = cards.size;
  const overall = document.getElementById("overall")!;
  const text =
    n === 0
      ? ja ? "メールボックスがまだありません。" : "No mailboxes yet."
      : bad === 0 && n === 1
        ? ja ? "メールボックスは正常です。" : "The mailbox is healthy."
        : bad === 0
          ? ja ? `${n} 件のメールボックスはすべて正常です。` : `All ${n} mailboxes healthy.`
          : ja ? `${n} 件中 ${bad} 件が要注意です。` : `${bad} of ${n} mailboxes need attention.`;
  // Rewritten only when it changes, so screen readers announce changes, not every event.
  if (overall.textContent !== text) overall.textContent = text;
}

async function checkNow(mailbox: string): Promise<void> {
  checking.add(mailbox);
  // Redraw after the click has been handled, not under it.
  setTimeout(render, 0);
  try {
    await tauri.core.invoke("check_now", { mailbox });
  } catch (err) {
    checking.delete(mailbox);
    render();
    showError(err);
  }
}

function showError(err: unknown): void {
  const e = err as IpcError;
  const box = el("p", "error", e.message ?? String(err));
  document.getElementById("cards")!.prepend(box);
}

async function start(): Promise<void> {
  document.documentElement.lang = ja ? "ja" : "en";
  await tauri.event.listen<Card>("monitor", (e) => {
    checking.delete(e.payload.mailbox);
    cards.set(e.payload.mailbox, e.payload);
    render();
  });
  try {
    for (const c of await tauri.core.invoke<Card[]>("status")) cards.set(c.mailbox, c);
    render();
  } catch (err) {
    showError(err);
  }
}

void start();
