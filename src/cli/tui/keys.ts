/**
 * Keys that reach ink together as one string (typed faster than they are read, a held key, keys
 * sent by a script, a paste) split back into one key each, as ink reports a key read alone.
 */
import type { Key } from 'ink';

export interface KeyPress {
  input: string;
  key: Key;
}

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** One character read alone, as ink's useInput reports it. */
function oneKey(ch: string): KeyPress {
  const code = ch.codePointAt(0)!;
  if (ch === '\r' || ch === '\n') return { input: '', key: { ...NO_KEY, return: true } };
  if (ch === '\t') return { input: '', key: { ...NO_KEY, tab: true } };
  if (ch === '\x7f') return { input: '', key: { ...NO_KEY, delete: true } };
  if (ch === '\b') return { input: '', key: { ...NO_KEY, backspace: true } };
  if (ch === '\x1b') return { input: '', key: { ...NO_KEY, escape: true, meta: true } };
  // Ctrl+A … Ctrl+Z: ink reports the letter with ctrl set.
  if (code >= 1 && code <= 26) return { input: String.fromCharCode(code + 96), key: { ...NO_KEY, ctrl: true } };
  return { input: ch, key: { ...NO_KEY, shift: /[A-Z]/.test(ch) } };
}

/** The keys in what ink reported: itself when it is one key, else one per character. */
export function splitKeys(input: string, key: Key): KeyPress[] {
  const chars = [...input];
  // Escape sequences (arrows, Alt+x) come alone from ink's parser; only plain runs need splitting.
  if (chars.length <= 1 || key.meta) return [{ input, key }];
  return chars.map(oneKey);
}
