/**
 * Runs a command's `main` as an npm script does: its resolved number becomes the exit code; a rejection prints
 * `error: <message>` (the message alone for the errors `isExpected` accepts, such as a bad setting or argument;
 * the stack for anything else, which is a defect) and exits with 1.
 */
export function runCommand(main: () => Promise<number>, isExpected: (err: unknown) => boolean): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const message = isExpected(err) ? (err as Error).message : String((err as Error)?.stack ?? err);
      console.error(`error: ${message}`);
      process.exitCode = 1;
    },
  );
}
