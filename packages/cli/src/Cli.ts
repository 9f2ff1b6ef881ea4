/**
 * The `mcp-credentials` command line: `keys`, `token`, `doctor`, `vault`, with `--help` on every command,
 * `--version` and `--completions bash|zsh|fish` from `@effect/cli`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import type * as CliApp from "@effect/cli/CliApp"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { type CliError, isCliError, subcommandRequired } from "./CliError.js"
import * as DoctorCommand from "./DoctorCommand.js"
import * as Platform from "./internal/platform.js"
import * as KeysCommand from "./KeysCommand.js"
import * as TokenCommand from "./TokenCommand.js"
import * as VaultCommand from "./VaultCommand.js"

/**
 * The program's name.
 *
 * @since 0.1.0
 * @category constants
 */
export const name = "mcp-credentials"

/**
 * The package version.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = Platform.version

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(name, {}, subcommandRequired(name, ["keys", "token", "doctor", "vault"])).pipe(
  Command.withDescription(
    "Keys, Kubernetes secrets, development tokens, a configuration doctor and the per-user credential vault of mcp-credentials."
  ),
  Command.withSubcommands([KeysCommand.command, TokenCommand.command, DoctorCommand.command, VaultCommand.command])
)

/**
 * Runs the command line `argv` (as `process.argv`: runtime and script first). Parse errors are
 * printed by `@effect/cli` and fail with its `ValidationError`.
 *
 * @since 0.1.0
 * @category running
 */
export const run: (
  argv: ReadonlyArray<string>
) => Effect.Effect<void, CliError | ValidationError.ValidationError, CliApp.CliApp.Environment> = Command.run(command, {
  name,
  version
})

/**
 * Exit codes: 0 success, 1 a command failed (a file, a key, a store, a problem found by `doctor`,
 * nothing to revoke), 2 bad
 * arguments (a parse error or an `InvalidArgumentError`), 70 an internal error, 130 interrupted.
 *
 * @since 0.1.0
 * @category constants
 */
export const exitCodes = { ok: 0, failure: 1, usage: 2, internal: 70 } as const

/**
 * Runs `argv` on Node and returns the exit code, having printed every error as one line on
 * stderr (never a stack trace).
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  run(argv).pipe(
    Effect.as<number>(exitCodes.ok),
    Effect.catchAll((error) =>
      ValidationError.isValidationError(error)
        ? Effect.succeed(exitCodes.usage) // @effect/cli has printed it
        : Effect.as(
          Console.error(`${name}: ${isCliError(error) ? error.message : String(error)}`),
          error._tag === "InvalidArgumentError" ? exitCodes.usage : exitCodes.failure
        )
    ),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.succeed(130)
        : Effect.as(Console.error(`${name}: internal error: ${firstLine(Cause.squash(cause))}`), exitCodes.internal)
    ),
    Effect.provide(Platform.layer),
    Platform.withPlainConsole
  )

const firstLine = (u: unknown): string => {
  const text = u instanceof Error ? `${u.name}: ${u.message}` : String(u)
  return text.split("\n")[0] ?? ""
}
