/**
 * Benchmark 5: bearer-token verification (`@mcp-credentials/auth`).
 *
 * (a) Throughput of `JwtVerifier` (RS256, a local public key, verified-token cache OFF:
 *     `cache: false`) against raw `jose.jwtVerify` with the same `KeyObject` and the same checks
 *     (algorithm allow-list, issuer, audience, 30 s clock tolerance, `exp` required, no `crit`).
 *     Goal: ≥ 0.95× jose's throughput.
 * (b) Cache-hit speedup: the same verifier with the cache on (the layers' default), verifying one
 *     token over and over, against the uncached verifier. Goals: ≥ 20× for RS256, ≥ 50× for a JWE
 *     (RSA-OAEP-256 + A256GCM) carrying a signed JWT (`JweVerifier`'s default mode).
 *
 * Every operation runs in batches sized to ~`batchMs`; the operations are interleaved round by
 * round (order rotated, reversed on odd rounds); ratios are given both as the ratio of the
 * medians and as the median of the per-round ratios (paired, same round).
 */
import { AccessToken, JweVerifier, JwtVerifier, TokenVerifier } from "@mcp-credentials/auth"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { createPublicKey, type KeyObject } from "node:crypto"
// internal, not exported: imported from the build output for attribution only
import * as Jose from "../../packages/auth/dist/internal/jose.js"
import { collect, median, medianInterval, now, roundOrder, summarize, type Summary } from "./stats.js"

export interface Options {
  readonly rounds: number
  readonly warmup: number
  readonly batchMs: number
}

interface Op {
  readonly id: string
  readonly name: string
  /** Runs the operation `n` times. */
  readonly batch: (n: number) => Promise<void>
}

export interface OpResult {
  readonly id: string
  readonly name: string
  readonly nsPerOp: Summary
  readonly opsPerSec: number
  /** ns/op of each measured round, in round order. */
  readonly rounds: ReadonlyArray<number>
  /** Process CPU time (user + system, every thread: libuv's pool does WebCrypto's work) per op, ns. */
  readonly cpuNsPerOp: Summary
  readonly cpuRounds: ReadonlyArray<number>
}

export interface Comparison {
  readonly name: string
  readonly goal: number
  /** Median of `baseline` ns/op ÷ median of `variant` ns/op (a throughput ratio). */
  readonly ratio: number
  /** Median over rounds of (baseline ns/op ÷ variant ns/op) in the same round. */
  readonly roundRatio: number
  /** The same per-round ratio on process CPU time per op (less sensitive to other processes). */
  readonly cpuRoundRatio: number
  readonly met: boolean
}

export interface AuthReport {
  readonly options: Options
  readonly keys: string
  readonly results: ReadonlyArray<OpResult>
  readonly comparisons: ReadonlyArray<Comparison>
  /** (a) measured alone: raw jose, a second raw jose (control) and the verifiers, adjacent batches. */
  readonly paired: ReadonlyArray<PairedResult>
}

export interface PairedResult {
  readonly name: string
  readonly usPerOp: number
  /** Median over rounds of raw jose's time per op / this one's (throughput ratio), and its 90% interval. */
  readonly roundRatio: number
  readonly interval: readonly [number, number]
  readonly goal: number | undefined
  readonly met: boolean | undefined
}

const ISSUER = "https://issuer.example"
const AUDIENCE = "https://mcp.example.com/mcp"
const RSA_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]

const timeBatch = async (op: Op, n: number): Promise<{ readonly ns: number; readonly cpuNs: number }> => {
  const c0 = process.cpuUsage()
  const t0 = now()
  await op.batch(n)
  const ns = Number(now() - t0) / n
  const c = process.cpuUsage(c0)
  return { ns, cpuNs: ((c.user + c.system) * 1000) / n }
}

const calibrate = async (op: Op, batchMs: number): Promise<number> => {
  let n = 1
  for (;;) {
    const t0 = now()
    await op.batch(n)
    const elapsed = Number(now() - t0)
    if (elapsed > 2e6 || n >= 1 << 20) return Math.max(1, Math.round((n * batchMs * 1e6) / elapsed))
    n *= 4
  }
}

