/**
 * Shared JOSE plumbing: the checks every token passes before any parsing or crypto (size,
 * shape, header, `crit`), the algorithm families, and the mapping of `jose` errors to the fixed
 * reasons of `InvalidTokenError` (a `jose` message is never passed on: some quote claim values).
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import type { KeyObject } from "node:crypto"
import { type AuthError, InvalidTokenError, type InvalidTokenReason, MissingTokenError } from "../AuthError.js"

export const defaultMaxTokenSize = 16 * 1024

export const HMAC_ALGS = ["HS256", "HS384", "HS512"] as const
export const RSA_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const
export const EC_ALGS = ["ES256", "ES384", "ES512"] as const
export const OKP_ALGS = ["EdDSA", "Ed25519"] as const
export const ASYMMETRIC_ALGS: ReadonlyArray<string> = [...RSA_ALGS, ...EC_ALGS, ...OKP_ALGS]

const SEGMENT = /^[A-Za-z0-9_-]*$/
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/

export const invalid = (reason: InvalidTokenReason) => new InvalidTokenError({ reason })

/**
 * Size and shape before anything is decoded: empty → missing; over `maxBytes` → too large;
 * not `segments` base64url parts → malformed. Returns the raw token or the error (no fiber).
 */
export const precheckSync = (
  token: Redacted.Redacted<string>,
  maxBytes: number,
  segments: 3 | 5
): string | AuthError => {
  const raw = Redacted.value(token)
  if (raw.length === 0) return new MissingTokenError()
  // a UTF-16 code unit is at most 3 bytes of UTF-8: the byte count is needed only near the limit
  if (raw.length > maxBytes || (raw.length * 3 > maxBytes && Buffer.byteLength(raw, "utf8") > maxBytes)) {
    return invalid("too large")
  }
  if (segments === 3) return COMPACT_JWS.test(raw) ? raw : invalid("malformed")
  const parts = raw.split(".")
  if (parts.length !== segments || !parts.every((p) => SEGMENT.test(p)) || parts[0] === "") {
    return invalid("malformed")
  }
  return raw
}

/** `precheckSync` as an effect. */
export const precheck = (
  token: Redacted.Redacted<string>,
  maxBytes: number,
  segments: 3 | 5
): Effect.Effect<string, AuthError> =>
  Effect.suspend((): Effect.Effect<string, AuthError> => {
    const result = precheckSync(token, maxBytes, segments)
    return typeof result === "string" ? Effect.succeed(result) : Effect.fail(result)
  })

export const decodeHeader = (raw: string): Effect.Effect<jose.ProtectedHeaderParameters, InvalidTokenError> =>
  Effect.try({ try: () => jose.decodeProtectedHeader(raw), catch: () => invalid("malformed") })

/** `crit` must be absent, or list only extensions this verifier understands; `undefined` when it does. */
export const critProblem = (
  header: jose.ProtectedHeaderParameters,
  understood: ReadonlyArray<string>
): InvalidTokenError | undefined => {
  const crit = header.crit
  if (crit === undefined) return undefined
  if (!Array.isArray(crit) || crit.length === 0) return invalid("malformed")
  return crit.every((name) => typeof name === "string" && understood.includes(name))
    ? undefined
    : invalid("unsupported crit header")
}

/**
 * `exp`, `nbf` and `iat`, when present, must be finite numbers of seconds within the range of a
 * date: `1e400` parses to `Infinity` (a token that never expires, even under `requireExpiry`) and
 * `1e13` is past any representable date. `undefined` when they are fine.
 */
export const timeClaimsProblem = (claims: Readonly<Record<string, unknown>>): InvalidTokenError | undefined => {
  for (const name of ["exp", "nbf", "iat"]) {
    const v = claims[name]
    if (v === undefined) continue
    if (typeof v !== "number" || !Number.isFinite(v) || Math.abs(v) > 8.64e12) return invalid("malformed")
  }
  return undefined
}

/**
 * An `AuthInfo.expiresAt` (epoch seconds) as a date, or `undefined` when it is none: not a finite
 * number (the SDK's own bearer check can give `Infinity`) or past the range of a date (which
 * `DateTime.unsafeMake` throws on).
 */
export const expiryOf = (expiresAt: unknown): DateTime.Utc | undefined =>
  typeof expiresAt === "number" && Number.isFinite(expiresAt) && Math.abs(expiresAt) <= 8.64e12
    ? DateTime.unsafeMake(expiresAt * 1000)
    : undefined

/**
 * A token issued after `now` (plus the tolerance, in seconds): `jose` checks `iat` only under
 * `maxTokenAge`. Run after `timeClaimsProblem` (which refuses an `iat` that is not a number).
 */
export const issuedInFutureProblem = (
  claims: Readonly<Record<string, unknown>>,
  nowMillis: number,
  toleranceSeconds: number
): InvalidTokenError | undefined => {
  const iat = claims.iat
  return typeof iat === "number" && (iat - toleranceSeconds) * 1000 > nowMillis ? invalid("not yet valid") : undefined
}

/** `critProblem` as an effect. */
export const checkCrit = (
  header: jose.ProtectedHeaderParameters,
  understood: ReadonlyArray<string>
): Effect.Effect<void, InvalidTokenError> => {
  const problem = critProblem(header, understood)
  return problem === undefined ? Effect.void : Effect.fail(problem)
}

export const critOption = (understood: ReadonlyArray<string>): Record<string, boolean> =>
  Object.fromEntries(understood.map((name) => [name, true]))

/** The JWS algorithms a public key can verify, from its type and curve. */
export const algorithmsForKey = (key: KeyObject): ReadonlyArray<string> => {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return RSA_ALGS
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"]
    case "ec":
      switch (key.asymmetricKeyDetails?.namedCurve) {
        case "prime256v1":
          return ["ES256"]
        case "secp384r1":
          return ["ES384"]
        case "secp521r1":
          return ["ES512"]
        default:
          return []
      }
    case "ed25519":
      return OKP_ALGS
    default:
      return []
  }
}

const claimReason = (claim: string, reason: string): InvalidTokenReason => {
  // an absent `aud` or `iss` where one is configured is as wrong as a different one
  if (claim === "aud") return "wrong audience"
  if (claim === "iss") return "wrong issuer"
  if (reason === "missing") return "missing claim"
  if (claim === "nbf") return "not yet valid"
  if (claim === "iat" && reason === "check_failed") return "expired"
  return "malformed"
}

/** An `InvalidTokenError` passes through; anything `jose` throws becomes one with a fixed reason. */
export const toInvalidToken = (error: unknown): InvalidTokenError =>
  error instanceof InvalidTokenError ? error : invalid(reasonOf(error))

/** Maps anything `jose` throws to a fixed reason. */
export const reasonOf = (error: unknown): InvalidTokenReason => {
  const code = typeof error === "object" && error !== null && "code" in error ? (error as { code: unknown }).code : undefined
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "expired"
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const e = error as jose.errors.JWTClaimValidationFailed
      return claimReason(e.claim, e.reason)
    }
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "unsupported algorithm"
    case "ERR_JOSE_NOT_SUPPORTED":
      return error instanceof Error && error.message.startsWith("Extension Header Parameter")
        ? "unsupported crit header"
        : "unsupported algorithm"
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "bad signature"
    case "ERR_JWE_DECRYPTION_FAILED":
      return "decryption failed"
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "unknown key id"
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return "key id required"
    default:
      return "malformed"
  }
}
