// A JSON Schema checker for the subset the OpenAPI document uses, for checking the API's answers
// against it inside workerd (validator packages compile schemas with `new Function`, which workerd
// forbids). Stricter than JSON Schema in one way, on purpose: an object schema that lists its
// properties is closed unless it says `additionalProperties`, because a client generated from the
// document has no field for what it does not list (and a field nobody declared may be a leak).

export type Schema = {
  $ref?: string;
  type?: string | string[];
  nullable?: boolean;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function resolve(schema: Schema, root: unknown): Schema {
  if (!schema.$ref) return schema;
  let node: unknown = root;
  for (const part of schema.$ref.slice(2).split('/')) node = (node as Record<string, unknown>)?.[part];
  if (!node) throw new Error(`unresolved ${schema.$ref}`);
  return resolve(node as Schema, root);
}

/** The properties an `allOf` declares across its parts, or null when a part leaves them open. */
function declaredAcross(schema: Schema, root: unknown, into = new Set<string>()): Set<string> | null {
  const s = resolve(schema, root);
  if (s.additionalProperties !== undefined && s.additionalProperties !== false) return null;
  for (const name of Object.keys(s.properties ?? {})) into.add(name);
  for (const part of s.allOf ?? []) if (!declaredAcross(part, root, into)) return null;
  return into;
}

/**
 * Problems with `value` against `schema` (empty when it conforms), each naming where it is.
 * `open`: for a part of an `allOf`, whose siblings declare the rest of the object's properties.
 */
export function check(value: unknown, schema: Schema, root: unknown, at = '$', open = false): string[] {
  if (schema.$ref) return check(value, resolve(schema, root), root, at, open);
  const problems: string[] = [];
  if (schema.allOf) {
    for (const s of schema.allOf) problems.push(...check(value, s, root, at, true));
    const declared = declaredAcross(schema, root);
    if (!open && declared && typeOf(value) === 'object')
      for (const name of Object.keys(value as object))
        if (!declared.has(name)) problems.push(`${at}.${name}: not in the document`);
  }
  for (const [key, alternatives] of [
    ['anyOf', schema.anyOf],
    ['oneOf', schema.oneOf],
  ] as const) {
    if (!alternatives) continue;
    const matching = alternatives.filter((s) => check(value, s, root, at).length === 0).length;
    if (matching === 0 || (key === 'oneOf' && matching > 1))
      problems.push(`${at}: ${JSON.stringify(value)?.slice(0, 80)} matches ${matching} of ${key}`);
  }
  if (schema.const !== undefined && value !== schema.const)
    problems.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value))
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const actual = typeOf(value);
  if (schema.type) {
    const types = [schema.type, schema.nullable ? 'null' : []].flat();
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number')))
      return [...problems, `${at}: ${actual} where the document says ${types.join(' | ')}`];
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: ${value} < minimum`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: ${value} > maximum`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
      problems.push(`${at}: ${value} <= exclusiveMinimum`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${at}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at}: too long`);
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value)))
      problems.push(`${at}: ${value} is no date-time`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problems.push(`${at}: too few items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      problems.push(`${at}: too many items`);
    if (schema.items)
      for (const [i, item] of value.entries())
        problems.push(...check(item, schema.items, root, `${at}[${i}]`));
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? [])
      if (!(name in object)) problems.push(`${at}.${name}: required but missing`);
    const closed = !open && schema.properties !== undefined && schema.additionalProperties === undefined;
    for (const [name, v] of Object.entries(object)) {
      const declared = schema.properties?.[name];
      if (declared) problems.push(...check(v, declared, root, `${at}.${name}`));
      else if (typeof schema.additionalProperties === 'object')
        problems.push(...check(v, schema.additionalProperties, root, `${at}.${name}`));
      else if (schema.additionalProperties === false || closed)
        problems.push(`${at}.${name}: not in the document`);
    }
  }
  return problems;
}
