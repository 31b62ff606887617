/**
 * Serial text for a log line or a plan: one byte one character (lines are decoded as latin1),
 * so every control or non-ASCII byte is shown as an escape an operator can read back to the
 * wire, e.g. "ST,GS,\x9a\x02 1.2 kg\r".
 */
const NAMED: Readonly<Record<string, string>> = { '\r': '\\r', '\n': '\\n', '\t': '\\t', '\\': '\\\\', '"': '\\"' };

/** The text in double quotes, escaped, cut after `max` characters with the number left out. */
export function escapeText(text: string, max = 120): string {
  let out = '';
  const shown = Math.min(text.length, max);
  for (let i = 0; i < shown; i++) {
    const ch = text[i];
    const code = text.charCodeAt(i);
    if (NAMED[ch] !== undefined) out += NAMED[ch];
    else if (code >= 0x20 && code < 0x7f) out += ch;
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += `\\u{${code.toString(16)}}`;
  }
  const rest = text.length - shown;
  return `"${out}"${rest > 0 ? ` (+${rest} more)` : ''}`;
}
