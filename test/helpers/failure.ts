/**
 * What a promise that must fail failed with, serialized as the store keeps errors.
 */
import { serializeError, type SerializedError } from '../../src/shared/errors.ts';

export async function failureOf(p: Promise<unknown>): Promise<SerializedError> {
  try {
    await p;
  } catch (err) {
    return serializeError(err);
  }
  throw new Error('expected a failure');
}
