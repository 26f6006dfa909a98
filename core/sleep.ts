/**
 * Waits ms, or less when the signal aborts. The abort listener goes when the
 * wait ends: a run makes thousands of waits on one signal, and listeners left
 * behind pile up (Node warns at 11).
 */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
