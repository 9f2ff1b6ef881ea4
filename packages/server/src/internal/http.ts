/**
 * HTTP helpers shared by `McpHttpServer` (v1) and `McpHttpServerV2`: Host/Origin checking
 * (DNS-rebinding protection), JSON-RPC error responses, a Node server that closes promptly.
 * SDK-neutral.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { Readable } from "node:stream"

/** The host names of a loopback bind. */
export const localhostNames: ReadonlyArray<string> = ["localhost", "127.0.0.1", "[::1]"]

/** A bind address as a URL host name (`::1` and `0:0:0:0:0:0:0:1` → `[::1]`), lowercase. */
export const bindHostname = (host: string): string =>
  hostnameOf(`http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}/`) || host.toLowerCase()

export const isLoopback = (host: string | undefined) => {
  if (host === undefined) return true
  const name = bindHostname(host)
  return name === "localhost" || name === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
}

export const jsonRpcError = (status: number, message: string, code: number = -32000) =>
  new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json" }
  })

export const hostnameOf = (url: string): string => {
  try {
    return new URL(url).hostname.toLowerCase()
  } catch {
    return ""
  }
}

/**
 * An HTTP option that cannot be used, found when the handler is built (a defect: options are
 * code). The message names the option and the entry's position, never its value.
 */
export class InvalidOptionError extends Error {
  readonly _tag = "InvalidOptionError"
  constructor(readonly option: string, detail: string) {
    super(`${option}: ${detail}`)
    this.name = "InvalidOptionError"
  }
}

/** Why a Node server could not listen, in words, by its `code`. */
const listenReasons: Readonly<Record<string, string>> = {
  EADDRINUSE: "the address is in use (another process listens on it; stop it or choose another port)",
  EACCES: "permission denied (ports below 1024 need privileges; choose another port)",
  EADDRNOTAVAIL: "the address is not available on this machine (check host)",
  ENOTFOUND: "the host name does not resolve (check host)"
}

/**
 * The HTTP server of `McpHttpServer.layer` / `McpHttpServerV2.layer` could not listen on
 * `host:port`. The message says which address and why; `cause` is the platform's error.
 */
