// The OpenAPI document at /api/v1/openapi.json holds together as an OpenAPI 3.1 document: no
// validator package is among the dependencies, so this checks the structure the specification and
// the document's clients rely on: a unique operationId, responses and a declared permission on every
// operation; every path parameter declared, and declared ones used; every $ref resolving; every
// security requirement naming a declared scheme.
import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS } from '../worker/domain/permissions';
import { RELAY } from './support/relay';

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: unknown;
}
interface OperationObject {
  operationId?: string;
  summary?: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<
    string,
    {
      description?: string;
      content?: Record<string, { schema?: unknown }>;
      headers?: Record<string, unknown>;
    }
  >;
  security?: Record<string, string[]>[];
  'x-permission'?: string;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, OperationObject>>;
  components: Record<string, Record<string, unknown>>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PERMISSIONS = new Set<string>([...ACTIONS, 'signed-in', 'public']);

let doc: Document;
const operations: { where: string; path: string; op: OperationObject }[] = [];

beforeAll(async () => {
  const res = await SELF.fetch(`${RELAY}/api/v1/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Document;
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item))
      operations.push({ where: `${method.toUpperCase()} ${path}`, path, op });
});

/** Every `$ref` anywhere in the document, with where it was found. */
function refs(node: unknown, at: string, out: { at: string; ref: string }[] = []) {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) refs(n, `${at}/${i}`, out);
  } else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push({ at, ref: v });
      else refs(v, `${at}/${k}`, out);
    }
  return out;
}

function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const part of ref.slice(2).split('/')) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with info and paths, and only operations under its paths', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    expect(operations.length).toBeGreaterThan(100);
    for (const [path, item] of Object.entries(doc.paths)) {
      expect(path.startsWith('/'), path).toBe(true);
      for (const key of Object.keys(item)) expect(METHODS, `${path} ${key}`).toContain(key);
    }
  });

  it('gives every operation a unique operationId, a summary, responses (a 429 with retry-after) and a declared permission', () => {
    const problems: string[] = [];
    const seen = new Map<string, string>();
    for (const { where, op } of operations) {
      if (!op.operationId) problems.push(`${where}: no operationId`);
      else if (seen.has(op.operationId))
        problems.push(`${where}: operationId ${op.operationId} also on ${seen.get(op.operationId)}`);
      else seen.set(op.operationId, where);
      if (!op.summary) problems.push(`${where}: no summary`);
      const statuses = Object.keys(op.responses ?? {});
      if (!statuses.some((s) => /^[23]\d\d$/.test(s))) problems.push(`${where}: no success response`);
      for (const s of statuses)
        if (!/^[1-5](\d\d|XX)$/.test(s) && s !== 'default') problems.push(`${where}: status ${s}`);
      for (const [s, r] of Object.entries(op.responses ?? {})) {
        if (!r.description) problems.push(`${where} ${s}: a response needs a description`);
        for (const [type, media] of Object.entries(r.content ?? {}))
          if (!media.schema) problems.push(`${where} ${s} ${type}: no schema`);
      }
      // A 429 always says when to try again; a client generated from the document should read it.
      const limited = op.responses?.['429'];
      if (limited && !limited.headers?.['retry-after']) problems.push(`${where} 429: no retry-after header`);
      if (op.requestBody && !Object.values(op.requestBody.content ?? {}).every((m) => m.schema))
        problems.push(`${where}: a request body without a schema`);
      if (!PERMISSIONS.has(op['x-permission'] ?? ''))
        problems.push(`${where}: x-permission ${op['x-permission']}`);
    }
    expect(problems).toEqual([]);
  });

  it('declares every path parameter, as required, and uses every one declared; no parameter as nullable', () => {
    const problems: string[] = [];
    for (const { where, path, op } of operations) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      const params = op.parameters ?? [];
      const declared = params.filter((p) => p.in === 'path');
      for (const name of inPath) {
        const p = declared.find((d) => d.name === name);
        if (!p) problems.push(`${where}: {${name}} is not declared`);
        else if (p.required !== true) problems.push(`${where}: {${name}} is not required`);
      }
      for (const d of declared)
        if (!inPath.includes(d.name)) problems.push(`${where}: ${d.name} is not in the path`);
      for (const p of params) {
        if (!['path', 'query', 'header', 'cookie'].includes(p.in))
          problems.push(`${where}: ${p.name} in ${p.in}`);
        if (!p.schema) problems.push(`${where}: ${p.name} has no schema`);
        // A query string or a path has no null: a client typed `number | null` from the document
        // would send `?from=null`, which the API refuses.
        const types = (p.schema as { type?: string | string[] } | undefined)?.type;
        if (Array.isArray(types) && types.includes('null')) problems.push(`${where}: ${p.name} may be null`);
      }
      const keys = params.map((p) => `${p.in}:${p.name}`);
      if (new Set(keys).size !== keys.length) problems.push(`${where}: a parameter is declared twice`);
    }
    expect(problems).toEqual([]);
  });

  it('resolves every $ref', () => {
    const found = refs(doc, '#');
    expect(found.length).toBeGreaterThan(50);
    const broken = found
      .filter(({ ref }) => resolve(ref) === undefined)
      .map(({ at, ref }) => `${at}: ${ref}`);
    expect(broken).toEqual([]);
  });

  it('names only declared security schemes, and none on public operations', () => {
    const schemes = Object.keys(doc.components.securitySchemes ?? {});
    expect(schemes.sort()).toEqual(['bearer', 'session']);
    const problems: string[] = [];
    for (const { where, op } of operations) {
      for (const requirement of op.security ?? [])
        for (const name of Object.keys(requirement))
          if (!schemes.includes(name)) problems.push(`${where}: security ${name}`);
      const isPublic = op['x-permission'] === 'public';
      if (isPublic && (op.security ?? []).length > 0)
        problems.push(`${where}: public but asks for a credential`);
      if (!isPublic && (op.security ?? []).length === 0) problems.push(`${where}: asks for no credential`);
    }
    expect(problems).toEqual([]);
  });
});
