/**
 * Diagnostic only, never part of a library: why every root fiber costs the garbage collector.
 *
 * Effect 3 registers every root fiber (`Effect.runPromise`, `Runtime.runFork`, `runSync`, …) in
 * one process-wide `Set` (`FiberScope.globalScope.roots`, `effect/internal/fiberScope.js`) and
 * deletes it when the fiber ends. On V8 (Node 20 here) a long-lived `Set` whose entries come and
 * go rehashes into a new backing table every so often, and the table it leaves keeps a pointer to
 * the new one and its own entries (so that live iterators can follow). Once one table has been
 * promoted to the old generation, each newer table — and every fiber that was registered in it
 * when it was replaced, with all it references — is reachable from the old generation through
 * that chain, so every young-generation GC copies and promotes it until the next full GC. With
 * 100 fibers in flight that is ~2 MB promoted per scavenge, and scavenges of 8–11 ms instead of
 * 1–2 ms (`gc-repro.ts` reproduces it with a plain `Set` and no Effect at all).
 *
 * `dropRootSetWhenEmpty` replaces the registry's `add` so that it starts a new `Set` whenever the
 * previous one is empty (no root fiber running): the old chain becomes garbage as a whole. Fibers
 * are still registered and removed as before. It exists to measure what the rest of a benchmark
 * costs without that effect (section `gc`, variant `effect-fresh`), and patches Effect's internals by
 * reaching into its global store: an application should not copy it.
 */
import * as Effect from "effect/Effect"

interface GlobalScope {
  roots: Set<unknown>
  add: (flags: unknown, child: { readonly addObserver: (f: () => void) => void }) => void
}

export const dropRootSetWhenEmpty = (): void => {
  // makes sure Effect's globals exist
  Effect.runSync(Effect.void)
  const store = (globalThis as Record<string, unknown>)["effect/GlobalValue"] as Map<unknown, unknown> | undefined
  const scope = store?.get(Symbol.for("effect/FiberScope/Global")) as GlobalScope | undefined
  if (scope === undefined || !(scope.roots instanceof Set)) {
    throw new Error("Effect's global fiber scope was not found where Effect 3.22 keeps it")
  }
  scope.add = function(this: GlobalScope, _flags, child) {
    if (this.roots.size === 0) this.roots = new Set()
    const roots = this.roots
    roots.add(child)
    child.addObserver(() => {
      roots.delete(child)
    })
  }
}
