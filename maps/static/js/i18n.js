/**
 * i18n.js — Chinese and English interface text.
 *
 * Dictionaries live in /static/i18n/{zh,en}.json. `t(key, vars)` looks a key
 * up in the current language and fills `{name}` placeholders. Elements with
 * `data-i18n="key"` get their text, and `data-i18n-title="key"` their tooltip,
 * from `apply()`. The language defaults to the area's (Chinese for Chinese
 * areas), and a user's choice is remembered in localStorage.
 */

const dictionaries = {};
let current = "zh";
const listeners = [];

/** Load both dictionaries (they are small) and choose the starting language. */
export async function init(areaLanguage) {
  const [zh, en] = await Promise.all(
    ["zh", "en"].map((lang) => fetch(`/static/i18n/${lang}.json`).then((r) => r.json())),
  );
  dictionaries.zh = zh;
  dictionaries.en = en;
  const asked = new URLSearchParams(location.search).get("lang");
  let saved = null;
  try {
    saved = localStorage.getItem("gridplan.lang");
  } catch {
    /* storage disabled */
  }
  // Chinese for Chinese areas (and when unknown); English for any other language (ja, ko, en, …)
  const area = areaLanguage && areaLanguage !== "zh" ? "en" : "zh";
  current = [asked, saved, area].find((l) => l in dictionaries);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

export const language = () => current;

/** Switch language, re-label the page and tell listeners (panels re-render). */
export function setLanguage(lang) {
  if (!(lang in dictionaries) || lang === current) return;
  current = lang;
  try {
    localStorage.setItem("gridplan.lang", lang);
  } catch {
    /* storage disabled */
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  apply();
  listeners.forEach((fn) => fn(lang));
}

export const onChange = (fn) => listeners.push(fn);

/** Text of `key` in the current language with `{name}` filled from `vars`. */
export function t(key, vars = {}) {
  const text = dictionaries[current]?.[key] ?? dictionaries.en?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Fill every `data-i18n` / `data-i18n-title` element under `root`. */
export function apply(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => {
    el.title = t(el.dataset.i18nTitle);
  });
}

const formats = {};
/** A number in the current locale (thousands separators); the formatter is cached. */
export function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  formats[current] ??= new Intl.NumberFormat(current === "zh" ? "zh-CN" : "en-GB", {
    maximumFractionDigits: 0,
  });
  return formats[current].format(Number(n));
}

/** A signed fraction as a percentage: 0.0213 -> "+2.1%". */
export const pct = (f, signed = true) =>
  f === null || f === undefined || Number.isNaN(f)
    ? "–"
    : `${signed && f > 0 ? "+" : ""}${(f * 100).toFixed(1)}%`;
