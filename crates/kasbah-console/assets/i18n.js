// i18n.js — Translation lookup for the console. Every user-visible string lives in one dictionary
// per language (i18n/<lang>.js); `t(key, vars)` looks a key up and fills `{name}` placeholders,
// `tn(key, n, vars)` picks the plural form (`key.one`, `key.other`, ... as Intl.PluralRules says).
// The dictionary's `meta.dir` sets the page direction (ltr/rtl) and `meta.lang` its language.

import en from './i18n/en.js';

const AVAILABLE = ['en'];
let dict = en;
let lang = 'en';
let plural = new Intl.PluralRules('en');

/** Picks the language: ?lang=, then the saved choice, then the browser's, else English. */
export async function initI18n() {
  const wanted = [];
  try {
    const fromUrl = new URLSearchParams(location.search).get('lang');
    if (fromUrl) wanted.push(fromUrl);
    const saved = localStorage.getItem('kasbah.lang');
    if (saved) wanted.push(saved);
  } catch (_) { /* storage can be disabled */ }
  for (const l of navigator.languages || [navigator.language]) wanted.push(String(l));
  const code = wanted.map((w) => w.toLowerCase().split('-')[0]).find((w) => AVAILABLE.includes(w)) || 'en';
  if (code !== 'en') {
    try {
      const mod = await import(`./i18n/${code}.js`);
      dict = mod.default;
    } catch (_) {
      dict = en;
    }
  }
  lang = dict['meta.lang'] || code;
  try { plural = new Intl.PluralRules(lang); } catch (_) { plural = new Intl.PluralRules('en'); }
  document.documentElement.lang = lang;
  document.documentElement.dir = dict['meta.dir'] || 'ltr';
}

/** The current language code (for Intl formatters). */
export function locale() {
  return lang;
}

function fill(s, vars) {
  if (!vars || typeof s !== 'string') return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m));
}

/** The text of `key`, with `{name}` placeholders replaced from `vars`. */
export function t(key, vars) {
  let s = dict[key];
  if (s === undefined) s = en[key];
  if (s === undefined) {
    console.warn('i18n: missing key', key);
    return key;
  }
  return fill(s, vars);
}

/** True when the dictionary has `key` (for optional texts such as tactic names). */
export function has(key) {
  return dict[key] !== undefined || en[key] !== undefined;
}

/** The plural form of `key` for `n`; `{n}` is the formatted number. */
export function tn(key, n, vars) {
  const cat = plural.select(Number(n) || 0);
  const k = dict[`${key}.${cat}`] !== undefined || en[`${key}.${cat}`] !== undefined ? `${key}.${cat}` : `${key}.other`;
  const formatted = new Intl.NumberFormat(lang).format(Number(n) || 0);
  return t(k, { ...vars, n: formatted });
}
