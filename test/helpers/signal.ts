/**
 * A one-shot signal between a test and a transaction it holds open: `fire()` resolves `fired`.
 * (Promise.withResolvers, for the ES2023 library this project compiles against.)
 */
export function signal(): { fired: Promise<void>; fire(): void } {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { fired, fire };
}
