/**
 * OAuthProvider against a real OpenID provider (oidc-provider on loopback): discovery, PKCE S256
 * and state, the authorize URL, the code exchange, refresh with rotation, and errors that never
 * carry a code, token, verifier or state.
 */
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { ResolvedCredential } from "@mcp-credentials/core"
import { Config, ConfigProvider, DateTime, Effect, Either, Option, Redacted, TestClock } from "effect"
import * as jose from "jose"
import * as crypto from "node:crypto"
import { readFileSync } from "node:fs"
import * as http from "node:http"
import { CredentialStore, OAuthAuthorization, OAuthProvider, TokenRefresh } from "../src/index.js"
import { authorize, CLIENT, downstream, type Harness, PKJWT_CLIENT, REDIRECT_URI, startProvider, tokensFor } from "./oauthHarness.js"

let h: Harness
beforeAll(async () => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined)
  vi.spyOn(console, "info").mockImplementation(() => undefined)
  h = await startProvider()
})
afterAll(async () => {
  await h.close()
  vi.restoreAllMocks()
})

describe("OAuthProvider: definition", () => {
  it.live("OIDC discovery finds the endpoints; given endpoints win", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      assert.strictEqual(p.tokenEndpoint, `${h.issuer}/token`)
      assert.strictEqual(p.authorizationEndpoint, `${h.issuer}/auth`)
      assert.strictEqual(p.clientAuthMethod, "client_secret_basic")
      const given = yield* OAuthProvider.make({
        name: "x",
        issuer: h.issuer,
        tokenEndpoint: "https://elsewhere.example/token",
        clientId: "c"
      })
      assert.strictEqual(given.tokenEndpoint, "https://elsewhere.example/token")
      assert.strictEqual(given.authorizationEndpoint, `${h.issuer}/auth`)
      assert.strictEqual(given.clientAuthMethod, "none")
    }))

  it.live("bad options and failed discovery are tagged errors naming the field", () =>
    Effect.gen(function*() {
      const noSecret = yield* Effect.flip(OAuthProvider.make({ name: "x", tokenEndpoint: "https://a/t", clientId: "c", clientAuthMethod: "client_secret_post" }))
      assert.strictEqual(noSecret._tag, "OAuthConfigError")
      assert.include(noSecret.message, "clientSecret")
      const noEndpoint = yield* Effect.flip(OAuthProvider.make({ name: "x", clientId: "c" }))
      assert.include(noEndpoint.message, "tokenEndpoint")
      const badUrl = yield* Effect.flip(OAuthProvider.make({ name: "x", clientId: "c", tokenEndpoint: "not a url" }))
      assert.include(badUrl.message, "tokenEndpoint")
      const missing = yield* Effect.flip(OAuthProvider.make({ name: "x", clientId: "c", issuer: `${h.issuer}/nowhere` }))
      assert.strictEqual(missing._tag, "OAuthDiscoveryError")
      const unreachable = yield* Effect.flip(OAuthProvider.make({ name: "x", clientId: "c", issuer: "http://127.0.0.1:9", timeout: "2 seconds" }))
      assert.strictEqual(unreachable._tag, "OAuthDiscoveryError")
    }))

  it.live("makeConfig reads the options from Config; the secret stays Redacted", () =>
    Effect.gen(function*() {
      const p = yield* OAuthProvider.makeConfig({
        name: Config.succeed("cfg"),
        issuer: Config.string("CFG_ISSUER"),
        clientId: Config.string("CFG_CLIENT_ID"),
        clientSecret: Config.redacted("CFG_CLIENT_SECRET"),
        scopes: Config.succeed(["openid"])
      }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([
        ["CFG_ISSUER", h.issuer],
        ["CFG_CLIENT_ID", CLIENT.id],
        ["CFG_CLIENT_SECRET", CLIENT.secret]
      ]))))
      assert.strictEqual(p.tokenEndpoint, `${h.issuer}/token`)
      assert.strictEqual(String(p.clientSecret), "<redacted>")
      const missing = yield* Effect.flip(OAuthProvider.makeConfig({
        name: Config.succeed("cfg"),
        clientId: Config.string("CFG_CLIENT_ID")
      }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))))
      assert.include(String(missing), "CFG_CLIENT_ID")
    }))

  it.effect("PKCE S256 (RFC 7636 appendix B vector) and fresh state", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        OAuthProvider.pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
      )
      const a = yield* OAuthProvider.makePkce
      const b = yield* OAuthProvider.makePkce
      assert.strictEqual(Redacted.value(a.verifier).length, 43)
      assert.notStrictEqual(a.challenge, b.challenge)
      assert.strictEqual(a.challenge, OAuthProvider.pkceChallenge(a.verifier))
      assert.strictEqual(String(a.verifier), "<redacted>")
      const s = yield* OAuthProvider.makeState
      assert.isTrue(OAuthProvider.stateMatches(s, Redacted.value(s)))
      assert.isFalse(OAuthProvider.stateMatches(s, Redacted.value(s).slice(1)))
      assert.isFalse(OAuthProvider.stateMatches(s, ""))
    }))

  it.effect("authorize URL: extra params first, standard ones win, an existing query is kept", () =>
    Effect.gen(function*() {
      const p = yield* OAuthProvider.make({
        name: "x",
        authorizationEndpoint: "https://auth.example/authorize?tenant=t1",
        tokenEndpoint: "https://auth.example/token",
        clientId: "cid",
        scopes: ["read", "write"],
        extraAuthorizeParams: { audience: "api", client_id: "evil", state: "fixed" }
      })
      const pkce = yield* OAuthProvider.makePkce
      const state = yield* OAuthProvider.makeState
      const url = yield* OAuthProvider.authorizationUrl(p, {
        redirectUri: "https://mcp.example/cb",
        state,
        pkce,
        extraParams: { access_type: "offline", code_challenge_method: "plain" }
      })
      const q = url.searchParams
      assert.strictEqual(url.origin + url.pathname, "https://auth.example/authorize")
      assert.strictEqual(q.get("tenant"), "t1")
      assert.strictEqual(q.get("audience"), "api")
      assert.strictEqual(q.get("access_type"), "offline")
      assert.strictEqual(q.get("client_id"), "cid")
      assert.strictEqual(q.get("state"), Redacted.value(state))
      assert.strictEqual(q.get("scope"), "read write")
      assert.strictEqual(q.get("response_type"), "code")
      assert.strictEqual(q.get("code_challenge"), pkce.challenge)
      assert.strictEqual(q.get("code_challenge_method"), "S256")
      assert.isNull(q.get("code_verifier"))
      assert.strictEqual(url.href.split("?").length, 2)
    }))
})

