/**
 * API keys: `tf_` and 32 random bytes, shown once when created and kept only as a SHA-256 hash in
 * the store (a data store named `topicflow.api-keys`, a name no blueprint can declare), or given
 * in TOPICFLOW_API_KEYS. A random 256-bit key needs no slow hash: nobody can guess it from its hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { userError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import type { Store } from '../store/types.ts';

/** The data store that holds the keys; not a blueprint identifier, so no workflow can read or write it. */
export const KEYS_DATASTORE = 'topicflow.api-keys';

export interface ApiKeyInfo {
  id: string;
  name: string;
  /** The key's first characters, to recognise it in a list (`tf_AbCd…`). */
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

interface StoredKey extends ApiKeyInfo {
  hash: string;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** The keys of TOPICFLOW_API_KEYS (comma or whitespace separated), as hashes with an id each. */
export function envKeys(env: Record<string, string | undefined>): { id: string; hash: Buffer }[] {
  const list = (env.TOPICFLOW_API_KEYS ?? '').split(/[\s,]+/).filter(Boolean);
  for (const k of list) if (k.length < 16) throw userError('env.bad_value', 'TOPICFLOW_API_KEYS: each key needs at least 16 characters', { where: 'TOPICFLOW_API_KEYS' });
  return list.map((k, i) => ({ id: `env-${i + 1}`, hash: sha256(k) }));
}

/** Keys kept in the store, with their hashes (used only to compare). */
async function storedKeys(store: Store): Promise<StoredKey[]> {
  const records = await store.dsSearch(KEYS_DATASTORE);
  return records.map((r) => r.record as unknown as StoredKey);
}

/** Creates a key; the returned `key` is the only time its text exists outside the caller. */
export async function createKey(store: Store, name: string): Promise<{ key: string; info: ApiKeyInfo }> {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 100) throw userError('key.bad_name', 'a key name takes 1 to 100 characters', { where: '--name' });
  const key = `tf_${randomBytes(32).toString('base64url')}`;
  const info: ApiKeyInfo = { id: newId('key'), name: trimmed, prefix: key.slice(0, 7), createdAt: new Date().toISOString(), revokedAt: null };
  await store.dsUpsert(KEYS_DATASTORE, info.id, { ...info, hash: sha256(key).toString('hex') });
  return { key, info };
}

/** Every stored key, revoked ones included, without hashes. */
export async function listKeys(store: Store): Promise<ApiKeyInfo[]> {
  return (await storedKeys(store)).map(({ hash: _hash, ...info }) => info).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Revokes a key by id; it stops working at the next request. */
export async function revokeKey(store: Store, id: string): Promise<ApiKeyInfo> {
  const found = await store.dsGet(KEYS_DATASTORE, id);
  if (!found) throw userError('key.not_found', `no key with id "${id}" (see topicflow keys list)`, { where: 'keys revoke' });
  const key = found.record as unknown as StoredKey;
  const revoked = { ...key, revokedAt: key.revokedAt ?? new Date().toISOString() };
  await store.dsUpsert(KEYS_DATASTORE, id, revoked as unknown as Record<string, unknown>);
  const { hash: _hash, ...info } = revoked;
  return info;
}

/** Checks presented keys against the environment's and the store's live keys. */
export class KeyRing {
  readonly #store: Store;
  readonly #env: { id: string; hash: Buffer }[];

  constructor(store: Store, env: Record<string, string | undefined>) {
    this.#store = store;
    this.#env = envKeys(env);
  }

  /** True when at least one key can sign in. */
  async any(): Promise<boolean> {
    return this.#env.length > 0 || (await storedKeys(this.#store)).some((k) => !k.revokedAt);
  }

  /**
   * The id of the live key `presented` is, or undefined. Every candidate hash is compared in
   * constant time and the loop never stops early, so timing tells nothing about which key matched.
   */
  async verify(presented: string | undefined): Promise<string | undefined> {
    if (!presented || presented.length > 200) return undefined;
    const hash = sha256(presented);
    const candidates = [...this.#env, ...(await storedKeys(this.#store)).filter((k) => !k.revokedAt).map((k) => ({ id: k.id, hash: Buffer.from(k.hash, 'hex') }))];
    let match: string | undefined;
    for (const c of candidates) if (c.hash.length === hash.length && timingSafeEqual(c.hash, hash) && match === undefined) match = c.id;
    return match;
  }

  /** Whether the key with this id is still live (a session ends when its key is revoked). */
  async live(id: string): Promise<boolean> {
    if (this.#env.some((k) => k.id === id)) return true;
    const found = await this.#store.dsGet(KEYS_DATASTORE, id);
    return !!found && !(found.record as unknown as StoredKey).revokedAt;
  }
}
