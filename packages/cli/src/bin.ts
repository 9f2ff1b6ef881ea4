#!/usr/bin/env node
/**
 * The `mcp-credentials` executable.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"
import * as Platform from "./internal/platform.js"

Platform.runMain(
  Effect.map(Cli.main(process.argv), (code) => {
    process.exitCode = code
  }),
  {
    disableErrorReporting: true,
    // Ctrl-C or SIGTERM interrupts the program from outside (`main` cannot catch that): exit 130,
    // not the runtime's 0; a finished program exits with the code it set
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) ? 0 : Cause.isInterruptedOnly(exit.cause) ? 130 : Cli.exitCodes.internal)
  }
)