describe("OAuthProvider against oidc-provider", () => {
  it.live("authorization code + PKCE: the code exchange returns Redacted tokens; toCredential uses the Clock", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const tokens = yield* tokensFor(p, "alice")
      assert.isAbove(Redacted.value(tokens.accessToken).length, 20)
      assert.isDefined(tokens.refreshToken)
      assert.strictEqual(tokens.expiresIn, 3600)
      assert.include(tokens.scopes ?? [], "offline_access")
      assert.notInclude(JSON.stringify(tokens), Redacted.value(tokens.accessToken))
      const credential = yield* OAuthProvider.toCredential(p, tokens)
      assert.strictEqual(credential.clientId, CLIENT.id)
      assert.strictEqual(credential.tokenUri, h.tokenEndpoint)
      assert.strictEqual(Redacted.value(credential.refreshToken!), Redacted.value(tokens.refreshToken!))
      const lifetime = credential.expiresAt!.epochMillis - Date.now()
      assert.isTrue(lifetime > 3590_000 && lifetime <= 3600_000)
    }))

  it.effect("toCredential: expiresAt from the Clock; expires_in 0 or absent means no expiry; the old refresh token is kept", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const p = yield* OAuthProvider.make({ name: "x", tokenEndpoint: "https://a.example/token", clientId: "c" })
      const base = { accessToken: Redacted.make("at"), tokenType: "Bearer", refreshToken: undefined, scopes: undefined, idToken: undefined }
      const c1 = yield* OAuthProvider.toCredential(p, { ...base, refreshToken: Redacted.make("rt-1"), expiresIn: 60 })
      assert.strictEqual(c1.expiresAt!.epochMillis, 1_060_000)
      const c2 = yield* OAuthProvider.toCredential(p, { ...base, expiresIn: 0 }, c1)
      assert.isUndefined(c2.expiresAt)
      assert.strictEqual(Redacted.value(c2.refreshToken!), "rt-1")
      const c3 = yield* OAuthProvider.toCredential(p, { ...base, expiresIn: undefined })
      assert.isUndefined(c3.expiresAt)
      assert.isUndefined(c3.refreshToken)
    }))

  it.live("the wrong PKCE verifier, a replayed code and a wrong redirect_uri are refused (invalid_grant); no secret in the error", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const pkce = yield* OAuthProvider.makePkce
      const state = yield* OAuthProvider.makeState
      const url = yield* OAuthProvider.authorizationUrl(p, { redirectUri: REDIRECT_URI, state, pkce })
      const back = yield* Effect.promise(() => authorize(url, "bob"))
      const code = back.searchParams.get("code")!
      const wrongVerifier = Redacted.make(crypto.randomBytes(32).toString("base64url"))
      const e1 = yield* Effect.flip(OAuthProvider.exchangeCode(p, { code: Redacted.make(code), redirectUri: REDIRECT_URI, codeVerifier: wrongVerifier }))
      assert.strictEqual(e1._tag, "OAuthTokenError")
      if (e1._tag === "OAuthTokenError") {
        assert.strictEqual(e1.error, "invalid_grant")
        assert.strictEqual(e1.status, 400)
      }
      for (const text of [e1.message, JSON.stringify(e1), String(e1)]) {
        assert.notInclude(text, code)
        assert.notInclude(text, Redacted.value(wrongVerifier))
        assert.notInclude(text, CLIENT.secret)
      }
      const wrongRedirect = yield* Effect.flip(
        OAuthProvider.exchangeCode(p, { code: Redacted.make(code), redirectUri: "http://127.0.0.1:9/other", codeVerifier: pkce.verifier })
      )
      assert.strictEqual(wrongRedirect._tag, "OAuthTokenError")
      // the right verifier works once; a replayed code is refused
      const tokens = yield* OAuthProvider.exchangeCode(p, { code: Redacted.make(code), redirectUri: REDIRECT_URI, codeVerifier: pkce.verifier })
      assert.isDefined(tokens.refreshToken)
      const replay = yield* Effect.flip(OAuthProvider.exchangeCode(p, { code: Redacted.make(code), redirectUri: REDIRECT_URI, codeVerifier: pkce.verifier }))
      assert.strictEqual(replay._tag === "OAuthTokenError" && replay.error, "invalid_grant")
    }))

  it.live("refresh rotates the refresh token; the old one is dead; bad client secret is invalid_client", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      const first = yield* tokensFor(p, "carol")
      const second = yield* OAuthProvider.refresh(p, { refreshToken: first.refreshToken! })
      assert.notStrictEqual(Redacted.value(second.accessToken), Redacted.value(first.accessToken))
      assert.notStrictEqual(Redacted.value(second.refreshToken!), Redacted.value(first.refreshToken!))
      const reusesBefore = h.reuses()
      const reused = yield* Effect.flip(OAuthProvider.refresh(p, { refreshToken: first.refreshToken! }))
      assert.strictEqual(h.reuses(), reusesBefore + 1, "the provider saw a refresh token redeemed twice")
      assert.strictEqual(reused._tag === "OAuthTokenError" && reused.error, "invalid_grant")
      assert.notInclude(reused.message, Redacted.value(first.refreshToken!))

      const wrong = yield* OAuthProvider.make({ ...p, clientSecret: Redacted.make("wrong-secret") })
      const e = yield* Effect.flip(OAuthProvider.refresh(wrong, { refreshToken: second.refreshToken! }))
      assert.strictEqual(e._tag === "OAuthTokenError" && e.error, "invalid_client")
      assert.notInclude(e.message, "wrong-secret")
    }))

  it.live("an unreachable token endpoint is an OAuthRequestError", () =>
    Effect.gen(function*() {
      const p = yield* OAuthProvider.make({ name: "down", tokenEndpoint: "http://127.0.0.1:9/token", clientId: "c", timeout: "2 seconds" })
      const e = yield* Effect.either(OAuthProvider.refresh(p, { refreshToken: Redacted.make("rt-secret-value") }))
      assert.isTrue(Either.isLeft(e))
      if (Either.isLeft(e)) {
        assert.strictEqual(e.left._tag, "OAuthRequestError")
        assert.notInclude(e.left.message, "rt-secret-value")
      }
    }))

  it.scopedLive("fix: a token endpoint that echoes the request gets none of its secrets into the error, in any encoding", () =>
    Effect.gen(function*() {
      const code = "4/0AeanS0CANARYcode-xyz"
      const refresh = "1//0gCANARYrefresh-abc"
      const secret = "GOCSPX-CANARY/secret+x"
      // answers 400 with the whole request in error_description, and the refresh token in `error`
      const echo = http.createServer((req, res) => {
        let body = ""
        req.on("data", (c) => (body += c))
        req.on("end", () => {
          res.writeHead(400, { "content-type": "application/json" })
          const error = body.includes("refresh_token=") ? encodeURIComponent(refresh) : "invalid_request"
          res.end(JSON.stringify({ error, error_description: `Bad request: ${body} (auth ${req.headers.authorization ?? "none"})` }))
        })
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void echo.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => echo.close())
      )
      const tokenEndpoint = `http://127.0.0.1:${(echo.address() as { port: number }).port}/token`
      const options = { name: "echo", clientId: "my-client", clientSecret: Redacted.make(secret), tokenEndpoint, authorizationEndpoint: "https://idp.example/auth" }
      const basic = yield* OAuthProvider.make(options)
      const post = yield* OAuthProvider.make({ ...options, clientAuthMethod: "client_secret_post" })
      const forms = [
        code,
        refresh,
        secret,
        new URLSearchParams({ s: code }).toString().slice(2),
        new URLSearchParams({ s: refresh }).toString().slice(2),
        new URLSearchParams({ s: secret }).toString().slice(2),
        Buffer.from(`my-client:${encodeURIComponent(secret)}`).toString("base64")
      ]
      const failures = [
        yield* Effect.flip(OAuthProvider.exchangeCode(basic, {
          code: Redacted.make(code),
          redirectUri: "https://mcp.example/cb",
          codeVerifier: Redacted.make("CANARYverifier-0123456789abcdefghijklmnopqrstu")
        })),
        yield* Effect.flip(OAuthProvider.refresh(basic, { refreshToken: Redacted.make(refresh) })),
        yield* Effect.flip(OAuthProvider.clientCredentials(post))
      ]
      for (const e of failures) {
        assert.strictEqual(e._tag, "OAuthTokenError")
        assert.include(e.message, "Bad request")
        assert.include(e.message, "[redacted]")
        for (const f of forms) assert.notInclude(e.message, f)
      }
      const refreshed = failures[1]!
      assert.strictEqual(refreshed._tag === "OAuthTokenError" && refreshed.error, "invalid_response", "a code holding a sent value is no code")
    }))
})

