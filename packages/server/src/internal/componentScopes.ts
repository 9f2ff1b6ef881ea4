/**
 * The OAuth scopes tools, prompts and resources require of the caller's access token, shared by
 * both SDK lines: what a request requires (`tools/call`, `prompts/get`, `resources/read`,
 * `completion/complete`), and list results with only what the caller may use (`listing:
 * "authorized"`). Resources are named as they were registered (a fixed resource or a resource
 * template); a URI is matched the way the SDKs' own `resources/read` matches it (the fixed
 * resource of that URI, then the first template that matches). SDK-neutral: both `McpServer`s
 * keep their registries under the same names.
 */
import { codes, missingScopes } from "./pipeline.js"

/** What a registry entry of either SDK's `McpServer` offers here. */
interface Registries {
  readonly _registeredResources?: Readonly<Record<string, { readonly name?: string } | undefined>>
  readonly _registeredResourceTemplates?: Readonly<
    Record<string, { readonly resourceTemplate?: { readonly uriTemplate?: { readonly match: (uri: string) => unknown } } } | undefined>
  >
}

/** A request refused for scopes: what it names to the client. */
export interface Requirement {
  readonly kind: "Tool" | "Prompt" | "Resource"
  /** The tool or prompt name, or the resource URI the client asked for. */
  readonly subject: string
  readonly scopes: ReadonlyArray<string>
}

export interface ComponentScopes {
  readonly requireScopes: (toolName: string, scopes: ReadonlyArray<string>) => void
  readonly requiredScopes: (toolName: string) => ReadonlyArray<string>
  readonly requirePromptScopes: (promptName: string, scopes: ReadonlyArray<string>) => void
  readonly requireResourceScopes: (resourceName: string, scopes: ReadonlyArray<string>) => void
  /** What `method` with `params` requires, or `undefined` when it requires nothing. */
  readonly requiredFor: (method: string, params: any) => Requirement | undefined
  /**
   * The JSON-RPC error refusing a prompt, resource or completion request that `granted` does not
   * allow, or `undefined` (tools are refused by the call pipeline, which knows the error mode).
   */
  readonly refusalFor: (
    method: string,
    params: any,
    granted: ReadonlyArray<string> | undefined
  ) => { readonly code: number; readonly message: string; readonly data: unknown } | undefined
  /** `result` of a list `method`, without what `granted` does not allow (`tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`). */
  readonly authorizedListing: (method: string, result: unknown, granted: ReadonlyArray<string> | undefined) => unknown
}

/** The methods `requiredFor` may refuse, and the list methods `authorizedListing` filters. */
export const guardedMethods: ReadonlySet<string> = new Set(["tools/call", "prompts/get", "resources/read", "completion/complete"])
export const listMethods: ReadonlySet<string> = new Set(["tools/list", "prompts/list", "resources/list", "resources/templates/list"])

const table = () => {
  const map = new Map<string, ReadonlyArray<string>>()
  return {
    set: (name: string, scopes: ReadonlyArray<string>) => {
      if (scopes.length === 0) map.delete(name)
      else map.set(name, [...scopes])
    },
    get: (name: string): ReadonlyArray<string> => map.get(name) ?? [],
    size: () => map.size
  }
}

const normalize = (uri: string): string => {
  try {
    return new URL(uri).toString()
  } catch {
    return uri
  }
}

