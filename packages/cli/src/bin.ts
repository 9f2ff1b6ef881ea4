#!/usr/bin/env node
/**
 * The `mcp-credentials` executable.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { format } from "node:util"
import * as Cli from "./Cli.js"
import * as Platform from "./internal/platform.js"

// What the commands print to stdout (a manifest, a token, a listing) is checked: Node's console
// ignores a failed write (a full disk, a closed pipe), and `keys k8s > secret.yaml && rm key`
// would then remove the only copy of a key after an empty manifest. A failed write makes the
// command exit 1 with a message on stderr.
let stdoutError: (Error & { readonly code?: string }) | undefined
const failed = (e: unknown) => {
  stdoutError ??= e instanceof Error ? e : new Error(String(e))
}
process.stdout.on("error", failed)
const writeOut = (...args: ReadonlyArray<unknown>) => {
  try {
    process.stdout.write(`${format(...args)}\n`, (e) => e && failed(e))
  } catch (e) {
    failed(e)
  }
}
/** Every write so far has been handed to the system (or failed). */
const flushed = Effect.async<void>((resume) => {
  try {
    process.stdout.write("", () => resume(Effect.void))
  } catch (e) {
    failed(e)
    resume(Effect.void)
  }
})
const checkedConsole = (current: Console.Console): Console.Console => ({
  ...current,
  log: (...args) => Effect.sync(() => writeOut(...args)),
  info: (...args) => Effect.sync(() => writeOut(...args)),
  unsafe: { ...current.unsafe, log: writeOut, info: writeOut }
})

Platform.runMain(
  Console.consoleWith((current) => Effect.withConsole(Cli.main(process.argv), checkedConsole(current))).pipe(
    Effect.zipLeft(flushed),
    Effect.map((code) => {
      if (stdoutError !== undefined && code === Cli.exitCodes.ok) {
        process.stderr.write(`${Cli.name}: cannot write the output to stdout (${stdoutError.code ?? stdoutError.message})\n`)
        code = Cli.exitCodes.failure
      }
      process.exitCode = code
    })
  ),
  {
    disableErrorReporting: true,
    // Ctrl-C or SIGTERM interrupts the program from outside (`main` cannot catch that): exit 130,
    // not the runtime's 0; a finished program exits with the code it set
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) ? 0 : Cause.isInterruptedOnly(exit.cause) ? 130 : Cli.exitCodes.internal)
  }
)
