/**
 * How a URL elicitation reaches the client: the one interface the credentials flow is written
 * against, with one implementation per protocol era.
 *
 * The flow (`CredentialsProvider`) does everything that does not depend on the protocol: it finds
 * the user, looks in the `CredentialStore`, creates the one-time `PendingStore` entry and its link,
 * waits for the form, and injects the credential. It asks the era implementation three things:
 *
 * - `supportsUrl`: can this call's client be sent a URL elicitation at all? When not, the flow
 *   answers with a tool error naming the provider's connect page (never a one-time link).
 * - `elicit(request)`: deliver it. `request` holds the provider, the user, the pending id, the
 *   link, an `elicitationId`, the request digest and the expiry (nothing secret). The
 *   implementation either holds the call and answers `Accepted` / `Declined` / `Cancelled` /
 *   `Failed` (2025-11-25 blocking mode: the flow then waits for the form), or ends the call by
 *   failing with an error that carries the protocol's answer (2025-11-25 fail-fast:
 *   `UrlElicitationRequiredError`, JSON-RPC -32042; 2026-07-28: an input-required result with a
 *   sealed `requestState` bound to the user, the pending id and the digest). The client retries;
 *   the retry finds the stored credential.
 * - `completed(request)` once the waiting call saw the form's result (2025-11-25 sends
 *   `notifications/elicitation/complete`), and `submitted(entry)` when the page stored a
 *   credential (on whichever replica): the 2025-11-25 fail-fast implementation notifies the
 *   session that started it if it lives in this process.
 * - `resume(request)` (2026-07-28 only) on a retried call that carries a `requestState`: unseal it
 *   (`RequestState.unseal`: integrity, expiry, user, call digest, single use) and name the pending
 *   entry it resumes, so the flow waits for the form instead of eliciting again.
 *
 * Layers: `layer2025_11_25` (v1 SDK), `layer2026_07_28` (v2 SDK on 2026-07-28; needs `Keyring` and
 * `PendingStore`), and `layer`, which picks one per call from `ToolContext.protocolVersion` (set
 * by `McpCredentialsV2`): a server on either line, or serving both eras, gives `layer`.
 *
 * @since 0.1.0
 */
import * as ToolContext from "@mcp-credentials/server/ToolContext"
import * as Context from "effect/Context"
import * as Clock from "effect/Clock"
import type * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { CredentialsUnavailableError } from "./CredentialsProviderError.js"
import { Keyring } from "./Keyring.js"
import { type PendingEntry, PendingStore } from "./PendingStore.js"
import * as RequestState from "./RequestState.js"

/**
 * One elicitation, as the flow hands it to the era implementation. Nothing here is secret except
 * `url` and `pendingId` (the one-time capability): send them only to the client, never log them.
 *
 * @since 0.1.0
 * @category models
 */
export interface ElicitationRequest {
  /** The provider's name (`"jira"`) and display title (`"Jira"`). */
  readonly provider: { readonly name: string; readonly title: string }
  /** The user the elicitation is for: the access token's `sub`, and a label for messages. */
  readonly user: { readonly subject: string; readonly label: string }
  /** The id of the `PendingStore` entry (the one-time capability in the link). */
  readonly pendingId: string
  /** A separate, non-capability id for the protocol's `elicitationId`. */
  readonly elicitationId: string
  /** The link the user opens (it contains `pendingId`). */
  readonly url: string
  /** The text shown to the user by the client. */
  readonly message: string
  /**
   * The error's own message when the call fails fast (-32042, input required): "Jira credentials
   * required." for a form, "GitHub authorization required." for OAuth. Default: the form's.
   */
  readonly required?: string | undefined
  /** SHA-256 (base64url) of the tool call that started it (tool name and arguments). */
  readonly requestDigest: string
  /** 2025-11-25 only: hold the call open (`"blocking"`) or fail fast with -32042. */
  readonly mode: Mode
  /** When the pending entry (and the link) expires. */
  readonly expiresAt: DateTime.Utc
}

/**
 * @since 0.1.0
 * @category models
 */
export type Mode = "blocking" | "failFast"

/**
 * The client's answer to an elicitation that held the call open.
 *
 * @since 0.1.0
 * @category models
 */
export type ElicitationOutcome =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "Declined" }
  | { readonly _tag: "Cancelled" }
  | { readonly _tag: "Failed"; readonly reason: string }

/**
 * An error that ends the tool call with the protocol's own answer (the call is retried later).
 *
 * @since 0.1.0
 * @category models
 */
export interface ElicitationEnded {
  readonly _tag: string
  readonly message: string
}

/**
 * The era implementation in use.
 *
 * @since 0.1.0
 * @category tags
 */
