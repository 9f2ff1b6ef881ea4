/**
 * The sealed `requestState` of the 2026-07-28 URL-elicitation flow. A tool that needs a
 * credential the user has not given yet ends its call with an input-required result carrying a
 * `requestState`; the client echoes it on the retried call, possibly to another replica. The
 * value round-trips through the client, so it is attacker-controlled on re-entry: it is sealed
 * here with AES-256-GCM under the vault's `Keyring` (newest key seals, any key opens), binds the
 * user (`sub`), an expiry and a digest of the original request (tool name + canonical JSON of its
 * arguments), and is single-use: `seal` records its random id in the shared `PendingStore`, and
 * `unseal` takes it (one atomic take, so of two replicas racing on one value exactly one wins).
 *
 * It never carries a secret: the payload is the id, the subject, the expiry, the digest and an
 * optional provider name. The credential itself goes to the `CredentialStore`.
 *
 * Sealed format: the keyring's `v1.<keyId>.<iv>.<ciphertext‖tag>` (base64url), with a fixed
 * additional-data label, so a sealed credential record is never accepted as a request state.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import { Keyring } from "./Keyring.js"
import { PendingStore } from "./PendingStore.js"
import type { VaultError } from "./VaultError.js"

/**
 * What a verified request state says.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestState {
  /** The random single-use id (256 bits, base64url). */
  readonly id: string
  /** The user it was issued to. */
  readonly subject: string
  /** The credential the call was waiting for, when given (a name, never a value). */
  readonly provider: Option.Option<string>
  readonly expiresAt: DateTime.Utc
  /** The digest bound into the state: `requestDigest` of the call, or a hash of the caller's digest. */
  readonly requestDigest: string
  /**
   * Server-side data recorded with the state at `seal` (it stays in the `PendingStore`, never in
   * the sealed value); given by `unseal` only.
   */
  readonly data?: Readonly<Record<string, unknown>> | undefined
}

/**
 * The call a request state is issued for, or checked against: its tool name and arguments (the
 * digest is computed here, `requestDigest`), or a digest computed by the caller (e.g.
 * `Elicitation.ElicitationRequest.requestDigest`) — the same form at `seal` and at `unseal`.
 *
 * @since 0.1.0
 * @category models
 */
export type Request =
  | {
    readonly subject: string
    readonly toolName: string
    /** The call's arguments (JSON). Key order does not matter. */
    readonly arguments: unknown
  }
  | {
    readonly subject: string
    /** A digest of the call, computed by the caller the same way at seal and unseal. */
    readonly requestDigest: string
  }

/**
 * @since 0.1.0
 * @category models
 */
export type SealInput = Request & {
  /** The credential the call waits for (a provider name). */
  readonly provider?: string | undefined
  /** Lifetime. Default `defaultTtl` (10 minutes). */
  readonly ttl?: Duration.DurationInput | undefined
  /**
   * JSON kept server-side with the state's `PendingStore` record (not in the sealed value, which
   * the client holds) and returned by `unseal`, e.g. the id of the elicitation it resumes.
   */
  readonly data?: Readonly<Record<string, unknown>> | undefined
}

/**
 * The default lifetime of a request state.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTtl: Duration.Duration = Duration.minutes(10)

/**
 * The `provider` of the pending entries that record issued request states.
 *
 * @since 0.1.0
 * @category constants
 */
export const pendingProvider = "mcp-credentials/request-state"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * The value is not a request state sealed by this deployment: malformed, tampered with, or
 * sealed with a key that is not in the keyring.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestStateInvalidError extends Schema.TaggedError<RequestStateInvalidError>(
  "@mcp-credentials/vault/RequestStateInvalidError"
)("RequestStateInvalidError", { reason: Schema.String }) {
  override get message(): string {
    return `The requestState is not valid: ${this.reason}`
  }
}

