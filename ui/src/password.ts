// Weak-password advice for the wizard. It never blocks: a provider's password is what it is,
// but a weak one is how offices' mailboxes get taken over for spam (DESIGN.md, incident 2),
// so staff are told why and have to say they understood.

/** The passwords tried first: the usual world lists plus Japanese office favourites. */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  "password", "password1", "password123", "passw0rd", "p@ssw0rd", "p@ssword", "pass", "pass1234",
  "123456", "1234567", "12345678", "123456789", "1234567890", "12345", "1234", "111111", "000000",
  "123123", "654321", "666666", "888888", "121212", "112233", "159753", "987654321",
  "qwerty", "qwerty123", "qwertyuiop", "asdfgh", "asdfghjkl", "zxcvbnm", "1q2w3e4r", "1qaz2wsx",
  "zaq12wsx", "qazwsx", "abc123", "abcd1234", "a1b2c3", "aaaaaa",
  "admin", "administrator", "root", "user", "guest", "test", "letmein", "welcome", "login",
  "iloveyou", "monkey", "dragon", "master", "sunshine", "princess", "football", "baseball",
  "shadow", "superman", "trustno1", "hello", "secret", "changeme",
  // Japanese offices: names, places, seasons and company words.
  "sakura", "tanaka", "suzuki", "sato", "satou", "takahashi", "watanabe", "yamamoto", "nakamura",
  "tokyo", "osaka", "nippon", "japan", "doraemon", "pikachu", "kaisha", "jimusho", "office",
  "mail", "email", "info", "yoroshiku", "arigato", "arigatou",
]);

export type WeakReason = "short" | "oneClass" | "common" | "local" | "domain";

// Parts of a domain that say nothing about the company.
const GENERIC_LABELS = new Set(["mail", "www", "smtp", "imap", "co", "or", "ne", "ac", "go", "com", "net", "org", "jp"]);

/** Why `password` is weak for the mailbox `address` (empty when it is not). */
export function weakReasons(password: string, address: string): WeakReason[] {
  if (password === "") return [];
  const reasons: WeakReason[] = [];
  const lower = password.toLowerCase();
  if ([...password].length < 12) reasons.push("short");
  if (/^\p{L}+$/u.test(password) || /^\p{N}+$/u.test(password)) reasons.push("oneClass");
  // "Password2024!" is "password" with the usual decorations.
  const core = lower.replace(/[\d\W_]+$/u, "").replace(/^[\d\W_]+/u, "");
  if (COMMON_PASSWORDS.has(lower) || (core.length > 0 && COMMON_PASSWORDS.has(core))) reasons.push("common");
  const at = address.lastIndexOf("@");
  const local = (at > 0 ? address.slice(0, at) : "").toLowerCase();
  if (local.length >= 3 && lower.includes(local)) reasons.push("local");
  const domain = at >= 0 ? address.slice(at + 1).toLowerCase() : "";
  if (domainWords(domain).some((w) => lower.includes(w))) reasons.push("domain");
  return reasons;
}

/** The words of a company's domain worth looking for: "tanaka-kogyo.co.jp" gives
 * "tanaka-kogyo", "tanakakogyo", "tanaka", "kogyo". */
function domainWords(domain: string): string[] {
  const label = domain.split(".").find((l) => l.length > 0 && !GENERIC_LABELS.has(l));
  if (!label) return [];
  const words = new Set([label, label.replace(/-/g, "")]);
  for (const part of label.split("-")) words.add(part);
  return [...words].filter((w) => w.length >= 4);
}
