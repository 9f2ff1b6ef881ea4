/**
 * The one place this package talks HTTP: a `fetch` wrapped in Effect with a timeout that aborts
 * the request (interruption aborts it too), no redirects, and a cap on the body size.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

export type Fetch = (input: string, init: RequestInit) => Promise<Response>

export type HttpFailure =
  | { readonly _tag: "timeout" }
  | { readonly _tag: "network" }
  | { readonly _tag: "too large" }

export interface HttpResponse {
  readonly status: number
  readonly contentType: string
  readonly body: Uint8Array
}

class TooLarge extends Error {}

const readLimited = async (response: Response, maxBytes: number): Promise<Uint8Array> => {
  const declared = Number(response.headers.get("content-length") ?? "NaN")
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined)
    throw new TooLarge()
  }
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  const chunks: Array<Uint8Array> = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined)
      throw new TooLarge()
    }
    chunks.push(value)
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.byteLength
  }
  return out
}

/**
 * Header records merged by name, whatever their case (`Accept` and `accept` are one header: a
 * plain spread would send both, which `fetch` joins into one malformed value); later records win.
 * Names come out lowercase.
 */
export const mergeHeaders = (
  ...records: ReadonlyArray<Readonly<Record<string, string>> | undefined>
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const record of records) {
    if (record === undefined) continue
    for (const name in record) out[name.toLowerCase()] = record[name]!
  }
  return out
}

/** `http:` to a host other than the loopback interface (the name or address may be anything else). */
export const isPlainHttpOffHost = (url: URL): boolean =>
  url.protocol === "http:" &&
  !(url.hostname === "localhost" || url.hostname.endsWith(".localhost") || url.hostname === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname))

export const request = (options: {
  readonly url: string
  readonly method: "GET" | "POST"
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string | undefined
  readonly timeout: Duration.DurationInput
  readonly maxBytes: number
  readonly fetch?: Fetch | undefined
}): Effect.Effect<HttpResponse, HttpFailure> => {
  const doFetch: Fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  return Effect.tryPromise({
    try: async (signal) => {
      const response = await doFetch(options.url, {
        method: options.method,
        headers: { ...options.headers },
        ...(options.body !== undefined ? { body: options.body } : {}),
        redirect: "manual",
        signal
      })
      const contentType = response.headers.get("content-type") ?? ""
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined)
        return { status: response.status, contentType, body: new Uint8Array(0) }
      }
      return { status: response.status, contentType, body: await readLimited(response, options.maxBytes) }
    },
    catch: (e): HttpFailure => (e instanceof TooLarge ? { _tag: "too large" } : { _tag: "network" })
  }).pipe(
    Effect.timeoutFail({ duration: options.timeout, onTimeout: (): HttpFailure => ({ _tag: "timeout" }) })
  )
}

export const parseJson = (body: Uint8Array): unknown => {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body))
  } catch {
    return undefined
  }
}