export class ListenError extends Error {
  readonly _tag = "ListenError"
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
    message: string,
    options?: { readonly cause?: unknown }
  ) {
    super(message, options)
    this.name = "ListenError"
  }

  static from(name: string, host: string, port: number, error: unknown): ListenError {
    const cause = (error as { cause?: unknown } | undefined)?.cause ?? error
    const code = typeof (cause as { code?: unknown } | undefined)?.code === "string"
      ? (cause as { code: string }).code
      : undefined
    const message = (cause as { message?: unknown } | undefined)?.message
    const reason = code === undefined
      ? String(message ?? cause)
      : `${listenReasons[code] ?? String(message ?? "the system refused it")} (${code})`
    const address = host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`
    return new ListenError(host, port, code, `${name}: cannot listen on ${address}: ${reason}`, { cause: error })
  }
}

/** The origin of an `allowedOrigins` entry (`scheme://host[:port]`, normalized), or `undefined`. */
export const originOf = (entry: string): string | undefined => {
  let url: URL
  try {
    url = new URL(entry)
  } catch {
    return undefined
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return undefined
  if (url.hostname.includes("*")) return undefined // no wildcards: an entry names one origin
  if (url.pathname !== "/") return undefined
  return url.origin
}

/**
 * A check of `Host` and `Origin` (DNS-rebinding and cross-site protection). `Host` is checked
 * against `allowedHosts` (`undefined` or `"any"`: not checked). `Origin`, when a request carries
 * one (browsers do), must be one of `allowedOrigins` exactly (scheme, host and port) when that is
 * given; otherwise its host name is checked against `allowedHosts`.
 */
export const makeHostCheck = (
  allowedHosts: ReadonlyArray<string> | "any" | undefined,
  allowedOrigins?: ReadonlyArray<string> | undefined
) => {
  const allowed = allowedHosts === "any" || allowedHosts === undefined
    ? undefined
    : new Set(allowedHosts.map((h) => h.toLowerCase()))
  const origins = allowedOrigins === undefined ? undefined : new Set(
    allowedOrigins.map((entry, i) => {
      const origin = typeof entry === "string" ? originOf(entry) : undefined
      if (origin === undefined) {
        throw new InvalidOptionError(
          "allowedOrigins",
          `entry ${i} is not an origin: give scheme://host[:port] (http or https), without a path, query, credentials or wildcard`
        )
      }
      return origin
    })
  )
  if (allowed === undefined && origins === undefined) return (_request: Request): Response | undefined => undefined
  return (request: Request): Response | undefined => {
    if (allowed !== undefined) {
      const host = request.headers.get("host")
      if (host === null || !allowed.has(hostnameOf(`http://${host}`))) return jsonRpcError(403, "Host not allowed")
    }
    const origin = request.headers.get("origin")
    if (origin === null) return undefined
    if (origins !== undefined) {
      return origins.has(originOf(origin) ?? "") ? undefined : jsonRpcError(403, "Origin not allowed")
    }
    if (allowed !== undefined && !allowed.has(hostnameOf(origin))) return jsonRpcError(403, "Origin not allowed")
    return undefined
  }
}

/** The response headers a browser client of an MCP endpoint reads (CORS exposes none by default). */
const exposedHeaders = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"

/**
 * CORS for browser clients of the MCP endpoint (`cors: true`): a preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) from an origin the Host/Origin check accepts gets 204 with the
 * methods and the requested headers allowed; every other answer to such an origin names it in
 * `Access-Control-Allow-Origin` and exposes the MCP headers. Origins the check refuses get its 403,
 * without CORS headers. Never `Access-Control-Allow-Credentials`: the endpoint takes bearer tokens,
 * not cookies. The accepted origins must be named (`allowedOrigins`, or `allowedHosts`): with
 * neither, every origin would be, and any web page a user opens could call the server from the
 * user's network (`InvalidOptionError`).
 */
export const makeCors = (
  enabled: boolean | undefined,
  allowedHosts: ReadonlyArray<string> | "any" | undefined,
  allowedOrigins: ReadonlyArray<string> | undefined
): { readonly preflight: (request: Request) => Response | undefined; readonly answer: (request: Request, response: Response) => Response } | undefined => {
  if (enabled !== true) return undefined
  if (allowedOrigins === undefined && (allowedHosts === undefined || allowedHosts === "any")) {
    throw new InvalidOptionError(
      "cors",
      "name the origins browsers may call from: give allowedOrigins (or allowedHosts), otherwise every web page could call the server"
    )
  }
  return {
    preflight: (request) => {
      const origin = request.headers.get("origin")
      if (request.method !== "OPTIONS" || origin === null || !request.headers.has("access-control-request-method")) {
        return undefined
      }
      const headers = new Headers({
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST, DELETE",
        "access-control-max-age": "600",
        vary: "Origin, Access-Control-Request-Headers"
      })
      const requested = request.headers.get("access-control-request-headers")
      if (requested !== null) headers.set("access-control-allow-headers", requested)
      return new Response(null, { status: 204, headers })
    },
    answer: (request, response) => {
      const origin = request.headers.get("origin")
      if (origin === null) return response
      let answered = response
      try {
        answered.headers.set("access-control-allow-origin", origin)
      } catch {
        // immutable headers (a fetched response): a copy
        answered = new Response(response.body, response)
        answered.headers.set("access-control-allow-origin", origin)
      }
      answered.headers.set("access-control-expose-headers", exposedHeaders)
      answered.headers.append("vary", "Origin")
      return answered
    }
  }
}

/**
 * The MCP endpoint's front door, built with the endpoint (so that invalid options fail there):
 * the Host/Origin check (`makeHostCheck`) and, with `cors: true`, CORS (`makeCors`) around
 * `respond`. Shared by both SDK lines.
 */
export const guardEndpoint = (options: {
  readonly allowedHosts?: ReadonlyArray<string> | "any" | undefined
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  readonly cors?: boolean | undefined
}) => {
  const checkHost = makeHostCheck(options.allowedHosts, options.allowedOrigins)
  const cors = makeCors(options.cors, options.allowedHosts, options.allowedOrigins)
  return <O>(respond: (request: Request, opts?: O) => Promise<Response>) => async (request: Request, opts?: O): Promise<Response> => {
    const refused = checkHost(request)
    if (refused !== undefined) return refused
    if (cors === undefined) return respond(request, opts)
    return cors.preflight(request) ?? cors.answer(request, await respond(request, opts))
  }
}

/**
 * A Node server whose `close` also drops idle keep-alive connections: clients' fetch pools keep
 * sockets open, and a plain `close` waits for them for seconds.
 */
export const createClosingServer = () => {
  const server = createServer()
  // a client that vanished without closing its connection (its GET stream open) is found by TCP
  // keep-alive probes, so its stream ends and its session can idle out
  server.on("connection", (socket) => socket.setKeepAlive(true, keepAliveDelayMs))
  const close = server.close.bind(server)
  server.close = ((callback?: (err?: Error) => void) => {
    const result = close(callback)
    server.closeAllConnections()
    return result
  }) as typeof server.close
  return server
}

/** The delay before TCP keep-alive probes on connections that may hold a long event stream. */
export const keepAliveDelayMs = 60_000

/**
 * The first credential or gateway header (`X-MCP-Cred-*`, `X-MCP-Gateway-*` and `prefixes`,
 * lower-cased) that a request carries more than once, from Node's `rawHeaders`. Node (and web `Headers`) join repeats
 * with ", ", which would make two values one credential ("client, gateway" when a proxy appends
 * instead of replacing): such a request is refused (`repeatedHeader`) before anything reads it.
 */
export const repeatedCredentialHeader = (
  rawHeaders: ReadonlyArray<string> | undefined,
  prefixes: ReadonlyArray<string> = noPrefixes
): string | undefined => {
  if (rawHeaders === undefined) return undefined
  let seen: Set<string> | undefined
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    // "x-mcp-cred-" is the shortest of the family; most headers end here
    if (prefixes.length === 0 && (name.length < 11 || (name.charCodeAt(0) | 32) !== 120)) continue
    const lower = name.toLowerCase()
    if (!lower.startsWith("x-mcp-cred-") && !lower.startsWith("x-mcp-gateway-") && !prefixes.some((p) => lower.startsWith(p))) continue
    seen ??= new Set()
    if (seen.has(lower)) return lower
    seen.add(lower)
  }
  return undefined
}

const noPrefixes: ReadonlyArray<string> = []

/** Lower-cased header prefixes of credential backends outside the `X-MCP-Cred-` family. */
export const lowerPrefixes = (prefixes: ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  prefixes === undefined ? noPrefixes : prefixes.map((p) => p.toLowerCase())

/** The answer to a request that repeats a credential header: 400, naming the header (never a value). */
export const repeatedHeader = (name: string): Response =>
  jsonRpcError(400, `Bad Request: the ${name} header is sent more than once; send it once`)

/** A Node request as a web `Request`, aborted when the response closes. */
export const toWebRequest = (req: IncomingMessage, res: ServerResponse, options?: { readonly lazyBody?: boolean }): Request => {
  const controller = new AbortController()
  // a GET opens a standalone event stream that may stay silent for hours: probe its connection
  // (the server may be the application's own, without keep-alive on its sockets)
  if (req.method === "GET") req.socket?.setKeepAlive?.(true, keepAliveDelayMs)
  res.on("close", () => controller.abort())
  // a malformed Host must not make the URL throw (the Host check answers it later): fall back to
  // a fixed origin, keeping the Host header itself for that check
  let url: string
  try {
    url = new URL(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`).href
  } catch {
    url = new URL(req.url ?? "/", "http://invalid-host.invalid").href
  }
  const headers = new Headers()
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one)
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD"
  // a body parser in front (Express's `express.json()`) has read the stream already: its result
  // is the body (as the SDK's own Node transport takes a `parsedBody`)
  const parsed = (req as { body?: unknown }).body
  const consumed = parsed !== undefined && req.readableEnded
  const body = !hasBody
    ? undefined
    : consumed
    ? (typeof parsed === "string" || parsed instanceof Uint8Array
      ? parsed
      // a form `express.urlencoded()` read is a form again, anything else JSON
      : (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")
      ? formOf(parsed)
      : JSON.stringify(parsed))
    : options?.lazyBody === true
    ? lazyStream(req)
    : Readable.toWeb(req) as ReadableStream
  if (consumed) headers.delete("content-length")
  return new Request(url, {
    method: req.method ?? "GET",
    headers,
    signal: controller.signal,
    ...(body === undefined ? {} : consumed ? { body } : { body, duplex: "half" })
  } as RequestInit)
}

/** A form a parser already read, encoded again; a repeated field (an array) stays repeated. */
const formOf = (parsed: unknown): string => {
  const form = new URLSearchParams()
  if (typeof parsed === "object" && parsed !== null) {
    for (const [key, value] of Object.entries(parsed)) {
      for (const one of Array.isArray(value) ? value : [value]) {
        form.append(key, typeof one === "string" ? one : JSON.stringify(one))
      }
    }
  }
  return form.toString()
}

/**
 * The request's body as a web stream that touches the Node stream only when first read: a request
 * the middleware passes on (`next`) keeps its body for the application's own parsers
 * (`Readable.toWeb` starts reading at once, and pauses the stream once its queue is full).
 */
const lazyStream = (req: IncomingMessage): ReadableStream<Uint8Array> => {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      reader ??= (Readable.toWeb(req) as ReadableStream<Uint8Array>).getReader()
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel: (reason) => reader?.cancel(reason)
  }, { highWaterMark: 0 })
}

/** Cancels a response's body that will not be read (its stream's `cancel` runs). */
export const cancelBody = (response: Response): void => {
  if (response.body !== null && !response.bodyUsed) void response.body.cancel().catch(() => undefined)
}

/**
 * Writes a web `Response` to a Node response (streaming its body). When the client goes away
 * before the end, or went away before it was ready, the body is cancelled, so the SDK's stream
 * clean-up runs (its SSE streams and keep-alive timers) instead of leaking.
 */
export const writeWebResponse = (response: Response, res: ServerResponse): void => {
  // the connection closed while the request was handled: nothing will read the body (a response
  // without a socket yet is a pipelined one, waiting for the one before it: Node buffers it)
  if (res.destroyed || res.socket?.destroyed === true) {
    cancelBody(response)
    return
  }
  res.writeHead(response.status, Object.fromEntries(response.headers.entries()))
  if (response.body === null) {
    res.end()
    return
  }
  // send the status and headers now: an SSE stream may stay silent until its first event
  res.flushHeaders()
  const body = Readable.fromWeb(response.body as any)
  body.on("error", () => res.destroy())
  res.on("close", () => {
    if (!res.writableFinished) body.destroy()
  })
  body.pipe(res)
}

/** The largest JSON-RPC request body read (the MCP SDK's own limit). */
export const maxRequestBodyBytes = 4 * 1024 * 1024

/**
 * Reads a request body as JSON with a byte cap: a declared `Content-Length` over the cap is
 * refused before reading, and a streamed body is cut off as soon as it passes the cap (413);
 * anything that is not JSON is a JSON-RPC parse error (400).
 */
export const readJsonBody = async (
  request: Request,
  maxBytes: number = maxRequestBodyBytes
): Promise<{ readonly body: unknown } | Response> => {
  const tooLarge = () => jsonRpcError(413, `Request body larger than ${maxBytes} bytes`)
  const declared = Number(request.headers.get("content-length") ?? "")
  if (Number.isFinite(declared) && declared > maxBytes) return tooLarge()
  const chunks: Array<Uint8Array> = []
  let size = 0
  if (request.body !== null) {
    const reader = request.body.getReader()
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>
      try {
        next = await reader.read()
      } catch {
        return parseError()
      }
      if (next.done) break
      size += next.value.byteLength
      if (size > maxBytes) {
        // released, not cancelled: on the Effect router, cancelling the body destroys the socket
        // before the 413 is written (the SDK's own reader releases it too)
        reader.releaseLock()
        return tooLarge()
      }
      chunks.push(next.value)
    }
  }
  try {
    return { body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }
  } catch {
    return parseError()
  }
}

const parseError = () => jsonRpcError(400, "Parse error", -32700)
