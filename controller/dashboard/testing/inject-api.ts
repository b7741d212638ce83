/**
 * A CloudApi over app.inject with a token, for tests that run pages against the real
 * controller: the framework's own implementation (cloud-api.ts).
 */
export { cloudApi as injectApi, errorMessage } from '../cloud-api.js';
