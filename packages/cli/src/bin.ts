#!/usr/bin/env node
/**
 * The `mcp-credentials` executable.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Cli from "./Cli.js"
import * as Platform from "./internal/platform.js"

Platform.runMain(
  Effect.map(Cli.main(process.argv), (code) => {
    process.exitCode = code
  }),
  { disableErrorReporting: true }
)
