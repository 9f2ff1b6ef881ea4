/**
 * Checks what a server would resolve from its environment, without showing a single value: it
 * runs the library itself (`CredentialMode` for the mode, `EnvCredentialBackend.make(...).resolve`
 * for the static and the OAuth credential), so its findings and messages are the library's, and
 * reports kinds, field NAMES, scopes, expiry and problems.
 *
 * @since 0.1.0
 */
import {
  CredentialError,
  CredentialMode,
  EnvCredentialBackend,
  HeaderCredentialBackend,
  ResolvedCredential
} from "@mcp-credentials/core"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The Env backend's prefix, as the server passes it (`"github_"` reads `GITHUB_FIELDS`). */
  readonly prefix?: string | undefined
  /** Overrides `MCP_CREDENTIAL_MODE`. */
  readonly mode?: CredentialMode.CredentialMode | undefined
  /**
   * The credential kind the server uses. When given, that kind must resolve. When absent, at
   * least one kind must, and an invalid one is a problem either way.
   */
  readonly kind?: ResolvedCredential.CredentialKind | undefined
}

/**
 * The result for one credential kind. `details` are label/value pairs that never hold a secret
 * (names, scopes, dates, "set"/"not set").
 *
 * @since 0.1.0
 * @category models
 */
export interface Check {
  readonly kind: ResolvedCredential.CredentialKind
  readonly status: "ok" | "expired" | "not configured" | "invalid" | "per request"
  readonly details: ReadonlyArray<readonly [label: string, value: string]>
  /** The library's error message, for `not configured` and `invalid`. */
  readonly message?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Report {
  /** `undefined` when the mode variable is invalid (that is then the first problem). */
  readonly mode: CredentialMode.CredentialMode | undefined
  /** Where the mode came from: `--mode`, the variable's name, or `default`. */
  readonly modeSource: string
  readonly prefix: string
  readonly checks: ReadonlyArray<Check>
  readonly notes: ReadonlyArray<string>
  readonly problems: ReadonlyArray<string>
}

/**
 * Runs the checks against the current `ConfigProvider` (the process environment by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const diagnose = (options: Options = {}): Effect.Effect<Report> =>
  Effect.gen(function*() {
    const prefix = EnvCredentialBackend.normalizePrefix(options.prefix)
    const notes: Array<string> = []
    const problems: Array<string> = []

    let mode: CredentialMode.CredentialMode | undefined
    let modeSource: string
    if (options.mode !== undefined) {
      mode = options.mode
      modeSource = "--mode"
    } else {
      const current = yield* readOption(CredentialMode.variable)
      const legacy = yield* readOption(CredentialMode.legacyVariable)
      modeSource = Option.isSome(current)
        ? CredentialMode.variable
        : Option.isSome(legacy)
        ? CredentialMode.legacyVariable
        : "default"
      const result = yield* Effect.either(CredentialMode.get)
      if (Either.isLeft(result)) {
        problems.push(configErrorMessage(result.left))
        return { mode: undefined, modeSource, prefix, checks: [], notes, problems }
      }
      mode = result.right
    }

    const kinds: ReadonlyArray<ResolvedCredential.CredentialKind> = options.kind !== undefined
      ? [options.kind]
      : ["static", "oauth"]

    if (mode === "hosted") {
      const headers = HeaderCredentialBackend.headerNames()
      const checks: Array<Check> = kinds.map((kind) => ({
        kind,
        status: "per request",
        details: kind === "static"
          ? [["required header", headers.fields]]
          : [
            ["required header", headers.accessToken],
            ["optional headers", [headers.scopes, headers.expiresAt, headers.extra].join(", ")]
          ]
      }))
      notes.push(
        "hosted mode: credentials come from the gateway's X-MCP-Cred-* headers on each request; the environment is not read."
      )
      for (const variable of [`${prefix}FIELDS`, `${prefix}ACCESS_TOKEN`]) {
        if (Option.isSome(yield* readOption(variable))) notes.push(`${variable} is set but ignored in hosted mode.`)
      }
      return { mode, modeSource, prefix, checks, notes, problems }
    }

    const backend = EnvCredentialBackend.make({ prefix, namesTtl: 0 })
    const checks: Array<Check> = []
    const missing: Array<string> = []
    for (const kind of kinds) {
      const result = yield* Effect.either(backend.resolve({ kind }))
      if (Either.isLeft(result)) {
        const error = result.left
        const message = error.message
        if (error instanceof CredentialError.MissingCredentialError) {
          checks.push({ kind, status: "not configured", details: [], message })
          missing.push(message)
        } else {
          checks.push({ kind, status: "invalid", details: [], message })
          problems.push(message)
        }
        continue
      }
      const credential = result.right
      if (credential.type === "static") {
        checks.push({ kind, status: "ok", details: yield* staticDetails(prefix, credential, notes) })
      } else {
        const expired = yield* ResolvedCredential.isExpired(credential)
        checks.push({ kind, status: expired ? "expired" : "ok", details: yield* oauthDetails(prefix, credential) })
        if (expired) {
          problems.push(
            `The OAuth access token (${prefix}ACCESS_TOKEN) has expired or expires within ${
              Duration.format(ResolvedCredential.defaultExpiryMargin)
            }: see ${prefix}EXPIRES_AT.`
          )
        }
      }
    }
    if (options.kind !== undefined) problems.push(...missing)
    else if (missing.length === kinds.length) {
      problems.push(`No credentials configured for prefix ${prefix === "" ? "(none)" : prefix}. ${missing.join(" ")}`)
    }
    return { mode, modeSource, prefix, checks, notes, problems }
  })

/**
 * Renders a report as aligned text lines (no values, only names and metadata).
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (report: Report): string => {
  const lines: Array<string> = []
  const row = (label: string, value: string, indent = "") => lines.push(`${indent}${label.padEnd(18 - indent.length)} ${value}`)
  row("mode", report.mode === undefined ? "invalid" : `${report.mode} (${report.modeSource})`)
  if (report.mode === "oss") {
    row("backend", `Env, ${report.prefix === "" ? "no prefix" : `prefix ${report.prefix}`}`)
  } else if (report.mode === "hosted") {
    row("backend", "Header (X-MCP-Cred-*)")
  }
  for (const check of report.checks) {
    lines.push("")
    row(check.kind, check.status)
    for (const [label, value] of check.details) row(label, value, "  ")
    if (check.message !== undefined) lines.push(`  ${check.message}`)
  }
  if (report.notes.length > 0) {
    lines.push("", "notes")
    for (const note of report.notes) lines.push(`  - ${note}`)
  }
  if (report.problems.length > 0) {
    lines.push("", "problems")
    for (const problem of report.problems) lines.push(`  - ${problem}`)
  }
  lines.push("", report.problems.length === 0 ? "result: ok" : `result: ${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}`)
  return lines.join("\n")
}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const readOption = (name: string): Effect.Effect<Option.Option<string>> =>
  Effect.orElseSucceed(Config.option(Config.string(name)), () => Option.none<string>())

const configErrorMessage = (error: ConfigError.ConfigError): string =>
  error._op === "InvalidData" || error._op === "MissingData" ? error.message : String(error)

const staticDetails = (
  prefix: string,
  credential: ResolvedCredential.StaticCredential,
  notes: Array<string>
): Effect.Effect<ReadonlyArray<readonly [string, string]>> =>
  Effect.gen(function*() {
    const fieldsVar = `${prefix}FIELDS`
    const fieldPrefix = `${prefix}FIELD_`
    const fromJson = Option.exists(yield* readOption(fieldsVar), (v) => v !== "")
    const perField = Object.keys(process.env).filter((k) => k.startsWith(fieldPrefix)).sort()
    if (fromJson && perField.length > 0) {
      notes.push(`${fieldsVar} is set, so ${perField.join(", ")} ${perField.length === 1 ? "is" : "are"} ignored.`)
    }
    return [
      ["source", fromJson ? fieldsVar : `${fieldPrefix}<name> (${perField.length})`],
      ["fields", Object.keys(credential.fields).sort().join(", ")]
    ]
  })

const oauthDetails = (
  prefix: string,
  credential: ResolvedCredential.OAuthCredential
): Effect.Effect<ReadonlyArray<readonly [string, string]>> =>
  Effect.gen(function*() {
    const set = (present: boolean, variable: string) => present ? `set (${prefix}${variable})` : "not set"
    const details: Array<readonly [string, string]> = [
      ["access token", set(true, "ACCESS_TOKEN")],
      ["refresh token", set(credential.refreshToken !== undefined, "REFRESH_TOKEN")],
      ["client id", set(credential.clientId !== undefined, "CLIENT_ID")],
      ["client secret", set(credential.clientSecret !== undefined, "CLIENT_SECRET")],
      ["token uri", set(credential.tokenUri !== undefined, "TOKEN_URI")],
      ["scopes", credential.scopes !== undefined ? credential.scopes.join(" ") : "none"]
    ]
    if (credential.expiresAt === undefined) details.push(["expires", "no expiry"])
    else {
      const now = yield* Clock.currentTimeMillis
      const at = DateTime.toEpochMillis(credential.expiresAt)
      details.push(["expires", `${DateTime.formatIso(credential.expiresAt)} (${relative(at - now)})`])
    }
    const extra = Object.keys(credential.extra).sort()
    details.push(["extra", extra.length === 0 ? "none" : extra.join(", ")])
    return details
  })

const relative = (millis: number): string => {
  const abs = Math.abs(millis)
  const minutes = Math.round(abs / 60_000)
  const text = minutes < 1
    ? `${Math.round(abs / 1000)}s`
    : minutes < 120
    ? `${minutes}m`
    : minutes < 48 * 60
    ? `${Math.round(minutes / 60)}h`
    : `${Math.round(minutes / 1440)}d`
  return millis >= 0 ? `in ${text}` : `${text} ago`
}
