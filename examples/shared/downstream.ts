/**
 * Calling a downstream API from an Effect tool with `@effect/platform`'s `HttpClient`. The secret
 * stays `Redacted` up to `authHeaders`, the one place where it leaves the process.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { ToolError } from "@mcp-credentials/server"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

/** How the downstream wants the credential. */
export type Auth =
  | { readonly bearer: Redacted.Redacted<string> }
  | { readonly apiKey: Redacted.Redacted<string> }

/** A downstream answer: its status and its JSON body. */
export interface Reply {
  readonly status: number
  readonly body: unknown
}

/** The `HttpClient` the examples use (the platform's `fetch`). */
export const layer: Layer.Layer<HttpClient.HttpClient> = FetchHttpClient.layer

/** The request headers for `auth`: the only place the examples unwrap a secret. */
export const authHeaders = (auth: Auth): Record<string, string> =>
  "bearer" in auth
    ? { authorization: `Bearer ${Redacted.value(auth.bearer)}` }
    : { "x-api-key": Redacted.value(auth.apiKey) }

/**
 * Sends a request with the credential and returns the status and JSON body, whatever the status.
 * A transport failure becomes a `ToolError` (the model may read it: it names no secret).
 */
export const request = (
  method: "GET" | "POST",
  url: string,
  auth: Auth,
  body?: unknown
): Effect.Effect<Reply, ToolError.ToolError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    let req = HttpClientRequest.make(method)(url).pipe(HttpClientRequest.setHeaders(authHeaders(auth)))
    if (body !== undefined) req = yield* HttpClientRequest.bodyJson(req, body)
    const response = yield* client.execute(req)
    const json = yield* response.json
    return { status: response.status, body: json }
  }).pipe(
    Effect.catchAll((e) =>
      e instanceof ToolError.ToolError
        ? Effect.fail(e)
        : new ToolError.ToolError({ message: `The downstream API could not be reached (${e._tag}).` })
    )
  )

/** `GET url` with the credential. */
export const get = (url: string, auth: Auth) => request("GET", url, auth)

/**
 * The body of a 2xx reply; otherwise a `ToolError` that passes the downstream's answer on, as a
 * naive tool would. If that answer echoes the credential, the server scrubs it before the client
 * (and the model) sees it.
 */
export const ok = (reply: Reply): Effect.Effect<Record<string, unknown>, ToolError.ToolError> =>
  reply.status >= 200 && reply.status < 300
    ? Effect.succeed(reply.body as Record<string, unknown>)
    : new ToolError.ToolError({
      message: `The downstream API answered ${reply.status}: ${JSON.stringify(reply.body)}`
    })
