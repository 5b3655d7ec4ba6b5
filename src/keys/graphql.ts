/** The keys module's part of the schema: API keys (types, Org.apiKeys, Viewer.apiKey, mutations) and verifyApiKey. */
export { ApiKeyRef, ApiKeyScopeEnum } from './api-key-graphql.ts';
export { RateLimitStateRef } from './verify-graphql.ts';
