/**
 * The READMEs' TypeScript samples compile as written: every ```ts block that has an `import`
 * (a whole program or module) in README.md and packages/*\/README.md is type-checked on
 * its own with the repository's compiler options, against the built packages (`packages/*\/dist`,
 * as a user's project would see them). A block that continues another one, or leaves names to the
 * reader, is marked `<!-- fragment: … -->` on the line before its fence and is skipped.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const readmes = [
  "README.md",
  ...readdirSync(join(root, "packages")).map((p) => `packages/${p}/README.md`).filter((p) => existsSync(join(root, p)))
]

interface Sample {
  readonly file: string
  readonly line: number
  readonly code: string
}

const samples: Array<Sample> = []
for (const file of readmes) {
  const lines = readFileSync(join(root, file), "utf8").split("\n")
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```ts") continue
    const end = lines.indexOf("```", i + 1)
    if (end < 0) throw new Error(`${file}:${i + 1}: unterminated code block`)
    const code = lines.slice(i + 1, end).join("\n")
    const fragment = i > 0 && lines[i - 1]!.startsWith("<!-- fragment")
    if (!fragment && /^import /m.test(code)) samples.push({ file, line: i + 2, code })
    i = end
  }
}

// inside the repository, so that packages resolve through its node_modules as in a user's project
const dir = join(root, "node_modules", ".cache", `mcp-credentials-docs-${process.pid}`)

describe("README samples", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("there are samples to check in every package README that has code", () => {
    expect(samples.length).toBeGreaterThanOrEqual(20)
    for (const pkg of ["README.md", "packages/core/README.md", "packages/server/README.md", "packages/auth/README.md", "packages/vault/README.md"]) {
      expect(samples.some((s) => s.file === pkg), pkg).toBe(true)
    }
  })

  it("every sample compiles on its own (strict, NodeNext, against the built packages)", { timeout: 120_000 }, () => {
    if (!existsSync(join(root, "packages/server/dist/index.d.ts"))) throw new Error("packages/*/dist is missing: run `npx tsc -b` first")
    mkdirSync(dir, { recursive: true })
    const names = new Map<string, Sample>()
    for (const sample of samples) {
      const name = `${sample.file.replace(/[/.]/g, "_")}_L${sample.line}.ts`
      names.set(name, sample)
      writeFileSync(join(dir, name), `${sample.code}\nexport {}\n`)
    }
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: join(root, "tsconfig.base.json"),
        compilerOptions: { noEmit: true, composite: false, incremental: false, declaration: false, declarationMap: false },
        include: ["*.ts"]
      })
    )
    const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", dir], { encoding: "utf8" })
    // name each failure by README and line, not by the temporary file
    const report = (tsc.stdout + tsc.stderr).replace(/^(\S+?\.ts)\((\d+),(\d+)\)/gm, (_, f: string, l: string, c: string) => {
      const sample = names.get(f.split("/").pop()!)
      return sample === undefined ? `${f}(${l},${c})` : `${sample.file}:${sample.line + Number(l) - 1}:${c}`
    })
    expect(report).toBe("")
    expect(tsc.status).toBe(0)
  })
})
