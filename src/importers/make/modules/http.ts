/**
 * HTTP modules (`http:ActionSendData` and its basic-auth and API-key variants, `http:MakeRequest`):
 * a call to Serper's /search becomes `serper.search` (typed, cached, credit-counted); a call to a
 * content-extraction endpoint becomes `page.extract` with --map-extract; anything else is
 * `http.request`. An API key written in clear never reaches the workflow: it becomes an
 * environment variable (`secretHeaders`), and the report says which.
 */
import { isObject } from '../export.ts';
import type { ModuleContext, ModuleTranslator } from '../context.ts';
import { text } from '../context.ts';
import { Untranslatable } from '../iml/errors.ts';
import { str } from '../iml/jsonata.ts';
import { closingBraces } from '../iml/template.ts';
import { head, step } from '../steps.ts';

interface HttpCall {
  method: string;
  url: string;
  headers: [string, unknown][];
  query: [string, unknown][];
  body?: { kind: 'raw'; text: string; contentType?: string } | { kind: 'form'; fields: [string, unknown][] };
  parseResponse: boolean;
  timeoutSeconds?: number;
  errorsOnStatus: boolean;
  /** Authentication kept by a Make keychain, which the export does not hold. */
  keychain?: 'basic' | 'apiKey';
}

const pairs = (v: unknown, keyName = 'name'): [string, unknown][] => (Array.isArray(v) ? v.filter(isObject).map((p) => [String(p[keyName] ?? ''), p.value] as [string, unknown]).filter(([k]) => k !== '') : []);

function readCall(ctx: ModuleContext): HttpCall {
  const { mapper: m, parameters: p, module } = ctx.mod;
  const url = text(m.url);
  if (!url) throw new Untranslatable('mapper.url is empty');
  const call: HttpCall = {
    method: (text(m.method) ?? 'get').toUpperCase(),
    url,
    headers: pairs(m.headers),
    query: pairs(m.qs ?? m.queryParameters),
    parseResponse: m.parseResponse === true || m.parseResponse === 'true',
    errorsOnStatus: p.handleErrors !== false,
  };
  const timeout = Number(text(m.timeout));
  if (Number.isFinite(timeout) && timeout > 0) call.timeoutSeconds = timeout;
  if (module === 'http:MakeRequest') {
    const auth = p.authenticationType;
    if (auth === 'basicAuth') call.keychain = 'basic';
    else if (auth === 'apiKey') call.keychain = 'apiKey';
    else if (auth !== undefined && auth !== 'noAuth') throw new Untranslatable(`authentication "${String(auth)}" has no translation`);
    const json = text(m.jsonStringBodyContent);
    if (m.inputMethod === 'dataStructure') throw new Untranslatable('a body built from a data structure has no translation');
    if (json !== undefined && json !== '') call.body = { kind: 'raw', text: json, contentType: 'application/json' };
    else if (text(m.bodyContent)) call.body = { kind: 'raw', text: text(m.bodyContent)!, ...(text(m.contentType) ? { contentType: contentTypeOf(text(m.contentType)!) } : {}) };
  } else {
    if (module === 'http:ActionSendDataBasicAuth') call.keychain = 'basic';
    if (module === 'http:ActionSendDataAPIKeyAuth') call.keychain = 'apiKey';
    const bodyType = text(m.bodyType) ?? '';
    const data = text(m.data) ?? text(m.body);
    if (bodyType === 'raw' || (bodyType === '' && data)) {
      if (data !== undefined && data !== '') {
        const ct = text(m.contentType) === 'custom' ? text(m.customContentType) : text(m.contentType);
        call.body = { kind: 'raw', text: data, ...(ct ? { contentType: ct } : {}) };
      }
    } else if (bodyType === 'x_www_form_urlencoded') {
      call.body = { kind: 'form', fields: pairs(m.fields, 'key') };
    } else if (bodyType !== '') throw new Untranslatable(`a ${bodyType.replaceAll('_', ' ')} body has no translation`);
  }
  return call;
}