export const make = (
  server: unknown,
  options: {
    readonly toolScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
    readonly promptScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
    readonly resourceScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  }
): ComponentScopes => {
  const tools = table()
  const prompts = table()
  const resources = table()
  for (const [name, scopes] of Object.entries(options.toolScopes ?? {})) tools.set(name, scopes)
  for (const [name, scopes] of Object.entries(options.promptScopes ?? {})) prompts.set(name, scopes)
  for (const [name, scopes] of Object.entries(options.resourceScopes ?? {})) resources.set(name, scopes)
  const registries = server as Registries

  /** The registered name of the resource `uri` reads (a fixed resource's, else the matching template's). */
  const resourceNameOf = (uri: string): string | undefined => {
    const normalized = normalize(uri)
    // a listed URI as it was registered (a list shows the key unnormalised), else as a read finds it
    const fixed = registries._registeredResources?.[uri] ?? registries._registeredResources?.[normalized]
    if (fixed !== undefined) return fixed.name
    for (const [name, template] of Object.entries(registries._registeredResourceTemplates ?? {})) {
      if (template?.resourceTemplate?.uriTemplate?.match(normalized)) return name
    }
    return undefined
  }
  const resourceScopes = (uri: string): ReadonlyArray<string> => {
    if (resources.size() === 0) return []
    const name = resourceNameOf(uri)
    return name === undefined ? [] : resources.get(name)
  }
  const templateScopes = (uriTemplate: string): ReadonlyArray<string> => {
    for (const [name, template] of Object.entries(registries._registeredResourceTemplates ?? {})) {
      if (String(template?.resourceTemplate?.uriTemplate) === uriTemplate) return resources.get(name)
    }
    return []
  }
  const requirement = (kind: Requirement["kind"], subject: string, scopes: ReadonlyArray<string>) =>
    scopes.length === 0 ? undefined : { kind, subject, scopes }

  const requiredFor = (method: string, params: any): Requirement | undefined => {
    switch (method) {
      case "tools/call": {
        const name = String(params?.name ?? "")
        return requirement("Tool", name, tools.get(name))
      }
      case "prompts/get": {
        const name = String(params?.name ?? "")
        return requirement("Prompt", name, prompts.get(name))
      }
      case "resources/read": {
        const uri = String(params?.uri ?? "")
        return requirement("Resource", uri, resourceScopes(uri))
      }
      case "completion/complete": {
        // completions of a prompt's or a resource template's arguments reveal what they offer
        const ref = params?.ref
        if (ref?.type === "ref/prompt") return requirement("Prompt", String(ref.name ?? ""), prompts.get(String(ref.name ?? "")))
        // a template is named by its own text, as the SDKs look it up (a fixed resource's
        // completion is empty: nothing to guard)
        if (ref?.type === "ref/resource") return requirement("Resource", String(ref.uri ?? ""), templateScopes(String(ref.uri ?? "")))
        return undefined
      }
      default:
        return undefined
    }
  }

  return {
    requireScopes: tools.set,
    requiredScopes: tools.get,
    requirePromptScopes: prompts.set,
    requireResourceScopes: resources.set,
    requiredFor,
    // nothing to check while no prompt or resource requires scopes
    refusalFor: (method, params, granted) =>
      prompts.size() === 0 && resources.size() === 0 ? undefined : refusal(requiredFor(method, params), granted),
    authorizedListing: (method, result, granted) => {
      const allowed = (scopes: ReadonlyArray<string>) => missingScopes(scopes, granted).length === 0
      const filter = (field: string, keep: (item: any) => boolean) => {
        const items = (result as Record<string, unknown> | null)?.[field]
        if (!Array.isArray(items)) return result
        const shown = items.filter(keep)
        return shown.length === items.length ? result : { ...(result as object), [field]: shown }
      }
      switch (method) {
        // a tool, prompt or resource that requires scopes the caller lacks is not offered to the model
        case "tools/list":
          return tools.size() === 0 ? result : filter("tools", (t) => allowed(tools.get(String(t?.name ?? ""))))
        case "prompts/list":
          return prompts.size() === 0 ? result : filter("prompts", (p) => allowed(prompts.get(String(p?.name ?? ""))))
        case "resources/list":
          return resources.size() === 0 ? result : filter("resources", (r) => allowed(resourceScopes(String(r?.uri ?? ""))))
        case "resources/templates/list":
          return resources.size() === 0 ? result : filter("resourceTemplates", (t) => allowed(resources.get(String(t?.name ?? ""))))
        default:
          return result
      }
    }
  }
}

/** The scopes of `requirement` that `granted` lacks (none without a requirement). */
export const missingOf = (requirement: Requirement | undefined, granted: ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  requirement === undefined ? [] : missingScopes(requirement.scopes, granted)

/** The JSON-RPC error refusing a request whose requirement `granted` does not meet, or `undefined`. */
const refusal = (
  requirement: Requirement | undefined,
  granted: ReadonlyArray<string> | undefined
): { readonly code: number; readonly message: string; readonly data: unknown } | undefined => {
  const missing = missingOf(requirement, granted)
  if (requirement === undefined || missing.length === 0) return undefined
  return {
    code: codes.scope,
    message: insufficientScopeMessage(requirement, missing, granted === undefined),
    data: { error: "insufficient_scope", missing }
  }
}

/** The message of a refusal for missing scopes (names the component and the scopes, which are not secret). */
export const insufficientScopeMessage = (requirement: Requirement, missing: ReadonlyArray<string>, anonymous = false) =>
  anonymous
    ? `${requirement.kind} ${requirement.subject} requires the scope(s) ${missing.join(", ")}, and the request has no access token. ` +
      `Send it with an access token that grants them.`
    : `${requirement.kind} ${requirement.subject} requires the scope(s) ${missing.join(", ")}, which the access token does not grant. ` +
      `Authorize again with these scopes.`