/** Builds a verifier layer and returns the `TokenVerifier` it provides (key-loading logs silenced). */
const build = <E>(layer: Layer.Layer<TokenVerifier.TokenVerifier, E>): Promise<TokenVerifier.Verifier> =>
  Effect.runPromise(
    Layer.build(layer).pipe(
      Effect.map((ctx) => Context.get(ctx, TokenVerifier.TokenVerifier)),
      Effect.scoped,
      Effect.provide(Logger.minimumLogLevel(LogLevel.Warning))
    )
  )

let sink: unknown

const perOp = (fn: () => Promise<unknown>) => async (n: number) => {
  for (let i = 0; i < n; i++) sink = await fn()
}

const sync = (fn: () => unknown) => (n: number) => {
  for (let i = 0; i < n; i++) sink = fn()
  return Promise.resolve()
}

export const run = async (options: Options): Promise<AuthReport> => {
  // -- keys and tokens --------------------------------------------------------------------------
  const signing = await jose.generateKeyPair("RS256", { extractable: true, modulusLength: 2048 })
  const signingPem = await jose.exportSPKI(signing.publicKey)
  const signingKey: KeyObject = createPublicKey(signingPem) // the very object JwtVerifier imports from the PEM
  const encryption = await jose.generateKeyPair("RSA-OAEP-256", { extractable: true, modulusLength: 2048 })
  const encryptionJwk: jose.JWK = { ...(await jose.exportJWK(encryption.privateKey)), kid: "enc-1", alg: "RSA-OAEP-256", use: "enc" }

  const t = Math.floor(Date.now() / 1000)
  const jwt = await new jose.SignJWT({ sub: "user-1", client_id: "bench", scope: "read write", email: "user@example.com" })
    .setProtectedHeader({ alg: "RS256", kid: "sig-1" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(t)
    .setExpirationTime(t + 3600)
    .sign(signing.privateKey)
  const jwe = await new jose.CompactEncrypt(new TextEncoder().encode(jwt))
    .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: "enc-1", cty: "JWT" })
    .encrypt(encryption.publicKey)
  const jwtToken = Redacted.make(jwt)
  const jweToken = Redacted.make(jwe)

  // -- verifiers --------------------------------------------------------------------------------
  const jwtOptions = { publicKey: signingPem, issuer: ISSUER, audience: AUDIENCE } as const
  const jwtUncached = await build(JwtVerifier.layer({ ...jwtOptions, cache: false }))
  const jwtCached = await build(JwtVerifier.layer(jwtOptions)) // the default cache
  const jweOptions = { keys: { keys: [encryptionJwk] }, jwt: jwtOptions }
  const jweUncached = await build(JweVerifier.layer({ ...jweOptions, cache: false }))
  const jweCached = await build(JweVerifier.layer(jweOptions))

  // the same checks as JwtVerifier's (make → jose.jwtVerify options)
  const joseOptions: jose.JWTVerifyOptions = {
    algorithms: RSA_ALGS,
    issuer: ISSUER,
    audience: AUDIENCE,
    clockTolerance: 30,
    requiredClaims: ["exp"],
    crit: {}
  }
  const rawJwt = () => jose.jwtVerify(jwt, signingKey, joseOptions)
  const jwePrivate = encryption.privateKey
  const rawJwe = async () => {
    const { plaintext } = await jose.compactDecrypt(jwe, jwePrivate, {
      keyManagementAlgorithms: ["RSA-OAEP-256", "RSA-OAEP"],
      contentEncryptionAlgorithms: ["A256GCM"]
    })
    return jose.jwtVerify(new TextDecoder().decode(plaintext), signingKey, joseOptions)
  }

  // sanity: everything accepts its token, and the cache really is off / on
  const verify = (v: TokenVerifier.Verifier, token: Redacted.Redacted<string>) => Effect.runPromise(v.verify(token))
  for (const [v, token, cached] of [[jwtUncached, jwtToken, false], [jwtCached, jwtToken, true], [jweUncached, jweToken, false], [jweCached, jweToken, true]] as const) {
    const a = await verify(v, token)
    const b = await verify(v, token)
    if (a.subject !== "user-1") throw new Error("a verifier refused the bench token")
    if ((a === b) !== cached) throw new Error(`cache expected ${cached ? "on" : "off"}`)
  }
  const { payload: claims } = await rawJwt()
  await rawJwe()

  const jwtVerifyEffect = jwtUncached.verify(jwtToken)
  const ops: ReadonlyArray<Op> = [
    { id: "joseJwt", name: "jose.jwtVerify, RS256 (raw baseline)", batch: perOp(rawJwt) },
    { id: "jwtUncached", name: "JwtVerifier, cache off, Effect.runPromise per token", batch: perOp(() => verify(jwtUncached, jwtToken)) },
    {
      id: "jwtUncachedFiber",
      name: "JwtVerifier, cache off, one fiber per batch",
      batch: (n) => Effect.runPromise(Effect.repeatN(jwtVerifyEffect, n - 1)).then(() => undefined)
    },
    { id: "jwtCached", name: "JwtVerifier, cache on, same token (hit)", batch: perOp(() => verify(jwtCached, jwtToken)) },
    { id: "jwtUncachedPromise", name: "JwtVerifier.verifyPromise, cache off", batch: perOp(() => jwtUncached.verifyPromise(jwtToken)) },
    { id: "jwtCachedPromise", name: "JwtVerifier.verifyPromise, cache on, same token (hit)", batch: perOp(() => jwtCached.verifyPromise(jwtToken)) },
    { id: "joseJwe", name: "jose.compactDecrypt + jwtVerify, JWE (raw, for scale)", batch: perOp(rawJwe) },
    { id: "jweUncached", name: "JweVerifier (nested JWT), cache off", batch: perOp(() => verify(jweUncached, jweToken)) },
    { id: "jweCached", name: "JweVerifier (nested JWT), cache on, same token (hit)", batch: perOp(() => verify(jweCached, jweToken)) },
    // attribution of JwtVerifier's cost over jose (the steps of JwtVerifier.make's verify)
    {
      id: "tryPromiseJose",
      name: "  step: jose.jwtVerify in Effect.tryPromise + runPromise (bridge alone)",
      batch: perOp(() => Effect.runPromise(Effect.tryPromise({ try: rawJwt, catch: (e) => e })))
    },
    { id: "precheck", name: "  step: Jose.precheck (size and shape, runSync)", batch: sync(() => Effect.runSync(Jose.precheck(jwtToken, Jose.defaultMaxTokenSize, 3))) },
    { id: "decodeHeader", name: "  step: Jose.decodeHeader (runSync)", batch: sync(() => Effect.runSync(Jose.decodeHeader(jwt))) },
    { id: "fromClaims", name: "  step: AccessToken.fromClaims", batch: sync(() => AccessToken.fromClaims(jwtToken, claims)) },
    // attribution of the cache-hit floor
    { id: "cacheKeyJwt", name: "  step: TokenVerifier.cacheKey (SHA-256), JWT", batch: sync(() => TokenVerifier.cacheKey(jwtToken)) },
    { id: "cacheKeyJwe", name: "  step: TokenVerifier.cacheKey (SHA-256), JWE", batch: sync(() => TokenVerifier.cacheKey(jweToken)) },
    { id: "runPromiseVoid", name: "  step: await Effect.runPromise(Effect.void)", batch: perOp(() => Effect.runPromise(Effect.void)) }
  ]

  // -- measure ----------------------------------------------------------------------------------
  const sizes = new Map<string, number>()
  for (const op of ops) sizes.set(op.id, await calibrate(op, options.batchMs))
  const samples = new Map<string, Array<number>>(ops.map((o) => [o.id, []]))
  const cpuSamples = new Map<string, Array<number>>(ops.map((o) => [o.id, []]))
  for (let r = 0; r < options.warmup + options.rounds; r++) {
    for (const op of roundOrder(ops, r)) {
      collect()
      const { cpuNs, ns } = await timeBatch(op, sizes.get(op.id)!)
      if (r >= options.warmup) {
        samples.get(op.id)!.push(ns)
        cpuSamples.get(op.id)!.push(cpuNs)
      }
    }
  }

  void sink
  const results: Array<OpResult> = ops.map((o) => {
    const rounds = samples.get(o.id)!
    const cpuRounds = cpuSamples.get(o.id)!
    const nsPerOp = summarize(rounds)
    return { id: o.id, name: o.name, nsPerOp, opsPerSec: 1e9 / nsPerOp.median, rounds, cpuNsPerOp: summarize(cpuRounds), cpuRounds }
  })
  const byId = new Map(results.map((x) => [x.id, x]))
  const compare = (name: string, baseline: string, variant: string, goal: number): Comparison => {
    const b = byId.get(baseline)!
    const v = byId.get(variant)!
    const ratio = b.nsPerOp.median / v.nsPerOp.median
    const roundRatio = median(b.rounds.map((ns, i) => ns / v.rounds[i]!))
    const cpuRoundRatio = median(b.cpuRounds.map((ns, i) => ns / v.cpuRounds[i]!))
    return { name, goal, ratio, roundRatio, cpuRoundRatio, met: ratio >= goal && roundRatio >= goal }
  }
  const comparisons = [
    compare("(a) JwtVerifier (cache off) vs raw jose.jwtVerify, throughput", "joseJwt", "jwtUncached", 0.95),
    compare("(a') the same, verifier run inside one fiber (no runtime entry per token)", "joseJwt", "jwtUncachedFiber", 0.95),
    compare("(a'') the same through verifyPromise (no Effect runtime per token)", "joseJwt", "jwtUncachedPromise", 0.95),
    compare("(b) cache-hit speedup, RS256 JWT", "jwtUncached", "jwtCached", 20),
    compare("(b') the same through verifyPromise", "jwtUncachedPromise", "jwtCachedPromise", 20),
    compare("(b) cache-hit speedup, JWE RSA-OAEP-256 + nested RS256 JWT", "jweUncached", "jweCached", 50)
  ]
  // -- (a) alone: only the uncached RS256 verifications, in adjacent batches ----------------------
  // Interleaved with the 15 other operations above, a verification's neighbours (JWE decryption
  // on the thread pool, cache hits that allocate nothing) move its time by more than the 5% the
  // goal is about, in either direction. Here the three ways of verifying and a second copy of raw
  // jose (a control: its ratio shows what "equal" measures) run back to back, 150 tokens per
  // batch, order reversed every round.
  const pairedOps: ReadonlyArray<{ readonly name: string; readonly run: () => Promise<unknown>; readonly goal?: number }> = [
    { name: "jose.jwtVerify (raw baseline)", run: rawJwt },
    { name: "jose.jwtVerify again (control: same code)", run: () => jose.jwtVerify(jwt, signingKey, joseOptions) },
    { name: "JwtVerifier.verifyPromise (cache off)", run: () => jwtUncached.verifyPromise(jwtToken), goal: 0.95 },
    { name: "JwtVerifier.verify, Effect.runPromise per token (cache off)", run: () => verify(jwtUncached, jwtToken), goal: 0.95 }
  ]
  const pairedRounds = Math.max(10, options.rounds)
  const perOpNs = pairedOps.map(() => [] as Array<number>)
  for (let r = 0; r < options.warmup + pairedRounds; r++) {
    const order = pairedOps.map((_, i) => i)
    if (r % 2 === 1) order.reverse()
    for (const i of order) {
      const t0 = now()
      for (let k = 0; k < 150; k++) sink = await pairedOps[i]!.run()
      if (r >= options.warmup) perOpNs[i]!.push(Number(now() - t0) / 150)
    }
  }
  const paired: Array<PairedResult> = pairedOps.map((op, i) => {
    const ratios = perOpNs[0]!.map((base, r) => base / perOpNs[i]![r]!)
    const roundRatio = median(ratios)
    return {
      name: op.name,
      usPerOp: median(perOpNs[i]!) / 1000,
      roundRatio,
      interval: medianInterval(ratios),
      goal: op.goal,
      met: op.goal === undefined ? undefined : roundRatio >= op.goal
    }
  })

  return {
    options,
    keys: "RSA 2048 (RS256 signing, RSA-OAEP-256 encryption); token ~" + jwt.length + " chars, JWE ~" + jwe.length + " chars",
    results,
    comparisons,
    paired
  }
}
