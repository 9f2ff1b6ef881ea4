/**
 * The resolution flow shared by `CredentialsProvider` (the user fills in a form) and
 * `OAuthAuthorization` (the user authorizes at the provider): who is calling; the stored
 * credential if there is one; otherwise a one-time link sent by URL elicitation and a wait until a
 * page completes it (on any replica); and the 2026-07-28 retry, whose `requestState` names the
 * link the previous round sent. What differs between the two — how the stored credential is read,
 * what a completed entry means, the link, the messages and the errors — is the `FlowSpec`.
 */
import type { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import * as ToolContext from "@mcp-credentials/server/ToolContext"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import { NoAuthenticatedUserError } from "../CredentialsProviderError.js"
import type { Elicitation, ElicitationOutcome, ElicitationRequest, Mode } from "../Elicitation.js"
import type { PendingEntry, PendingResult, PendingStore } from "../PendingStore.js"
import type { VaultError } from "../VaultError.js"
import * as CallUser from "./callUser.js"

/** Why a call ended without a credential after an elicitation. */
export type NotDoneReason = "declined" | "cancelled" | "failed" | "timeout"

export interface FlowSpec<E> {
  readonly name: string
  readonly title: string
  /** The provider name the pending entries are created under (the pages look them up by it). */
  readonly pendingProvider: string
  /** How long a link, and a blocking wait, may take. */
  readonly timeout: Duration.Duration
  readonly mode: Mode
  /** The stored credential (refreshed where the kind refreshes); `None` when the user must act. */
  readonly current: (subject: string) => Effect.Effect<Option.Option<ResolvedCredential.ResolvedCredential>, E>
  /** The credential once a page completed the pending entry with `result`. */
  readonly finish: (subject: string, result: PendingResult) => Effect.Effect<ResolvedCredential.ResolvedCredential, E>
  /** The one-time link of a pending entry. */
  readonly link: (pendingId: string) => string
  /** What the client shows the user with the link (blocking: the call waits for them to return). */
  readonly message: (label: string, mode: Mode) => string
  /** The error's message when the call fails fast ("`<Title>` authorization required."). */
  readonly requiredMessage: string
  /** Log lines: "`<name>` `<requested>`", and on a timeout "`<name>` `<timedOut>`". */
  readonly logs: { readonly requested: string; readonly timedOut: string }
  readonly notDone: (reason: NotDoneReason) => E
  /** The client cannot open a URL: the error names the connect page instead. */
  readonly required: () => E
  /** A store failure during `operation`, logged, as the error the call reports. */
  readonly unavailable: (operation: string) => (e: VaultError) => Effect.Effect<never, E>
}

const reasonOf = (outcome: ElicitationOutcome): NotDoneReason =>
  outcome._tag === "Declined" ? "declined" : outcome._tag === "Cancelled" ? "cancelled" : "failed"

/** The backend's `resolve` for `spec`. */
export const make = <E>(
  spec: FlowSpec<E>,
  pending: PendingStore["Type"],
  elicitation: Elicitation["Type"]
) =>
(request: CredentialBackend.CredentialRequest) =>
  Effect.gen(function*() {
    const tool = yield* Effect.serviceOption(ToolContext.ToolContext)
    const user = CallUser.userOf(tool, request)
    if (Option.isNone(user)) return yield* new NoAuthenticatedUserError({ provider: spec.name })
    const { label, subject } = user.value
    const provider = { name: spec.name, title: spec.title }
    // computed only when needed (a stored credential is the hot path)
    const digestOf = () =>
      Option.match(tool, { onNone: () => undefined, onSome: (t) => t.requestDigest }) ??
        crypto.createHash("sha256").update(spec.name).digest("base64url")

    // 2026-07-28 retry: the requestState it carries is verified and consumed before anything else
    const resumed = elicitation.resume === undefined || !Option.exists(tool, (t) => t.requestState !== undefined)
      ? Option.none()
      : yield* elicitation.resume({ provider, user: user.value, requestDigest: digestOf() })

    const stored = yield* spec.current(subject)
    if (Option.isSome(stored)) return stored.value

    /**
     * The page's result for `pendingId`; the call's end (timeout, interruption) uses the link up.
     * Another call of the same user may have asked at the same time, with its own link: when the
     * credential that link brought is stored, this wait ends too (checked every 2 s), and this
     * call's link is used up.
     */
    const storedMeanwhile = (discard: Effect.Effect<void>) =>
      Effect.gen(function*() {
        while (true) {
          yield* Effect.sleep(Duration.seconds(2))
          // quietly: a store outage or a token that needs a new authorization would log every 2 s
          const found = yield* spec.current(subject).pipe(
            Effect.option,
            Effect.map(Option.flatten),
            Logger.withMinimumLogLevel(LogLevel.None)
          )
          if (Option.isSome(found)) {
            yield* discard
            return Option.some<PendingResult>({ status: "stored" })
          }
        }
      })
    const awaitEntry = (
      pendingId: string,
      within: Duration.Duration,
      onTimeout: Effect.Effect<void>,
      /**
       * An interruption leaves the link usable (a retry's wait: the client's own request timeout
       * ends it while the user may still be filling the page in; what the page stores is then
       * found by the next call).
       */
      keepOnInterrupt = false
    ) =>
      Effect.gen(function*() {
        const discard = pending.take(pendingId).pipe(Effect.ignore)
        const result = yield* Effect.raceFirst(
          pending.await(pendingId, within).pipe(Effect.catchAll(spec.unavailable("await"))),
          storedMeanwhile(discard)
        ).pipe(Effect.onInterrupt(() => keepOnInterrupt ? Effect.void : discard))
        if (Option.isNone(result)) {
          yield* discard
          yield* onTimeout
          return yield* Effect.fail(spec.notDone("timeout"))
        }
        return result.value
      })

    if (Option.isSome(resumed)) {
      // the user was sent to the page by the previous round: wait for it (on any replica)
      const { expiresAt, outcome, pendingId } = resumed.value
      if (outcome._tag !== "Accepted") {
        yield* pending.take(pendingId).pipe(Effect.ignore)
        return yield* Effect.fail(spec.notDone(reasonOf(outcome)))
      }
      const now = yield* Clock.currentTimeMillis
      const result = yield* awaitEntry(pendingId, Duration.millis(Math.max(0, expiresAt.epochMillis - now)), Effect.void, true)
      return yield* spec.finish(subject, result)
    }

    if (!(yield* elicitation.supportsUrl)) return yield* Effect.fail(spec.required())

    const elicitationId = crypto.randomBytes(16).toString("base64url")
    const digest = digestOf()
    // from the link's creation on, a call that ends by interruption (the client cancels it, in its
    // dialog or while the page is open) uses the link up, as every other end does
    const asked = (entry: PendingEntry) =>
      Effect.gen(function*() {
        const elicitRequest: ElicitationRequest = {
          provider,
          user: { subject, label },
          pendingId: entry.id,
          elicitationId,
          url: spec.link(entry.id),
          message: spec.message(label, spec.mode),
          required: spec.requiredMessage,
          requestDigest: digest,
          mode: spec.mode,
          expiresAt: entry.expiresAt
        }
        yield* Effect.logInfo(`${spec.name} ${spec.logs.requested}`).pipe(Effect.annotateLogs({ elicitationId }))
        const outcome = yield* elicitation.elicit(elicitRequest)
        if (outcome._tag !== "Accepted") {
          // a call that ends before the page completes the entry (declined, cancelled) uses the link up
          yield* pending.take(entry.id).pipe(Effect.ignore)
          yield* Effect.logInfo(`${spec.name} elicitation ${outcome._tag.toLowerCase()}`).pipe(Effect.annotateLogs({ elicitationId }))
          return yield* Effect.fail(spec.notDone(reasonOf(outcome)))
        }
        // the link's own end, not a full timeout from now (the client may have taken a while to answer)
        const left = entry.expiresAt.epochMillis - (yield* Clock.currentTimeMillis)
        const result = yield* awaitEntry(
          entry.id,
          Duration.millis(Math.max(0, left)),
          Effect.logWarning(`${spec.name} ${spec.logs.timedOut}`).pipe(Effect.annotateLogs({ elicitationId }))
        )
        yield* elicitation.completed(elicitRequest)
        return yield* spec.finish(subject, result)
      })
    return yield* Effect.uninterruptibleMask((restore) =>
      pending.create(
        { provider: spec.pendingProvider, subject, data: { elicitationId, requestDigest: digest } },
        spec.timeout
      ).pipe(
        Effect.catchAll(spec.unavailable("create")),
        Effect.flatMap((entry) => restore(asked(entry)).pipe(Effect.onInterrupt(() => pending.take(entry.id).pipe(Effect.ignore))))
      )
    )
  })
