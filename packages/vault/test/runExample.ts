/**
 * Runs a built example program (`examples/dist/…`, made by `npx tsc -b`) the way its npm script
 * does, with no standard input, and collects its exit code and output.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../../../", import.meta.url))

export const runExample = (
  relativePath: string,
  timeoutMs: number
): Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }> => {
  const main = `${root}${relativePath}`
  if (!existsSync(main)) return Promise.reject(new Error("examples/dist is missing: run `npx tsc -b` first"))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], { cwd: root, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })
}
