/**
 * The caller's claims, readable the way mcp-auth-middleware's `get_user()` reads them:
 * `user.email` (attribute access), `user.get("email")` and `user["email"]` (key access), and
 * `user.claims` (the whole, frozen object). A missing claim reads as `undefined`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Predicate from "effect/Predicate"
import type { AccessToken } from "./AccessToken.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@mcp-credentials/auth/AuthUser")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A user's claims with attribute and key access. The members `claims`, `get`, `has`, `toJSON` and `toString`
 * win over claims of the same name: read those claims with `user.get("get")` (the seed had the
 * same rule for `dict` methods).
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthUser {
  readonly [TypeId]: TypeId
  /** Every claim, as a frozen shallow copy. */
  readonly claims: Readonly<Record<string, unknown>>
  /** One claim, `undefined` when absent. */
  readonly get: (name: string) => unknown
  /** Whether the claim is present (a `null` value counts as present, as in the seed). */
  readonly has: (name: string) => boolean
  readonly toJSON: () => Readonly<Record<string, unknown>>
  /** `"AuthUser(<displayName>)"`, so string interpolation never throws. */
  readonly toString: () => string
  /** Attribute access to claims: `user.email`. */
  readonly [claim: string]: unknown
}

/**
 * The user of the current request, for Effect tools: `yield* AuthUser.CurrentUser`. The HTTP
 * integration provides it per request.
 *
 * @since 0.1.0
 * @category tags
 */
export class CurrentUser extends Context.Tag("@mcp-credentials/auth/CurrentUser")<CurrentUser, AuthUser>() {}

const reserved = new Set<PropertyKey>(["claims", "get", "has", "toJSON", "toString", TypeId])

/**
 * Builds a user from claims. The claims are copied, so mutating the source later does not change
 * the user, and the user cannot be mutated.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (claims: Readonly<Record<string, unknown>>): AuthUser => {
  const copy: Record<string, unknown> = Object.freeze(Object.assign(Object.create(null), claims))
  const has = (name: string) => Object.prototype.hasOwnProperty.call(copy, name)
  const base = {
    [TypeId]: TypeId,
    claims: copy,
    get: (name: string): unknown => (has(name) ? copy[name] : undefined),
    has,
    toJSON: () => copy,
    toString: () => `AuthUser(${labelOf((k) => (has(k) ? copy[k] : undefined))})`
  }
  return new Proxy(base, {
    get(target, prop) {
      if (reserved.has(prop)) return target[prop as keyof typeof target]
      if (typeof prop === "symbol") {
        if (prop === Symbol.for("nodejs.util.inspect.custom")) return () => ({ ...copy })
        return undefined
      }
      return has(prop) ? copy[prop] : undefined
    },
    has(_target, prop) {
      return reserved.has(prop) || (typeof prop === "string" && has(prop))
    },
    ownKeys() {
      return Reflect.ownKeys(copy)
    },
    getOwnPropertyDescriptor(_target, prop) {
      if (typeof prop === "string" && has(prop)) {
        return { value: copy[prop], enumerable: true, configurable: true, writable: false }
      }
      return undefined
    },
    set() {
      return false
    },
    deleteProperty() {
      return false
    },
    defineProperty() {
      return false
    }
  }) as unknown as AuthUser
}

/**
 * A user with no claims: what code outside an authenticated request sees (every attribute is
 * `undefined`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: AuthUser = make({})

/**
 * The user described by a verified token's claims.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromAccessToken = (token: AccessToken): AuthUser => make(token.claims)

/**
 * @since 0.1.0
 * @category refinements
 */
export const isAuthUser = (u: unknown): u is AuthUser => Predicate.hasProperty(u, TypeId)

/**
 * A label for logs: `email`, else `sub`, else `name`, else `"unknown"` (the seed's choice).
 *
 * @since 0.1.0
 * @category accessors
 */
export const displayName = (self: AuthUser): string => labelOf(self.get)

const labelOf = (get: (name: string) => unknown): string => {
  for (const k of ["email", "sub", "name"]) {
    const v = get(k)
    if (typeof v === "string" && v !== "") return v
  }
  return "unknown"
}
