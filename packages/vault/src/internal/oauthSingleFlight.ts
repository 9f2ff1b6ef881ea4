/**
 * In-process single flight: concurrent callers with the same key share one run of an effect.
 * The run is forked into the owner's scope, so interrupting the caller that started it (a client
 * cancelling its tool call) does not fail the others; it ends when the scope closes.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"

/** @internal */
export interface SingleFlight<A, E> {
  readonly run: <R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** How many flights are running (for tests). */
  readonly size: () => number
}

/** @internal */
export const make = <A, E>(scope: Scope.Scope): SingleFlight<A, E> => {
  const inflight = new Map<string, Deferred.Deferred<A, E>>()
  return {
    size: () => inflight.size,
    run: <R>(key: string, effect: Effect.Effect<A, E, R>) =>
      // registering the flight and forking it are one uninterruptible step: a caller interrupted
      // in between left a registered flight that nothing would ever complete (every later caller
      // of the key waited forever); only the wait is interruptible
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          const existing = inflight.get(key)
          if (existing !== undefined) return restore(Deferred.await(existing))
          // created and registered synchronously: no other fiber can run in between
          const deferred = Deferred.unsafeMake<A, E>(FiberId.none)
          inflight.set(key, deferred)
          const flight = Effect.interruptible(effect).pipe(
            Effect.exit,
            Effect.flatMap((exit) =>
              Effect.zipRight(
                Effect.sync(() => inflight.delete(key)),
                Deferred.done(deferred, exit)
              )
            ),
            Effect.onInterrupt(() =>
              Effect.zipRight(Effect.sync(() => inflight.delete(key)), Deferred.interrupt(deferred))
            )
          )
          // the flight starts uninterruptible, so its `onInterrupt` is in place before an interruption
          // already pending (a scope closed, or closing) is seen: the deferred is always completed
          return Effect.zipRight(Effect.forkIn(flight, scope), restore(Deferred.await(deferred)))
        })
      )
  }
}
