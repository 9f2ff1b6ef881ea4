import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { inspect } from "node:util"
import { AccessToken, AuthUser } from "../src/index.js"

describe("AuthUser — seed §2.3 / §2.7 middleware case 1", () => {
  it("keep (case 1): user.email works and a missing attribute is undefined (seed: None)", () => {
    const user = AuthUser.make({ email: "a@example.com" })
    assert.strictEqual(user.email, "a@example.com")
    assert.isUndefined(user.missing)
  })

  it("keep: key access — user.get(name), user[name], user.claims", () => {
    const user = AuthUser.make({ sub: "1", name: "Dev", "x-claim": 3 })
    assert.strictEqual(user.get("name"), "Dev")
    assert.strictEqual(user["x-claim"], 3)
    assert.deepStrictEqual({ ...user.claims }, { sub: "1", name: "Dev", "x-claim": 3 })
    assert.isUndefined(user.get("nope"))
  })

  it("keep: claims named like members are read with get (the seed's rule for dict methods)", () => {
    const user = AuthUser.make({ get: "g", claims: "c", has: "h", items: "i" })
    assert.isFunction(user.get)
    assert.strictEqual(user.get("get"), "g")
    assert.strictEqual(user.get("claims"), "c")
    assert.strictEqual(user.items, "i") // not a member here: attribute access works
  })

  it("keep: a null claim is present (presence is what the seed's scope check looks at)", () => {
    const user = AuthUser.make({ email: null })
    assert.isTrue(user.has("email"))
    assert.isNull(user.email)
    assert.isFalse(user.has("name"))
    assert.isTrue("email" in user)
  })

  it("keep: the user is a copy — mutating the source or the user changes nothing", () => {
    const source: Record<string, unknown> = { email: "a@example.com" }
    const user = AuthUser.make(source)
    source.email = "evil@example.com"
    assert.strictEqual(user.email, "a@example.com")
    assert.throws(() => {
      ;(user as Record<string, unknown>).email = "x"
    })
    assert.strictEqual(user.email, "a@example.com")
  })

  it("keep: outside a request the user is empty and every attribute is undefined", () => {
    assert.deepStrictEqual({ ...AuthUser.empty.claims }, {})
    assert.isUndefined(AuthUser.empty.email)
    assert.strictEqual(AuthUser.displayName(AuthUser.empty), "unknown")
  })

  it("JSON, keys, inspect and String behave like the claims", () => {
    const user = AuthUser.make({ sub: "1", email: "a@example.com" })
    assert.strictEqual(JSON.stringify(user), "{\"sub\":\"1\",\"email\":\"a@example.com\"}")
    assert.deepStrictEqual(Object.keys(user), ["sub", "email"])
    assert.include(inspect(user), "a@example.com")
    assert.strictEqual(String(user), "AuthUser(a@example.com)")
    assert.isTrue(AuthUser.isAuthUser(user))
    assert.isFalse(AuthUser.isAuthUser({ email: "x" }))
  })

  it("displayName: email, else sub, else name (the seed's log identity)", () => {
    assert.strictEqual(AuthUser.displayName(AuthUser.make({ sub: "s", name: "n" })), "s")
    assert.strictEqual(AuthUser.displayName(AuthUser.make({ name: "n" })), "n")
  })

  it.effect("from a token, and through the CurrentUser tag", () =>
    Effect.gen(function*() {
      const token = AccessToken.make({ token: Redacted.make("t"), clientId: "c", claims: { email: "z@example.com" } })
      const user = yield* AuthUser.CurrentUser
      assert.strictEqual(user.email, "z@example.com")
      assert.strictEqual(AuthUser.fromAccessToken(token).email, "z@example.com")
    }).pipe(Effect.provideService(AuthUser.CurrentUser, AuthUser.make({ email: "z@example.com" }))))
})
