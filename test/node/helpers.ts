/** Helpers shared by the Node tests of pure modules. */

/** The error `fn` throws, for asserting on its name and message. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error) return e;
    throw new Error(`threw a non-Error: ${String(e)}`);
  }
  throw new Error("expected an error, none was thrown");
}
