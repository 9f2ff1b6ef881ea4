import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Equal, Redacted, Schema, TestClock } from "effect"
import { inspect } from "node:util"
import { AccessToken, AuthError } from "../src/index.js"
import { NOW } from "./helpers.js"

const token = (fields: Partial<Parameters<typeof AccessToken.make>[0]> = {}) =>
  AccessToken.make({
    token: Redacted.make("tok-secret-1"),
    clientId: "client-1",
    subject: "user-1",
    scopes: ["read", "write"],
    expiresAt: DateTime.unsafeMake((NOW + 3600) * 1000),
    claims: { sub: "user-1", email: "u@example.com" },
    ...fields
  })

describe("AccessToken — FastMCP seed 002", () => {
  it("keep: has_scope", () => {
    const t = token()
    assert.isTrue(AccessToken.hasScope(t, "read"))
    assert.isFalse(AccessToken.hasScope(t, "admin"))
    assert.isTrue(AccessToken.hasScope("write")(t))
  })

  it("keep: validate_scopes lists the missing scopes in required order", () => {
    assert.deepStrictEqual(AccessToken.missingScopes(token(), ["admin", "read", "delete", "admin"]), ["admin", "delete"])
    assert.isTrue(AccessToken.hasScopes(token(), ["read", "write"]))
    assert.isFalse(AccessToken.hasScopes(token(), ["read", "admin"]))
  })

  it.effect("requireScopes fails with InsufficientScopeError naming the missing scopes", () =>
    Effect.gen(function*() {
      yield* AccessToken.requireScopes(token(), ["read"])
      const error = yield* Effect.flip(AccessToken.requireScopes(token(), ["read", "admin"]))
      assert.strictEqual(error._tag, "InsufficientScopeError")
      assert.deepStrictEqual(error.missing, ["admin"])
      assert.deepStrictEqual(error.required, ["read", "admin"])
      assert.strictEqual(error.message, "Insufficient scope: missing admin")
      assert.isTrue(AuthError.isAuthError(error))
    }))

  it.effect("keep: is_expired uses the clock (TestClock); no expiry never expires; margin is optional", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      assert.isFalse(yield* AccessToken.isExpired(token()))
      assert.isTrue(yield* AccessToken.isExpired(token(), { margin: "2 hours" }))
      assert.isFalse(yield* AccessToken.isExpired(token({ expiresAt: undefined })))
      yield* TestClock.adjust("1 hour")
      assert.isTrue(yield* AccessToken.isExpired(token()))
    }))

  it("toAuthInfo gives the MCP SDK shape: plain token, seconds, extra { sub, claims }", () => {
    const info = AccessToken.toAuthInfo(token({ expiresAt: DateTime.unsafeMake((NOW + 3600) * 1000 + 999) }))
    assert.deepStrictEqual(info, {
      token: "tok-secret-1",
      clientId: "client-1",
      scopes: ["read", "write"],
      expiresAt: NOW + 3600,
      extra: { sub: "user-1", claims: { sub: "user-1", email: "u@example.com" } }
    })
    assert.notProperty(AccessToken.toAuthInfo(token({ expiresAt: undefined })), "expiresAt")
    const resource = new URL("https://mcp.example.com/mcp")
    const claims = { sub: "user-1", aud: "https://mcp.example.com/mcp" }
    assert.strictEqual(AccessToken.toAuthInfo(token({ claims }), { resource }).resource?.href, resource.href)
    assert.strictEqual(AccessToken.toAuthInfo(token({ claims: { aud: ["other", "https://mcp.example.com/mcp/"] } }), { resource }).resource?.href, resource.href)
  })

  it("fix: toAuthInfo stamps the resource only on a token whose aud names it (the SDK's expectedResource check trusts it: a token for another service passed)", () => {
    const resource = new URL("https://mcp.example.com/mcp")
    for (const aud of ["https://payments.example.com/api", ["https://payments.example.com/api"], undefined, 42]) {
      assert.notProperty(AccessToken.toAuthInfo(token({ claims: { sub: "u", ...(aud === undefined ? {} : { aud }) } }), { resource }), "resource", String(aud))
    }
  })

  it("fix: toAuthInfo's resource is a copy: changing one AuthInfo's changes neither the caller's URL nor the next AuthInfo's", () => {
    const resource = new URL("https://mcp.example.com/mcp")
    const t = token({ claims: { sub: "user-1", aud: "https://mcp.example.com/mcp" } })
    const first = AccessToken.toAuthInfo(t, { resource })
    assert.notStrictEqual(first.resource, resource)
    first.resource!.host = "evil.example"
    assert.strictEqual(resource.href, "https://mcp.example.com/mcp")
    assert.strictEqual(AccessToken.toAuthInfo(t, { resource }).resource?.href, "https://mcp.example.com/mcp")
  })

  it("fix: fromAuthInfo with an expiresAt past the range of a date (1e20) gives no expiry instead of throwing", () => {
    for (const expiresAt of [1e20, -1e20, Infinity, NaN]) {
      assert.isUndefined(AccessToken.fromAuthInfo({ token: "x", clientId: "c", scopes: [], expiresAt }).expiresAt, String(expiresAt))
    }
    assert.strictEqual(DateTime.toEpochMillis(AccessToken.fromAuthInfo({ token: "x", clientId: "c", scopes: [], expiresAt: NOW }).expiresAt!), NOW * 1000)
  })

  it("fromAuthInfo inverts toAuthInfo", () => {
    const t = token()
    const back = AccessToken.fromAuthInfo(AccessToken.toAuthInfo(t))
    assert.strictEqual(Redacted.value(back.token), "tok-secret-1")
    assert.strictEqual(back.subject, "user-1")
    assert.deepStrictEqual(back.claims, t.claims)
    assert.strictEqual(DateTime.toEpochMillis(back.expiresAt!), DateTime.toEpochMillis(t.expiresAt!))
    const bare = AccessToken.fromAuthInfo({ token: "x", clientId: "c", scopes: [] })
    assert.deepStrictEqual(bare.claims, {})
    assert.isUndefined(bare.subject)
  })

  it("the token is Redacted everywhere it could be printed", () => {
    const t = token()
    for (const shown of [inspect(t, { depth: 10 }), JSON.stringify(t), String(t), `${t.token}`]) {
      assert.notInclude(shown, "tok-secret-1")
    }
  })

  it("fromClaims: clientId from client_id, azp, cid, sub, else unknown; scopes from scope or scp", () => {
    const t = (claims: Record<string, unknown>) => AccessToken.fromClaims(Redacted.make("x"), claims)
    assert.strictEqual(t({ client_id: "a", azp: "b", sub: "s" }).clientId, "a")
    assert.strictEqual(t({ azp: "b", sub: "s" }).clientId, "b")
    assert.strictEqual(t({ cid: "c", sub: "s" }).clientId, "c")
    assert.strictEqual(t({ sub: "s" }).clientId, "s")
    assert.strictEqual(t({}).clientId, "unknown")
    assert.deepStrictEqual(t({ scope: "a  b" }).scopes, ["a", "b"])
    assert.deepStrictEqual(t({ scp: ["a", 1, "b"] }).scopes, ["a", "b"])
    assert.deepStrictEqual(t({ scope: 42 }).scopes, [])
    assert.strictEqual(DateTime.toEpochMillis(t({ exp: NOW }).expiresAt!), NOW * 1000)
    assert.isUndefined(t({ exp: "soon" }).expiresAt)
  })
})

