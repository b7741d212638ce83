export * from './cloud-error.js';
export * from './render.js';
