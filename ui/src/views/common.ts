// Pieces more than one screen uses: the live list of a running check's steps, the recorded
// steps of a finished one, and showing an IpcError where it belongs.

import { clearFieldErrors, h, setFieldError } from "../dom";
import { duration, stageText, t } from "../i18n";
import { asIpcError, type StageEvent, type StageRecord } from "../ipc";

const MARK = { started: "…", ok: "✓", failed: "✕" } as const;

/** The steps of one running check, as `stage` events report them, kept in order of arrival.
 * Only a `started` event after the previous check ended begins a new list: late events of
 * the old check (and stray ones) update its lines or are dropped. */
export class StageList {
  readonly el: HTMLOListElement;
  private ended = true;
  private steps = new Map<string, { ev: StageEvent; li: HTMLLIElement }>();
  private result: { text: string; state: string } | null = null;

  constructor(attrs: Record<string, string>) {
    this.el = h("ol", { ...attrs, "aria-live": "polite" });
  }

  /** Takes one `stage` event. */
  push(ev: StageEvent): void {
    const key = `${ev.stage}:${ev.protocol}`;
    if (this.ended) {
      if (ev.state !== "started") {
        const old = this.steps.get(key);
        if (old) this.update(old, ev);
        return;
      }
      this.reset();
      this.ended = false;
    }
    const known = this.steps.get(key);
    if (known) this.update(known, ev);
    else this.add(key, ev);
    // Sending is done: the check now waits for the canary to come back over IMAP.
    if (ev.stage === "send" && ev.state === "ok" && !this.steps.has("receive:imap")) {
      this.add("receive:imap", { mailbox: ev.mailbox, stage: "receive", protocol: "imap", state: "started", ms: 0 });
    }
  }

  /** The check ended: one closing line (e.g. "Found in INBOX after 2.1 s"). */
  finish(text: string, state: string): void {
    this.ended = true;
    this.result = { text, state };
    this.el.querySelector("li[data-stage='result']")?.remove();
    this.el.append(resultLi(text, state));
  }

  /** Empties the list for a new check. */
  reset(): void {
    this.steps.clear();
    this.result = null;
    this.el.replaceChildren();
  }

  /** Whether a check is under way (a step started and no result came yet). */
  get running(): boolean {
    return !this.ended;
  }

  /** Redraws every line (after a language change). */
  redraw(): void {
    for (const step of this.steps.values()) this.update(step, step.ev);
    const old = this.el.querySelector("li[data-stage='result']");
    if (this.result && old) old.replaceWith(resultLi(this.result.text, this.result.state));
  }

  private add(key: string, ev: StageEvent): void {
    const li = h("li", {}, h("span", { class: "mark", "aria-hidden": "true" }), h("span", { class: "what" }), h("span", { class: "ms" }));
    const step = { ev, li };
    this.steps.set(key, step);
    this.update(step, ev);
    const result = this.el.querySelector("li[data-stage='result']");
    if (result) result.before(li);
    else this.el.append(li);
  }

  private update(step: { ev: StageEvent; li: HTMLLIElement }, ev: StageEvent): void {
    step.ev = ev;
    const li = step.li;
    li.dataset.stage = ev.stage;
    li.dataset.protocol = ev.protocol;
    li.dataset.state = ev.state;
    li.querySelector(".mark")!.textContent = MARK[ev.state];
    li.querySelector(".what")!.textContent = stageText(ev);
    li.querySelector(".ms")!.textContent = ev.state === "started" ? "" : ` · ${duration(ev.ms)}`;
  }
}

function resultLi(text: string, state: string): HTMLLIElement {
  const mark = state === "ok" ? "✓" : state === "warning" ? "!" : "✕";
  return h("li", { "data-stage": "result", "data-state": state }, h("span", { class: "mark", "aria-hidden": "true" }, mark), h("span", { class: "what" }, text));
}

/** The recorded steps of a finished check, with each server reply verbatim (as text). */
export function stageRecords(stages: StageRecord[]): HTMLOListElement {
  const d = t();
  return h(
    "ol",
    { class: "stage-records" },
    ...stages.map((st) =>
      h(
        "li",
        { "data-stage": st.stage, "data-ok": String(st.ok) },
        h("span", { class: "mark", "aria-hidden": "true" }, st.ok ? "✓" : "✕"),
        h(
          "span",
          { class: "what" },
          `${d.stageName[st.stage] ?? st.stage}${st.protocol ? ` (${st.protocol.toUpperCase()})` : ""}: ` +
            `${st.ok ? d.stageOk : d.stageFailed} · ${duration(st.ms)}`,
        ),
        st.detail ? h("pre", { class: "detail" }, st.detail) : null,
      ),
    ),
  );
}

/** Shows a failed command's error: at its field when the form has one, else in `general`.
 * Returns the element showing it, to focus. */
export function showError(form: HTMLElement | null, general: HTMLElement, err: unknown): HTMLElement {
  const e = asIpcError(err);
  if (form && e.field && setFieldError(form, e.field, e.message)) {
    const control = form.querySelector<HTMLElement>(`[name="${e.field}"]`);
    const details = control?.closest("details");
    if (details) details.open = true;
    return control ?? general;
  }
  general.textContent = e.message;
  general.hidden = false;
  return general;
}

/** Clears a form's field errors and its general error line. */
export function clearErrors(form: HTMLElement, general: HTMLElement): void {
  clearFieldErrors(form);
  general.textContent = "";
  general.hidden = true;
}