describe("revocation (RFC 7009) and OAuthAuthorization.disconnect, against oidc-provider", () => {
  it.live("the revocation endpoint is discovered; disconnect revokes the grant at the provider and deletes the record", () =>
    Effect.gen(function*() {
      const p = yield* downstream(h)
      assert.strictEqual(p.revocationEndpoint, `${h.issuer}/token/revocation`)
      const store = yield* CredentialStore.makeMemory
      const auth = OAuthAuthorization.make({ provider: p })
      const key = { provider: p.name, subject: "revoke-alice" }
      const credential = yield* OAuthProvider.toCredential(p, yield* tokensFor(p, key.subject))
      yield* store.set(key, credential)
      const result = yield* OAuthAuthorization.disconnect(auth, key.subject).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      assert.deepStrictEqual(result, { removed: true, revoked: true })
      assert.isTrue(Option.isNone(yield* store.get(key)))
      // the provider no longer honours the refresh token
      const refused = yield* Effect.flip(OAuthProvider.refresh(p, { refreshToken: credential.refreshToken! }))
      assert.strictEqual(refused._tag, "OAuthTokenError")
      assert.strictEqual(refused._tag === "OAuthTokenError" ? refused.error : "", "invalid_grant")
      // nothing stored: nothing removed
      const again = yield* OAuthAuthorization.disconnect(auth, key.subject).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      assert.deepStrictEqual(again, { removed: false, revoked: false })
    }))

  it.live("a provider without a revocation endpoint, or one that is down: the record is deleted all the same, revoked false", () =>
    Effect.gen(function*() {
      const store = yield* CredentialStore.makeMemory
      const cred = new ResolvedCredential.OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make("at-revoke-0123456789"),
        refreshToken: Redacted.make("rt-revoke-0123456789")
      })
      for (const revocationEndpoint of [undefined, "http://127.0.0.1:9/revoke"]) {
        const p = yield* OAuthProvider.make({
          name: "plain",
          tokenEndpoint: "http://127.0.0.1:9/token",
          clientId: "c",
          timeout: "2 seconds",
          ...(revocationEndpoint !== undefined ? { revocationEndpoint } : {})
        })
        const key = { provider: "plain", subject: "bob" }
        yield* store.set(key, cred)
        const result = yield* OAuthAuthorization.disconnect(OAuthAuthorization.make({ provider: p }), "bob").pipe(
          Effect.provideService(CredentialStore.CredentialStore, store)
        )
        assert.deepStrictEqual(result, { removed: true, revoked: false })
        if (revocationEndpoint === undefined) {
          const e = yield* Effect.flip(OAuthProvider.revoke(p, { token: Redacted.make("x") }))
          assert.strictEqual(e._tag, "OAuthConfigError")
        }
      }
    }))
})

