export { default } from '../../tooling/vitest.project';
