import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import {
  CredentialBackend,
  CredentialError,
  CredentialMiddleware,
  CurrentCredential,
  ResolvedCredential
} from "../src/index.js"

const cred = (v: string) => ResolvedCredential.StaticCredential.fromFields({ apiKey: v })
const one = (c: ResolvedCredential.ResolvedCredential) => new Map([["default", c]])
const syncGet = () => Effect.sync(() => {
  try {
    return CurrentCredential.unsafeGet()
  } catch (e) {
    return e
  }
})

describe("CurrentCredential — seed §1.11 (test_helpers.py: get_credentials)", () => {
  it.effect("keep: nothing in scope → NoCredentialInScopeError saying how to install the middleware", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(CurrentCredential.get())
      assert.strictEqual(e._tag, "NoCredentialInScopeError")
      assert.match(e.message, /^No credential has been resolved for this request/)
      assert.include(e.message, "McpCredentials.install")
      assert.throws(() => CurrentCredential.unsafeGet(), /No credential/)
    }))
  it.effect("keep: in scope → the identical object", () =>
    Effect.gen(function*() {
      const c = cred("a")
      const got = yield* CurrentCredential.locally(CurrentCredential.get(), one(c))
      assert.strictEqual(got, c)
    }))
  it.effect("keep: two reads in one call → the same object (Effect and sync accessor)", () =>
    Effect.gen(function*() {
      const c = cred("a")
      const [x, y, z] = yield* CurrentCredential.locally(
        Effect.all([CurrentCredential.get(), CurrentCredential.get(), syncGet()]),
        one(c)
      )
      assert.strictEqual(x, y)
      assert.strictEqual(z, c)
    }))
  it.effect("keep: after the scope ends → raises again", () =>
    Effect.gen(function*() {
      yield* CurrentCredential.locally(CurrentCredential.get(), one(cred("a")))
      const e = yield* Effect.flip(CurrentCredential.get())
      assert.strictEqual(e._tag, "NoCredentialInScopeError")
    }))
})