export class Elicitation extends Context.Tag("@mcp-credentials/vault/Elicitation")<
  Elicitation,
  {
    /** The protocol revision implemented, e.g. `"2025-11-25"`. */
    readonly protocol: string
    /** Whether the current call's client accepts URL elicitation. */
    readonly supportsUrl: Effect.Effect<boolean>
    /** Delivers the elicitation: holds the call and returns the answer, or ends it. */
    readonly elicit: (request: ElicitationRequest) => Effect.Effect<ElicitationOutcome, ElicitationEnded>
    /** The waiting call received the form's result. */
    readonly completed: (request: ElicitationRequest) => Effect.Effect<void>
    /** The page stored the credential of `entry` (called on the replica that served the form). */
    readonly submitted: (entry: PendingEntry) => Effect.Effect<void>
    /**
     * 2026-07-28 retries: verifies and consumes the `requestState` the retried call carries when it
     * was issued for this provider, and answers the elicitation it resumes (`None` when the call
     * resumes nothing). Refusals fail with `RequestState`'s tagged errors. The flow asks only when
     * the call's `ToolContext.requestState` is set. Absent on 2025-11-25.
     */
    readonly resume?: ((request: ResumeRequest) => Effect.Effect<Option.Option<Resumed>, ElicitationEnded>) | undefined
  }
>() {}

/**
 * What the flow asks `resume` about: the provider, the user and the digest of the retried call
 * (the same digest the elicitation was sealed with).
 *
 * @since 0.1.0
 * @category models
 */
export interface ResumeRequest {
  readonly provider: { readonly name: string; readonly title: string }
  readonly user: { readonly subject: string; readonly label: string }
  readonly requestDigest: string
}

/**
 * A retried call resumes an elicitation: the pending entry to wait on (server-side: it never
 * travelled in the `requestState`), until when, and what the client answered to the URL
 * elicitation (`Accepted` when the retry carries no answer).
 *
 * @since 0.1.0
 * @category models
 */
export interface Resumed {
  readonly pendingId: string
  readonly expiresAt: DateTime.Utc
  readonly outcome: ElicitationOutcome
}

/**
 * The JSON-RPC error -32042 of the 2025-11-25 fail-fast mode: `data.elicitations` holds the URL
 * elicitation; the client opens it and retries the call. The v1 SDK's client turns it into its
 * own `UrlElicitationRequiredError`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UrlElicitationRequiredError extends Schema.TaggedError<UrlElicitationRequiredError>(
  "@mcp-credentials/vault/UrlElicitationRequiredError"
)("UrlElicitationRequiredError", {
  title: Schema.String,
  /** The message (default "`<title>` credentials required."). */
  required: Schema.optional(Schema.String),
  elicitations: Schema.Array(Schema.Struct({
    mode: Schema.Literal("url"),
    message: Schema.String,
    url: Schema.String,
    elicitationId: Schema.String
  }))
}) {
  /** The JSON-RPC error this becomes (see `ToolContext.JsonRpcErrorTypeId`). */
  get [ToolContext.JsonRpcErrorTypeId](): { readonly code: number; readonly data: unknown } {
    return { code: code, data: { elicitations: this.elicitations } }
  }
  override get message(): string {
    return this.required ?? `${this.title} credentials required.`
  }
}

/**
 * The JSON-RPC code of `UrlElicitationRequiredError`.
 *
 * @since 0.1.0
 * @category constants
 */
export const code = -32042

