/**
 * Credentials injected by a gateway as `X-MCP-Cred-*` request headers (hosted mode).
 *
 * | header | meaning |
 * |---|---|
 * | `X-MCP-Cred-Fields` | static: a JSON object of fields (required for static) |
 * | `X-MCP-Cred-Access-Token` | oauth: the access token (required for oauth) |
 * | `X-MCP-Cred-Scopes` | oauth: a JSON array of strings, or scopes separated by white space |
 * | `X-MCP-Cred-Expires-At` | oauth: ISO-8601 expiry; no offset means UTC |
 * | `X-MCP-Cred-Extra` | oauth: a JSON object of non-secret metadata |
 *
 * Anyone who can reach the server can send these headers. Configure `gatewaySecret` so that only
 * the gateway can: it then signs every request (see `signGatewayHeaders`) and unsigned credential
 * headers fail with `UntrustedGatewayError`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import {
  type CredentialError,
  InvalidCredentialHeaderError,
  MissingCredentialHeaderError,
  UntrustedGatewayError
} from "./CredentialError.js"
import { CredentialBackend, type CredentialRequest, type RequestHeaders } from "./internal/backend.js"
import { extraObjectExample, fieldsFromJson, parseIsoDateTime, parseJsonObject, splitScopes } from "./internal/parse.js"
import { OAuthCredential, type ResolvedCredential, StaticCredential } from "./ResolvedCredential.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The header name prefix. Default `X-MCP-Cred-`. A second credential can use its own,
   * e.g. `X-MCP-Cred-Jira-`.
   */
  readonly prefix?: string | undefined
  /**
   * When set, credential headers are accepted only with a valid gateway proof.
   */
  readonly gatewaySecret?: Redacted.Redacted<string> | undefined
  /**
   * `"hmac"` (default): the gateway sends `X-MCP-Gateway-Timestamp` and
   * `X-MCP-Gateway-Signature: v1=<hex HMAC-SHA256>` over the credential headers (see
   * `signGatewayHeaders`). `"secret"`: the gateway sends the secret itself in `X-MCP-Gateway-Secret`.
   */
  readonly gatewayScheme?: "hmac" | "secret" | undefined
  /** How far a signed timestamp may be from the server's clock. Default 5 minutes. */
  readonly maxClockSkew?: Duration.DurationInput | undefined
}

/**
 * The default header prefix.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPrefix = "X-MCP-Cred-"

/**
 * The gateway proof headers.
 *
 * @since 0.1.0
 * @category constants
 */
export const gatewayHeaders = {
  timestamp: "X-MCP-Gateway-Timestamp",
  signature: "X-MCP-Gateway-Signature",
  secret: "X-MCP-Gateway-Secret"
} as const

/**
 * The header names for a prefix.
 *
 * @since 0.1.0
 * @category constructors
 */
export const headerNames = (prefix: string = defaultPrefix) => ({
  accessToken: `${prefix}Access-Token`,
  fields: `${prefix}Fields`,
  scopes: `${prefix}Scopes`,
  extra: `${prefix}Extra`,
  expiresAt: `${prefix}Expires-At`
})

/**
 * Finds a header case-insensitively; a repeated header gives its first value.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getHeader = (headers: RequestHeaders, name: string): string | undefined => {
  const direct = headers[name] ?? headers[name.toLowerCase()]
  const found = direct !== undefined ? direct : findInsensitive(headers, name.toLowerCase())
  return typeof found === "string" ? found : found?.[0]
}

const findInsensitive = (headers: RequestHeaders, lower: string) => {
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === lower) return headers[key]
  }
  return undefined
}

/**
 * Whether a header name is one of the credential headers of `prefix` (case-insensitive).
 * The server uses it to strip them from what a tool can read.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isCredentialHeader = (name: string, prefix: string = defaultPrefix): boolean =>
  name.toLowerCase().startsWith(prefix.toLowerCase())

/**
 * The string a gateway signs: `v1`, the timestamp, then every credential header as
 * `lowercase-name:value`, sorted by name, one per line. Credential headers are all headers whose
 * name starts with `X-MCP-Cred-` (or with `prefix`, for a backend with a prefix outside that
 * family), so one signature covers the default and every named header backend
 * (`X-MCP-Cred-Jira-*` too). Repeated values are joined with `,`.
 *
 * @since 0.1.0
 * @category gateway
 */