describe("private_key_jwt (RFC 7523) against oidc-provider", () => {
  const keyClient = (privateKey: string, extra: Partial<OAuthProvider.Options> = {}) =>
    OAuthProvider.make({
      name: "keyed",
      issuer: h.issuer,
      clientId: PKJWT_CLIENT,
      privateKey: Redacted.make(privateKey),
      scopes: ["openid", "offline_access", "api:read"],
      extraAuthorizeParams: { prompt: "consent" },
      ...extra
    })

  it.live("an RSA PEM key: the code exchange and a refresh authenticate with signed assertions, no secret", () =>
    Effect.gen(function*() {
      const bodies: Array<URLSearchParams> = []
      const p = yield* keyClient(h.pkjwt.rsaPem, {
        fetch: (input, init) => {
          if (typeof init.body === "string") bodies.push(new URLSearchParams(init.body))
          return fetch(input, init)
        }
      })
      assert.strictEqual(p.clientAuthMethod, "private_key_jwt") // the default with a key and no secret
      assert.strictEqual(p.privateKeyAlg, "RS256")
      const tokens = yield* tokensFor(p, "alice")
      const refreshed = yield* OAuthProvider.refresh(p, { refreshToken: tokens.refreshToken! })
      assert.isAbove(Redacted.value(refreshed.accessToken).length, 20)
      assert.strictEqual(bodies.length, 2)
      const assertions = bodies.map((b) => {
        assert.strictEqual(b.get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        assert.strictEqual(b.get("client_id"), PKJWT_CLIENT)
        assert.isNull(b.get("client_secret"))
        return b.get("client_assertion")!
      })
      for (const a of assertions) {
        const claims = jose.decodeJwt(a)
        assert.strictEqual(claims.iss, PKJWT_CLIENT)
        assert.strictEqual(claims.sub, PKJWT_CLIENT)
        assert.strictEqual(claims.aud, h.tokenEndpoint)
        assert.strictEqual(claims.exp! - claims.iat!, 60)
        assert.strictEqual(jose.decodeProtectedHeader(a).alg, "RS256")
      }
      // a fresh jti per request (the provider refuses a replayed one)
      assert.notStrictEqual(jose.decodeJwt(assertions[0]!).jti, jose.decodeJwt(assertions[1]!).jti)
    }))

  it.live("an EC P-256 private JWK: ES256 with the JWK's kid; the issuer as audience also works", () =>
    Effect.gen(function*() {
      let header: jose.ProtectedHeaderParameters | undefined
      const p = yield* keyClient(h.pkjwt.ecJwk, {
        assertionAudience: h.issuer,
        fetch: (input, init) => {
          const a = new URLSearchParams(String(init.body)).get("client_assertion")
          if (a !== null) header = jose.decodeProtectedHeader(a)
          return fetch(input, init)
        }
      })
      assert.strictEqual(p.privateKeyAlg, "ES256")
      const tokens = yield* tokensFor(p, "bob")
      assert.isAbove(Redacted.value(tokens.accessToken).length, 20)
      assert.deepStrictEqual({ alg: header?.alg, kid: header?.kid }, { alg: "ES256", kid: "ec-1" })
    }))

  it.live("a certificate credential (Entra ID): the assertion's header carries the certificate's x5t and x5t#S256", () =>
    Effect.gen(function*() {
      // a fixture key and self-signed certificate (openssl); the thumbprints are openssl's own
      // `x509 -fingerprint -sha1/-sha256`, base64url
      const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")
      let header: jose.ProtectedHeaderParameters | undefined
      const p = yield* OAuthProvider.make({
        name: "entra",
        tokenEndpoint: "https://login.example/tenant/oauth2/v2.0/token",
        clientId: "app-id",
        privateKey: Redacted.make(fixture("client-assertion-key.pem")),
        privateKeyCertificate: fixture("client-assertion-cert.pem"),
        fetch: async (_input, init) => {
          header = jose.decodeProtectedHeader(new URLSearchParams(String(init.body)).get("client_assertion")!)
          return new Response(JSON.stringify({ access_token: "at-0123456789", token_type: "Bearer", expires_in: 60 }), {
            status: 200,
            headers: { "content-type": "application/json" }
          })
        }
      })
      yield* OAuthProvider.clientCredentials(p, { scopes: ["api://orders/.default"] })
      assert.deepStrictEqual(header, {
        alg: "ES256",
        x5t: "zIl4Mc5Tz15sU6VnCQdMA9gLuYg",
        "x5t#S256": "44n45Q3_VA7VFWgS94FHk8oLR6GSPcbUXBkLKWLvLf8"
      })
      // a certificate of another key, and something that is not a certificate: refused when built
      const make = (certificate: string) =>
        Effect.flip(OAuthProvider.make({
          name: "entra",
          tokenEndpoint: "https://login.example/token",
          clientId: "app-id",
          privateKey: Redacted.make(h.pkjwt.ecJwk),
          privateKeyCertificate: certificate
        }))
      assert.strictEqual((yield* make(fixture("client-assertion-cert.pem"))).message, "OAuth provider entra: invalid privateKeyCertificate: does not certify privateKey")
      assert.strictEqual((yield* make("not a certificate")).message, "OAuth provider entra: invalid privateKeyCertificate: is not a PEM X.509 certificate")
    }))

  it.live("an assertion a provider echoes in its error is removed from the error", () =>
    Effect.gen(function*() {
      let sent = ""
      const p = yield* keyClient(h.pkjwt.rsaPem, {
        tokenEndpoint: "https://idp.example/token",
        issuer: undefined,
        fetch: async (_input, init) => {
          sent = new URLSearchParams(String(init.body)).get("client_assertion") ?? ""
          return new Response(JSON.stringify({ error: "invalid_client", error_description: `bad assertion ${sent}` }), {
            status: 401,
            headers: { "content-type": "application/json" }
          })
        }
      })
      const error = yield* Effect.flip(OAuthProvider.refresh(p, { refreshToken: Redacted.make("a-refresh-token-0123456789") }))
      assert.isAbove(sent.length, 100)
      assert.include(error.message, "invalid_client (bad assertion")
      assert.notInclude(JSON.stringify(error) + error.message, sent)
    }))

  it.live("a key the provider does not hold: OAuthTokenError invalid_client, no assertion in the error", () =>
    Effect.gen(function*() {
      const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString()
      let sent = ""
      const p = yield* keyClient(other, {
        fetch: (input, init) => {
          sent = new URLSearchParams(String(init.body)).get("client_assertion") ?? ""
          return fetch(input, init)
        }
      })
      const error = yield* Effect.flip(OAuthProvider.refresh(p, { refreshToken: Redacted.make("a-refresh-token-0123456789") }))
      assert.strictEqual(error._tag, "OAuthTokenError")
      assert.strictEqual((error as { error?: string }).error, "invalid_client")
      assert.isAbove(sent.length, 100)
      assert.notInclude(JSON.stringify(error) + error.message, sent)
    }))

  it.effect("configuration errors name the option and never quote the key", () =>
    Effect.gen(function*() {
      const make = (o: Partial<OAuthProvider.Options>) =>
        Effect.flip(OAuthProvider.make({ name: "k", tokenEndpoint: "https://idp.example/token", clientId: "c", ...o }))
      const missing = yield* make({ clientAuthMethod: "private_key_jwt" })
      assert.strictEqual(missing.message, "OAuth provider k: invalid privateKey: is required for private_key_jwt")
      const garbage = "-----BEGIN PRIVATE KEY-----\nnot-a-key-but-a-secret-0123456789\n-----END PRIVATE KEY-----"
      const bad = yield* make({ privateKey: Redacted.make(garbage) })
      assert.strictEqual(bad.message, "OAuth provider k: invalid privateKey: is not a PKCS#8 PEM or a private JWK (RSA, EC or Ed25519)")
      assert.notInclude(JSON.stringify(bad), "not-a-key-but-a-secret")
      // a public key is not a private key
      const pub = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "pem", type: "spki" }).toString()
      assert.strictEqual((yield* make({ privateKey: Redacted.make(pub) })).message, bad.message)
      const publicJwk = JSON.stringify(crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }))
      assert.strictEqual((yield* make({ privateKey: Redacted.make(publicJwk) })).message, bad.message)
      // an algorithm that does not fit the key
      const wrongAlg = yield* make({ privateKey: Redacted.make(h.pkjwt.rsaPem), privateKeyAlg: "ES256" })
      assert.strictEqual(wrongAlg.message, "OAuth provider k: invalid privateKeyAlg: does not fit the key")
      // an RSA key too short to sign with (jose refuses under 2048 bits): refused when built
      const short = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString()
      assert.strictEqual(
        (yield* make({ privateKey: Redacted.make(short) })).message,
        "OAuth provider k: invalid privateKey: cannot sign with this key and algorithm (an RSA key needs at least 2048 bits)"
      )
      // a secret and a key: which one authenticates must be said
      const both = { clientSecret: Redacted.make("s"), privateKey: Redacted.make(h.pkjwt.rsaPem) }
      assert.strictEqual(
        (yield* make(both)).message,
        "OAuth provider k: invalid clientAuthMethod: is required with both a clientSecret and a privateKey (which one authenticates?)"
      )
      const chosen = yield* OAuthProvider.make({ name: "k", tokenEndpoint: "https://idp.example/token", clientId: "c", ...both, clientAuthMethod: "private_key_jwt" })
      assert.strictEqual(chosen.clientAuthMethod, "private_key_jwt")
    }))
})

