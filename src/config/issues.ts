/**
 * Zod issues → problems at YAML positions, in floorgate's wording.
 *
 * Placement: an unknown key at the key itself; a missing key at the mapping that lacks it (the
 * key's own path is not in the text, so the nearest ancestor that is wins); anything else at
 * the offending value.
 */
import type { z } from 'zod';
import { formatPath, type KeyPath } from './problem.js';
import type { SourceMap, SourceProblem } from './yaml-source.js';
import { didYouMean, repr } from './words.js';

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

export class IssueReader {
  /** Known keys of each strict mapping that had unknown ones, by path, for "did you mean". */
  private readonly knownKeys = new Map<string, string[]>();

  constructor(
    private readonly map: SourceMap,
    private readonly unexpanded: ReadonlySet<string>,
  ) {}

  /**
   * Validate `value` with `schema`; problems are appended to `problems`. `prefix`: where the
   * value sits in the document (a device is validated on its own).
   */
  parse<T>(schema: z.ZodType<T>, value: unknown, prefix: KeyPath, problems: SourceProblem[]): T | undefined {
    this.knownKeys.clear();
    const result = schema.safeParse(value, { error: this.errorMap });
    if (result.success) return result.data;
    problems.push(...this.toProblems(result.error.issues, prefix));
    return undefined;
  }

  /** Messages for the issues a schema does not word itself. */
  private readonly errorMap: z.core.$ZodErrorMap = (iss) => {
    if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value')) {
      const key = iss.path?.at(-1);
      return typeof key === 'string' ? `missing required key "${key}"` : 'missing value';
    }
    switch (iss.code) {
      case 'invalid_type':
        return `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${repr(iss.input)}`;
      case 'invalid_value': {
        const hint = typeof iss.input === 'string' ? didYouMean(iss.input, iss.values.map(String)) : '';
        return `${repr(iss.input)} is not one of ${iss.values.map(String).join(', ')}${hint}`;
      }
      case 'unrecognized_keys': {
        const known = Object.keys((iss.inst as { shape?: Record<string, unknown> } | undefined)?.shape ?? {});
        // password_file became password before validation (secrets.ts), but is a key users write.
        if (known.includes('password')) known.push('password_file');
        this.knownKeys.set(formatPath((iss.path ?? []) as KeyPath), known);
        return 'unknown key';
      }
      default:
        return undefined;
    }
  };

  private toProblems(issues: readonly z.core.$ZodIssue[], prefix: KeyPath = []): SourceProblem[] {
    const out: SourceProblem[] = [];
    for (const issue of issues) {
      const path = [...prefix, ...(issue.path as KeyPath)];
      if (this.unexpanded.has(formatPath(path))) continue;
      if (issue.code === 'unrecognized_keys') {
        const known = this.knownKeys.get(formatPath(issue.path as KeyPath)) ?? [];
        for (const key of issue.keys) {
          const keyPath = [...path, key];
          out.push({ offset: this.map.offsetOf(keyPath, 'key'), path: keyPath, message: `unknown key "${key}"${didYouMean(key, known)}` });
        }
      } else {
        out.push({ offset: this.map.offsetOf(path, 'value'), path, message: issue.message });
      }
    }
    return out;
  }
}
