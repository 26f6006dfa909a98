/** What the loader says of input it must refuse: the formatted problems, or the test fails. */
import { InvalidInputError } from '../../core/errors.js';

export async function rejected(load: Promise<unknown>, what = 'the input'): Promise<string> {
  const e = await load.catch((x: unknown) => x);
  if (!(e instanceof InvalidInputError)) throw new Error(`expected ${what} to be rejected`);
  return e.format();
}