describe("token responses a provider may give (a scripted token endpoint)", () => {
  /** A token endpoint answering every request with `answer` (status 200 unless given). */
  const scripted = (answer: Record<string, unknown>, status = 200) =>
    Effect.gen(function*() {
      const server = http.createServer((req, res) => {
        req.resume()
        req.on("end", () => {
          res.writeHead(status, { "content-type": "application/json" })
          res.end(JSON.stringify(answer))
        })
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      return yield* OAuthProvider.make({
        name: "scripted",
        clientId: "c",
        clientSecret: Redacted.make("scripted-secret-0123456789"),
        authorizationEndpoint: "https://idp.example/authorize",
        tokenEndpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}/token`
      })
    })
  const expired = (p: OAuthProvider.OAuthProvider) =>
    new ResolvedCredential.OAuthCredential({
      type: "oauth",
      accessToken: Redacted.make("at-old-0123456789"),
      refreshToken: Redacted.make("rt-old-0123456789"),
      clientId: p.clientId,
      tokenUri: p.tokenEndpoint,
      extra: {}
    })

  it.scopedLive("fix: an error answered with HTTP 200 (GitHub's way) is an OAuthTokenError with its code; a dead refresh token there (bad_refresh_token) asks for re-authorization", () =>
    Effect.gen(function*() {
      const p = yield* scripted({ error: "bad_refresh_token", error_description: "The refresh token passed is incorrect or expired." })
      const e = yield* Effect.flip(OAuthProvider.refresh(p, { refreshToken: Redacted.make("ghr-dead-0123456789") }))
      assert.strictEqual(e._tag === "OAuthTokenError" && e.error, "bad_refresh_token")
      const code = yield* Effect.flip(OAuthProvider.exchangeCode(p, {
        code: Redacted.make("code-0123456789"),
        redirectUri: "https://mcp.example/cb",
        codeVerifier: Redacted.make("verifier-0123456789abcdefghijklmnopqrstuvwxyz0123")
      }))
      assert.strictEqual(code._tag, "OAuthTokenError")
      const store = yield* CredentialStore.makeMemory
      const refresher = yield* TokenRefresh.make({ providers: [p] }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      const key = { provider: p.name, subject: "alice" }
      yield* store.set(key, new ResolvedCredential.OAuthCredential({ ...expired(p), expiresAt: DateTime.unsafeMake(Date.now() - 1000) }))
      const dead = yield* Effect.flip(refresher.get(key))
      assert.strictEqual(dead._tag === "ReauthorizationRequiredError" && dead.reason, "invalid_grant")
      assert.isTrue(Option.isNone(yield* store.get(key)), "the dead record is removed, as for invalid_grant")
    }))

  it.scopedLive("fix: an expires_in past any token's lifetime (1e20) is kept as ten years, not a crash; the rotated refresh token is stored", () =>
    Effect.gen(function*() {
      const p = yield* scripted({ access_token: "at-new-0123456789", refresh_token: "rt-rotated-0123456789", token_type: "Bearer", expires_in: 1e20 })
      const store = yield* CredentialStore.makeMemory
      const refresher = yield* TokenRefresh.make({ providers: [p] }).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
      const key = { provider: p.name, subject: "bob" }
      yield* store.set(key, new ResolvedCredential.OAuthCredential({ ...expired(p), expiresAt: DateTime.unsafeMake(Date.now() - 1000) }))
      const got = Option.getOrThrow(yield* refresher.get(key)).credential
      assert.strictEqual(got.type, "oauth")
      if (got.type === "oauth") {
        assert.strictEqual(Redacted.value(got.refreshToken!), "rt-rotated-0123456789")
        const years = (DateTime.toEpochMillis(got.expiresAt!) - Date.now()) / (365.25 * 24 * 3600 * 1000)
        assert.isTrue(years > 9.9 && years < 10.1, `${years}`)
      }
    }))

  it.scopedLive("fix: a token bound to a key or not for requests (DPoP, PoP, mac, N_A) is refused, never stored as a bearer token; Bearer, an absent type and Slack's bot/user are kept", () =>
    Effect.gen(function*() {
      for (const tokenType of ["DPoP", "N_A", "mac", "PoP"]) {
        const p = yield* scripted({ access_token: "at-bound-0123456789", token_type: tokenType, expires_in: 60 })
        const e = yield* Effect.flip(OAuthProvider.refresh(p, { refreshToken: Redacted.make("rt-0123456789") }))
        assert.strictEqual(e._tag, "OAuthRequestError", tokenType)
        assert.include(e.message, "token_type")
      }
      for (
        const answer of [
          { access_token: "at-plain-0123456789" },
          { access_token: "at-plain-0123456789", token_type: "bearer" },
          { access_token: "at-plain-0123456789", token_type: "bot" },
          { access_token: "at-plain-0123456789", token_type: "user" }
        ]
      ) {
        const p = yield* scripted(answer)
        const ok = yield* OAuthProvider.refresh(p, { refreshToken: Redacted.make("rt-0123456789") })
        assert.strictEqual(Redacted.value(ok.accessToken), "at-plain-0123456789")
      }
    }))
})
