/**
 * Benchmark 3: the pieces of the per-call path in isolation, in ns/op, to show where the time
 * of benchmarks 1 and 2 goes. Each op runs in batches sized to ~`batchMs`; the ops are
 * interleaved round by round; median and p95 are over the rounds' ns/op.
 */
import {
  CallStorage,
  CredentialBackend,
  CredentialMiddleware,
  CurrentCredential,
  EnvCredentialBackend,
  HeaderCredentialBackend,
  ResolvedCredential
} from "@mcp-credentials/core"
import { Scrubber, ToolContext } from "@mcp-credentials/server"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as FiberRefs from "effect/FiberRefs"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import { AsyncLocalStorage } from "node:async_hooks"
// internal, not exported: imported from the build output for attribution only
import * as Pipeline from "../../packages/server/dist/internal/pipeline.js"
import { setUpEnv } from "./inprocess.js"
import { collect, now, roundOrder, summarize, type Summary } from "./stats.js"

interface Op {
  readonly name: string
  readonly fn: () => unknown
  readonly async?: boolean
}

export interface MicroResult {
  readonly name: string
  readonly nsPerOp: Summary
}

let sink: unknown
const keep = (x: unknown) => {
  sink = x
}

const runBatch = async (op: Op, n: number): Promise<number> => {
  const t0 = now()
  if (op.async) {
    for (let i = 0; i < n; i++) keep(await (op.fn() as Promise<unknown>))
  } else {
    for (let i = 0; i < n; i++) keep(op.fn())
  }
  return Number(now() - t0) / n
}

const calibrate = async (op: Op, batchMs: number): Promise<number> => {
  let n = 1
  for (;;) {
    const t0 = now()
    await runBatch(op, n)
    const elapsed = Number(now() - t0)
    if (elapsed > 2e6 || n >= 1 << 22) return Math.max(1, Math.round((n * batchMs * 1e6) / elapsed))
    n *= 4
  }
}

export const runOps = async (
  ops: ReadonlyArray<Op>,
  options: { readonly rounds: number; readonly warmup: number; readonly batchMs: number }
): Promise<ReadonlyArray<MicroResult>> => {
  const sizes = new Map<string, number>()
  for (const op of ops) sizes.set(op.name, await calibrate(op, options.batchMs))
  const samples = new Map<string, Array<number>>(ops.map((o) => [o.name, []]))
  for (let r = 0; r < options.warmup + options.rounds; r++) {
    for (const op of roundOrder(ops, r)) {
      collect()
      const ns = await runBatch(op, sizes.get(op.name)!)
      if (r >= options.warmup) samples.get(op.name)!.push(ns)
    }
  }
  void sink
  return ops.map((o) => ({ name: o.name, nsPerOp: summarize(samples.get(o.name)!) }))
}

/** A tool result of about 1 KB: a short list as text (JSON) and as structured content. */
export const typicalResult = () => {
  const items = Array.from({ length: 5 }, (_, i) => ({
    id: 1000 + i,
    title: `Issue number ${i}: something is not right with the widget`,
    url: `https://api.example.com/repos/acme/widgets/issues/${1000 + i}`,
    state: i % 2 === 0 ? "open" : "closed",
    labels: ["bug", "triage"]
  }))
  const structured = { total: items.length, items }
  return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured }
}

export interface MicroReport {
  readonly envCount: number
  readonly results: ReadonlyArray<MicroResult>
}

