// Test helper (../ipam-race.test.ts): runs ipam-race.worker.ts (TypeScript) in a worker thread through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./ipam-race.worker.ts', import.meta.url).href);
