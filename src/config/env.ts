/**
 * `${VAR}` and `${VAR:-default}` in scalar values, as in a POSIX shell: the default applies when
 * VAR is unset or empty; an unset VAR without a default is an error. `$${` writes a literal `${`.
 */

export type Expansion = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly message: string };

const NAME_TEXT = '[A-Za-z_][A-Za-z0-9_]*';
const VAR_NAME = new RegExp(`^${NAME_TEXT}$`);

/** A JSON Schema pattern for a value that holds a `${VAR}` or `${VAR:-default}` (what an editor sees before expansion). */
export const ENV_REFERENCE_PATTERN = String.raw`\$\{${NAME_TEXT}(?::-[^}]*)?\}`;

export function expandEnv(text: string, env: NodeJS.ProcessEnv): Expansion {
  let out = '';
  let i = 0;
  for (;;) {
    const at = text.indexOf('${', i);
    if (at < 0) return { ok: true, text: out + text.slice(i) };
    if (at > i && text[at - 1] === '$') {
      out += text.slice(i, at - 1) + '${';
      i = at + 2;
      continue;
    }
    const end = text.indexOf('}', at);
    if (end < 0) return { ok: false, message: `unterminated "\${" (write $\${ for a literal \${)` };
    const body = text.slice(at + 2, end);
    const sep = body.indexOf(':-');
    const name = sep < 0 ? body : body.slice(0, sep);
    if (!VAR_NAME.test(name)) return { ok: false, message: `invalid variable name "${name}" in "\${${body}}"` };
    const value = env[name];
    if (sep >= 0) {
      out += text.slice(i, at) + (value === undefined || value === '' ? body.slice(sep + 2) : value);
    } else if (value === undefined) {
      return { ok: false, message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)` };
    } else {
      out += text.slice(i, at) + value;
    }
    i = end + 1;
  }
}