function contentTypeOf(v: string): string {
  return v === 'json' ? 'application/json' : v === 'text' ? 'text/plain' : v;
}

const SECRET_NAME = /authorization|api[-_]?key|apikey|token|secret|password|passwd|cookie|x-auth|access[-_]?key/i;

/** A value written in clear (no mapping) under a name that holds credentials. */
function isClearSecret(name: string, value: unknown): value is string | number {
  return SECRET_NAME.test(name) && (typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && !value.includes('{{')));
}

/**
 * A JSON body with `{{ }}` parts, read as JSON: parts inside a JSON string stay text, parts
 * standing as a JSON value keep their type. Undefined when the text is not JSON.
 */
export function parseJsonTemplate(raw: string): unknown {
  const exprs: string[] = [];
  let out = '';
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '{' && raw[i + 1] === '{') {
      const close = closingBraces(raw, i + 2);
      if (close < 0) return undefined;
      exprs.push(raw.slice(i, close + 2));
      const marker = `\uE000${exprs.length - 1}\uE000`;
      out += inString ? marker : `"\uE001${marker}"`;
      i = close + 1;
      continue;
    }
    if (inString && c === '\\') { out += c + (raw[i + 1] ?? ''); i++; continue; }
    if (c === '"') inString = !inString;
    out += c;
  }
  let parsed: unknown;
  try { parsed = JSON.parse(out); } catch { return undefined; }
  const restore = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('\uE000')) return v;
      const whole = /^\uE001\uE000(\d+)\uE000$/.exec(v);
      if (whole) return { $whole: exprs[Number(whole[1])]! };
      return v.replace(/\uE001?\uE000(\d+)\uE000/g, (_, n: string) => exprs[Number(n)]!);
    }
    if (Array.isArray(v)) return v.map(restore);
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, restore(x)]));
    return v;
  };
  return restore(parsed);
}

/** The parsed JSON body as a topicflow mapping (`{ $whole }` parts keep their type). */
function bodyMapping(ctx: ModuleContext, v: unknown, where: string): unknown {
  if (isObject(v) && typeof v.$whole === 'string' && Object.keys(v).length === 1) return ctx.map(v.$whole, where);
  if (typeof v === 'string') return ctx.map(v, where);
  if (Array.isArray(v)) return v.map((x, i) => bodyMapping(ctx, x, `${where}[${i}]`));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bodyMapping(ctx, x, `${where}.${k}`)]));
  return v;
}

