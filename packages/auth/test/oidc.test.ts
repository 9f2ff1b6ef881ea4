/**
 * Against a real OpenID provider (`oidc-provider`, started here on a random loopback port):
 * JWT access tokens (client_credentials + resource indicators) verify through its JWKS, a key
 * rotation is picked up by refetching on the unknown kid, and its introspection endpoint backs
 * the IntrospectionVerifier (including a revoked token).
 */
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import * as jose from "jose"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import { generateKeyPairSync } from "node:crypto"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { AuthUser, IntrospectionVerifier, JwtVerifier, TokenVerifier } from "../src/index.js"
import { assertInvalid, refusal } from "./helpers.js"

const RESOURCE = "https://mcp.example.com/mcp"
const OPAQUE_RESOURCE = "https://mcp.example.com/opaque"
const CLIENT = { id: "mcp-client", secret: "mcp-client-secret-0123456789" }
const RS_BASIC = { id: "rs-basic", secret: "rs-basic-secret-0123456789" }
const RS_POST = { id: "rs-post", secret: "rs-post-secret-0123456789" }
/** A resource server that authenticates with private_key_jwt (RFC 7523): an EC key, a JWK with a kid. */
const RS_KEY = (() => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
  return {
    id: "rs-key",
    privateJwk: JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid: "rs-key-1" }),
    publicJwk: { ...publicKey.export({ format: "jwk" }), kid: "rs-key-1", use: "sig" }
  }
})()

const signingKey = async (kid: string) => {
  const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true })
  return { ...(await jose.exportJWK(privateKey)), kid, alg: "RS256", use: "sig" }
}

const makeProvider = (issuer: string, keys: Array<jose.JWK>): typeof provider =>
  new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        scope: "tools:read tools:write"
      },
      { client_id: RS_BASIC.id, client_secret: RS_BASIC.secret, grant_types: [], redirect_uris: [], response_types: [] },
      {
        client_id: RS_POST.id,
        client_secret: RS_POST.secret,
        grant_types: [],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: "client_secret_post"
      },
      {
        client_id: RS_KEY.id,
        grant_types: [],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [RS_KEY.publicJwk] }
      }
    ],
    jwks: { keys },
    scopes: ["tools:read", "tools:write"],
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({
          scope: "tools:read tools:write",
          audience: resource,
          accessTokenTTL: 600,
          accessTokenFormat: resource === OPAQUE_RESOURCE ? "opaque" : "jwt"
        })
      }
    }
  } as never)

let server: Server
let issuer: string
let provider: { callback: () => (req: unknown, res: unknown) => void }
let key1: jose.JWK
let key2: jose.JWK
let jwksHits = 0
let discovery: { jwks_uri: string; introspection_endpoint: string; issuer: string }

beforeAll(async () => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined)
  vi.spyOn(console, "info").mockImplementation(() => undefined)
  ;[key1, key2] = await Promise.all([signingKey("key-1"), signingKey("key-2")])
  server = createServer((req, res) => {
    if (req.url === "/jwks") jwksHits++
    return provider.callback()(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  provider = makeProvider(issuer, [key1])
  discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  vi.restoreAllMocks()
})

const getToken = (resource: string, scope = "tools:read") =>
  Effect.promise(async () => {
    const res = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded"
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope, resource })
    })
    const body = (await res.json()) as { access_token?: string }
    if (body.access_token === undefined) throw new Error(`no token: ${JSON.stringify(body)}`)
    return body.access_token
  })

const buildVerifier = <E>(layer: Layer.Layer<TokenVerifier.TokenVerifier, E>) =>
  Effect.map(Layer.build(layer), Context.get(TokenVerifier.TokenVerifier))

