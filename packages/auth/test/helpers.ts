import { assert } from "@effect/vitest"
import { Effect, Either, Redacted, TestClock } from "effect"
import * as jose from "jose"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { AccessToken, AuthError } from "../src/index.js"

/** A fixed "now" for TestClock tests, in epoch seconds. */
export const NOW = Math.floor(Date.UTC(2026, 10, 23, 12) / 1000)

export const atNow = <A, E, R>(self: Effect.Effect<A, E, R>, seconds = NOW) =>
  Effect.zipRight(TestClock.setTime(seconds * 1000), self)

export const secret = (s: string) => Redacted.make(s)

export const HS_SECRET = "an-hmac-secret-of-at-least-32-bytes!!"

export interface KeyPair {
  readonly privateKey: jose.CryptoKey
  readonly publicKey: jose.CryptoKey
  readonly publicJwk: jose.JWK
  readonly privateJwk: jose.JWK
  readonly publicPem: string
}

export const keyPair = async (alg: string, kid?: string, options?: jose.GenerateKeyPairOptions): Promise<KeyPair> => {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true, ...options })
  const extra = kid === undefined ? {} : { kid }
  return {
    privateKey,
    publicKey,
    publicJwk: { ...(await jose.exportJWK(publicKey)), ...extra },
    privateJwk: { ...(await jose.exportJWK(privateKey)), ...extra },
    publicPem: await jose.exportSPKI(publicKey)
  }
}

export interface SignOptions {
  readonly alg?: string
  readonly kid?: string | undefined
  readonly header?: Record<string, unknown>
  readonly iat?: number
  readonly exp?: number | null
  readonly nbf?: number
  readonly iss?: string
  readonly aud?: string | Array<string>
  readonly crit?: Record<string, boolean>
}

/** A signed JWT with `iat` = NOW and `exp` = NOW + 1 h unless overridden. */
export const sign = (
  claims: Record<string, unknown>,
  key: jose.CryptoKey | Uint8Array,
  o: SignOptions = {}
): Promise<string> => {
  const jwt = new jose.SignJWT(claims).setProtectedHeader({
    alg: o.alg ?? "RS256",
    ...(o.kid !== undefined ? { kid: o.kid } : {}),
    ...o.header
  } as jose.JWTHeaderParameters)
  jwt.setIssuedAt(o.iat ?? NOW)
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? NOW + 3600)
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf)
  if (o.iss !== undefined) jwt.setIssuer(o.iss)
  if (o.aud !== undefined) jwt.setAudience(o.aud)
  return jwt.sign(key, o.crit !== undefined ? { crit: o.crit } : undefined)
}

export const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url")

/** A hand-made compact JWS: header and payload as given, any signature bytes. */
export const rawJws = (header: unknown, payload: unknown, signature = "") => `${b64(header)}.${b64(payload)}.${signature}`

/** The error of a verification that must fail. */
export const refusal = <E, R>(self: Effect.Effect<AccessToken.AccessToken, E, R>) =>
  Effect.map(Effect.either(self), (result) => {
    if (Either.isRight(result)) assert.fail("the token was accepted")
    return (result as Either.Left<E, AccessToken.AccessToken>).left
  })

/** Asserts an InvalidTokenError with the given reason(s). */
export const assertInvalid = (error: unknown, reason: string | ReadonlyArray<string>) => {
  const e = error as AuthError.AuthError
  assert.strictEqual(e._tag, "InvalidTokenError", `expected InvalidTokenError, got ${e._tag}: ${e.message}`)
  const reasons = typeof reason === "string" ? [reason] : reason
  if (e._tag === "InvalidTokenError") assert.include(reasons, e.reason)
}

export interface TestServer {
  readonly url: string
  readonly server: Server
}

/** An HTTP server on a random loopback port, closed (with its open connections) with the scope. */
export const serveHttp = (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<TestServer>((resume) => {
      const server = createServer(handler)
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

export const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (c: string) => (body += c))
    req.on("end", () => resolve(body))
    req.on("error", reject)
  })

export interface JwksState {
  jwks: jose.JSONWebKeySet
  hits: number
  delayMs: number
  status: number
}

/** A JWKS endpoint whose key set, status and delay a test can change; counts requests. */
export const jwksServer = (jwks: jose.JSONWebKeySet, init: Partial<Omit<JwksState, "jwks" | "hits">> = {}) =>
  Effect.gen(function*() {
    const state: JwksState = { jwks, hits: 0, delayMs: init.delayMs ?? 0, status: init.status ?? 200 }
    const { url } = yield* serveHttp((_req, res) => {
      state.hits++
      const send = () => {
        res.writeHead(state.status, { "content-type": "application/json" })
        res.end(JSON.stringify(state.jwks))
      }
      if (state.delayMs > 0) setTimeout(send, state.delayMs)
      else send()
    })
    return { url: `${url}/jwks`, state }
  })