/**
 * Whether the current call's client declared `elicitation.url` (reads the call's `ToolContext`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const clientSupportsUrl: Effect.Effect<boolean> = Effect.map(
  Effect.serviceOption(ToolContext.ToolContext),
  Option.match({
    onNone: () => false,
    onSome: (tool) => {
      const elicitation = tool.clientCapabilities?.elicitation
      return typeof elicitation === "object" && elicitation !== null && "url" in elicitation
    }
  })
)

/**
 * The 2025-11-25 implementation (`@modelcontextprotocol/sdk` v1, through the call's
 * `ToolContext`): blocking mode sends `elicitation/create` with `mode: "url"` on the call's
 * stream and, once the form is in, `notifications/elicitation/complete`; fail-fast mode fails the
 * call with -32042 and sends the completion on the session's stream when the form is submitted to
 * this process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make2025_11_25: Effect.Effect<Elicitation["Type"]> = Effect.sync(() => {
  // fail-fast elicitations of this process: the session to notify when the form comes in
  const waiting = new Map<string, { readonly notify: Effect.Effect<void>; readonly expiresAt: number }>()
  const sweep = (now: number) => {
    for (const [id, w] of waiting) if (w.expiresAt <= now) waiting.delete(id)
  }
  // a completion that cannot be delivered changes nothing: the credential is stored either way
  const completion = (tool: ToolContext.ToolContextShape, elicitationId: string, related: boolean) =>
    tool.notify === undefined
      ? Effect.void
      : Effect.catchAllCause(tool.notify("notifications/elicitation/complete", { elicitationId }, { related }), () => Effect.void)
  return Elicitation.of({
    protocol: "2025-11-25",
    supportsUrl: clientSupportsUrl,
    elicit: (request) =>
      Effect.flatMap(Effect.serviceOption(ToolContext.ToolContext), (tool) => {
        const params = {
          mode: "url" as const,
          message: request.message,
          url: request.url,
          elicitationId: request.elicitationId
        }
        if (request.mode === "failFast") {
          // the entries expire on the Clock that gave them their expiry (the pending store's)
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            sweep(now)
            if (Option.isSome(tool)) {
              waiting.set(request.pendingId, {
                notify: completion(tool.value, request.elicitationId, false),
                expiresAt: request.expiresAt.epochMillis
              })
            }
            return new UrlElicitationRequiredError({
              title: request.provider.title,
              ...(request.required !== undefined ? { required: request.required } : {}),
              elicitations: [params]
            })
          })
        }
        if (Option.isNone(tool)) return Effect.succeed<ElicitationOutcome>({ _tag: "Failed", reason: "no client channel" })
        // the client may keep its dialog open as long as the link lives (the SDK's default is 60 s)
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          tool.value.elicit(params, { timeout: Duration.millis(Math.max(1, request.expiresAt.epochMillis - now)) })).pipe(
          Effect.map((result): ElicitationOutcome =>
            result.action === "accept"
              ? { _tag: "Accepted" }
              : result.action === "decline"
              ? { _tag: "Declined" }
              : { _tag: "Cancelled" }
          ),
          Effect.catchAll((e) => Effect.succeed<ElicitationOutcome>({ _tag: "Failed", reason: e.message }))
        )
      }),
    completed: (request) =>
      Effect.flatMap(Effect.serviceOption(ToolContext.ToolContext), (tool) =>
        Option.isNone(tool) ? Effect.void : completion(tool.value, request.elicitationId, true)),
    submitted: (entry) =>
      Effect.suspend(() => {
        const w = waiting.get(entry.id)
        if (w === undefined) return Effect.void
        waiting.delete(entry.id)
        return w.notify
      })
  })
})

/**
 * The 2025-11-25 implementation as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer2025_11_25: Layer.Layer<Elicitation> = Layer.effect(Elicitation, make2025_11_25)

/**
 * The 2026-07-28 input-required answer: the call ends with an input-required result whose
 * embedded URL elicitation (keyed by the provider's name) points at the vault's identity-bound
 * page, and whose `requestState` is sealed by `RequestState` (user, expiry, digest of the call).
 * The client opens the link, then retries the call with the `requestState`. The message names
 * the provider only; `url` and `requestState` go to the client and are never logged.
 *
 * @since 0.1.0
 * @category errors
 */
export class InputRequiredError extends Schema.TaggedError<InputRequiredError>(
  "@mcp-credentials/vault/InputRequiredError"
)("InputRequiredError", {
  title: Schema.String,
  key: Schema.String,
  text: Schema.String,
  url: Schema.String,
  requestState: Schema.String
}) {
  /** The input-required result this becomes (see `ToolContext.InputRequiredTypeId`). */
  get [ToolContext.InputRequiredTypeId](): ToolContext.InputRequired {
    return {
      inputRequests: { [this.key]: { method: "elicitation/create", params: { mode: "url", message: this.text, url: this.url } } },
      requestState: this.requestState
    }
  }
  override get message(): string {
    return `${this.title} credentials required: open the link the client shows, then call the tool again.`
  }
}

/**
 * The first protocol revision with input-required results.
 *
 * @since 0.1.0
 * @category constants
 */
export const modernRevision = "2026-07-28"