describe("oidc-provider — JWT access tokens through its JWKS", () => {
  it.scopedLive("a client_credentials JWT (RFC 9068, audience = resource) verifies; identity and scopes come through", () =>
    Effect.gen(function*() {
      assert.strictEqual(discovery.issuer, issuer)
      const v = yield* buildVerifier(
        JwtVerifier.layer({ jwksUri: discovery.jwks_uri, issuer, audience: RESOURCE, typ: "at+jwt" })
      )
      const token = yield* getToken(RESOURCE, "tools:read tools:write")
      assert.strictEqual(jose.decodeProtectedHeader(token).kid, "key-1")
      const at = yield* v.verify(Redacted.make(token))
      assert.strictEqual(at.clientId, CLIENT.id)
      assert.deepStrictEqual([...at.scopes].sort(), ["tools:read", "tools:write"])
      assert.strictEqual(AuthUser.fromAccessToken(at).iss, issuer)
      assert.isDefined(at.expiresAt)
    }))

  it.scopedLive("a token for another resource is refused (wrong audience); a tampered one too", () =>
    Effect.gen(function*() {
      const v = yield* buildVerifier(JwtVerifier.layer({ jwksUri: discovery.jwks_uri, issuer, audience: "https://other.example.com" }))
      assertInvalid(yield* refusal(v.verify(Redacted.make(yield* getToken(RESOURCE)))), "wrong audience")
      const strict = yield* buildVerifier(JwtVerifier.layer({ jwksUri: discovery.jwks_uri, issuer, audience: RESOURCE }))
      const [h, p, s] = (yield* getToken(RESOURCE)).split(".")
      const claims = JSON.parse(Buffer.from(p!, "base64url").toString())
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: "tools:read tools:write admin" })).toString("base64url")}.${s}`
      assertInvalid(yield* refusal(strict.verify(Redacted.make(forged))), "bad signature")
    }))

  it.scopedLive("key rotation: the provider is reconfigured with a new signing key; the unknown kid refetches the JWKS", () =>
    Effect.gen(function*() {
      const v = yield* buildVerifier(
        JwtVerifier.layer({ jwksUri: discovery.jwks_uri, issuer, audience: RESOURCE, jwksOptions: { cooldown: "1 millis" }, cache: false })
      )
      const before = yield* getToken(RESOURCE)
      yield* v.verify(Redacted.make(before))
      const hitsBefore = jwksHits

      // rotate: key-2 signs, key-1 stays published for tokens already issued
      provider = makeProvider(issuer, [key2, key1])
      yield* Effect.sleep("5 millis")
      const after = yield* getToken(RESOURCE)
      assert.strictEqual(jose.decodeProtectedHeader(after).kid, "key-2")
      const at = yield* v.verify(Redacted.make(after))
      assert.strictEqual(at.clientId, CLIENT.id)
      assert.strictEqual(jwksHits, hitsBefore + 1)
      // a token signed before the rotation still verifies (token cache off), with no further fetch
      yield* v.verify(Redacted.make(before))
      yield* v.verify(Redacted.make(after))
      assert.strictEqual(jwksHits, hitsBefore + 1)
      provider = makeProvider(issuer, [key1])
    }))
})

describe("oidc-provider — introspection endpoint", () => {
  it.scopedLive("an opaque token is introspected with client_secret_basic and client_secret_post", () =>
    Effect.gen(function*() {
      const token = yield* getToken(OPAQUE_RESOURCE, "tools:write")
      assert.notInclude(token, ".")
      for (const rs of [RS_BASIC, RS_POST]) {
        const v = yield* buildVerifier(IntrospectionVerifier.layer({
          endpoint: discovery.introspection_endpoint,
          clientId: rs.id,
          clientSecret: Redacted.make(rs.secret),
          clientAuthMethod: rs === RS_POST ? "client_secret_post" : "client_secret_basic",
          issuer,
          audience: OPAQUE_RESOURCE
        }))
        const at = yield* v.verify(Redacted.make(token))
        assert.strictEqual(at.clientId, CLIENT.id)
        assert.deepStrictEqual(at.scopes, ["tools:write"])
        assert.isDefined(at.expiresAt)
      }
    }))

  it.scopedLive("private_key_jwt: the resource server authenticates with a signed assertion (EC key, kid), no secret", () =>
    Effect.gen(function*() {
      const token = yield* getToken(OPAQUE_RESOURCE, "tools:write")
      const sent: Array<URLSearchParams> = []
      const v = yield* buildVerifier(IntrospectionVerifier.layer({
        endpoint: discovery.introspection_endpoint,
        clientId: RS_KEY.id,
        privateKey: Redacted.make(RS_KEY.privateJwk),
        issuer,
        audience: OPAQUE_RESOURCE,
        cache: false,
        fetch: (url, init) => {
          sent.push(new URLSearchParams(String(init?.body)))
          return fetch(url, init)
        }
      }))
      const at = yield* v.verify(Redacted.make(token))
      assert.strictEqual(at.clientId, CLIENT.id)
      yield* v.verify(Redacted.make(token))
      assert.strictEqual(sent.length, 2)
      const [first, second] = sent.map((b) => b.get("client_assertion")!)
      assert.strictEqual(sent[0]!.get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
      assert.isNull(sent[0]!.get("client_secret"))
      assert.deepStrictEqual(jose.decodeProtectedHeader(first!), { alg: "ES256", kid: "rs-key-1" })
      const claims = jose.decodeJwt(first!)
      assert.strictEqual(claims.iss, RS_KEY.id)
      assert.strictEqual(claims.sub, RS_KEY.id)
      assert.strictEqual(claims.aud, discovery.introspection_endpoint)
      // a fresh jti per request (the provider's replay detection would refuse a repeated one)
      assert.notStrictEqual(claims.jti, jose.decodeJwt(second!).jti)
      // another key under the same client id is refused by the provider
      const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString()
      const wrong = yield* buildVerifier(IntrospectionVerifier.layer({
        endpoint: discovery.introspection_endpoint,
        clientId: RS_KEY.id,
        privateKey: Redacted.make(other),
        audience: false,
        cache: false
      }))
      const e = yield* refusal(wrong.verify(Redacted.make(token)))
      assert.strictEqual(e._tag, "IntrospectionError")
    }))

  it.effect("private_key_jwt configuration errors name the option, never the key", () =>
    Effect.gen(function*() {
      const build = (o: Partial<IntrospectionVerifier.Options>) =>
        Effect.flip(Effect.scoped(Layer.build(IntrospectionVerifier.layer({ endpoint: "https://as.example/introspect", audience: false, ...o }))))
      const short = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString()
      const cases: Array<[Partial<IntrospectionVerifier.Options>, string]> = [
        [{ clientId: "rs", privateKey: Redacted.make("-----BEGIN PRIVATE KEY-----\nsecret-not-a-key\n-----END PRIVATE KEY-----") }, "privateKey"],
        [{ clientId: "rs", privateKey: Redacted.make(RS_KEY.privateJwk), privateKeyAlg: "RS256" }, "privateKeyAlg"],
        [{ clientId: "rs", privateKey: Redacted.make(short) }, "privateKey"],
        [{ privateKey: Redacted.make(RS_KEY.privateJwk) }, "clientAuthMethod"],
        [{ clientId: "rs", clientSecret: Redacted.make("s"), privateKey: Redacted.make(RS_KEY.privateJwk) }, "clientAuthMethod"]
      ]
      for (const [options, field] of cases) {
        const e = yield* build(options)
        assert.strictEqual((e as { field?: string }).field, field, JSON.stringify(Object.keys(options)))
        assert.notInclude(JSON.stringify(e) + e.message, "secret-not-a-key")
      }
    }))

  it.scopedLive("unknown and revoked tokens are inactive; bad client credentials are an IntrospectionError", () =>
    Effect.gen(function*() {
      const v = yield* buildVerifier(IntrospectionVerifier.layer({
        endpoint: discovery.introspection_endpoint,
        clientId: RS_BASIC.id,
        clientSecret: Redacted.make(RS_BASIC.secret),
        cache: false
      }))
      assertInvalid(yield* refusal(v.verify(Redacted.make("no-such-token-0123456789"))), "inactive")
      const token = yield* getToken(OPAQUE_RESOURCE)
      yield* v.verify(Redacted.make(token))
      yield* Effect.promise(() =>
        fetch(`${issuer}/token/revocation`, {
          method: "POST",
          headers: {
            authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString("base64")}`,
            "content-type": "application/x-www-form-urlencoded"
          },
          body: new URLSearchParams({ token })
        })
      )
      assertInvalid(yield* refusal(v.verify(Redacted.make(token))), "inactive")

      const wrong = yield* buildVerifier(IntrospectionVerifier.layer({
        endpoint: discovery.introspection_endpoint,
        clientId: RS_BASIC.id,
        clientSecret: Redacted.make("wrong-secret")
      }))
      const e = yield* refusal(wrong.verify(Redacted.make(token)))
      assert.strictEqual(e._tag === "IntrospectionError" && e.status, 401)
    }))

  it.scopedLive("firstOf(JWT via JWKS, introspection) accepts both kinds of token from the same provider", () =>
    Effect.gen(function*() {
      const v = yield* buildVerifier(TokenVerifier.layerFirstOf(
        JwtVerifier.layer({ jwksUri: discovery.jwks_uri, issuer, audience: [RESOURCE, OPAQUE_RESOURCE] }),
        IntrospectionVerifier.layer({
          endpoint: discovery.introspection_endpoint,
          clientId: RS_BASIC.id,
          clientSecret: Redacted.make(RS_BASIC.secret)
        })
      ))
      assert.strictEqual((yield* v.verify(Redacted.make(yield* getToken(RESOURCE)))).clientId, CLIENT.id)
      assert.strictEqual((yield* v.verify(Redacted.make(yield* getToken(OPAQUE_RESOURCE)))).clientId, CLIENT.id)
    }))
})