export const canonicalGatewayString = (
  headers: RequestHeaders,
  timestamp: string,
  prefix: string = defaultPrefix
): string => {
  const entries: Array<[string, string]> = []
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || !(isCredentialHeader(key) || isCredentialHeader(key, prefix))) continue
    entries.push([key.toLowerCase(), typeof value === "string" ? value : value.join(",")])
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return ["v1", timestamp, ...entries.map(([k, v]) => `${k}:${v}`)].join("\n")
}

/**
 * What a gateway adds to a request: the timestamp and signature headers for `headers` (the
 * credential headers it injects). For gateways written in TypeScript and for tests.
 *
 * @since 0.1.0
 * @category gateway
 */
export const signGatewayHeaders = (
  headers: RequestHeaders,
  secret: Redacted.Redacted<string>,
  options: {
    /** Unix time in **seconds** (default now). */
    readonly timestamp?: number
    readonly prefix?: string
  } = {}
): Record<string, string> => {
  const timestamp = String(Math.floor(options.timestamp ?? Date.now() / 1000))
  const signature = createHmac("sha256", Redacted.value(secret))
    .update(canonicalGatewayString(headers, timestamp, options.prefix))
    .digest("hex")
  return { [gatewayHeaders.timestamp]: timestamp, [gatewayHeaders.signature]: `v1=${signature}` }
}

