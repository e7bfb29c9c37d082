/** `topicflow cancel RUN_ID`: no new step of the run starts; the process running it stops it and exits. */
import { userError } from '../../shared/errors.ts';
import { openStore } from '../../app/runtime.ts';
import { cancelRun } from '../../engine/cancel.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

export async function cancel({ values, positionals }: ParsedArgs): Promise<number> {
  const id = positionals[0];
  if (!id) throw userError('cli.usage', 'cancel needs a RUN_ID (see topicflow runs)');
  if (positionals.length > 1) throw userError('cli.usage', `unexpected argument "${positionals[1]}"`);
  const store = await openStore();
  try {
    const { before, cancelled } = await cancelRun(store, id);
    if (!cancelled) throw userError('run.finished', `run ${id} already ${before}; there is nothing to cancel`, { where: 'cancel' });
    if (values.json) process.stdout.write(`${JSON.stringify({ id, status: 'cancelled', before })}\n`);
    else if (before === 'cancelled') process.stdout.write(`run ${id} was already cancelled; continue it with: topicflow resume ${id}\n`);
    else process.stdout.write(`run ${id} cancelled: steps in flight finish, no new one starts; continue it with: topicflow resume ${id}\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