export const run = async (options: { readonly rounds: number; readonly warmup: number; readonly batchMs: number }): Promise<MicroReport> => {
  const env = setUpEnv()
  const jsonPrefix = `MCPCBJ_${process.pid}_`
  process.env[`${jsonPrefix}FIELDS`] = JSON.stringify({ apiKey: env.secret })

  const credential = ResolvedCredential.StaticCredential.fromFields({ apiKey: env.secret })
  const credentials: CurrentCredential.Credentials = new Map([["default", credential]])
  const reqs = CredentialMiddleware.requirements("static")

  const testRuntime = await ManagedRuntime.make(CredentialBackend.layerTest(credential)).runtime()
  const envLayerRuntime = ManagedRuntime.make(EnvCredentialBackend.layer({ prefix: env.prefix }))
  await envLayerRuntime.runtime()
  const plainRuntime = Runtime.defaultRuntime as Runtime.Runtime<any>

  const envBackend = EnvCredentialBackend.make({ prefix: env.prefix })
  const envJsonBackend = EnvCredentialBackend.make({ prefix: jsonPrefix })
  const headerBackend = HeaderCredentialBackend.make()
  const headers: Record<string, string> = {
    host: "127.0.0.1:3000",
    "user-agent": "node",
    accept: "application/json, text/event-stream",
    "accept-encoding": "gzip, deflate",
    "accept-language": "*",
    "content-type": "application/json",
    "content-length": "123",
    connection: "keep-alive",
    "mcp-protocol-version": "2025-11-25",
    "sec-fetch-mode": "cors",
    "x-mcp-cred-fields": JSON.stringify({ apiKey: env.secret })
  }

  const result = typicalResult()
  const scrubber = Scrubber.make([env.secret])
  const als = new AsyncLocalStorage<number>()
  const fiberFloor = Effect.flatMap(Effect.void, () => Effect.void)
  const getInScope = CurrentCredential.locally(CurrentCredential.get(), credentials)
  const withCreds = CredentialMiddleware.withCredentials(reqs, {})(CurrentCredential.get())
  const callWithScope = CurrentCredential.locally(CurrentCredential.callWithScope(() => 1), credentials)
  const signal = new AbortController().signal
  const runOn = (rt: Runtime.Runtime<any>): Pipeline.Run => (effect) => Promise.resolve(Runtime.runSyncExit(rt)(effect))
  const pipelineNone = (rt: Runtime.Runtime<any>) => () =>
    Pipeline.callTool(
      { toolName: "t", requirements: [], context: {}, extraSecrets: [], errors: "result" },
      () => Promise.resolve(result),
      runOn(rt),
      signal
    )
  const pipelineStatic = (rt: Runtime.Runtime<any>) => () =>
    Pipeline.callTool(
      { toolName: "t", requirements: reqs, context: {}, extraSecrets: [], errors: "result" },
      () => Promise.resolve(result),
      runOn(rt),
      signal
    )

  const pipelineSync = (rt: Runtime.Runtime<any>) => () =>
    Pipeline.callTool(
      { toolName: "t", requirements: reqs, context: {}, extraSecrets: [], errors: "result", runtime: rt },
      () => Promise.resolve(result),
      runOn(rt),
      signal
    )
  const envRuntime = await envLayerRuntime.runtime()
  const liveServices = FiberRefs.getOrDefault(envRuntime.fiberRefs, DefaultServices.currentServices)
  const callStorage = CallStorage.make<number>()

  const ops: Array<Op> = [
    // runtime entry
    { name: "Effect.runSync(Effect.void) (sync runtime entry)", fn: () => Effect.runSync(Effect.void) },
    { name: "Effect.runSync(flatMap(void, () => void)) (sync fiber floor)", fn: () => Effect.runSync(fiberFloor) },
    { name: "await Promise.resolve() (async floor)", fn: () => Promise.resolve(1), async: true },
    { name: "await Runtime.runPromiseExit(rt)(Effect.void)", fn: () => Runtime.runPromiseExit(plainRuntime)(Effect.void), async: true },
    { name: "await ManagedRuntime.runPromiseExit(Effect.void)", fn: () => envLayerRuntime.runPromiseExit(Effect.void), async: true },
    // CurrentCredential / middleware
    { name: "CurrentCredential.locally + get (runSync)", fn: () => Effect.runSync(getInScope) },
    { name: "locally + callWithScope (AsyncLocalStorage.run)", fn: () => Effect.runSync(callWithScope) },
    { name: "AsyncLocalStorage.run alone", fn: () => als.run(1, () => 1) },
    { name: "withCredentials(static) + get, layerTest (runSync)", fn: () => Runtime.runSync(testRuntime)(withCreds) },
    // backends
    {
      name: `EnvCredentialBackend.resolve static FIELD_* (${env.envCount} env vars)`,
      fn: () => Effect.runSync(envBackend.resolve({ kind: "static" }))
    },
    { name: "EnvCredentialBackend.resolve static FIELDS json", fn: () => Effect.runSync(envJsonBackend.resolve({ kind: "static" })) },
    { name: `Object.keys(process.env) (${env.envCount} vars)`, fn: () => Object.keys(process.env) },
    { name: "process.env[name] (one read)", fn: () => process.env[`${env.prefix}FIELD_apiKey`] },
    { name: "HeaderCredentialBackend.resolve static", fn: () => Effect.runSync(headerBackend.resolve({ kind: "static", headers })) },
    { name: "StaticCredential.fromFields (Schema.Class ctor)", fn: () => ResolvedCredential.StaticCredential.fromFields({ apiKey: env.secret }) },
    // scrubbing
    { name: "Scrubber.forms(secret) (cache miss cost)", fn: () => Scrubber.forms(env.secret) },
    { name: "Scrubber.make([secret]) (forms cached)", fn: () => Scrubber.make([env.secret]) },
    { name: "Scrubber.make([]) (no secret)", fn: () => Scrubber.make([]) },
    { name: "scrubber.scrub(typical 1 KB result), no hit", fn: () => scrubber.scrub(result) },
    { name: "Scrubber.make + scrub (typical per call)", fn: () => Scrubber.make([env.secret]).scrub(result) },
    { name: "JSON.stringify(typical result) (for scale)", fn: () => JSON.stringify(result) },
    // server
    { name: "ToolContext.visibleHeaders (11 headers)", fn: () => ToolContext.visibleHeaders(headers, ["X-MCP-Cred-"]) },
    { name: "pipeline.runCall, no requirement (runPromiseExit)", fn: pipelineNone(plainRuntime), async: true },
    { name: "pipeline.runCall, static via layerTest (runPromiseExit)", fn: pipelineStatic(testRuntime), async: true },
    { name: "pipeline.runCall, static via Env backend (runPromiseExit)", fn: pipelineStatic(envRuntime), async: true },
    { name: "pipeline.callTool, static via Env backend, no fiber (unsafeResolve)", fn: pipelineSync(envRuntime), async: true },
    { name: "EnvCredentialBackend.unsafeResolve static FIELD_* (no fiber)", fn: () => envBackend.unsafeResolve!({ kind: "static" }, liveServices) },
    { name: "HeaderCredentialBackend.unsafeResolve static (no fiber)", fn: () => headerBackend.unsafeResolve!({ kind: "static", headers }, liveServices) },
    { name: "CallStorage.run (sync f; storage turned on and off)", fn: () => callStorage.run(1, () => 1) }
  ]
  try {
    const results = await runOps(ops, options)
    return { envCount: env.envCount, results }
  } finally {
    delete process.env[`${jsonPrefix}FIELDS`]
    env.cleanup()
    await envLayerRuntime.dispose()
  }
}
