/**
 * The vault's in-process single flight (`internal/oauthSingleFlight.ts`, behind `TokenRefresh`
 * and `TokenExchange`): a caller interrupted at any point of joining or starting a flight never
 * leaves the key stuck (a later caller waiting forever), and concurrent callers share one run.
 * The run loop is made to yield after every few operations so that an interruption lands between
 * any two steps of `run`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, FiberRef, Option, Scope } from "effect"
import * as SingleFlight from "../src/internal/oauthSingleFlight.js"

const flights = (sf: SingleFlight.SingleFlight<number, never>) => Effect.exit(sf.run("k", Effect.as(Effect.sleep("5 millis"), 1)))

describe("SingleFlight", () => {
  it.live("a caller interrupted while it starts a flight never leaves the key stuck", () =>
    Effect.gen(function*() {
      // (below 10, Effect's own interruption of a fiber that yields that often does not settle)
      for (let maxOps = 10; maxOps <= 64; maxOps++) {
        for (let yields = 0; yields <= 3; yields++) {
          const scope = yield* Scope.make()
          const flights = SingleFlight.make<number, never>(scope)
          const first = yield* Effect.fork(
            Effect.locally(flights.run("k", Effect.as(Effect.sleep("5 millis"), 1)), FiberRef.currentMaxOpsBeforeYield, maxOps)
          )
          for (let i = 0; i < yields; i++) yield* Effect.yieldNow()
          yield* Fiber.interrupt(first)
          const second = yield* flights.run("k", Effect.succeed(2)).pipe(Effect.timeoutOption(Duration.seconds(1)))
          assert.isTrue(Option.isSome(second), `stuck with maxOpsBeforeYield ${maxOps} after ${yields} yield(s)`)
          yield* Scope.close(scope, Exit.void)
        }
      }
    }), { timeout: 60_000 })

  it.live("a scope that closes while (or before) a caller starts a flight ends the caller, and the key is free", () =>
    Effect.gen(function*() {
      // run after the scope closed
      const closed = yield* Scope.make()
      yield* Scope.close(closed, Exit.void)
      const late = SingleFlight.make<number, never>(closed)
      const exit = yield* flights(late).pipe(Effect.timeoutOption(Duration.seconds(1)))
      assert.isTrue(Option.isSome(exit) && Exit.isInterrupted(exit.value), "a run on a closed scope hung")
      assert.strictEqual(late.size(), 0)
      // the scope closes while the caller starts its flight
      for (let maxOps = 10; maxOps <= 64; maxOps += 3) {
        for (let yields = 0; yields <= 3; yields++) {
          const scope = yield* Scope.make()
          const sf = SingleFlight.make<number, never>(scope)
          const caller = yield* Effect.fork(
            Effect.locally(Effect.exit(sf.run("k", Effect.as(Effect.sleep("5 millis"), 1))), FiberRef.currentMaxOpsBeforeYield, maxOps)
          )
          for (let i = 0; i < yields; i++) yield* Effect.yieldNow()
          yield* Scope.close(scope, Exit.void)
          const ended = yield* Fiber.join(caller).pipe(Effect.timeoutOption(Duration.seconds(1)))
          assert.isTrue(Option.isSome(ended), `stuck with maxOpsBeforeYield ${maxOps} after ${yields} yield(s)`)
          assert.strictEqual(sf.size(), 0)
        }
      }
    }), { timeout: 60_000 })

  it.live("concurrent callers share one run; a failure reaches each and is not kept", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const flights = SingleFlight.make<number, string>(scope)
      let runs = 0
      const flight = Effect.suspend(() => (runs++, Effect.as(Effect.sleep("20 millis"), runs)))
      const results = yield* Effect.all(Array.from({ length: 10 }, () => flights.run("k", flight)), { concurrency: "unbounded" })
      assert.deepStrictEqual(new Set(results), new Set([1]))
      assert.strictEqual(runs, 1)
      const failed = yield* Effect.either(flights.run("k", Effect.fail("boom")))
      assert.deepStrictEqual(failed._tag === "Left" ? failed.left : undefined, "boom")
      assert.strictEqual(yield* flights.run("k", Effect.succeed(3)), 3)
      assert.strictEqual(flights.size(), 0)
      yield* Scope.close(scope, Exit.void)
    }))
})