describe("CurrentCredential — scope lifetime", () => {
  it.effect("withoutCredentials / unsafeSetFiberScope(undefined): the fiber and plain code it calls never fall back to the async context's scope", () =>
    Effect.gen(function*() {
      const open = new CurrentCredential.CredentialScope(one(cred("other-call")))
      // the async context holds another call's scope (a fiber woken by that call's fiber runs in it)
      const inOther = <A>(effect: Effect.Effect<A>) => Effect.promise(() => CurrentCredential.unsafeRunInScope(open, () => Effect.runPromise(effect)))
      // fix: a fiber with no scope of its own never reads the async context's (it may be another call's)
      assert.strictEqual(((yield* inOther(syncGet())) as { _tag?: string })._tag, "NoCredentialInScopeError")
      // plain code (no fiber) reads it; a fiber is given it with inScope
      const plain = yield* Effect.promise(() =>
        new Promise<ResolvedCredential.ResolvedCredential>((resolve) => setImmediate(() => resolve(CurrentCredential.unsafeRunInScope(open, () => CurrentCredential.unsafeGet()))))
      )
      assert.strictEqual(plain.type, "static")
      assert.strictEqual(((yield* inOther(CurrentCredential.inScope(syncGet(), open))) as ResolvedCredential.StaticCredential).type, "static")
      const isolatedCases: ReadonlyArray<Effect.Effect<unknown>> = [
        CurrentCredential.withoutCredentials(syncGet()),
        Effect.zipRight(CurrentCredential.unsafeSetFiberScope(undefined), syncGet()),
        CurrentCredential.withoutCredentials(CurrentCredential.callWithScope(() => {
          try {
            return CurrentCredential.unsafeGet()
          } catch (e) {
            return e
          }
        }))
      ]
      for (const isolated of isolatedCases) {
        const seen = yield* inOther(isolated)
        assert.strictEqual((seen as { _tag?: string })._tag, "NoCredentialInScopeError")
      }
      // a scope set on the fiber is the one read
      const own = new CurrentCredential.CredentialScope(one(cred("own")))
      const read = yield* inOther(Effect.zipRight(CurrentCredential.unsafeSetFiberScope(own), syncGet()))
      assert.strictEqual(Redacted.value((read as ResolvedCredential.StaticCredential).fields.apiKey!), "own")
    }))

  it.effect("the scope closes on failure and on interruption; a kept reference finds nothing", () =>
    Effect.gen(function*() {
      let kept: CurrentCredential.CredentialScope | undefined
      const grab = Effect.flatMap(CurrentCredential.scope, (s) => Effect.sync(() => (kept = s._tag === "Some" ? s.value : undefined)))
      yield* Effect.exit(CurrentCredential.locally(Effect.zipRight(grab, Effect.fail("boom")), one(cred("a"))))
      assert.isFalse(kept!.isOpen)
      assert.isUndefined(kept!.get("default"))

      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        CurrentCredential.locally(Effect.zipRight(grab, Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)), one(cred("b")))
      )
      yield* Deferred.await(started)
      assert.isTrue(kept!.isOpen)
      yield* Fiber.interrupt(fiber)
      assert.isFalse(kept!.isOpen)
    }))

  it.effect("plain async code started with callWithScope sees the credential until the call ends", () =>
    Effect.gen(function*() {
      const c = cred("async")
      let later: () => unknown = () => undefined
      const seen = yield* CurrentCredential.locally(
        Effect.flatMap(
          CurrentCredential.callWithScope(async () => {
            await new Promise((r) => setTimeout(r, 5))
            later = () => {
              try {
                return CurrentCredential.unsafeGet()
              } catch (e) {
                return e
              }
            }
            return CurrentCredential.unsafeGet()
          }),
          (p) => Effect.promise(() => p)
        ),
        one(c)
      )
      assert.strictEqual(seen, c)
      const after = later()
      assert.instanceOf(after, CredentialError.NoCredentialInScopeError)
    }))

  it.effect("named credentials and kind accessors", () =>
    Effect.gen(function*() {
      const gh = new ResolvedCredential.OAuthCredential({ type: "oauth", accessToken: Redacted.make("gh") })
      const creds = new Map<string, ResolvedCredential.ResolvedCredential>([["github", gh], ["jira", cred("j")]])
      yield* CurrentCredential.locally(
        Effect.gen(function*() {
          assert.strictEqual(yield* CurrentCredential.getOAuth("github"), gh)
          assert.strictEqual((yield* CurrentCredential.getStatic("jira")).type, "static")
          const wrongKind = yield* Effect.flip(CurrentCredential.getStatic("github"))
          assert.strictEqual(wrongKind._tag, "NoCredentialInScopeError")
          const missing = yield* Effect.flip(CurrentCredential.get())
          assert.include(missing.message, "No credential has been resolved")
          const missingNamed = yield* Effect.flip(CurrentCredential.get("slack"))
          assert.include(missingNamed.message, "'slack'")
        }),
        creds
      )
    }))

  it("a scope given the call's signal is closed once it aborts: no credential, no names", () => {
    const controller = new AbortController()
    const s = new CurrentCredential.CredentialScope(one(cred("sk-abort")), controller.signal)
    assert.isTrue(s.isOpen)
    assert.strictEqual(s.get("default")?.type, "static")
    controller.abort()
    assert.isUndefined(s.get("default"))
    assert.deepStrictEqual(s.names(), [])
    assert.isFalse(s.isOpen)
    // a scope opened on an already aborted signal holds nothing
    assert.isFalse(new CurrentCredential.CredentialScope(one(cred("sk-late")), controller.signal).isOpen)
  })

  it("a scope prints its names, never its credentials", () => {
    const s = new CurrentCredential.CredentialScope(one(cred("sk-CANARY")))
    assert.notInclude(String(s) + JSON.stringify(s), "CANARY")
    assert.include(String(s), "default")
  })
})

/** A backend that records each request and returns a fresh credential each call. */
const countingBackend = (fail?: () => Effect.Effect<never, any>) => {
  const calls: Array<string> = []
  const layer = Layer.succeed(
    CredentialBackend.CredentialBackend,
    CredentialBackend.CredentialBackend.of({
      resolve: (request) => {
        calls.push(request.kind)
        return fail ? fail() : Effect.succeed(cred(`call-${calls.length}`))
      }
    })
  )
  return { calls, layer }
}
const staticReq = CredentialMiddleware.requirements("static")
const run = <A, E>(tool: Effect.Effect<A, E>, reqs = staticReq) => CredentialMiddleware.withCredentials(reqs, {})(tool)

