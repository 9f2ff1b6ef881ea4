/**
 * Where credentials come from: `oss` (environment variables, a single-tenant server) or `hosted`
 * (headers injected by a gateway in front of a multi-tenant server).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/**
 * @since 0.1.0
 * @category models
 */
export type CredentialMode = "oss" | "hosted"

/**
 * The valid modes, in the order error messages list them.
 *
 * @since 0.1.0
 * @category constants
 */
export const values: ReadonlyArray<CredentialMode> = ["oss", "hosted"]

/**
 * The variable read first; `FASTMCP_CREDENTIAL_MODE` (the Python library's) is read when it is unset.
 *
 * @since 0.1.0
 * @category constants
 */
export const variable = "MCP_CREDENTIAL_MODE"

/**
 * @since 0.1.0
 * @category constants
 */
export const legacyVariable = "FASTMCP_CREDENTIAL_MODE"

/**
 * Parses a mode: trimmed and lowercased; anything else (an empty string too) is an error that
 * names `name` and lists the valid values, without quoting the value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (raw: string, name: string = variable): Either.Either<CredentialMode, ConfigError.ConfigError> => {
  const normalized = raw.trim().toLowerCase()
  return normalized === "oss" || normalized === "hosted"
    ? Either.right(normalized)
    : Either.left(ConfigError.InvalidData([name], `Invalid ${name}. Valid values: ${values.join(", ")}`))
}

/**
 * The mode from `MCP_CREDENTIAL_MODE`, else `FASTMCP_CREDENTIAL_MODE`, else `oss`. Read through
 * `Config`, so it follows the current `ConfigProvider`.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<CredentialMode> = Config.all([
  Config.option(Config.string(variable)),
  Config.option(Config.string(legacyVariable))
]).pipe(
  Config.mapOrFail(([current, legacy]) =>
    Option.match(current, {
      onSome: (raw) => parse(raw, variable),
      onNone: () =>
        Option.match(legacy, {
          onSome: (raw) => parse(raw, legacyVariable),
          onNone: () => Either.right<CredentialMode>("oss")
        })
    })
  )
)

/**
 * Reads the mode now (on every call, as the Python `get_mode()` does).
 *
 * @since 0.1.0
 * @category accessors
 */
export const get: Effect.Effect<CredentialMode, ConfigError.ConfigError> = Effect.suspend(() => config)