/**
 * Builds the backend service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): CredentialBackend["Type"] => {
  const prefix = options.prefix ?? defaultPrefix
  const names = headerNames(prefix)
  const maxSkewMillis = Duration.toMillis(Duration.decode(options.maxClockSkew ?? Duration.minutes(5)))

  // every check is synchronous: `resolve` wraps it in an Effect, `unsafeResolve` answers directly
  const verifyGateway = (headers: RequestHeaders, now: () => number): UntrustedGatewayError | undefined => {
    const secret = options.gatewaySecret
    if (secret === undefined) return undefined
    // an empty secret (a variable set but empty) would let anyone sign: nothing is trusted
    if (Redacted.value(secret) === "") {
      return new UntrustedGatewayError({ reason: "the configured gateway secret is empty; set one (every request is refused until then)." })
    }
    if (options.gatewayScheme === "secret") {
      const given = getHeader(headers, gatewayHeaders.secret)
      return given !== undefined && constantTimeEqual(given, Redacted.value(secret))
        ? undefined
        : new UntrustedGatewayError({ reason: `missing or wrong ${gatewayHeaders.secret} header.` })
    }
    const timestamp = getHeader(headers, gatewayHeaders.timestamp)
    const signature = getHeader(headers, gatewayHeaders.signature)
    if (timestamp === undefined || signature === undefined) {
      return new UntrustedGatewayError({
        reason: `the request has no gateway signature (${gatewayHeaders.timestamp}, ${gatewayHeaders.signature}).`
      })
    }
    if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now() - Number(timestamp) * 1000) > maxSkewMillis) {
      return new UntrustedGatewayError({ reason: `${gatewayHeaders.timestamp} is outside the allowed clock skew.` })
    }
    const expected = "v1=" + createHmac("sha256", Redacted.value(secret))
      .update(canonicalGatewayString(headers, timestamp, prefix))
      .digest("hex")
    return constantTimeEqual(signature, expected)
      ? undefined
      : new UntrustedGatewayError({ reason: `${gatewayHeaders.signature} does not match the credential headers.` })
  }

  const resolveStatic = (headers: RequestHeaders): Either.Either<ResolvedCredential, CredentialError> => {
    const raw = getHeader(headers, names.fields)
    if (raw === undefined || raw === "") return Either.left(new MissingCredentialHeaderError({ headers: [names.fields] }))
    const fields = Either.flatMap(parseJsonObject(raw.trim()), fieldsFromJson)
    if (Either.isLeft(fields)) {
      return Either.left(new InvalidCredentialHeaderError({ header: names.fields, reason: fields.left }))
    }
    if (Object.keys(fields.right).length === 0) {
      return Either.left(new InvalidCredentialHeaderError({ header: names.fields, reason: "the JSON object has no fields." }))
    }
    return Either.right(StaticCredential.fromFields(fields.right))
  }

  const resolveOAuth = (headers: RequestHeaders): Either.Either<ResolvedCredential, CredentialError> => {
    const accessToken = getHeader(headers, names.accessToken)
    if (accessToken === undefined || accessToken === "") {
      return Either.left(new MissingCredentialHeaderError({ headers: [names.accessToken] }))
    }
    const scopes = parseScopes(getHeader(headers, names.scopes))
    if (Either.isLeft(scopes)) return Either.left(new InvalidCredentialHeaderError({ header: names.scopes, reason: scopes.left }))
    const expiresRaw = getHeader(headers, names.expiresAt)
    let expiresAt: DateTime.Utc | undefined
    if (expiresRaw !== undefined && expiresRaw !== "") {
      const millis = parseIsoDateTime(expiresRaw)
      if (millis === undefined) {
        return Either.left(
          new InvalidCredentialHeaderError({
            header: names.expiresAt,
            reason: "not an ISO-8601 date-time, e.g. 2026-05-04T12:00:00Z."
          })
        )
      }
      expiresAt = DateTime.unsafeMake(millis)
    }
    const extraRaw = getHeader(headers, names.extra)
    let extra: Record<string, unknown> = {}
    if (extraRaw !== undefined && extraRaw.trim() !== "") {
      const parsed = parseJsonObject(extraRaw.trim(), extraObjectExample)
      if (Either.isLeft(parsed)) return Either.left(new InvalidCredentialHeaderError({ header: names.extra, reason: parsed.left }))
      extra = parsed.right
    }
    return Either.right(
      new OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make(accessToken),
        ...(scopes.right !== undefined ? { scopes: scopes.right } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        extra
      })
    )
  }

  const resolveWith = (request: CredentialRequest, now: () => number): Either.Either<ResolvedCredential, CredentialError> => {
    const headers = request.headers
    if (headers === undefined) {
      return Either.left(
        new MissingCredentialHeaderError({
          headers: [request.kind === "static" ? names.fields : names.accessToken]
        })
      )
    }
    const untrusted = verifyGateway(headers, now)
    if (untrusted !== undefined) return Either.left(untrusted)
    return request.kind === "static" ? resolveStatic(headers) : resolveOAuth(headers)
  }

  return CredentialBackend.of({
    resolve: (request) =>
      options.gatewaySecret === undefined || options.gatewayScheme === "secret"
        ? Effect.suspend(() => resolveWith(request, Date.now))
        : Effect.flatMap(Clock.currentTimeMillis, (now) => resolveWith(request, () => now)),
    unsafeResolve: (request, services) =>
      resolveWith(request, () => Context.get(services, Clock.Clock).unsafeCurrentTimeMillis())
  })
}

/**
 * The Header backend with its options read from `Config`, e.g.
 * `layerConfig({ gatewaySecret: Config.redacted("MCP_GATEWAY_SECRET") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<CredentialBackend, ConfigError.ConfigError> =>
  Layer.effect(
    CredentialBackend,
    Effect.flatMap(Config.unwrap(options), (o) =>
      o.gatewaySecret !== undefined && Redacted.value(o.gatewaySecret) === ""
        ? Effect.fail(
          ConfigError.InvalidData(["gatewaySecret"], "the gateway secret is empty (anyone could sign credential headers with it)")
        )
        : Effect.succeed(make(o)))
  )

/**
 * The Header backend as the application's `CredentialBackend`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<CredentialBackend> =>
  Layer.succeed(CredentialBackend, make(options))

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

/** Compares two strings in time that does not depend on where they differ. */
const constantTimeEqual = (a: string, b: string): boolean =>
  timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest())

const parseScopes = (raw: string | undefined): Either.Either<ReadonlyArray<string> | undefined, string> => {
  if (raw === undefined) return Either.right(undefined)
  const trimmed = raw.trim()
  if (trimmed === "") return Either.right(undefined)
  if (trimmed.startsWith("[")) {
    let parsed: unknown
    try {
      parsed = JSON.parse(trimmed)
    } catch {
      return Either.right(splitScopes(trimmed))
    }
    if (!Array.isArray(parsed)) return Either.right(splitScopes(trimmed))
    const scopes: Array<string> = []
    for (const item of parsed) {
      if (typeof item !== "string") return Either.left("a JSON array of scopes must hold only strings.")
      if (item !== "") scopes.push(item)
    }
    return Either.right(scopes)
  }
  return Either.right(splitScopes(trimmed))
}