/**
 * The request state is past its expiry.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestStateExpiredError extends Schema.TaggedError<RequestStateExpiredError>(
  "@mcp-credentials/vault/RequestStateExpiredError"
)("RequestStateExpiredError", { expiresAt: Schema.DateTimeUtcFromSelf }) {
  override get message(): string {
    return `The requestState expired at ${DateTime.formatIso(this.expiresAt)}; call the tool again`
  }
}

/**
 * The request state was already used (on this replica or another), or was never recorded.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestStateReplayedError extends Schema.TaggedError<RequestStateReplayedError>(
  "@mcp-credentials/vault/RequestStateReplayedError"
)("RequestStateReplayedError", {}) {
  override get message(): string {
    return "The requestState was already used; call the tool again"
  }
}

/**
 * The request state was issued to another user. Names neither user.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestStateUserMismatchError extends Schema.TaggedError<RequestStateUserMismatchError>(
  "@mcp-credentials/vault/RequestStateUserMismatchError"
)("RequestStateUserMismatchError", {}) {
  override get message(): string {
    return "The requestState was issued to another user"
  }
}

/**
 * The request state was issued for another call (another tool, or other arguments).
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestStateRequestMismatchError extends Schema.TaggedError<RequestStateRequestMismatchError>(
  "@mcp-credentials/vault/RequestStateRequestMismatchError"
)("RequestStateRequestMismatchError", { field: Schema.Literal("toolName", "arguments", "request") }) {
  override get message(): string {
    return `The requestState was issued for another call (its ${this.field === "request" ? "request digest" : this.field} differ)`
  }
}

/**
 * Every refusal of `unseal`.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestStateError =
  | RequestStateInvalidError
  | RequestStateExpiredError
  | RequestStateReplayedError
  | RequestStateUserMismatchError
  | RequestStateRequestMismatchError

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Seals a request state for `input` and records its id in the `PendingStore` (with the same
 * lifetime), so that `unseal` can take it exactly once on any replica sharing the store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const seal = (input: SealInput): Effect.Effect<string, VaultError, Keyring | PendingStore> =>
  Effect.gen(function*() {
    const keyring = yield* Keyring
    const pending = yield* PendingStore
    const now = yield* Clock.currentTimeMillis
    const ttlMs = Math.max(1, Duration.toMillis(Duration.decode(input.ttl ?? defaultTtl)))
    const id = crypto.randomBytes(32).toString("base64url")
    const payload: Payload = {
      v: 1,
      id,
      sub: input.subject,
      exp: now + ttlMs,
      ...digestsOf(input),
      ...(input.provider !== undefined ? { prv: input.provider } : {})
    }
    yield* pending.create(
      { id: pendingId(id), provider: pendingProvider, subject: input.subject, ...(input.data !== undefined ? { data: input.data } : {}) },
      Duration.millis(ttlMs)
    )
    return keyring.seal(JSON.stringify(payload), aad)
  })

/**
 * Reads a request state without consuming it: integrity and expiry only. For diagnostics and
 * for choosing what to do before `unseal` (which checks everything and consumes it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (
  sealed: string
): Effect.Effect<RequestState, RequestStateInvalidError | RequestStateExpiredError, Keyring> =>
  Effect.map(openPayload(sealed), toRequestState)

/**
 * Verifies and consumes a request state echoed on a retried call: it must authenticate under the
 * keyring, be unexpired, belong to `request.subject`, and have been issued for the same tool and
 * the same arguments (canonical JSON); then its id is taken from the `PendingStore`, so a second
 * use — here or on another replica — fails with `RequestStateReplayedError`. A refusal for
 * another user or another call does not consume it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unseal = (
  sealed: string,
  request: Request
): Effect.Effect<RequestState, RequestStateError | VaultError, Keyring | PendingStore> =>
  Effect.gen(function*() {
    const payload = yield* openPayload(sealed)
    const state = toRequestState(payload)
    if (!equalDigests(digest("sub", state.subject), digest("sub", request.subject))) {
      return yield* new RequestStateUserMismatchError()
    }
    const expected = digestsOf(request)
    if ((payload.tool === undefined) !== (expected.tool === undefined)) {
      // sealed for a digest given by the caller, checked against a tool call (or the reverse)
      return yield* new RequestStateRequestMismatchError({ field: "request" })
    }
    if (payload.tool !== undefined && !equalDigests(payload.tool, expected.tool!)) {
      return yield* new RequestStateRequestMismatchError({ field: "toolName" })
    }
    if (!equalDigests(payload.req, expected.req)) {
      return yield* new RequestStateRequestMismatchError({ field: payload.tool !== undefined ? "arguments" : "request" })
    }
    const pending = yield* PendingStore
    const taken = yield* pending.take(pendingId(state.id))
    if (Option.isNone(taken) || taken.value.subject !== state.subject || taken.value.provider !== pendingProvider) {
      return yield* new RequestStateReplayedError()
    }
    return { ...state, data: taken.value.data }
  })

/**
 * The digest of a call: SHA-256 (hex) over the tool name and the canonical JSON of its arguments
 * (object keys sorted, recursively; `undefined` members dropped as JSON does).
 *
 * @since 0.1.0
 * @category constructors
 */
