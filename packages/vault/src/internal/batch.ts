import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

interface Waiter<K, A, E> {
  readonly key: K
  readonly resume: (effect: Effect.Effect<A, E>) => void
  interrupted: boolean
}

/**
 * Coalesces the single-key reads that arrive in the same turn of the event loop into batches of
 * at most `maxBatch` keys, each run by `run` (one Redis `MGET`, one Postgres `= ANY($1)` query),
 * so 100 concurrent callers cost one round trip instead of 100 queued ones. `run` returns one
 * result per key, in key order. A failed batch fails every caller in it with the same error; an
 * interrupted caller is dropped from its batch (or, when the batch is in flight, ignores it).
 *
 * The batch runs outside the callers' fibers, so `run` must not depend on their context (it
 * closes over its connection; callers apply their own clock to what it returns).
 *
 * @internal
 */
export const makeBatcher = <K, A, E>(options: {
  readonly maxBatch: number
  readonly run: (keys: ReadonlyArray<K>) => Effect.Effect<ReadonlyArray<A>, E>
}): (key: K) => Effect.Effect<A, E> => {
  let queue: Array<Waiter<K, A, E>> = []
  const runChunk = (chunk: Array<Waiter<K, A, E>>) => {
    Effect.runCallback(options.run(chunk.map((w) => w.key)), {
      onExit: (exit) => {
        if (Exit.isSuccess(exit)) {
          const results = exit.value
          for (let i = 0; i < chunk.length; i++) {
            const w = chunk[i]!
            if (w.interrupted) continue
            w.resume(
              i < results.length ? Effect.succeed(results[i]!) : Effect.dieMessage("batch returned too few results")
            )
          }
        } else {
          const failed = Effect.failCause(exit.cause)
          for (const w of chunk) if (!w.interrupted) w.resume(failed)
        }
      }
    })
  }
  const flush = () => {
    const waiting = queue
    queue = []
    let chunk: Array<Waiter<K, A, E>> = []
    for (const w of waiting) {
      if (w.interrupted) continue
      chunk.push(w)
      if (chunk.length === options.maxBatch) {
        runChunk(chunk)
        chunk = []
      }
    }
    if (chunk.length > 0) runChunk(chunk)
  }
  return (key) =>
    Effect.async<A, E>((resume) => {
      const w: Waiter<K, A, E> = { key, resume, interrupted: false }
      // after the microtasks of this turn (where Effect starts concurrent fibers), so one flush
      // sees every read started together
      if (queue.push(w) === 1) setImmediate(flush)
      return Effect.sync(() => {
        w.interrupted = true
      })
    })
}
