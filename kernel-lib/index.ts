// The library the notebooks import: `import { ... } from '../kernel-lib'`.
export * from './runtime';
export * from './viz';
export * from './model';
export * from './train';
export * from './text';
export * from './data';
export * from './eval';
export * from './pretrained';
export * from './recipes';
