/**
 * A call's `ToolContext`, built the same way on both SDK lines from what each line gives (its
 * request context, its way of sending notifications, logs and elicitation requests). Everything
 * the tool sends to the client is scrubbed of the call's secrets, as its result is. SDK-neutral.
 */
import { CurrentCredential } from "@mcp-credentials/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scrubber from "../Scrubber.js"
import * as ToolContext from "../ToolContext.js"
import { requestDigest, scrubberSnapshot } from "./pipeline.js"

/** The caller's token as both SDK lines describe it. */
export interface AuthInfoLike {
  readonly token: string
  readonly clientId: string
  readonly scopes: ReadonlyArray<string>
  readonly expiresAt?: number | undefined
  readonly extra?: Record<string, unknown> | undefined
}

/** A notification as the SDKs send it. */
export interface Notification {
  readonly method: string
  readonly params?: unknown
}

/** What an SDK line gives for one call. */
export interface Channel {
  readonly toolName: string
  readonly authInfo: AuthInfoLike | undefined
  readonly sessionId: string | undefined
  readonly requestId: string | number
  readonly signal: AbortSignal
  readonly progressToken: string | number | undefined
  readonly clientCapabilities: Readonly<Record<string, unknown>> | undefined
  /** The call's arguments, when the context is built for a call (for `requestDigest`). */
  readonly params?: { readonly arguments?: unknown } | undefined
  /** The request's headers without credentials (read on first use). */
  readonly headers: () => Readonly<Record<string, string>>
  /** Sends a notification about the call (`related: false`: on the session, where there is one). */
  readonly notify: (notification: Notification, related: boolean) => Promise<unknown>
  /** Sends a log message of the call (`notifications/message`, logger = the tool's name). */
  readonly log: (level: ToolContext.LogLevel, data: unknown) => Promise<unknown>
  /** Sends an `elicitation/create` request to the client. */
  readonly elicit: (
    params: unknown,
    options: { readonly signal: AbortSignal; readonly timeout?: number }
  ) => Promise<ToolContext.ElicitResult>
  /** The call's scrubber (its frame's), when the call has resolved its credentials. */
  readonly scrubber?: Scrubber.Scrubber | undefined
  /** 2026-07-28: what the call knows of its round. */
  readonly round?: {
    readonly protocolVersion?: string | undefined
    readonly requestState?: string | undefined
    readonly inputResponses?: Readonly<Record<string, unknown>> | undefined
  } | undefined
}

export const make = (channel: Channel): ToolContext.ToolContextShape => {
  const info = channel.authInfo
  // the secrets of the call as they are now (a late notification still knows them)
  const scrubber = scrubberSnapshot(CurrentCredential.unsafeCurrentScope(), info?.token, channel.scrubber)
  const clean = <A>(value: A): A => scrubber().scrub(value).value
  // failures to deliver are ignored (ToolContext.notify, progress, log)
  const send = (notification: Notification, related = true) =>
    Effect.promise(() => channel.notify(notification, related).then(() => undefined, () => undefined))
  let headers: Readonly<Record<string, string>> | undefined
  let digest: string | undefined
  return {
    ...(channel.round !== undefined
      ? {
        protocolVersion: channel.round.protocolVersion,
        requestState: channel.round.requestState,
        inputResponses: channel.round.inputResponses
      }
      : {}),
    clientCapabilities: channel.clientCapabilities,
    // computed on first read: only an elicitation needs it, and hashing the arguments costs per call
    get requestDigest() {
      if (channel.params === undefined) return undefined
      digest ??= requestDigest(channel.toolName, channel.params.arguments)
      return digest
    },
    notify: (method, params, options) => send({ method, params: clean(params) }, options?.related !== false),
    toolName: channel.toolName,
    get headers() {
      headers ??= channel.headers()
      return headers
    },
    authInfo: info === undefined ? Option.none() : Option.some({
      token: Redacted.make(info.token),
      clientId: info.clientId,
      scopes: info.scopes,
      expiresAt: info.expiresAt,
      extra: info.extra
    }),
    sessionId: Option.fromNullable(channel.sessionId),
    requestId: channel.requestId,
    signal: channel.signal,
    progress: (progress, options) => {
      const token = channel.progressToken
      if (token === undefined) return Effect.void
      return send({
        method: "notifications/progress",
        params: {
          progressToken: token,
          progress,
          ...(options?.total !== undefined ? { total: options.total } : {}),
          ...(options?.message !== undefined ? { message: clean(options.message) } : {})
        }
      })
    },
    log: (level, data) => Effect.promise(() => channel.log(level, clean(data)).then(() => undefined, () => undefined)),
    elicit: (params, options) =>
      Effect.tryPromise({
        try: (signal) =>
          channel.elicit(clean(params), {
            signal,
            ...timeoutOf(options?.timeout)
          }),
        catch: (e) => new ToolContext.ElicitationError(e instanceof Error ? e.message : "Elicitation failed")
      })
  }
}

/**
 * A request timeout the SDK can take: in whole milliseconds, at most what a Node timer holds
 * (2^31 − 1 ms, ~24.8 days: a larger one, `Duration.infinity` included, fired at once).
 */
const timeoutOf = (timeout: Duration.DurationInput | undefined): { readonly timeout?: number } => {
  if (timeout === undefined) return {}
  const ms = Duration.toMillis(Duration.decode(timeout))
  return { timeout: Number.isNaN(ms) ? 2_147_483_647 : Math.min(Math.max(1, Math.ceil(ms)), 2_147_483_647) }
}