/** What the class constructor builds from the same values (arrays and records compare by reference in Equal). */
const constructedLike = (made: AccessToken.AccessToken) =>
  new AccessToken.AccessToken({
    token: made.token,
    clientId: made.clientId,
    ...(made.subject !== undefined ? { subject: made.subject } : {}),
    scopes: made.scopes,
    ...(made.expiresAt !== undefined ? { expiresAt: made.expiresAt } : {}),
    claims: made.claims
  })

describe("AccessToken.make", () => {
  it("builds what the class constructor builds: same class, fields, encoding, inspection", () => {
    for (const fields of [
      {},
      { subject: undefined, expiresAt: undefined },
      { scopes: [], claims: {} }
    ] as const) {
      const made = token(fields)
      const constructed = constructedLike(made)
      assert.instanceOf(made, AccessToken.AccessToken)
      // (Equal is not compared: two instances built by the constructor from the same values are
      // not Equal either — their random hashes differ)
      assert.isTrue(Equal.equals(made, made))
      assert.deepStrictEqual(Object.keys(made), Object.keys(constructed))
      assert.isTrue(Schema.is(AccessToken.AccessToken)(made))
      assert.deepStrictEqual(Schema.encodeSync(AccessToken.AccessToken)(made), Schema.encodeSync(AccessToken.AccessToken)(constructed))
      assert.strictEqual(inspect(made), inspect(constructed))
      assert.strictEqual(JSON.stringify(made), JSON.stringify(constructed))
      assert.notInclude(inspect(made), "tok-secret-1")
    }
  })

  it("fromClaims builds what the class constructor builds (it does not go through make)", () => {
    for (const claims of [{}, { sub: "user-1", scope: "a b", exp: NOW, email: "u@example.com" }, { azp: "app", scp: ["x"] }]) {
      const made = AccessToken.fromClaims(Redacted.make("tok-secret-1"), claims)
      const constructed = constructedLike(made)
      assert.instanceOf(made, AccessToken.AccessToken)
      assert.notStrictEqual(made.claims, claims) // a copy
      assert.deepStrictEqual(Object.keys(made), Object.keys(constructed))
      assert.isTrue(Schema.is(AccessToken.AccessToken)(made))
      assert.deepStrictEqual(Schema.encodeSync(AccessToken.AccessToken)(made), Schema.encodeSync(AccessToken.AccessToken)(constructed))
      assert.strictEqual(inspect(made), inspect(constructed))
      assert.strictEqual(JSON.stringify(made), JSON.stringify(constructed))
    }
  })
})
