/**
 * A tiny fake downstream API, so that every example really calls an HTTP API with the credential
 * it was given and needs nothing external.
 *
 * It listens on 127.0.0.1 on a random port and accepts a credential as `Authorization: Bearer <token>`
 * or as `X-Api-Key: <key>`. A known credential gets `200 { ok: true, user, ...items }`; anything else
 * gets `401 { error: "bad credentials", received: "<the header it got>" }`. Echoing the header back
 * is deliberate: a careless tool that forwards the downstream's error to the model would leak the
 * secret, and the examples show the server scrubbing it (`[redacted]`).
 *
 * Request lines are logged to stderr (never stdout, so a stdio MCP server can use it), without any
 * credential.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** What the fake API knows of a request it accepted. */
export interface FakeRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly body: unknown
  /** The user the credential belongs to. */
  readonly user: string
}

export interface Options {
  /** A name for logs and responses, e.g. `"weather-api"`. */
  readonly name: string
  /** The credentials it accepts (bearer tokens or API keys), each mapped to the user it belongs to. */
  readonly accept: Readonly<Record<string, string>>
  /** The rest of a successful answer (default `{ items: [] }`). */
  readonly respond?: ((request: FakeRequest) => Readonly<Record<string, unknown>>) | undefined
  /** Where request lines go (default: stderr); `false` turns them off. */
  readonly log?: ((line: string) => void) | false | undefined
}

export interface FakeApi {
  readonly name: string
  /** The base URL, e.g. `http://127.0.0.1:51234` (no trailing slash). */
  readonly url: string
  readonly close: () => Promise<void>
}

/** Starts the fake API. */
export const start = (options: Options): Promise<FakeApi> => {
  const log = options.log === false ? () => {} : options.log ?? ((line: string) => console.error(line))
  const server = createServer((req, res) => {
    void handle(options, log, req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: "internal error" })
    })
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        name: options.name,
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
}

/** Starts the fake API for the lifetime of the current scope. */
export const make = (options: Options): Effect.Effect<FakeApi, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (api) => Effect.promise(() => api.close()))

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const handle = async (
  options: Options,
  log: (line: string) => void,
  req: IncomingMessage,
  res: ServerResponse
): Promise<void> => {
  const url = new URL(req.url ?? "/", "http://fake")
  const method = req.method ?? "GET"
  const body = await readJson(req)
  const authorization = req.headers.authorization
  const apiKey = req.headers["x-api-key"]
  const presented = authorization !== undefined
    ? /^Bearer (.+)$/i.exec(authorization)?.[1]
    : typeof apiKey === "string"
    ? apiKey
    : undefined
  const user = presented === undefined ? undefined : options.accept[presented]
  if (user === undefined) {
    log(`[${options.name}] ${method} ${url.pathname} -> 401 bad credentials`)
    const received = authorization !== undefined
      ? `Authorization: ${authorization}`
      : typeof apiKey === "string"
      ? `X-Api-Key: ${apiKey}`
      : "(no credential header)"
    return send(res, 401, { error: "bad credentials", received })
  }
  log(`[${options.name}] ${method} ${url.pathname} -> 200 (user ${user})`)
  const rest = options.respond?.({ method, path: url.pathname, query: url.searchParams, body, user }) ?? { items: [] }
  send(res, 200, { ok: true, user, ...rest })
}

const readJson = async (req: IncomingMessage): Promise<unknown> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  if (chunks.length === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"))
  } catch {
    return undefined
  }
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}