/** Refuses credentials written in clear where topicflow cannot move them into a variable. */
function refuseClearSecrets(call: HttpCall, json: unknown): void {
  for (const [k, v] of call.query) if (isClearSecret(k, v)) throw new Untranslatable(`an API key written in the query string (${k}) has no translation: topicflow sends secrets in headers only, from environment variables`);
  const q = /[?&]([^=&#]+)=([^&#]*)/g;
  for (const m of call.url.matchAll(q)) if (isClearSecret(decodeURIComponent(m[1]!), m[2]!)) throw new Untranslatable(`an API key written in the URL (${m[1]}) has no translation: topicflow sends secrets in headers only, from environment variables`);
  const walk = (v: unknown, path: string) => {
    if (isObject(v) && !('$whole' in v)) for (const [k, x] of Object.entries(v)) {
      if (isClearSecret(k, x)) throw new Untranslatable(`an API key written in the request body (${path}${k}) has no translation: topicflow sends secrets in headers only, from environment variables`);
      walk(x, `${path}${k}.`);
    } else if (Array.isArray(v)) for (const x of v) walk(x, path);
  };
  walk(json, '');
}

/** `api.example.com` → `EXAMPLE`: the name a variable for this host's credentials starts with. */
function hostPrefix(url: string): string {
  let host = '';
  try { host = new URL(url.replace(/\{\{[\s\S]*?\}\}/g, 'x')).hostname; } catch { /* mapped host */ }
  const parts = host.split('.').filter((p) => p && !['www', 'api', 'com', 'io', 'net', 'org', 'dev', 'ai', 'co', 'app'].includes(p));
  const name = (parts.at(-1) ?? '').toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return /^[A-Z]/.test(name) ? name : 'HTTP';
}

/** Headers to send, with clear credentials replaced by `${VARIABLE}` references in `secretHeaders`. */
function headersOf(ctx: ModuleContext, call: HttpCall, drop: (name: string) => boolean): { headers: Record<string, unknown>; secretHeaders: Record<string, string> } {
  const headers: Record<string, unknown> = {};
  const secretHeaders: Record<string, string> = {};
  for (const [name, value] of call.headers) {
    if (drop(name)) continue;
    if (isClearSecret(name, value)) {
      const v = String(value).trim();
      const scheme = /^(Bearer|Basic|Token|Bot|ApiKey|Api-Key)\s+/i.exec(v)?.[0] ?? '';
      const variable = /openai\.com/.test(call.url) && /authorization/i.test(name) ? 'OPENAI_API_KEY' : `${hostPrefix(call.url)}_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
      secretHeaders[name] = `${scheme}\${${variable}}`;
      ctx.env(variable, `module ${ctx.mod.id} sends it in the ${name} header${scheme ? ` after "${scheme.trim()}"` : ''} (the value written in the Make file was not copied)`);
      continue;
    }
    headers[name] = ctx.map(value ?? '', `header ${name}`);
  }
  if (call.keychain === 'basic') {
    const variable = `HTTP_BASIC_AUTH_${ctx.mod.id}`;
    secretHeaders.Authorization = `Basic \${${variable}}`;
    ctx.env(variable, `module ${ctx.mod.id}'s basic authentication: base64 of "user:password" (Make keeps it in a keychain the export does not hold)`);
  } else if (call.keychain === 'apiKey') {
    const variable = `HTTP_API_KEY_${ctx.mod.id}`;
    secretHeaders['X-API-Key'] = `\${${variable}}`;
    ctx.env(variable, `module ${ctx.mod.id}'s API key (Make keeps it in a keychain the export does not hold)`);
    ctx.note('the keychain\'s API key is sent in the X-API-Key header: the export does not say which header or query parameter Make used; edit secretHeaders if the API wants another');
  }
  return { headers, secretHeaders };
}

const SERPER_FIELDS = ['q', 'gl', 'hl', 'num', 'page', 'location', 'tbs'];

function serper(ctx: ModuleContext, call: HttpCall, json: unknown): ReturnType<ModuleTranslator> | undefined {
  let fields: Record<string, unknown> | undefined;
  if (call.method === 'POST' && isObject(json)) fields = json;
  else if (call.method === 'GET' && call.query.some(([k]) => k === 'q')) fields = Object.fromEntries(call.query);
  if (!fields || fields.q === undefined) return undefined;
  const unknown = Object.keys(fields).filter((k) => !SERPER_FIELDS.includes(k) && k !== 'autocorrect' && k !== 'type');
  if (unknown.length) return undefined;
  for (const [k, v] of call.query) if (!/^api[-_]?key$/i.test(k) && call.method === 'POST') fields[k] ??= v;
  const id = ctx.id('serper');
  const inputs: Record<string, unknown> = {};
  for (const k of SERPER_FIELDS) if (fields[k] !== undefined && fields[k] !== '') inputs[k] = bodyMapping(ctx, fields[k], `body.${k}`);
  ctx.env('SERPER_API_KEY', `module ${ctx.mod.id} calls Serper${call.headers.some(([n, v]) => /x-api-key/i.test(n) && isClearSecret(n, v)) ? ' (the key written in clear in its X-API-KEY header was not copied)' : ''}`);
  ctx.note('Serper results are cached for 24 hours and credits are counted (Make called Serper every time)');
  return {
    steps: [step(id, 'serper.search@1', inputs)],
    entry: id,
    chain: id,
    read: (path, tools) => {
      const { key, rest } = head(path);
      const base = tools.root(`steps.${id}`);
      // Make's `data` is Serper's reply; the step keeps the reply of each page it fetched.
      if (key === 'data') return tools.follow(`${base}.raw[0]`, rest);
      if (key === 'statusCode') return '200';
      throw new Untranslatable(`uses ${key ?? '[]'} of the Serper call (data and statusCode are available)`);
    },
  };
}

/** Fields of a content-extraction reply and the page.extract output that holds them. */
const EXTRACT_FIELDS: Record<string, string> = {
  text: 'text', content: 'text', markdown: 'text', article: 'text', textContent: 'text', plain_text: 'text', body: 'text',
  title: 'title', author: 'byline', byline: 'byline', siteName: 'siteName', site_name: 'siteName', lang: 'lang', language: 'lang',
  wordCount: 'wordCount', word_count: 'wordCount', words: 'wordCount', excerpt: 'excerpt', description: 'excerpt',
  publishedTime: 'publishedTime', published: 'publishedTime', date: 'publishedTime', published_date: 'publishedTime',
  headings: 'headings', url: 'finalUrl', finalUrl: 'finalUrl', final_url: 'finalUrl',
};

const EXTRACT_ENDPOINT = /extract|scrap|readab|article|content|parse|reader|mercury|diffbot|firecrawl|jina/i;
const PAGE_URL_FIELD = /^(url|link|page|pageUrl|page_url|target|targetUrl|target_url)$/;

/** The mapped page URL when the call asks an endpoint to extract a page's content. */
function extractionUrl(call: HttpCall, json: unknown): unknown {
  let path = call.url;
  try { path = new URL(call.url.replace(/\{\{[\s\S]*?\}\}/g, 'x')).host + new URL(call.url.replace(/\{\{[\s\S]*?\}\}/g, 'x')).pathname; } catch { /* keep */ }
  if (!EXTRACT_ENDPOINT.test(path)) return undefined;
  const fromBody = isObject(json) ? Object.entries(json).find(([k]) => PAGE_URL_FIELD.test(k))?.[1] : undefined;
  return fromBody ?? call.query.find(([k]) => PAGE_URL_FIELD.test(k))?.[1];
}

function pageExtract(ctx: ModuleContext, url: unknown): ReturnType<ModuleTranslator> {
  const id = ctx.id('page');
  const allow = ctx.input('allowPrivateNetwork', { type: 'boolean', default: false, description: 'Let page fetches reach private and loopback addresses (off: links to them are refused).' });
  let endpoint = 'the extraction endpoint';
  try { endpoint = new URL(text(ctx.mod.mapper.url) ?? '').host; } catch { /* a mapped URL */ }
  ctx.note(`--map-extract: the page is fetched and its main content extracted by topicflow (Readability), not by ${endpoint}; reply fields are read by name (text, title, author, word_count, ...)`);
  return {
    steps: [step(id, 'page.extract@1', { url: bodyMapping(ctx, url, 'body.url'), allowPrivate: `{{ inputs.${allow} }}` })],
    entry: id,
    chain: id,
    read: (path, tools) => {
      const { key, rest } = head(path);
      const base = tools.root(`steps.${id}`);
      if (key === 'statusCode') return tools.follow(`${base}.httpStatus`, rest);
      if (key === 'data') {
        const field = rest[0]?.kind === 'key' ? rest[0].name : undefined;
        if (field === undefined) throw new Untranslatable('uses the whole reply of the extraction endpoint (its fields are mapped by name)');
        const to = Object.hasOwn(EXTRACT_FIELDS, field) ? EXTRACT_FIELDS[field] : undefined;
        if (!to) throw new Untranslatable(`uses field "${field}" of the extraction reply, which page.extract does not give (${[...new Set(Object.values(EXTRACT_FIELDS))].join(', ')})`);
        return tools.follow(`${base}.${to}`, rest.slice(1));
      }
      throw new Untranslatable(`uses ${key ?? '[]'} of the extraction call (data and statusCode are available)`);
    },
  };
}

export const httpRequest: ModuleTranslator = (ctx) => {
  const call = readCall(ctx);
  if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].includes(call.method)) throw new Untranslatable(`method ${call.method} has no translation`);
  const raw = call.body?.kind === 'raw' ? call.body : undefined;
  const json = raw && ((raw.contentType ?? '').includes('json') || /^\s*[[{]/.test(raw.text)) ? parseJsonTemplate(raw.text) : undefined;

  let host = '';
  try { host = new URL(call.url).host; } catch { /* a mapped URL */ }
  if (host === 'google.serper.dev' && /^\/search\/?$/.test(new URL(call.url).pathname)) {
    const s = serper(ctx, call, json);
    if (s) return s;
  }
  const pageUrl = extractionUrl(call, json);
  // The endpoint's own credentials are not needed: topicflow fetches the page itself.
  if (pageUrl !== undefined && ctx.options.mapExtract) return pageExtract(ctx, pageUrl);
  if (pageUrl !== undefined) ctx.note('this looks like a content-extraction call; --map-extract makes it a page.extract step');

  refuseClearSecrets(call, json);
  const { headers, secretHeaders } = headersOf(ctx, call, () => false);
  const inputs: Record<string, unknown> = { method: call.method, url: ctx.map(call.url, 'mapper.url') };
  if (Object.keys(headers).length) inputs.headers = headers;
  if (Object.keys(secretHeaders).length) inputs.secretHeaders = secretHeaders;
  if (call.query.length) inputs.query = Object.fromEntries(call.query.map(([k, v]) => [k, ctx.map(v ?? '', `query ${k}`)]));
  if (call.body?.kind === 'raw') {
    if (json !== undefined) {
      inputs.json = bodyMapping(ctx, json, 'body');
      if (/\{\{/.test(call.body.text)) ctx.note('values mapped into the JSON body are escaped as JSON (Make inserts them as they are)');
    } else {
      inputs.body = ctx.map(call.body.text, 'mapper.data');
      if (call.body.contentType) inputs.headers = { 'Content-Type': call.body.contentType, ...(inputs.headers as object | undefined) };
    }
  } else if (call.body?.kind === 'form') {
    const parts = call.body.fields.map(([k, v]) => `${str(`${encodeURIComponent(k)}=`)} & $encodeUrlComponent(${ctx.expr(v ?? '', `field ${k}`)})`);
    inputs.body = `{{ $join([${parts.join(', ')}], '&') }}`;
    inputs.headers = { 'Content-Type': 'application/x-www-form-urlencoded', ...(inputs.headers as object | undefined) };
  }
  inputs.responseType = call.parseResponse ? 'json' : 'text';
  if (!call.errorsOnStatus) inputs.expectStatus = ['1xx', '2xx', '3xx', '4xx', '5xx'];
  if (call.timeoutSeconds !== undefined) inputs.timeout = `${call.timeoutSeconds}s`;
  const id = ctx.id('http');
  return {
    steps: [step(id, 'http.request@1', inputs)],
    entry: id,
    chain: id,
    read: (path, tools) => {
      const { key, rest } = head(path);
      const base = tools.root(`steps.${id}`);
      if (key === 'data') return tools.follow(`${base}.body`, rest);
      if (key === 'statusCode') return tools.follow(`${base}.status`, rest);
      if (key === 'headers') return tools.follow(`${base}.headers`, rest);
      throw new Untranslatable(`uses ${key ?? '[]'} of the HTTP call (data, statusCode and headers are available)`);
    },
  };
};
