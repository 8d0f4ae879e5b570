export { default } from '../../tooling/tsup';
