// A few DOM helpers. Text always goes in as text nodes, never as markup: summaries and server
// replies are hostile text, and the CSP forbids inline styles anyway.

type Attr = string | number | boolean | null | undefined;
export type Attrs = Record<string, Attr>;
export type Child = Node | string | null | undefined | false;

// Set as properties, not attributes, so they track what the user does to the control.
const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected"]);

function apply(e: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) {
      if (PROPS.has(k)) (e as unknown as Record<string, unknown>)[k] = false;
      continue;
    }
    if (k === "class") e.setAttribute("class", String(v));
    else if (PROPS.has(k)) (e as unknown as Record<string, unknown>)[k] = k === "value" ? String(v) : v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(e: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

/** An HTML element with attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  apply(e, attrs);
  append(e, children);
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element: presentation attributes are allowed by the CSP, unlike style="". */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  apply(e, attrs);
  append(e, children);
  return e;
}

/** Sets an element's text only when it changes, so live regions announce changes only. */
export function setText(e: Element, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

/** The element with this id under `root`; throws if the skeleton lacks it (a bug). */
export function byId<T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T {
  const e = root.querySelector<T>(`#${id}`);
  if (!e) throw new Error(`#${id} is missing`);
  return e;
}

/** A labelled form row: <label for>, the control, an optional hint and the field's error slot. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLDivElement {
  const name = control.name;
  const id = control.id || `field-${name}`;
  control.id = id;
  const described: string[] = [];
  const row = h("div", { class: "row", "data-row": name });
  if (control instanceof HTMLInputElement && control.type === "checkbox") {
    row.classList.add("check");
    row.append(control, h("label", { for: id }, label));
  } else {
    row.append(h("label", { for: id }, label), control);
  }
  if (hint) {
    const hintId = `${id}-hint`;
    row.append(h("p", { class: "hint", id: hintId }, hint));
    described.push(hintId);
  }
  const errId = `${id}-error`;
  row.append(h("p", { class: "field-error", id: errId, "data-field": name, hidden: true }));
  described.push(errId);
  control.setAttribute("aria-describedby", described.join(" "));
  return row;
}

/** Shows or clears the error of one field in `form` (the `.field-error[data-field]` slot). */
export function setFieldError(form: ParentNode, name: string, message: string | null): boolean {
  const slot = form.querySelector<HTMLElement>(`.field-error[data-field="${name}"]`);
  const control = form.querySelector<HTMLElement>(`[name="${name}"]`);
  if (!slot) return false;
  slot.textContent = message ?? "";
  slot.hidden = !message;
  if (control) {
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
  return true;
}

/** Clears every field error in `form`. */
export function clearFieldErrors(form: ParentNode): void {
  for (const slot of form.querySelectorAll<HTMLElement>(".field-error")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
}

/** The `<option>`s of a select, from value/label pairs. */
export function options(pairs: [string, string][], selected?: string): HTMLOptionElement[] {
  return pairs.map(([value, label]) => {
    const o = h("option", { value }, label);
    if (value === selected) o.selected = true;
    return o;
  });
}
