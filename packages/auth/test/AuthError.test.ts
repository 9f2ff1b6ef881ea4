import { assert, describe, it } from "@effect/vitest"
import { AuthError } from "../src/index.js"

describe("AuthError", () => {
  const all = [
    new AuthError.MissingTokenError(),
    new AuthError.InvalidTokenError({ reason: "expired" }),
    new AuthError.JwksFetchError({ reason: "http status", status: 503 }),
    new AuthError.IntrospectionError({ reason: "timeout" }),
    new AuthError.InsufficientScopeError({ required: ["a", "b"], missing: ["b"] }),
    new AuthError.AuthConfigError({ field: "audience", reason: "required" })
  ]

  it("every error is an Error, an AuthError, and has a fixed message", () => {
    for (const e of all) {
      assert.instanceOf(e, Error)
      assert.isTrue(AuthError.isAuthError(e))
    }
    assert.deepStrictEqual(all.map((e) => e.message), [
      "Missing bearer token",
      "Invalid bearer token: expired",
      "JWKS fetch failed: http status 503",
      "Token introspection failed: timeout",
      "Insufficient scope: missing b",
      "Invalid auth configuration (audience): required"
    ])
    assert.isFalse(AuthError.isAuthError(new Error("x")))
  })

  it("InvalidTokenError only takes the fixed reasons (the schema refuses free text)", async () => {
    const { Schema } = await import("effect")
    const decode = Schema.decodeUnknownEither(AuthError.InvalidTokenError)
    assert.strictEqual(decode({ _tag: "InvalidTokenError", reason: "expired" })._tag, "Right")
    assert.strictEqual(decode({ _tag: "InvalidTokenError", reason: "eyJhbGciOi…" })._tag, "Left")
  })

  it("specificity orders: missing < format < issuer < infrastructure < concrete fault", () => {
    const s = (e: AuthError.AuthError) => AuthError.specificity(e)
    const inv = (reason: AuthError.InvalidTokenReason) => new AuthError.InvalidTokenError({ reason })
    assert.isBelow(s(new AuthError.MissingTokenError()), s(inv("malformed")))
    assert.isBelow(s(inv("unknown token")), s(inv("unknown key id")))
    assert.isBelow(s(inv("wrong issuer")), s(new AuthError.JwksFetchError({ reason: "timeout" })))
    assert.isBelow(s(new AuthError.IntrospectionError({ reason: "network" })), s(inv("expired")))
  })
})
