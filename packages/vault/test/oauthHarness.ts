/**
 * A real OpenID provider (`oidc-provider`) on a random loopback port, for the downstream OAuth
 * tests: a confidential client with the authorization_code + refresh_token grants, PKCE required,
 * rotating refresh tokens (a reused one revokes the grant), and a second client whose access
 * tokens live 2 seconds. Every request to the token endpoint is counted at the provider's HTTP
 * server. `authorize` drives the provider's own login and consent pages over HTTP (cookies kept),
 * the way a browser would, and returns the code for the redirect URI.
 */
import { Effect, Redacted } from "effect"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import { generateKeyPairSync } from "node:crypto"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { OAuthProvider } from "../src/index.js"

export const CLIENT = { id: "downstream-app", secret: "downstream-app-secret-0123456789" }
export const SHORT = { id: "short-lived-app", secret: "short-lived-app-secret-0123456789" }
export const REDIRECT_URI = "http://127.0.0.1:9/callback"
export const SCOPES = ["openid", "offline_access", "api:read"]
/** A client that authenticates with `private_key_jwt` (RFC 7523); its keys are in `Harness.pkjwt`. */
export const PKJWT_CLIENT = "key-authenticated-app"

export interface Harness {
  readonly issuer: string
  readonly tokenEndpoint: string
  /** Requests that reached the token endpoint since the start. */
  readonly tokenRequests: () => number
  /** Refresh tokens the provider saw redeemed twice (reuse detection). */
  readonly reuses: () => number
  /** Delays every token-endpoint answer by `ms` (a slow provider). */
  readonly setTokenDelay: (ms: number) => void
  /** The private keys of `PKJWT_CLIENT` (whose public JWKS the provider holds): RSA as PKCS#8 PEM, EC P-256 as a JWK with `kid`. */
  readonly pkjwt: { readonly rsaPem: string; readonly ecJwk: string }
  readonly close: () => Promise<void>
}

export const startProvider = async (): Promise<Harness> => {
  let tokenRequests = 0
  let reuses = 0
  let delay = 0
  let provider: any
  const server: Server = createServer((req, res) => {
    if (req.method === "POST" && req.url?.split("?")[0] === "/token") {
      tokenRequests++
      if (delay > 0) return void setTimeout(() => provider.callback()(req, res), delay)
    }
    provider.callback()(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
  provider = new Provider(issuer, {
    clients: [
      ...[CLIENT, SHORT].map((c) => ({
        client_id: c.id,
        client_secret: c.secret,
        grant_types: ["authorization_code", "refresh_token"],
        redirect_uris: [REDIRECT_URI],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic"
      })),
      {
        client_id: PKJWT_CLIENT,
        grant_types: ["authorization_code", "refresh_token"],
        redirect_uris: [REDIRECT_URI],
        response_types: ["code"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: {
          keys: [
            { ...rsa.publicKey.export({ format: "jwk" }), kid: "rsa-1", use: "sig" },
            { ...ec.publicKey.export({ format: "jwk" }), kid: "ec-1", use: "sig" }
          ]
        }
      }
    ],
    scopes: SCOPES,
    pkce: { required: () => true },
    rotateRefreshToken: () => true,
    issueRefreshToken: async (_ctx: unknown, client: any) => client.grantTypeAllowed("refresh_token"),
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    ttl: {
      AccessToken: (_ctx: unknown, _token: unknown, client: any) => (client.clientId === SHORT.id ? 2 : 3600),
      RefreshToken: 86400,
      AuthorizationCode: 60,
      Grant: 86400,
      Interaction: 600,
      Session: 86400,
      IdToken: 3600
    },
    features: { devInteractions: { enabled: true }, revocation: { enabled: true } }
  })
  provider.on("refresh_token.consumed", () => undefined)
  provider.on("grant.error", (_ctx: unknown, error: any) => {
    if (String(error?.error_detail ?? "").includes("already used")) reuses++
  })
  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    tokenRequests: () => tokenRequests,
    reuses: () => reuses,
    setTokenDelay: (ms) => {
      delay = ms
    },
    pkjwt: {
      rsaPem: rsa.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
      ecJwk: JSON.stringify({ ...ec.privateKey.export({ format: "jwk" }), kid: "ec-1" })
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** The provider definition our code uses, found through OIDC discovery. */
export const downstream = (h: Harness, client = CLIENT, name = "downstream") =>
  OAuthProvider.make({
    name,
    issuer: h.issuer,
    clientId: client.id,
    clientSecret: Redacted.make(client.secret),
    scopes: SCOPES,
    extraAuthorizeParams: { prompt: "consent" }
  })

/**
 * Follows an authorize URL through the provider's login and consent pages as `subject`, the way a
 * browser would, and returns the redirect to `REDIRECT_URI` (code, state, iss).
 */
export const authorize = async (url: URL, subject: string): Promise<URL> => {
  const jar = new Map<string, string>()
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ")
  const remember = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";")
      const i = pair!.indexOf("=")
      jar.set(pair!.slice(0, i).trim(), pair!.slice(i + 1))
    }
  }
  let next: string = url.href
  let body: URLSearchParams | undefined
  for (let step = 0; step < 12; step++) {
    const res = await fetch(next, {
      method: body === undefined ? "GET" : "POST",
      redirect: "manual",
      headers: {
        cookie: cookie(),
        ...(body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" })
      },
      ...(body === undefined ? {} : { body })
    })
    remember(res)
    body = undefined
    const location = res.headers.get("location")
    if (location !== null) {
      await res.body?.cancel()
      const target = new URL(location, next)
      if (target.href.startsWith(REDIRECT_URI)) return target
      next = target.href
      continue
    }
    const html = await res.text()
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1]
    const action = /action="([^"]+)"/.exec(html)?.[1]
    if (res.status !== 200 || prompt === undefined || action === undefined) {
      throw new Error(`unexpected page at step ${step}: HTTP ${res.status}`)
    }
    next = new URL(action.replace(/&amp;/g, "&"), next).href
    body = new URLSearchParams(prompt === "login" ? { prompt, login: subject, password: "x" } : { prompt })
  }
  throw new Error("too many steps")
}

/** A full authorization code + PKCE flow for `subject`; the token response. */
export const tokensFor = (provider: OAuthProvider.OAuthProvider, subject: string) =>
  Effect.gen(function*() {
    const pkce = yield* OAuthProvider.makePkce
    const state = yield* OAuthProvider.makeState
    const url = yield* OAuthProvider.authorizationUrl(provider, { redirectUri: REDIRECT_URI, state, pkce })
    const back = yield* Effect.promise(() => authorize(url, subject))
    if (!OAuthProvider.stateMatches(state, back.searchParams.get("state") ?? "")) throw new Error("state mismatch")
    const code = back.searchParams.get("code")
    if (code === null) throw new Error(`no code: ${back.searchParams.get("error")}`)
    return yield* OAuthProvider.exchangeCode(provider, {
      code: Redacted.make(code),
      redirectUri: REDIRECT_URI,
      codeVerifier: pkce.verifier
    })
  })