export const requestDigest = (toolName: string, args: unknown): string =>
  crypto.createHash("sha256")
    .update("mcp-credentials/request-state/request\0")
    .update(toolName)
    .update("\0")
    .update(canonicalJson(args ?? {}))
    .digest("hex")

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, `undefined` members dropped.
 *
 * @since 0.1.0
 * @category constructors
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null"
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return canonicalJson((value as { toJSON: () => unknown }).toJSON())
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
  return `{${entries.join(",")}}`
}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

/** The sealed payload (short names: it travels on every retried call). */
interface Payload {
  readonly v: 1
  readonly id: string
  readonly sub: string
  readonly exp: number
  readonly req: string
  /** Absent when the caller gave the request digest. */
  readonly tool?: string
  readonly prv?: string
}

const digestsOf = (request: Request): { readonly req: string; readonly tool?: string } =>
  "requestDigest" in request
    ? { req: digest("given", request.requestDigest) }
    : { req: requestDigest(request.toolName, request.arguments), tool: toolDigest(request.toolName) }

const aad = "mcp-credentials/request-state/v1"

const pendingId = (id: string) => `rs:${id}`

const digest = (label: string, value: string) =>
  crypto.createHash("sha256").update(`mcp-credentials/request-state/${label}\0`).update(value).digest("hex")

const toolDigest = (toolName: string) => digest("tool", toolName)

/** Constant-time comparison of two hex digests. */
const equalDigests = (a: string, b: string) =>
  a.length === b.length && crypto.timingSafeEqual(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))

const isPayload = (u: unknown): u is Payload => {
  if (typeof u !== "object" || u === null) return false
  const p = u as Record<string, unknown>
  return p.v === 1 && typeof p.id === "string" && typeof p.sub === "string" && typeof p.exp === "number" &&
    Number.isFinite(p.exp) && typeof p.req === "string" && (p.tool === undefined || typeof p.tool === "string") &&
    (p.prv === undefined || typeof p.prv === "string")
}

const decode = (sealed: string): Effect.Effect<Payload, RequestStateInvalidError, Keyring> =>
  Effect.gen(function*() {
    if (typeof sealed !== "string" || sealed.length === 0 || sealed.length > 4096) {
      return yield* new RequestStateInvalidError({ reason: "not a sealed value" })
    }
    const keyring = yield* Keyring
    const plaintext = yield* keyring.open(sealed, aad).pipe(
      Effect.mapError((e) => new RequestStateInvalidError({ reason: e.reason }))
    )
    let parsed: unknown
    try {
      parsed = JSON.parse(plaintext)
    } catch {
      return yield* new RequestStateInvalidError({ reason: "the payload is not JSON" })
    }
    if (!isPayload(parsed)) return yield* new RequestStateInvalidError({ reason: "the payload has the wrong shape" })
    return parsed
  })

/** Decodes and checks the expiry. */
const openPayload = (sealed: string): Effect.Effect<Payload, RequestStateInvalidError | RequestStateExpiredError, Keyring> =>
  Effect.flatMap(decode(sealed), (payload) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      payload.exp <= now
        ? Effect.fail(new RequestStateExpiredError({ expiresAt: DateTime.unsafeMake(payload.exp) }))
        : Effect.succeed(payload)))

const toRequestState = (p: Payload): RequestState => ({
  id: p.id,
  subject: p.sub,
  provider: Option.fromNullable(p.prv),
  expiresAt: DateTime.unsafeMake(p.exp),
  requestDigest: p.req
})
