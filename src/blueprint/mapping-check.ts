/** Checks a step's `with` mapping against its type's zod input schema, without evaluating expressions. */
import type { z } from 'zod';
import { hasTemplate } from './expressions.ts';
import { describeIssue, jsonPath, type Problem } from './problems.ts';

function containsTemplate(v: unknown): boolean {
  if (typeof v === 'string') return hasTemplate(v);
  if (Array.isArray(v)) return v.some(containsTemplate);
  if (v && typeof v === 'object') return Object.values(v).some(containsTemplate);
  return false;
}

/**
 * Checks a `with` mapping against a step's zod input schema without evaluating expressions:
 * missing required fields, unknown fields, and literal values of the wrong type.
 */
export function checkMapping(schema: z.ZodType, mapping: Record<string, unknown>, at: string, stepId: string): Problem[] {
  const problems: Problem[] = [];
  const shape = objectShape(schema);
  if (!shape) return problems;
  for (const [key, field] of Object.entries(shape)) {
    if (!Object.hasOwn(mapping, key) && !isOptional(field)) problems.push({ path: at, stepId, message: `missing required input "${key}"${describe(field)}` });
  }
  for (const [key, value] of Object.entries(mapping)) {
    const field = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!field) {
      problems.push({ path: `${at}.${key}`, stepId, message: `unknown input "${key}" (inputs: ${Object.keys(shape).join(', ')})` });
      continue;
    }
    if (containsTemplate(value)) continue;
    const r = field.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const sub = issue.path.length ? jsonPath(issue.path).slice(1) : '';
      problems.push({ path: `${at}.${key}${sub}`, stepId, message: `invalid input "${key}": ${describeIssue(issue, value)}` });
    }
  }
  return problems;
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = (schema as { def?: { type?: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType } }).def;
  if (!def) return undefined;
  if (def.type === 'object') return def.shape;
  if (def.innerType) return objectShape(def.innerType);
  if (def.in) return objectShape(def.in);
  return undefined;
}

function isOptional(field: z.ZodType): boolean {
  return field.safeParse(undefined).success;
}

function describe(field: z.ZodType): string {
  const d = field.description;
  return d ? `: ${d.split('. ')[0]!.replace(/\.$/, '')}` : '';
}