/**
 * Whether the current call was sent on 2026-07-28 or later (reads the call's `ToolContext`;
 * `false` on the v1 line, which does not set `protocolVersion`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const isModernCall: Effect.Effect<boolean> = Effect.map(
  Effect.serviceOption(ToolContext.ToolContext),
  Option.match({
    onNone: () => false,
    onSome: (tool) => tool.protocolVersion !== undefined && tool.protocolVersion >= modernRevision
  })
)

/**
 * The 2026-07-28 implementation (`@modelcontextprotocol/server` v2): `elicit` seals a
 * `requestState` for the user and the call's digest — recording, server-side, the pending entry
 * it resumes — and ends the call with `InputRequiredError` (the v2 integration turns it into the
 * SDK's input-required result). On the retry, `resume` unseals it (single-use, on any replica
 * sharing the `PendingStore`): tampered, expired, replayed, other-user and other-call states are
 * refused with `RequestState`'s tagged errors. There is no `elicitationId` and no completion
 * notification on this revision.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make2026_07_28: Effect.Effect<Elicitation["Type"], never, Keyring | PendingStore> = Effect.gen(function*() {
  const keyring = yield* Keyring
  const pending = yield* PendingStore
  const provide = <A, E>(effect: Effect.Effect<A, E, Keyring | PendingStore>) =>
    effect.pipe(Effect.provideService(Keyring, keyring), Effect.provideService(PendingStore, pending))
  return Elicitation.of({
    protocol: modernRevision,
    supportsUrl: clientSupportsUrl,
    elicit: (request) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const requestState = yield* provide(RequestState.seal({
          subject: request.user.subject,
          requestDigest: request.requestDigest,
          provider: request.provider.name,
          ttl: Duration.millis(Math.max(1, request.expiresAt.epochMillis - now)),
          data: { pendingId: request.pendingId }
        })).pipe(
          Effect.catchAll((e) =>
            Effect.zipRight(
              Effect.logError(`${request.provider.name} requestState could not be recorded: ${e._tag}`),
              new CredentialsUnavailableError({ provider: request.provider.name, operation: "seal" })
            )
          )
        )
        return yield* new InputRequiredError({
          title: request.provider.title,
          key: request.provider.name,
          text: request.message,
          url: request.url,
          requestState
        })
      }),
    completed: () => Effect.void,
    submitted: () => Effect.void,
    resume: (request) =>
      Effect.gen(function*() {
        const tool = yield* Effect.serviceOption(ToolContext.ToolContext)
        const sealed = Option.flatMap(tool, (t) => Option.fromNullable(t.requestState))
        if (Option.isNone(sealed)) return Option.none<Resumed>()
        // integrity and expiry first, whoever the state was issued for
        const opened = yield* provide(RequestState.open(sealed.value))
        if (!Option.contains(opened.provider, request.provider.name)) return Option.none<Resumed>()
        const state = yield* provide(RequestState.unseal(sealed.value, {
          subject: request.user.subject,
          requestDigest: request.requestDigest
        })).pipe(
          Effect.catchTags({
            StoreError: () => new CredentialsUnavailableError({ provider: request.provider.name, operation: "unseal" }),
            DecryptionError: () => new CredentialsUnavailableError({ provider: request.provider.name, operation: "unseal" })
          })
        )
        const pendingId = state.data?.pendingId
        if (typeof pendingId !== "string") return yield* new RequestState.RequestStateInvalidError({ reason: "no elicitation recorded" })
        const answer = Option.getOrUndefined(tool)?.inputResponses?.[request.provider.name] as { action?: unknown } | undefined
        const outcome: ElicitationOutcome = answer?.action === "decline"
          ? { _tag: "Declined" }
          : answer?.action === "cancel"
          ? { _tag: "Cancelled" }
          : { _tag: "Accepted" }
        return Option.some<Resumed>({ pendingId, expiresAt: state.expiresAt, outcome })
      })
  })
})

/**
 * The 2026-07-28 implementation as a layer (needs the `Keyring` that seals the `requestState`
 * and the shared `PendingStore` that makes it single-use).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer2026_07_28: Layer.Layer<Elicitation, never, Keyring | PendingStore> = Layer.effect(Elicitation, make2026_07_28)

/**
 * Both eras, chosen per call from the line and the negotiated revision: calls on 2026-07-28 (v2
 * line, `McpCredentialsV2`, client pinned to or negotiating 2026-07-28) use `make2026_07_28`;
 * everything else — the v1 line, and 2025-era clients served by the v2 line's legacy fallback —
 * uses `make2025_11_25`. Give an era layer instead to force one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAuto: Effect.Effect<Elicitation["Type"], never, Keyring | PendingStore> = Effect.gen(function*() {
  const legacy = yield* make2025_11_25
  const modern = yield* make2026_07_28
  const pick = <A, E>(f: (era: Elicitation["Type"]) => Effect.Effect<A, E>) =>
    Effect.flatMap(isModernCall, (m) => f(m ? modern : legacy))
  return Elicitation.of({
    protocol: `${legacy.protocol} | ${modern.protocol}`,
    supportsUrl: clientSupportsUrl,
    elicit: (request) => pick((era) => era.elicit(request)),
    completed: (request) => pick((era) => era.completed(request)),
    submitted: (entry) => Effect.zipRight(legacy.submitted(entry), modern.submitted(entry)),
    resume: (request) => pick((era) => era.resume === undefined ? Effect.succeed(Option.none<Resumed>()) : era.resume(request))
  })
})

/**
 * Both eras, chosen per call (see `makeAuto`): the layer to give a server that may run on either
 * SDK line.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Elicitation, never, Keyring | PendingStore> = Layer.effect(Elicitation, makeAuto)