describe("CredentialMiddleware — seed §1.11 (test_middleware.py)", () => {
  it.effect("keep: two tool calls → the backend is resolved twice", () => {
    const b = countingBackend()
    return Effect.gen(function*() {
      yield* run(Effect.void)
      yield* run(Effect.void)
      assert.strictEqual(b.calls.length, 2)
    }).pipe(Effect.provide(b.layer))
  })
  it.effect("keep: inside the tool, the current credential is the resolved one", () => {
    const b = countingBackend()
    return Effect.map(run(CurrentCredential.get()), (c) =>
      assert.strictEqual(c.type === "static" && Redacted.value(c.fields.apiKey!), "call-1")).pipe(Effect.provide(b.layer))
  })
  it.effect("keep: the tool's result is returned", () =>
    Effect.map(run(Effect.succeed("tool-result")), (r) => assert.strictEqual(r, "tool-result")).pipe(Effect.provide(countingBackend().layer)))
  it.effect("keep: an oauth declaration → the backend receives oauth", () => {
    const b = countingBackend()
    return Effect.map(run(Effect.void, CredentialMiddleware.requirements("oauth")), () => assert.deepStrictEqual(b.calls, ["oauth"])).pipe(
      Effect.provide(b.layer)
    )
  })
  it.effect("keep: nothing in scope before any call", () =>
    Effect.map(Effect.flip(CurrentCredential.get()), (e) => assert.strictEqual(e._tag, "NoCredentialInScopeError")))
  it.effect("keep: nothing in scope after a successful call", () =>
    Effect.gen(function*() {
      yield* run(Effect.void)
      assert.strictEqual((yield* Effect.flip(CurrentCredential.get()))._tag, "NoCredentialInScopeError")
    }).pipe(Effect.provide(countingBackend().layer)))
  it.effect("keep: the tool fails → the same error propagates and nothing is in scope", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(run(Effect.fail(new Error("tool exploded"))))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(Exit.isFailure(exit) && (Cause.squash(exit.cause) as Error).message, "tool exploded")
      assert.strictEqual((yield* Effect.flip(CurrentCredential.get()))._tag, "NoCredentialInScopeError")
      const died = yield* Effect.exit(run(Effect.die(new Error("tool defect"))))
      assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause) && (Cause.squash(died.cause) as Error).message === "tool defect")
    }).pipe(Effect.provide(countingBackend().layer)))
  it.effect("keep: the backend fails → the CredentialError propagates, the tool does not run, nothing in scope", () => {
    let ran = false
    const b = countingBackend(() => new CredentialError.MissingCredentialHeaderError({ headers: ["X-MCP-Cred-Fields"] }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(run(Effect.sync(() => (ran = true))))
      assert.strictEqual(e._tag, "MissingCredentialHeaderError")
      assert.isFalse(ran)
      assert.strictEqual((yield* Effect.flip(CurrentCredential.get()))._tag, "NoCredentialInScopeError")
    }).pipe(Effect.provide(b.layer))
  })
  it.effect("keep: sequential calls with two middlewares each see their own credential", () =>
    Effect.gen(function*() {
      const a = yield* run(CurrentCredential.get()).pipe(Effect.provide(CredentialBackend.layerTest(cred("A"))))
      const b = yield* run(CurrentCredential.get()).pipe(Effect.provide(CredentialBackend.layerTest(cred("B"))))
      assert.strictEqual(a.type === "static" && Redacted.value(a.fields.apiKey!), "A")
      assert.strictEqual(b.type === "static" && Redacted.value(b.fields.apiKey!), "B")
      assert.strictEqual((yield* Effect.flip(CurrentCredential.get()))._tag, "NoCredentialInScopeError")
    }))
  it.effect("keep: the backend's own error message propagates", () =>
    Effect.map(
      Effect.flip(run(Effect.void).pipe(Effect.provide(countingBackend(() => new CredentialError.InvalidCredentialError({ variable: "VAULT", reason: "vault unreachable." })).layer))),
      (e) => assert.strictEqual(e.message, "Invalid VAULT: vault unreachable.")
    ))
  it.effect("keep: an unexpected backend defect propagates as a defect", () =>
    Effect.map(
      Effect.exit(run(Effect.void).pipe(Effect.provide(countingBackend(() => Effect.die(new TypeError("unexpected"))).layer))),
      (exit) => assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause) && (Cause.squash(exit.cause) as Error).message === "unexpected")
    ))
  it.effect("fix: a tool that declares no credential never triggers resolution (seed failed every tool)", () => {
    const b = countingBackend(() => new CredentialError.MissingCredentialError({ kind: "static", variables: ["FIELDS", "FIELD_<name>"] }))
    return Effect.gen(function*() {
      assert.strictEqual(yield* CredentialMiddleware.withCredentials([], {})(Effect.succeed("ok")), "ok")
      assert.strictEqual(b.calls.length, 0)
    }).pipe(Effect.provide(b.layer))
  })
  it.effect("named credentials: each from its own backend; an unconfigured name → CredentialNotFoundError", () =>
    Effect.gen(function*() {
      const reqs = CredentialMiddleware.requirements({ github: "oauth", jira: "static" })
      const [gh, jira] = yield* CredentialMiddleware.withCredentials(reqs, {})(
        Effect.all([CurrentCredential.getOAuth("github"), CurrentCredential.getStatic("jira")])
      )
      assert.strictEqual(Redacted.value(gh.accessToken), "gh-token")
      assert.strictEqual(Redacted.value(jira.fields.apiKey!), "jira-key")
      const e = yield* Effect.flip(CredentialMiddleware.withCredentials(CredentialMiddleware.requirements({ slack: "static" }), {})(Effect.void))
      assert.strictEqual(e._tag, "CredentialNotFoundError")
      assert.strictEqual(e.message, "Credential not found: 'slack'")
    }).pipe(
      Effect.provide(Layer.mergeAll(
        CredentialBackend.layerNamed("github", CredentialBackend.layerTest(new ResolvedCredential.OAuthCredential({ type: "oauth", accessToken: Redacted.make("gh-token") }))),
        CredentialBackend.layerNamed("jira", CredentialBackend.layerTest(cred("jira-key")))
      ))
    ))
  it.effect("the request's headers and user reach the backend", () => {
    const seen: Array<unknown> = []
    const layer = Layer.succeed(CredentialBackend.CredentialBackend, {
      resolve: (r) => Effect.sync(() => (seen.push(r), cred("x")))
    })
    return Effect.map(
      CredentialMiddleware.withCredentials(staticReq, { headers: { a: "b" }, user: { subject: "u1" } })(Effect.void),
      () => assert.deepStrictEqual(seen, [{ kind: "static", headers: { a: "b" }, user: { subject: "u1" } }])
    ).pipe(Effect.provide(layer))
  })
})

