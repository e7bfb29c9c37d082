/** `topicflow keys create|list|revoke`: the API keys of `serve`, kept hashed in the store. */
import { openStore } from '../../app/runtime.ts';
import { userError } from '../../shared/errors.ts';
import { createKey, listKeys, revokeKey } from '../../server/keys.ts';
import { EXIT, type ParsedArgs } from '../command.ts';
import { table } from './runs.ts';

export async function keys({ values, positionals }: ParsedArgs): Promise<number> {
  const [action, arg, extra] = positionals;
  if (action !== 'create' && action !== 'list' && action !== 'revoke') throw userError('cli.usage', 'keys needs create, list or revoke KEY_ID');
  if (action === 'revoke' && !arg) throw userError('cli.usage', 'keys revoke needs a KEY_ID (see topicflow keys list)');
  const unexpected = action === 'revoke' ? extra : arg;
  if (unexpected !== undefined) throw userError('cli.usage', `unexpected argument "${unexpected}"`);
  const store = await openStore();
  try {
    if (action === 'create') {
      const { key, info } = await createKey(store, typeof values.name === 'string' ? values.name : 'default');
      if (values.json) process.stdout.write(`${JSON.stringify({ ...info, key })}\n`);
      else {
        process.stdout.write(`${key}\n`);
        process.stderr.write(`key ${info.id} ("${info.name}") created. It is shown this once and kept only hashed: store it now. Revoke it with: topicflow keys revoke ${info.id}\n`);
      }
      return EXIT.ok;
    }
    if (action === 'revoke') {
      const info = await revokeKey(store, arg!);
      if (values.json) process.stdout.write(`${JSON.stringify(info)}\n`);
      else process.stdout.write(`key ${info.id} ("${info.name}") revoked: it no longer signs in or calls the API\n`);
      return EXIT.ok;
    }
    const list = await listKeys(store);
    if (values.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    else if (!list.length) process.stdout.write('no keys yet (create one with `topicflow keys create --name NAME`)\n');
    else process.stdout.write(`${table([['ID', 'NAME', 'KEY', 'CREATED', 'REVOKED'], ...list.map((k) => [k.id, k.name, `${k.prefix}…`, k.createdAt, k.revokedAt ?? ''])])}\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
