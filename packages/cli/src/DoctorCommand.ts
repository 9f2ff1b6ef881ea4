/**
 * `mcp-credentials doctor`: what the server would resolve from this environment, without values.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { DoctorProblemsError } from "./CliError.js"
import * as Doctor from "./Doctor.js"
import { choice } from "./internal/options.js"

/**
 * `doctor`: prints the report; exits non-zero when it lists a problem.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "doctor",
  {
    prefix: Options.text("prefix").pipe(
      Options.withPseudoName("PREFIX"),
      Options.withDefault(""),
      Options.withDescription("The Env backend's variable prefix, e.g. GITHUB_ for GITHUB_FIELDS.")
    ),
    mode: choice("mode", ["oss", "hosted"]).pipe(
      Options.optional,
      Options.withDescription("The credential mode (default: MCP_CREDENTIAL_MODE, else oss).")
    ),
    kind: choice("kind", ["static", "oauth"]).pipe(
      Options.optional,
      Options.withDescription("The credential kind the server uses; it must then resolve (default: at least one).")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const report = yield* Doctor.diagnose({
        prefix: o.prefix,
        mode: Option.getOrUndefined(o.mode),
        kind: Option.getOrUndefined(o.kind)
      })
      yield* Console.log(Doctor.render(report))
      if (report.problems.length > 0) return yield* new DoctorProblemsError({ problems: report.problems.length })
    })
).pipe(Command.withDescription(
  "Show what the Env backend would resolve (kind, field names, scopes, expiry, problems) without printing any value."
))