describe("CurrentCredential — a fiber woken by another call's fiber", () => {
  it.live("fix: plain code's own Effect fiber (a rate-limited SDK) never reads another call's credential", () =>
    Effect.gen(function*() {
      const semaphore = yield* Effect.makeSemaphore(1)
      // the plain async API of some SDK built on Effect, with one process-wide rate limiter
      const sdkRequest = () =>
        Effect.runPromise(semaphore.withPermits(1)(Effect.gen(function*() {
          yield* Effect.sleep(5)
          try {
            return Redacted.value((CurrentCredential.unsafeGet() as ResolvedCredential.StaticCredential).fields.apiKey!)
          } catch (e) {
            return (e as { _tag: string })._tag
          }
        })))
      const call = (who: string) =>
        CurrentCredential.locally(
          Effect.flatMap(CurrentCredential.callWithScope(sdkRequest), (p) => Effect.promise(() => p)).pipe(Effect.zipLeft(Effect.sleep(50))),
          one(cred(`secret-of-${who}`))
        )
      const sent = yield* Effect.all([call("A"), call("B"), call("C")], { concurrency: "unbounded" })
      // each either reads nothing (its own fiber has no scope) — never another call's secret
      for (const [i, who] of ["A", "B", "C"].entries()) {
        assert.isTrue(sent[i] === "NoCredentialInScopeError" || sent[i] === `secret-of-${who}`, `call ${who} sent ${sent[i]}`)
      }
      assert.notInclude(sent, "secret-of-A", "B and C never send A's secret")
    }))
})
