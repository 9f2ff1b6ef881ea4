/**
 * The one place the OAuth modules talk HTTP: `fetch` wrapped in Effect, with a timeout that aborts
 * the request (interruption aborts it too), no redirects followed, and a cap on the body size
 * (read incrementally: the body stops being read once it passes the cap).
 * Nothing here logs: request bodies hold codes, verifiers and refresh tokens.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** @internal */
export type Fetch = (input: string, init: RequestInit) => Promise<Response>

/** @internal */
export interface HttpResponse {
  readonly status: number
  readonly text: string
}

/** @internal */
export type HttpFailure = "timeout" | "network" | "too large" | "redirect"

const maxBytes = 256 * 1024

class Failure {
  constructor(readonly reason: HttpFailure) {}
}

/** @internal */
export const request = (options: {
  readonly url: string
  readonly method: "GET" | "POST"
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string | undefined
  readonly timeout: Duration.DurationInput
  readonly fetch?: Fetch | undefined
}): Effect.Effect<HttpResponse, HttpFailure> =>
  Effect.tryPromise({
    try: async (signal) => {
      const timeout = AbortSignal.timeout(Duration.toMillis(Duration.decode(options.timeout)))
      const combined = AbortSignal.any([signal, timeout])
      let response: Response
      try {
        response = await (options.fetch ?? fetch)(options.url, {
          method: options.method,
          headers: options.headers,
          ...(options.body === undefined ? {} : { body: options.body }),
          redirect: "manual",
          signal: combined
        })
      } catch {
        throw new Failure(timeout.aborted ? "timeout" : "network")
      }
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => undefined)
        throw new Failure("redirect")
      }
      const declared = Number(response.headers.get("content-length") ?? "NaN")
      if (Number.isFinite(declared) && declared > maxBytes) {
        await response.body?.cancel().catch(() => undefined)
        throw new Failure("too large")
      }
      // read as it arrives, and stop once it passes the cap: an answer without a Content-Length
      // (chunked) is never buffered beyond it
      const text = await readCapped(response, () => timeout.aborted)
      return { status: response.status, text }
    },
    catch: (e) => (e instanceof Failure ? e.reason : "network")
  })

/** The body as text, at most `maxBytes` of it: the stream is cancelled as soon as it passes them. */
const readCapped = async (response: Response, timedOut: () => boolean): Promise<string> => {
  if (response.body === null) return ""
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let size = 0
  let text = ""
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>
    try {
      chunk = await reader.read()
    } catch {
      throw new Failure(timedOut() ? "timeout" : "network")
    }
    if (chunk.done) return text + decoder.decode()
    size += chunk.value.byteLength
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined)
      throw new Failure("too large")
    }
    text += decoder.decode(chunk.value, { stream: true })
  }
}

/** Whether `s` is an absolute http(s) URL. @internal */
export const isHttpUrl = (s: string): boolean => {
  try {
    const u = new URL(s)
    return u.protocol === "https:" || u.protocol === "http:"
  } catch {
    return false
  }
}

/** Parses a JSON object, or `undefined` when the text is not one. @internal */
export const parseObject = (text: string): Record<string, unknown> | undefined => {
  try {
    const v = JSON.parse(text) as unknown
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}
