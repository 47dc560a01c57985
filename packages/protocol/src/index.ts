export * from './entities/types.js';
