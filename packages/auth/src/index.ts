/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as AccessToken from "./AccessToken.js"

/**
 * @since 0.1.0
 */
export * as AuthError from "./AuthError.js"

/**
 * @since 0.1.0
 */
export * as AuthUser from "./AuthUser.js"

/**
 * @since 0.1.0
 */
export * as IntrospectionVerifier from "./IntrospectionVerifier.js"

/**
 * @since 0.1.0
 */
export * as JweVerifier from "./JweVerifier.js"

/**
 * @since 0.1.0
 */
export * as JwtVerifier from "./JwtVerifier.js"

/**
 * @since 0.1.0
 */
export * as StaticTokenVerifier from "./StaticTokenVerifier.js"

/**
 * @since 0.1.0
 */
export * as TokenVerifier from "./TokenVerifier.js"

/**
 * @since 0.1.0
 */
export * as McpAuth from "./McpAuth.js"

/**
 * @since 0.1.0
 */
export * as ClientAuth from "./ClientAuth.js"

/**
 * @since 0.1.0
 */
export * as ClientAssertion from "./ClientAssertion.js"
